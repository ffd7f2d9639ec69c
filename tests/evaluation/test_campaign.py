"""End-to-end campaigns on the embedded catalog at a small upload size (fast), incl. resume."""

import json

import pytest

from pixelpush.evaluation import campaign as campaign_module
from pixelpush.evaluation.campaign import run_campaign
from pixelpush.evaluation.config import parse_config

pytestmark = pytest.mark.slow


def _config(tmp_path, **experiment):
    return parse_config(
        {
            "seed": 3,
            "cache_dir": str(tmp_path / "cache"),
            "dataset": {"name": "fashion", "options": {"upload_size": 32}},
            "image_model": {"input_size": 32},
            # 4 epochs of the default 1024-triple batches: ~170 Adam steps, enough for VBPR to
            # lean on appearance (2 epochs left one pair's rank unmoved by the attacks)
            "training": {"models": ["bpr", "vbpr"], "epochs": 4},
            "experiments": [
                {
                    "name": "t",
                    "recommenders": ["vbpr"],
                    "attacks": ["wb", "bb-rank"],
                    "perturbations": [8],
                    "steps": 3,
                    "pairs": 3,
                    "images_saved": 1,
                    **experiment,
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaign")
    config = _config(tmp)
    out = tmp / "run"
    results = run_campaign(config, out, progress=False)
    return config, out, results


def test_results_hold_the_schema_and_consistent_numbers(finished):
    _, out, results = finished
    assert {"dataset", "image_model", "recommenders", "attacks", "config", "seed", "versions"} <= set(results)
    assert results["dataset"]["n_items"] == 3000 and results["dataset"]["image_shape"] == [32, 32, 3]
    assert results["recommenders"]["bpr"]["visual_gain"] is None
    assert isinstance(results["recommenders"]["vbpr"]["visual_gain"], float)
    by_attack = {a["attack"]: a for a in results["attacks"]}
    assert set(by_attack) == {"wb", "bb-rank"}
    for a in by_attack.values():
        assert a["pairs"] == 3 and a["steps"] == 3
        assert len(a["hr_by_step"]["20"]) == 4 and len(a["ssim_by_step"]) == 4
        assert a["ssim_by_step"][0] == 1.0 and a["ssim_by_step"][-1] < 1.0
        assert a["hr"]["1"] <= a["hr"]["10"] <= a["hr"]["20"]
    assert by_attack["wb"]["uploads_per_pair"] == 3
    assert by_attack["bb-rank"]["uploads_per_pair"] == 3 * (8 + 1)
    assert by_attack["bb-rank"]["gradient_cosine_mean"] is not None
    records = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert len(records) == 6
    saved = [r for r in records if r["images"]]
    assert len(saved) == 2 and all((out / r["images"]["attacked"]).is_file() for r in saved)


def test_attacks_lift_the_pushed_items_rank(finished):
    _, out, _ = finished
    records = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    for r in records:
        assert r["rank_by_step"][-1] < r["rank_by_step"][0], r["unit"]


def test_a_killed_campaign_resumed_by_two_workers_gives_identical_results(finished, tmp_path, monkeypatch):
    config, _, uninterrupted = finished
    real = campaign_module.run_unit
    calls = {"n": 0}

    def dies_after_two(*args, **kwargs):
        if calls["n"] == 2:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(*args, **kwargs)

    out = tmp_path / "resumed"
    monkeypatch.setattr(campaign_module, "run_unit", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_campaign(config, out, progress=False)
    assert len((out / "pairs.jsonl").read_text().splitlines()) == 2
    assert not (out / "results.json").exists()
    monkeypatch.setattr(campaign_module, "run_unit", real)
    resumed = run_campaign(config, out, workers=2, progress=False)  # resume in two processes
    assert resumed == uninterrupted
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(uninterrupted))
