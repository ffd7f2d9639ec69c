"""The report renders from a real (tiny) campaign: figures exist, the table matches results.json, no external refs."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from pixelpush.errors import DataError
from pixelpush.report import render_report
from pixelpush.report.load import load_pairs, load_run
from pixelpush.report.tables import COLUMNS, sorted_attacks

CURVES = ["hr_by_attack", "hr_by_perturbations", "hr_by_rank_range", "hr_segment_general", "hr_by_uploads",
          "ssim_by_step"]


class _Cells(HTMLParser):
    """Collects ``data-col`` cells of ``<table id="summary">`` row by row, and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.refs: list[str] = []
        self._in_summary = False
        self._col: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "table":
            self._in_summary = a.get("id") == "summary"
        elif self._in_summary and tag == "tr":
            self.rows.append({})
        elif self._in_summary and tag == "td":
            self._col = a.get("data-col")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_summary = False
        if tag == "td":
            self._col = None

    def handle_data(self, data: str) -> None:
        if self._col:
            self.rows[-1][self._col] = data


def _parse(run_dir: Path) -> _Cells:
    parser = _Cells()
    parser.feed((run_dir / "report.html").read_text(encoding="utf-8"))
    return parser


def test_every_figure_is_a_valid_png(rendered_run: Path) -> None:
    for name in [*CURVES, "pair_00"]:
        path = rendered_run / "figures" / f"{name}.png"
        assert path.is_file(), name
        with Image.open(path) as img:
            img.verify()
            assert img.format == "PNG"
        with Image.open(path) as img:
            assert img.size[0] > 300 and img.size[1] > 200


def test_table_numbers_equal_results_json(rendered_run: Path) -> None:
    results = json.loads((rendered_run / "results.json").read_text())
    rows = [r for r in _parse(rendered_run).rows if r]
    entries = sorted_attacks(results)
    assert len(rows) == len(entries) == len(results["attacks"])
    for row, entry in zip(rows, entries):
        for column in COLUMNS:
            expected = column.get(entry)
            if expected is None:
                assert row[column.key] == "-"
            else:
                places = 1 if column.key == "uploads" else 3
                assert float(row[column.key]) == pytest.approx(expected, abs=0.51 * 10**-places), column.key
    # spot check: HR@20 of every entry appears as shown
    assert {round(e["hr"]["20"], 3) for e in entries} == {float(r["hr20"]) for r in rows}


def test_html_is_self_contained(rendered_run: Path) -> None:
    text = (rendered_run / "report.html").read_text(encoding="utf-8")
    refs = _parse(rendered_run).refs
    assert refs, "figures should be inlined as <img src=data:...>"
    assert all(ref.startswith("data:image/png;base64,") for ref in refs), refs
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower() and "@import" not in text
    assert text.count("data:image/png;base64,") >= len(CURVES) + 1


def test_report_shows_models_config_seed_and_versions(rendered_run: Path) -> None:
    text = (rendered_run / "report.html").read_text(encoding="utf-8")
    results = json.loads((rendered_run / "results.json").read_text())
    vbpr = results["recommenders"]["vbpr"]
    for needle in (f"{vbpr['auc']:.4f}", f"{vbpr['visual_gain']:+.4f}", "squeezenet1_1", "2.13.0", "Seed: <code>3</code>",
                   "&quot;radius&quot;: 7"):
        assert needle in text, needle
    assert "Skipped" not in text


def test_without_population_runs_or_images_figures_are_skipped_with_notes(fresh_run: Path) -> None:
    results = json.loads((fresh_run / "results.json").read_text())
    results["attacks"] = [a for a in results["attacks"] if a["threat_model"] == "specific-user"]
    (fresh_run / "results.json").write_text(json.dumps(results))
    pairs = [json.loads(line) for line in (fresh_run / "pairs.jsonl").read_text().splitlines()]
    kept = [{**p, "images": None} for p in pairs if p["threat_model"] == "specific-user"]
    (fresh_run / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in kept))
    run_dir = fresh_run
    out = render_report(run_dir)
    text = out.read_text(encoding="utf-8")
    assert "Skipped: no segment or general-population runs" in text
    assert "Skipped: no pair in pairs.jsonl has saved images" in text
    assert not (run_dir / "figures" / "hr_segment_general.png").exists()
    assert (run_dir / "figures" / "hr_by_attack.png").is_file()


