"""Feature extraction on Ray Data writes the local path's cache, resumes from its chunks, and is
what ``pixelpush features --engine ray`` runs."""

from __future__ import annotations

import filecmp
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from ray_helpers import SKIP_REASON

pytest.importorskip("ray", reason=SKIP_REASON)

from pixelpush.data.catalog import ArrayImages  # noqa: E402
from pixelpush.vision.features import extract_features  # noqa: E402
from pixelpush.vision.features_ray import extract_features_ray  # noqa: E402
from pixelpush.vision.models import load_image_model  # noqa: E402

pytestmark = pytest.mark.slow

N, CHUNK, BATCH = 300, 64, 16  # 5 chunks, the last one short (44 items: batches 16, 16, 12)


@pytest.fixture(scope="module")
def catalog() -> ArrayImages:
    return ArrayImages(np.random.default_rng(0).integers(0, 256, (N, 32, 32, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def model():
    return load_image_model("squeezenet1_1", input_size=32)


@pytest.fixture(scope="module")
def local_cache(tmp_path_factory, catalog, model) -> tuple[Path, np.ndarray]:
    """The local path's cache of the catalog, made on one torch thread (as every Ray actor runs)."""
    cache = tmp_path_factory.mktemp("local-cache")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        feats = np.array(extract_features(model, catalog, cache_dir=cache, chunk_size=CHUNK, batch_size=BATCH, progress=False))
    finally:
        torch.set_num_threads(before)
    return cache, feats


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_ray_data_writes_the_local_paths_cache_and_resumes_from_its_chunks(tmp_path, catalog, model, local_cache, ray_instance, caplog):
    cache, expected = local_cache
    feats = extract_features_ray(model, catalog, cache_dir=tmp_path, chunk_size=CHUNK, batch_size=BATCH, progress=False)
    assert isinstance(feats, np.memmap) and not feats.flags.writeable
    np.testing.assert_array_equal(feats, expected)
    assert _files(tmp_path) == _files(cache) and len(_files(cache)) == 2 * 5 + 2  # chunks with digests, array, manifest
    assert [f for f in _files(cache) if not filecmp.cmp(cache / f, tmp_path / f, shallow=False)] == []

    # What a killed run leaves (some chunks, no assembled array) is resumed: only the rest is computed.
    chunks = sorted(tmp_path.rglob("chunks/*.npy"))
    for path in [*tmp_path.rglob("*.json"), *(p for p in tmp_path.rglob("*.npy") if p.parent.name != "chunks"), chunks[1], chunks[3]]:
        path.unlink()
    with caplog.at_level(logging.INFO, logger="pixelpush"):
        feats = extract_features_ray(model, catalog, cache_dir=tmp_path, chunk_size=CHUNK, batch_size=BATCH, progress=False)
    assert "features of 300 items: 2 chunks computed, 3 reused" in caplog.text
    assert "features of 2 chunks on" in caplog.text  # computed by the actors, not in this process
    np.testing.assert_array_equal(feats, expected)
    assert [f for f in _files(cache) if not filecmp.cmp(cache / f, tmp_path / f, shallow=False)] == []

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pixelpush"):
        extract_features_ray(model, catalog, cache_dir=tmp_path, chunk_size=CHUNK, batch_size=BATCH, progress=False)
    assert "read from cache" in caplog.text and "Ray Data actors" not in caplog.text  # all cached: no pipeline


def test_pixelpush_features_engine_ray_fills_the_cache(tmp_path, capsys, ray_instance):
    from pixelpush.cli.main import main

    args = ["features", "--dataset", "fashion-dense", "--input-size", "32", "--cache-dir", str(tmp_path), "--chunk-size", "1000",
            "--no-progress"]
    assert main([*args, "--engine", "ray", "--workers", "1"]) == 0
    assert "fashion-dense: 3000 items x 512 features" in capsys.readouterr().out
    files = _files(tmp_path)
    assert len([f for f in files if f.parent.name == "chunks"]) == 2 * 3 and len(files) == 2 * 3 + 2
    written = {f: (tmp_path / f).stat().st_mtime_ns for f in files}
    assert main(args) == 0  # the local engine reads the cache Ray Data made: nothing is written again
    assert {f: (tmp_path / f).stat().st_mtime_ns for f in _files(tmp_path)} == written
