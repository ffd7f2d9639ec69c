"""Outputs get the usual permissions, 0666 (files) / 0777 (folders) less the umask, never mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pixelpush.data.catalog import ArrayImages
from pixelpush.evaluation.pair_log import PairLog
from pixelpush.files import write_json_atomic
from pixelpush.recommenders import io as model_io
from pixelpush.recommenders.registry import build_model
from pixelpush.report import render_report
from pixelpush.vision.feature_store import write_npy_atomic
from pixelpush.vision.features import extract_features
from pixelpush.vision.image_model import ImageModel


class _PoolModel(ImageModel):
    """Mean colour per channel, repeated: enough for the feature cache to write its files."""

    name = "pool"
    feature_dim = 6

    def __init__(self) -> None:
        super().__init__(input_size=32)
        self.scale = nn.Parameter(torch.ones(1), requires_grad=False)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 255.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=(2, 3)) * self.scale).repeat(1, 2)


def _write_every_kind_of_output(out: Path) -> None:
    write_json_atomic(out / "run" / "results.json", {"attacks": []})  # how a campaign writes results.json
    PairLog(out / "run" / "pairs.jsonl").append({"unit": "t/vbpr/wb/specific-user/d0/0000"})
    render_report(out / "run")  # report.html (+ figures/, empty here)
    model_io.save(build_model("vbpr", 4, 5, 6, seed=0), out / "run" / "models" / "vbpr.pt")
    images = ArrayImages(np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8))
    feats = extract_features(_PoolModel(), images, cache_dir=out / "cache", chunk_size=4, progress=False)
    write_npy_atomic(out / "features.npy", [np.asarray(feats)], feats.shape, "float32")  # features --out


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002], ids=lambda u: f"umask-{u:03o}")
def test_outputs_have_the_umasks_mode(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        _write_every_kind_of_output(tmp_path)
    finally:
        os.umask(previous)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"results.json", "pairs.jsonl", "report.html", "vbpr.pt", "features.npy"} <= names
    assert any(p.suffix == ".sum" for p in files) and any(p.parent.name == "chunks" for p in files)
    wrong = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
             if stat.S_IMODE(p.stat().st_mode) != 0o666 & ~umask}
    assert wrong == {}, f"expected {oct(0o666 & ~umask)}"
    folders = [p for p in tmp_path.rglob("*") if p.is_dir()]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o777 & ~umask for p in folders)
