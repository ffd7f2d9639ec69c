"""``[audit] defenses``: the battery under no defense and each named one, audit.json's ``defenses``
section (numbers recomputed here from pairs.jsonl and results.json), the page's "What the
defenses change" and the terminal's rows; the config's errors name the field."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from tiny_audit import audit_toml
from tiny_campaign import TINY_CAMPAIGN

from pixelpush.audit.config import parse_audit_config
from pixelpush.cli.main import main
from pixelpush.errors import ConfigError

BASE = {k: TINY_CAMPAIGN[k] for k in ("seed", "visible_fraction", "dataset", "image_model", "training")}
JPEG = {"ingest": {"transforms": [{"op": "jpeg", "quality": 75}]}}
TOP20 = {"reveal-limit": {"top_k": 20}}


def _raw(**audit):
    return {**BASE, "defenses": {"jpeg75": JPEG, "top20": TOP20},
            "audit": {"models": ["vbpr"], "threat_models": ["specific-user", "segment"], **audit}}


@pytest.mark.parametrize(("audit", "message"), [
    ({"defenses": ["jpeg75", "nope"]}, r"audit\.defenses: \['nope'\] are not defined in \[defenses\] \(defined: jpeg75, top20\)"),
    ({"defenses": ["none"]}, r"audit\.defenses: \['none'\].*'none' is always run"),
    ({"defenses": ["jpeg75", "jpeg75"]}, r"audit\.defenses: .*listed twice"),
    ({"attacks": ["wb", "wb:bpda"]}, r"audit\.attacks: the variants \['wb:bpda'\] need their settings in audit\.attack_options"),
    ({"attacks": ["wb"], "attack_options": {"bb-rank": {}}}, r"audit\.attack_options: \['bb-rank'\] are not in audit\.attacks"),
    ({"attacks": ["wb", "wb:bpda"], "attack_options": {"wb:bpda": {"knows_defense": True}}},
     r"audit\.attack_options: \['wb:bpda'\] know the defense .* audit\.defenses is empty"),
])
def test_a_bad_defenses_setting_is_a_config_error_naming_the_field(audit, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_audit_config(_raw(**audit), source="audit.toml")


def test_a_defense_that_retrains_is_refused_for_a_loaded_model_before_anything_runs() -> None:
    raw = _raw(defenses=["jpeg75"])
    raw["models"] = {"mine": {"factory": "m:f"}}
    raw["audit"]["models"] = ["mine"]
    with pytest.raises(ConfigError, match=r"audit\.defenses: \['jpeg75'\] change the model's training .* 'mine'"):
        parse_audit_config(raw)
    audit, _ = parse_audit_config({**raw, "audit": {**raw["audit"], "defenses": ["top20"]}})  # the service's side: fine
    assert {tuple(e.defenses) for e in audit.campaign.experiments} == {("none", "top20")}


def test_the_battery_runs_every_attack_undefended_and_under_each_defense_and_the_adaptive_ones_through_pipelines() -> None:
    plain, _ = parse_audit_config(_raw(attacks=["wb", "bb-rank"]))
    audit, skipped = parse_audit_config(_raw(
        attacks=["wb", "bb-rank", "wb:bpda"], defenses=["jpeg75", "top20"], attack_options={"wb:bpda": {"knows_defense": True}}))
    experiments = {e.name: e for e in audit.campaign.experiments}
    assert sorted(experiments) == ["audit-segment-vbpr", "audit-segment-vbpr-adaptive",
                                   "audit-specific-user-vbpr", "audit-specific-user-vbpr-adaptive"]
    for threat in ("specific-user", "segment"):
        battery, adaptive = experiments[f"audit-{threat}-vbpr"], experiments[f"audit-{threat}-vbpr-adaptive"]
        assert battery.defenses == ["none", "jpeg75", "top20"] and battery.attacks == ["wb", "bb-rank"]
        assert adaptive.defenses == ["jpeg75"] and adaptive.attacks == ["wb:bpda"]  # top20 has no pipeline to know
        assert adaptive.attack_options == {"wb:bpda": {"knows_defense": True}}
    assert skipped == []
    # the undefended part is the audit without defenses, unit for unit: adding defenses reruns none of it
    before = {e.name: [u for u in e.units()] for e in plain.campaign.experiments}
    after = {name: [u for u in e.units() if u["defense"] == "none"] for name, e in experiments.items() if name in before}
    assert after == before and all(e.defenses == ["none"] for e in plain.campaign.experiments)
    # an adaptive attack with no pipeline among the defenses has nothing to know: skipped, and said why
    only_reveal, skipped = parse_audit_config(_raw(
        attacks=["wb", "wb:bpda"], defenses=["top20"], attack_options={"wb:bpda": {"knows_defense": True}}))
    assert [e.name for e in only_reveal.campaign.experiments] == ["audit-specific-user-vbpr", "audit-segment-vbpr"]
    assert [(s["attack"], "ingest pipeline" in s["why"]) for s in skipped] == [("wb:bpda", True)]


# -- end to end: one ingest defense, one adaptive attack ---------------------------------------------


@pytest.fixture(scope="module")
def defended(tmp_path_factory, feature_cache):
    folder = tmp_path_factory.mktemp("audit-defended")
    config = audit_toml(folder, feature_cache, '''
        models = ["vbpr"]
        threat_models = ["segment"]
        attacks = ["wb", "prior-rank", "wb:bpda"]
        attack_options = {"wb:bpda" = {knows_defense = true}}
        defenses = ["jpeg75"]
        pairs = 3
        steps = 6
        images_saved = 0
    ''', '''
        [defenses.jpeg75]
        ingest = {transforms = [{op = "jpeg", quality = 75}]}
    ''', epochs=4)  # 4 epochs: VBPR leans on appearance enough for WB to push on the segment
    return folder / "run", config


@pytest.fixture(scope="module")
def defended_run(defended):
    """(run folder, what the command printed) of the module's one defended audit."""
    import contextlib
    import io

    out, config = defended
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["audit", config, "--out", str(out)]) == 0
    return out, printed.getvalue()


