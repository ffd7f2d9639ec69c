"""``pixelpush audit`` end to end on the embedded catalog at 32 x 32: the battery as a campaign,
audit.json and audit.html, resume, and the battery's rules (no WB without gradients, no score
attacks against a rank-only service)."""

from __future__ import annotations

import json
import shutil

import pytest
from tiny_audit import audit_toml
from tiny_campaign import TINY_CAMPAIGN

from pixelpush.audit.config import parse_audit_config
from pixelpush.cli.main import main
from pixelpush.errors import ConfigError

pytestmark = pytest.mark.slow

BASE = {k: TINY_CAMPAIGN[k] for k in ("seed", "visible_fraction", "dataset", "image_model", "training")}


@pytest.fixture(scope="module")
def audited(tmp_path_factory, feature_cache, tiny_campaign):
    folder = tmp_path_factory.mktemp("audit")
    config = audit_toml(folder, feature_cache, '''
        models = ["vbpr"]
        threat_models = ["specific-user", "segment"]
        attacks = ["wb", "bb-rank", "prior-rank", "prior-partial"]
        pairs = 2
        steps = 2
        perturbations = 4
        images_saved = 1
    ''')
    out = folder / "run"
    shutil.copytree(tiny_campaign[0] / "models", out / "models")  # the same recipe: reused, not retrained
    assert main(["audit", config, "--out", str(out)]) == 0
    return config, out


def test_the_audit_writes_its_json_and_a_page_for_a_practitioner(audited) -> None:
    _, out = audited
    doc = json.loads((out / "audit.json").read_text())
    assert {"exposure", "attacks", "by_popularity", "by_category", "uploads_to_top20", "most_exposed", "verdict"} <= set(doc)
    accesses = {(r["threat_model"], r["access"]) for r in doc["exposure"]}
    assert accesses == {(t, a) for t in ("specific-user", "segment") for a in ("white-box", "rank", "partial")}
    assert len(doc["attacks"]) == 8 and all(r["pairs"] == 2 for r in doc["attacks"])
    assert len(doc["by_category"]["rows"][0]["buckets"]) == 10
    assert doc["verdict"]["vbpr"]["risk"] in ("low", "moderate", "high") and doc["verdict"]["vbpr"]["actions"]
    page = (out / "audit.html").read_text()
    for heading in ("Verdict", "What was tried", "Exposure by threat model and access level", "Uploads needed to reach the top 20",
                    "Which items are exposed", "How visible the doctoring is", "Most exposed items", "What to do"):
        assert f"<h2>{heading}</h2>" in page
    assert "<script" not in page and page.count("data:image/png;base64,") >= 3
    assert "defenses" not in doc and "What the defenses change" not in page  # no [audit] defenses: no empty section
    assert (out / "report.html").is_file() and (out / "results.json").is_file()


def test_the_audits_numbers_are_the_campaigns_results(audited) -> None:
    _, out = audited
    doc = json.loads((out / "audit.json").read_text())
    results = json.loads((out / "results.json").read_text())
    summaries = {(s["recommender"], s["threat_model"], s["attack"]): s for s in results["attacks"]}
    assert len(summaries) == len(doc["attacks"])
    for row in doc["attacks"]:
        s = summaries[(row["model"], row["threat_model"], row["attack"])]
        assert row["hr"] == s["hr"] and row["hr_before"] == s["hr_before"] and row["pairs"] == s["pairs"]
        assert row["success_rate"] == s["success_rate_top20"] and row["uploads_to_top20_median"] == s["uploads_to_top20_median"]
        assert row["uploads_per_pair"] == s["uploads_per_pair"] and row["ssim_final"] == pytest.approx(s["ssim_by_step"][-1])
    for row in doc["exposure"]:  # the best attack of its access level
        rivals = [r for r in doc["attacks"] if (r["model"], r["threat_model"], r["access"]) == (row["model"], row["threat_model"], row["access"])]
        assert row["hr"]["20"] - row["hr_before"]["20"] == max(r["hr"]["20"] - r["hr_before"]["20"] for r in rivals)
    auc = results["recommenders"]["vbpr"]["auc"]
    assert doc["models"]["vbpr"]["auc"] == auc and 0.5 < auc <= 1
    page = (out / "audit.html").read_text()
    assert f"AUC {auc:.4f}" in page
    exposure_table = page.split('id="exposure"')[1].split("</table>")[0]
    for row in doc["exposure"]:
        assert f"<b>{row['hr']['20']:.2f}</b> <small>from {row['hr_before']['20']:.2f}" in exposure_table


def test_a_second_run_resumes_without_new_work_and_writes_the_same_audit(audited) -> None:
    config, out = audited
    records = (out / "pairs.jsonl").read_text()
    before = (out / "audit.json").read_bytes()
    assert main(["audit", config, "--out", str(out)]) == 0
    assert (out / "pairs.jsonl").read_text() == records
    assert (out / "audit.json").read_bytes() == before


def test_a_bad_audit_config_exits_2_before_writing_anything(tmp_path, feature_cache, capsys) -> None:
    config = audit_toml(tmp_path, feature_cache, 'models = ["nope"]\n')
    assert main(["audit", config, "--out", str(tmp_path / "run")]) == 2
    assert "unknown recommender 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_battery_skips_what_a_model_cannot_be_attacked_with() -> None:
    raw = {**BASE, "models": {"live": {"service": "http://127.0.0.1:9"}, "numb": {"factory": "m:f", "gradients": False}},
           "audit": {"models": ["live", "numb"], "access": {"live": "rank"}, "threat_models": ["specific-user"]}}
    audit, skipped = parse_audit_config(raw)
    attacks = {e.recommenders[0]: e.attacks for e in audit.campaign.experiments}
    assert attacks["live"] == ["bb-rank", "bb-partial", "prior-rank", "prior-partial"]
    assert attacks["numb"] == ["bb-score", "bb-rank", "bb-partial", "prior-score", "prior-rank", "prior-partial"]
    assert {(s["model"], s["attack"]) for s in skipped} == {("live", "wb"), ("live", "bb-score"), ("live", "prior-score"), ("numb", "wb")}
    with pytest.raises(ConfigError, match="makes its own experiments"):
        parse_audit_config({**raw, "experiments": []})