def test_results_json_alone_renders(fresh_run: Path) -> None:
    (fresh_run / "pairs.jsonl").unlink()
    text = render_report(fresh_run).read_text(encoding="utf-8")
    assert "pairs.jsonl not found" in text
    assert "Skipped: no pairs.jsonl lines" in text
    assert (fresh_run / "figures" / "ssim_by_step.png").is_file()


def test_truncated_pairs_line_is_skipped_with_a_note(fresh_run: Path) -> None:
    with (fresh_run / "pairs.jsonl").open("a") as fh:
        fh.write('{"unit": "vbpr/wb/specific-user/d0/99", "hits_')
    run = load_run(fresh_run)
    assert run.notes == ["pairs.jsonl: skipped 1 unreadable line(s)"]
    assert len(run.pairs) == len(load_pairs(fresh_run / "pairs.jsonl")[0]) > 0
    (fresh_run / "results.json").write_text('{"attacks": []}')  # keep the rendering cheap
    assert "skipped 1 unreadable line(s)" in render_report(fresh_run).read_text(encoding="utf-8")


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]", '{"attacks": 3}', ""])
def test_missing_or_corrupt_results_json_is_a_data_error(fresh_run: Path, content: str | None) -> None:
    path = fresh_run / "results.json"
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with pytest.raises(DataError, match="results.json"):
        render_report(fresh_run)


def test_missing_run_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere"):
        render_report(tmp_path / "nowhere")


def test_empty_attacks_still_renders(fresh_run: Path) -> None:
    (fresh_run / "results.json").write_text('{"attacks": []}')
    (fresh_run / "pairs.jsonl").unlink()
    text = render_report(fresh_run).read_text(encoding="utf-8")
    assert "no attack results" in text


def test_rerendering_drops_figures_that_are_now_skipped(fresh_run: Path, rendered_run: Path) -> None:
    shutil.copytree(rendered_run / "figures", fresh_run / "figures")
    assert {p.stem for p in (fresh_run / "figures").glob("*.png") if not p.stem.startswith("pair_")} == set(CURVES)
    results = json.loads((fresh_run / "results.json").read_text())
    results["attacks"] = [a for a in results["attacks"] if a["threat_model"] == "specific-user"]
    (fresh_run / "results.json").write_text(json.dumps(results))
    (fresh_run / "pairs.jsonl").unlink()
    render_report(fresh_run)
    left = {p.stem for p in (fresh_run / "figures").glob("*.png")}
    assert left == {"hr_by_attack", "hr_by_perturbations", "hr_by_uploads", "ssim_by_step"}


def test_nulls_and_missing_fields_do_not_crash(tmp_path: Path) -> None:
    sparse = [
        {"recommender": "vbpr", "attack": "bb-rank", "threat_model": "specific-user", "perturbations": 8,
         "hr_by_step": {"20": [None, None]}, "ssim_by_step": [None, None], "hr": {"20": None}},
        {"recommender": "vbpr", "attack": "bb-rank", "threat_model": "segment", "perturbations": 8,
         "hr_by_step": {"20": [0.0, float("nan")]}},
        {"recommender": "x", "attack": "new-attack", "threat_model": "other"},
    ]
    (tmp_path / "results.json").write_text(json.dumps({"attacks": sparse, "recommenders": {"vbpr": None}}))
    pair = {"unit": "x/vbpr/bb-rank/specific-user/d8/0000", "recommender": "vbpr", "attack": "bb-rank",
            "threat_model": "specific-user", "perturbations": 8, "rank_before": None,
            "hits_by_step": {"20": [None, 1.0]}, "images": {"original": "../../etc/passwd"}}
    (tmp_path / "pairs.jsonl").write_text(json.dumps(pair) + "\n")  # lines that are not records: tests/badinput
    text = render_report(tmp_path).read_text(encoding="utf-8")
    assert "images of this pair are missing or unreadable" in text
