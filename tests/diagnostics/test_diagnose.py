"""The diagnosis: regime figures by hand, and the full report on data where looks drive choice."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from pixelpush.cli.main import main
from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.diagnostics.diagnose import diagnose, regime
from pixelpush.recommenders.search import campaign_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recommenders"))
from test_search import synthetic_dataset  # noqa: E402


def test_regime_figures_by_hand() -> None:
    # 3 users x 6 items; user 0 has 5 items, users 1 and 2 have 3 (train-only); item 5 never bought
    inter = np.array([[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 3]])
    ds = Dataset("hand", ArrayImages(np.zeros((6, 2, 2, 3), np.uint8)), np.zeros(6, np.int64), ("all",), inter, 3)
    split = campaign_split(ds, 0)
    r = regime(ds, split, cold_below=2)
    assert (r["n_users"], r["n_items"], r["n_interactions"]) == (3, 6, 11)
    assert r["per_user"] == pytest.approx(11 / 3) and r["per_item"] == pytest.approx(11 / 6)
    assert r["items_bought_once"] == pytest.approx(1 / 6) and r["items_never_bought"] == pytest.approx(1 / 6)
    test_item = int(split.test[0, 1])
    trained = int(split.train_popularity()[test_item])
    assert r["test_items_unseen_in_training"] == float(trained == 0)
    assert r["test_items_cold"] == float(trained < 2)
    assert r["clothing"]["per_user"] == pytest.approx(8.2, abs=0.01) and r["clothing"]["per_item"] == pytest.approx(2.29, abs=0.01)


@pytest.mark.slow
def test_diagnose_on_data_where_looks_drive_choice() -> None:
    ds, feats = synthetic_dataset()
    style = feats @ np.random.default_rng(0).normal(size=(feats.shape[1], 2))  # linear in the features
    out = diagnose(ds, feats, style=style, options={"bpr": {"dim": 8}, "vbpr": {"dim": 8, "lambda_visual": 1e-4}},
                   lambdas=(1e3, 1e-4), epochs=40)
    assert out["probe"]["style_r2"] > 0.99 and out["probe"]["category_accuracy"] > 0.5
    models = out["models"]
    assert set(models) == {"bpr", "vbpr"} and models["vbpr"]["visual_gain"] > 0
    for m in models.values():
        assert m["n_cold"] + m["n_warm"] == ds.n_users and 0 < m["auc"] < 1
    curve = out["lambda_visual"]
    assert [c["lambda_visual"] for c in curve] == [1e3, 1e-4]
    assert curve[1]["val_auc"] > curve[0]["val_auc"]  # the visual terms switched off lose on this data
    assert curve[1]["auc"] == pytest.approx(models["vbpr"]["auc"])  # same options, same seeds: same model
    assert "lambda_visual" not in diagnose(ds, feats, options={"bpr": {"dim": 8}}, lambdas=(), epochs=5)


def test_cli_probe_only_json_and_bad_hyperparameters(monkeypatch, tmp_path, capsys) -> None:
    ds, feats = synthetic_dataset()
    import pixelpush.cli.common as common

    monkeypatch.setattr(common, "dataset_with_features", lambda name, **_: (ds, type("IC", (), {"identity": "fake@32"})(), feats))
    out = tmp_path / "d.json"
    assert main(["diagnose", "synthetic", "--no-train", "--json", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["dataset"] == "synthetic" and "style_r2" not in saved["probe"] and saved["image_model"] == "fake@32"
    assert math.isclose(saved["regime"]["per_user"], len(ds.interactions) / ds.n_users)
    assert "models" not in saved
    capsys.readouterr()
    bad = tmp_path / "h.json"
    bad.write_text(json.dumps({"dataset": "fashion", "selected": {}}))
    assert main(["diagnose", "synthetic", "--hyperparameters", str(bad)]) == 2
    assert "searched on 'fashion'" in capsys.readouterr().err
    assert main(["diagnose", "synthetic", "--hyperparameters", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
