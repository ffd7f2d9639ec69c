"""Save/load round trip and the ``pixelpush train`` command (image model and features faked)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.errors import DataError
from pixelpush.recommenders import io
from rec_helpers import all_scores, clone_model


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
def test_save_load_round_trip(kind, trained, synth_features, tmp_path) -> None:
    model = clone_model(trained[kind][0])
    model.fold_in(np.array([1, 2, 3]), synth_features, seed=0)  # folded-in users are kept
    path = tmp_path / "sub" / "model.pt"
    io.save(model, path)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary left behind
    loaded = io.load(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert loaded.n_users == model.n_users
    assert float(loaded.feature_scale) == float(model.feature_scale) != 1.0
    users = [0, 5, model.n_users - 1]
    np.testing.assert_array_equal(all_scores(loaded, users, synth_features), all_scores(model, users, synth_features))


def test_load_refuses_other_files(tmp_path) -> None:
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(DataError):
        io.load(bad)
    torch.save({"format": 99}, bad)
    with pytest.raises(DataError):
        io.load(bad)
    with pytest.raises(DataError):
        io.load(tmp_path / "missing.pt")


class _FakeImageModel:
    identity = "fake@8:random"

    def to(self, device):  # the image model's interface: the command moves it to --device
        return self


def test_train_command_writes_model_and_metrics(synth, monkeypatch, tmp_path) -> None:
    import pixelpush.data.registry as registry
    import pixelpush.vision.features as features
    import pixelpush.vision.models as models
    from pixelpush.cli.main import main

    data = Dataset(
        name="synthetic",
        images=ArrayImages(np.zeros((synth.n_items, 8, 8, 3), np.uint8)),
        categories=synth.categories,
        category_names=("a", "b", "c", "d"),
        interactions=synth.interactions,
        n_users=synth.n_users,
    )
    monkeypatch.setattr(registry, "load_dataset", lambda name, root=None: data)
    monkeypatch.setattr(models, "load_image_model", lambda name, input_size=None, **kw: _FakeImageModel())
    monkeypatch.setattr(features, "extract_features", lambda model, images, **kw: synth.features)
    out = tmp_path / "run"
    code = main(["train", "--model", "deepstyle", "--out", str(out), "--epochs", "3", "--no-progress"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["n_users"] == 300 and metrics["n_items"] == 400
    assert 0.5 < metrics["auc"] <= 1 and 0.5 < metrics["val_auc"] <= 1 and metrics["train_seconds"] > 0
    assert io.load(out / "model.pt").kind == "deepstyle"
    assert main(["train", "--model", "svd", "--out", str(out)]) == 2