def _hr(records, k="20", step=-1):
    w = np.array([r["n_eval_users"] for r in records], dtype=float)
    return float(w @ np.array([r["hits_by_step"][k][step] for r in records]) / w.sum())


def test_the_defenses_section_is_recomputed_from_pairs_and_results(defended_run) -> None:
    out, _ = defended_run
    doc = json.loads((out / "audit.json").read_text())
    results = json.loads((out / "results.json").read_text())
    records = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    under = {}
    for r in records:
        under.setdefault((r.get("defense", "none"), r["attack"]), []).append(r)
    assert set(under) == {("none", "wb"), ("none", "prior-rank"), ("jpeg75", "wb"), ("jpeg75", "prior-rank"), ("jpeg75", "wb:bpda")}
    # the rest of audit.json is the undefended audit's
    assert {(r["attack"], r["hr"]["20"]) for r in doc["attacks"]} == {(a, _hr(under[("none", a)])) for a in ("wb", "prior-rank")}

    entry = doc["defenses"]["jpeg75"]
    assert entry["what"] == "re-encodes every upload as JPEG at quality 75 (the catalog's photos too) before the model sees it"
    vbpr = entry["models"]["vbpr"]
    assert vbpr["auc"] == results["defenses"]["jpeg75"]["models"]["vbpr"]["auc"] == results["recommenders"]["vbpr@jpeg75"]["auc"]
    assert vbpr["auc_undefended"] == results["recommenders"]["vbpr"]["auc"]
    assert vbpr["auc_change"] == pytest.approx(vbpr["auc"] - vbpr["auc_undefended"])
    assert {(r["attack"], r["adaptive"]) for r in vbpr["attacks"]} == {("wb:bpda", True), ("wb", False), ("prior-rank", False)}
    for row in vbpr["attacks"]:
        recs = under[("jpeg75", row["attack"])]
        assert row["hr"]["20"] == pytest.approx(_hr(recs)) and row["hr_before"]["20"] == pytest.approx(_hr(recs, step=0))
        twin = under.get(("none", row["attack"]))
        assert row["hr_undefended"] == (None if twin is None else pytest.approx({k: _hr(twin, k) for k in ("1", "10", "20")}))
    assert {(r["threat_model"], r["access"]) for r in vbpr["exposure"]} == {("segment", "white-box"), ("segment", "rank")}
    for row in vbpr["exposure"]:
        rivals = {"white-box": ("wb", "wb:bpda"), "rank": ("prior-rank",)}[row["access"]]
        lift = {a: _hr(under[("jpeg75", a)]) - _hr(under[("jpeg75", a)], step=0) for a in rivals}
        assert row["hr"]["20"] - row["hr_before"]["20"] == pytest.approx(max(lift.values()))
        recs = under[("jpeg75", row["attack"])]
        assert row["hr"]["20"] == pytest.approx(_hr(recs))
        assert row["uploads_per_pair"] == pytest.approx(np.mean([r["uploads"] for r in recs]))
        assert row["success_rate"] == sum(r["uploads_to_top20"] is not None for r in recs) / len(recs)
        assert row["adaptive"] == (row["attack"] == "wb:bpda")
        plain = under[("none", row["undefended"]["attack"])]
        assert row["undefended"]["hr"]["20"] == pytest.approx(_hr(plain))
        assert row["undefended"]["uploads_per_pair"] == pytest.approx(np.mean([r["uploads"] for r in plain]))
    lift_before = max(_hr(under[("none", a)]) - _hr(under[("none", a)], step=0) for a in ("wb", "prior-rank"))
    assert lift_before > 0, "the tiny world must let the undefended attacks push, or the comparison shows nothing"
    assert vbpr["effect"] in ("stops", "reduces", "does not stop") and vbpr["effect"] in vbpr["summary"]
    assert "WB (bpda)" in vbpr["caveat"]


def test_the_page_and_the_terminal_show_what_the_defenses_change(defended_run) -> None:
    out, printed = defended_run
    doc = json.loads((out / "audit.json").read_text())
    vbpr = doc["defenses"]["jpeg75"]["models"]["vbpr"]
    page = (out / "audit.html").read_text()
    assert "<h2>What the defenses change</h2>" in page
    section = page.split("<h2>What the defenses change</h2>")[1].split("<h2>")[0]
    assert "re-encodes every upload as JPEG at quality 75" in section and "counts only against an attack that knows it" in section
    table = section.split('id="defenses"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + len(vbpr["exposure"])
    for row in vbpr["exposure"]:
        assert f"<b>{row['hr']['20']:.2f}</b> <small>from {row['hr_before']['20']:.2f}</small>" in table
        assert f"{row['undefended']['hr']['20']:.2f} <small>" in table
    assert table.count("(adaptive)") == sum(r["adaptive"] for r in vbpr["exposure"])
    assert f"{vbpr['auc']:.4f} ({vbpr['auc_change']:+.4f})" in table
    assert html.escape(vbpr["summary"]) in section and html.escape(vbpr["caveat"]) in section
    assert "HR@20 without" in printed and vbpr["summary"] in printed
    assert len(re.findall(r"^jpeg75 +VBPR +segment ", printed, flags=re.M)) == len(vbpr["exposure"])


def test_without_defenses_the_terminal_prints_no_defenses_rows() -> None:
    from pixelpush.audit.report_text import defenses_text

    assert defenses_text({"models": {}}) == "" and defenses_text({"models": {}, "defenses": {}}) == ""
