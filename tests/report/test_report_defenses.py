"""The report's defenses section, from results with known answers: each defended row beside its
undefended run (an adaptive attack beside the paper's attack it adapts), the monitor's best rule
within the false-positive budget, and no section for a run without defenses."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from pixelpush.report.defenses import best_tpr, defenses_html, undefended_match


def _attack(defense: str | None, attack: str, hr20: float, **extra) -> dict:
    return {"experiment": "e", "recommender": "vbpr", "defense": defense, "attack": attack, "threat_model": "specific-user",
            "perturbations": 32 if attack.startswith("bb") else 0, "steps": 20, "pairs": 30, "hr": {"20": hr20},
            "uploads_per_pair": 20.0, "ssim_by_step": [1.0, 0.8], **extra}


def _curve(attack: str, tpr: float, fpr: float, h: int, n: int) -> dict:
    return {"experiment": "e", "recommender": "vbpr", "defense": "monitor", "attack": attack, "perturbations": 32,
            "hash_distance": h, "near_duplicates": n, "tpr": tpr, "fpr": fpr}


RESULTS = {
    "config": {"defenses": {"jpeg75": {"ingest": {"transforms": [{"op": "jpeg", "quality": 75}]}},
                            "monitor": {"upload-monitor": {"hash_distance": 4, "near_duplicates": 3}}}},
    "defenses": {"none": {"components": {}, "models": {"vbpr": {"auc": 0.67, "auc_change": 0.0}}},
                 "jpeg75": {"components": {}, "models": {"vbpr": {"auc": 0.669, "auc_change": -0.001}}},
                 "monitor": {"components": {}, "models": {"vbpr": {"auc": 0.67, "auc_change": 0.0}}}},
    "attacks": [
        _attack(None, "wb", 0.9), _attack("jpeg75", "wb", 0.2), _attack("jpeg75", "wb:eot", 0.7),
        _attack("monitor", "bb-rank", 0.6, detection={"flagged_rate": 1.0, "median_flag_upload": 4.0, "hr20_if_frozen_at_flag": 0.0}),
        _attack("jpeg75", "bb-rank", 0.1),
    ],
    "detection": {"benign_sellers": 300, "benign_uploads": 3, "curves": [
        _curve("bb-rank", 1.0, 0.05, 8, 2), _curve("bb-rank", 0.9, 0.01, 4, 3), _curve("bb-rank", 0.95, 0.005, 2, 3),
        _curve("bb-rank", 0.4, 0.0, 0, 3)]},
}


class _Rows(HTMLParser):
    """The text cells of each row of each table, by table id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("id")
            self.tables[self._table] = []
        elif tag == "tr":
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(results: dict) -> dict[str, list[list[str]]]:
    parser = _Rows()
    parser.feed(defenses_html(results))
    return parser.tables


def test_each_defended_row_stands_beside_its_undefended_run() -> None:
    rows = {(r[1], r[2]): r for r in _tables(RESULTS)["defense-attacks"][1:]}
    assert set(rows) == {("jpeg75", "WB"), ("jpeg75", "WB (eot)"), ("jpeg75", "BB-Rank")}  # passive defenses are the baselines
    assert rows["jpeg75", "WB"][5:8] == ["0.200", "0.900", "-0.700"]
    assert rows["jpeg75", "WB (eot)"][5:8] == ["0.700", "0.900 (WB)", "-0.200"]  # what the adaptive attack wins back
    assert rows["jpeg75", "BB-Rank"][5:8] == ["0.100", "0.600", "-0.500"]  # the monitor changes nothing the attack sees
    assert undefended_match(_attack("jpeg75", "bb-score", 0.1), RESULTS["attacks"]) is None


def test_the_cost_table_reads_every_defense_in_words() -> None:
    cost = {r[0]: r for r in _tables(RESULTS)["defense-cost"][1:]}
    assert "JPEG at quality 75" in cost["jpeg75"][1] and cost["jpeg75"][3:5] == ["0.6690", "-0.0010"]
    assert cost["none"][1].startswith("no defense")


def test_the_monitor_is_read_at_the_best_rule_within_one_percent_false_positives() -> None:
    best = best_tpr(RESULTS["detection"]["curves"], ("e", "vbpr", "monitor", "bb-rank", 32))
    assert (best["tpr"], best["hash_distance"]) == (0.95, 2)  # 1.0 needs FPR 0.05; 0.95 at 0.005 beats 0.9 at 0.01 and 0.4 at 0
    monitor = _tables(RESULTS)["monitor"]
    assert len(monitor) == 2 and monitor[1][3] == "1.000" and monitor[1][7].startswith("0.950 (FPR 0.005")
    assert best_tpr(RESULTS["detection"]["curves"], ("e", "vbpr", "monitor", "bb-rank", 32), budget=-1) is None
    assert "more than 3 near-duplicates cannot flag one" in defenses_html(RESULTS)


def test_a_run_without_defenses_has_no_section(rendered_run: Path) -> None:
    assert defenses_html({"attacks": RESULTS["attacks"][:1]}) == ""
    assert not re.search(r"<h2>Defenses</h2>", (rendered_run / "report.html").read_text(encoding="utf-8"))
