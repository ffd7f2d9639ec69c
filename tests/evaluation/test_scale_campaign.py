"""A campaign on the generated ``synthetic-scale`` catalog, with AUC on a sample of held-out pairs
(what makes a campaign at Amazon Clothing's size possible: bench/bench_campaign_scale.py)."""

from __future__ import annotations

import json

from pixelpush.evaluation.campaign import run_campaign
from pixelpush.evaluation.config import parse_config


def test_a_campaign_runs_on_the_synthetic_scale_catalog_with_sampled_auc(feature_cache, tmp_path, tiny_campaign) -> None:
    sampled = {"eval_pairs": 40}
    config = parse_config({
        "seed": 1,
        "dataset": {"name": "synthetic-scale", "options": {"n_items": 2000, "image_size": 32}},
        "image_model": {"input_size": 32},
        "training": {"models": ["bpr", "vbpr"], "epochs": 2, "options": {"bpr": sampled, "vbpr": sampled}},
        "experiments": [{"name": "scale", "recommenders": ["vbpr"], "attacks": ["bb-rank"], "perturbations": [4],
                         "steps": 2, "pairs": 2, "images_saved": 0}],
        "cache_dir": str(feature_cache),
    })
    results = run_campaign(config, tmp_path / "run", progress=False)
    assert (results["dataset"]["name"], results["dataset"]["n_items"]) == ("synthetic-scale-2000", 2000)
    for name in ("bpr", "vbpr"):
        metrics = results["recommenders"][name]
        assert metrics["auc_pairs"] == 40 and 0.0 < metrics["auc"] < 1.0 and 0.0 < metrics["val_auc"] < 1.0
    records = [json.loads(line) for line in (tmp_path / "run" / "pairs.jsonl").open()]
    assert len(records) == 2 and all(r["queries"] > 0 and r["uploads"] > 0 for r in records)
    _, exact = tiny_campaign  # a campaign without eval_pairs evaluates every held-out pair, and says nothing more
    assert all("auc_pairs" not in m for m in exact["recommenders"].values())
