"""extract_features: streaming, caching by model and content, resumption, damage, dtypes, NaNs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pixelpush.data.catalog import ArrayImages, ImageStore
from pixelpush.errors import ConfigError, DataError
from pixelpush.random import numpy_rng, torch_generator
from pixelpush.vision.feature_store import FeatureStore
from pixelpush.vision.features import extract_features, feature_cache_path
from pixelpush.vision.image_model import ImageModel


class TinyModel(ImageModel):
    """A fixed random 3x3 conv + ReLU + global average pool: cheap, deterministic, d = 8."""

    name = "tiny"
    feature_dim = 8

    def __init__(self, *, fail_on_call: int | None = None, nan_on_constant: bool = False) -> None:
        super().__init__(input_size=32)
        self.conv = nn.Conv2d(3, self.feature_dim, 3)
        with torch.no_grad():
            gen = torch_generator(0, "tiny-model")
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=gen))
            self.conv.bias.zero_()
        self.freeze()
        self.calls = 0
        self.images_seen = 0
        self.fail_on_call = fail_on_call
        self.nan_on_constant = nan_on_constant

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 255.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.images_seen += len(x)
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")
        out = torch.relu(self.conv(x)).mean(dim=(2, 3))
        if self.nan_on_constant:  # a constant image (never a random one) yields NaN features
            hit = x.amax(dim=(1, 2, 3)) == x.amin(dim=(1, 2, 3))
            out = torch.where(hit[:, None], torch.full_like(out, float("nan")), out)
        return out


class SyntheticImages(ImageStore):
    """Deterministic 32x32 images generated on demand; `edits` replaces chosen items."""

    def __init__(self, n: int, *, seed: int = 0, edits: dict[int, np.ndarray] | None = None) -> None:
        self.n, self.seed, self.edits = n, seed, dict(edits or {})
        self.gets = 0

    def __len__(self) -> int:
        return self.n

    def get(self, item: int) -> np.ndarray:
        self.gets += 1
        if item in self.edits:
            return self.edits[item].copy()
        return numpy_rng(self.seed, "img", item).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_uncached_matches_model_extract_and_is_float32() -> None:
    model, images = TinyModel(), SyntheticImages(23)
    feats = extract_features(model, images, batch_size=5, progress=False)
    assert isinstance(feats, np.ndarray) and not isinstance(feats, np.memmap)
    assert feats.shape == (23, 8) and feats.dtype == np.float32
    assert model.calls == 5  # ceil(23 / 5) batches
    ref = model.extract(images.many(range(23)), batch_size=7)
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)


def test_mixed_upload_sizes_are_handled() -> None:
    rng = np.random.default_rng(1)
    uploads = [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for s in (32, 40, 32, 48)]

    class Mixed(ImageStore):
        def __len__(self) -> int:
            return len(uploads)

        def get(self, item: int) -> np.ndarray:
            return uploads[item].copy()

    model = TinyModel()
    feats = extract_features(model, Mixed(), batch_size=4, progress=False)
    np.testing.assert_allclose(feats, model.extract(uploads, batch_size=1), rtol=1e-5, atol=1e-6)


def test_cache_hit_returns_identical_readonly_memmap_without_model_calls(tmp_path: Path) -> None:
    images = SyntheticImages(50)
    first_model = TinyModel()
    first = extract_features(first_model, images, cache_dir=tmp_path, batch_size=8, chunk_size=16, progress=False)
    assert isinstance(first, np.memmap) and not first.flags.writeable
    assert first.dtype == np.float32 and first.shape == (50, 8)
    assert first_model.images_seen == 50
    with pytest.raises(ValueError):
        first[0, 0] = 1.0

    model = TinyModel()
    again = extract_features(model, images, cache_dir=tmp_path, batch_size=8, chunk_size=16, progress=False)
    assert model.calls == 0
    np.testing.assert_array_equal(np.asarray(again), np.asarray(first))
    assert Path(again.filename) == feature_cache_path(model, images, tmp_path)
    manifest = FeatureStore(tmp_path, model.identity, "float32").read_manifest(Path(again.filename).stem)
    assert manifest is not None
    assert (manifest["model"], manifest["n"], manifest["d"], manifest["dtype"]) == (model.identity, 50, 8, "float32")
    assert len(manifest["chunks"]) == 4  # ceil(50 / 16)
    # the cached values equal a fresh in-memory extraction
    np.testing.assert_allclose(np.asarray(again), extract_features(TinyModel(), images, progress=False), rtol=1e-6)


def test_cache_is_keyed_by_model_identity(tmp_path: Path) -> None:
    images = SyntheticImages(10)
    extract_features(TinyModel(), images, cache_dir=tmp_path, progress=False)
    other = TinyModel()
    other.weights_id = "other-weights"
    extract_features(other, images, cache_dir=tmp_path, progress=False)
    assert other.calls > 0  # a different identity never reads the first model's cache


def test_changed_image_recomputes_only_its_chunk(tmp_path: Path) -> None:
    base = SyntheticImages(40)
    before = extract_features(TinyModel(), base, cache_dir=tmp_path, batch_size=4, chunk_size=10, progress=False)
    edited_image = np.full((32, 32, 3), 7, dtype=np.uint8)
    edited = SyntheticImages(40, edits={23: edited_image})
    model = TinyModel()
    after = extract_features(model, edited, cache_dir=tmp_path, batch_size=4, chunk_size=10, progress=False)
    assert model.images_seen == 10  # only chunk 20..29 went through the model
    assert Path(after.filename) != Path(before.filename)
    changed = np.flatnonzero(~np.all(np.asarray(after) == np.asarray(before), axis=1))
    assert changed.tolist() == [23]
    np.testing.assert_allclose(after[23], TinyModel().extract([edited_image])[0], rtol=1e-5)
    # the original catalog is still served from its own cache
    model = TinyModel()
    extract_features(model, base, cache_dir=tmp_path, batch_size=4, chunk_size=10, progress=False)
    assert model.calls == 0


def test_interrupted_run_leaves_whole_files_and_resumes(tmp_path: Path) -> None:
    images = SyntheticImages(45)
    reference = extract_features(TinyModel(), images, batch_size=5, progress=False)
    broken = TinyModel(fail_on_call=6)  # chunks of 10 = 2 batches: chunks 0 and 1 finish
    with pytest.raises(KeyboardInterrupt):
        extract_features(broken, images, cache_dir=tmp_path, batch_size=5, chunk_size=10, progress=False)
    files = _files(tmp_path)
    assert not [p for p in files if p.name.endswith(".tmp")]
    # two finished chunks with their digests, no assembled array
    assert sorted(p.suffix for p in files) == [".npy", ".npy", ".sum", ".sum"]
    for p in files:
        if p.suffix == ".npy":
            assert np.load(p).shape == (10, 8)

    resumed_model = TinyModel()
    resumed = extract_features(resumed_model, images, cache_dir=tmp_path, batch_size=5, chunk_size=10, progress=False)
    assert resumed_model.images_seen == 25  # items 20..44 only
    np.testing.assert_array_equal(np.asarray(resumed), reference)


def test_stale_temporary_file_of_dead_process_is_removed(tmp_path: Path) -> None:
    images = SyntheticImages(6)
    store = FeatureStore(tmp_path, TinyModel().identity, "float32")
    store.chunk_dir.mkdir(parents=True)
    stale = store.chunk_dir / ".abc.npy.pid999999999.deadbeef.tmp"
    stale.write_bytes(b"half a chunk")
    extract_features(TinyModel(), images, cache_dir=tmp_path, progress=False)
    assert not stale.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong-shape"])
def test_damaged_assembled_file_is_recomputed(tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    images = SyntheticImages(30)
    first = extract_features(TinyModel(), images, cache_dir=tmp_path, chunk_size=8, progress=False)
    expected = np.array(first)
    path = Path(first.filename)
    del first
    if damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 13])
    elif damage == "garbage":
        path.write_bytes(b"not an npy file at all")
    else:
        np.save(path, np.zeros((29, 8), np.float32))
    with caplog.at_level(logging.WARNING, logger="pixelpush.vision.feature_store"):
        again = extract_features(TinyModel(), images, cache_dir=tmp_path, chunk_size=8, progress=False)
    assert "damaged" in caplog.text
    np.testing.assert_array_equal(np.asarray(again), expected)


def test_truncated_chunk_is_detected_and_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    images = SyntheticImages(30)
    expected = np.array(extract_features(TinyModel(), images, cache_dir=tmp_path, chunk_size=8, progress=False))
    store = FeatureStore(tmp_path, TinyModel().identity, "float32")
    for p in store.root.glob("*.npy"):  # drop the assembled array so the chunks are read
        p.unlink()
    chunk = sorted(store.chunk_dir.glob("*.npy"))[0]
    chunk.write_bytes(chunk.read_bytes()[:-4])
    model = TinyModel()
    with caplog.at_level(logging.WARNING, logger="pixelpush.vision.feature_store"):
        again = extract_features(model, images, cache_dir=tmp_path, chunk_size=8, progress=False)
    assert "truncated" in caplog.text
    assert model.images_seen == 8  # that chunk only (the damaged one is a full chunk of 8)
    np.testing.assert_array_equal(np.asarray(again), expected)


def _overwrite_in_place(path: Path, offset_from_end: int = 4) -> None:
    """Flip the bytes of one value near the end of `path`: same size, same header, new value."""
    with open(path, "r+b") as fh:
        fh.seek(-offset_from_end, 2)
        old = fh.read(4)
        fh.seek(-offset_from_end, 2)
        fh.write(bytes(b ^ 0xFF for b in old))


def _recompute_after(tmp_path: Path, damage, caplog: pytest.LogCaptureFixture) -> tuple[TinyModel, np.ndarray, np.ndarray]:
    """Fill a cache, `damage(store, assembled_path)` it, extract again: (model, expected, again)."""
    images = SyntheticImages(30)
    first = extract_features(TinyModel(), images, cache_dir=tmp_path, chunk_size=8, progress=False)
    expected, path = np.array(first), Path(first.filename)
    del first
    damage(FeatureStore(tmp_path, TinyModel().identity, "float32"), path)
    model = TinyModel()
    with caplog.at_level(logging.INFO, logger="pixelpush"):
        again = extract_features(model, images, cache_dir=tmp_path, chunk_size=8, progress=False)
    assert "do not match the digest" in caplog.text
    return model, expected, np.asarray(again)


def test_values_overwritten_in_place_in_the_assembled_array_are_caught(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def damage(store: FeatureStore, path: Path) -> None:
        size = path.stat().st_size
        _overwrite_in_place(path)
        assert path.stat().st_size == size

    model, expected, again = _recompute_after(tmp_path, damage, caplog)
    assert model.images_seen == 0  # the chunks were intact: reassembled from them
    assert "0 chunks computed, 4 reused" in caplog.text
    np.testing.assert_array_equal(again, expected)


def test_values_overwritten_in_place_in_a_chunk_are_recomputed_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def damage(store: FeatureStore, path: Path) -> None:
        path.unlink()  # drop the assembled array so the chunks are read
        full = [c for c in sorted(store.chunk_dir.glob("*.npy")) if np.load(c).shape[0] == 8]
        _overwrite_in_place(full[0])

    model, expected, again = _recompute_after(tmp_path, damage, caplog)
    assert model.images_seen == 8
    assert "1 chunks computed, 3 reused" in caplog.text
    np.testing.assert_array_equal(again, expected)


def test_float16_cache_is_half_size_and_close(tmp_path: Path) -> None:
    images = SyntheticImages(20)
    f32 = extract_features(TinyModel(), images, cache_dir=tmp_path, dtype="float32", progress=False)
    f16 = extract_features(TinyModel(), images, cache_dir=tmp_path, dtype="float16", progress=False)
    assert f16.dtype == np.float16 and isinstance(f16, np.memmap) and not f16.flags.writeable
    assert f16.nbytes * 2 == f32.nbytes
    np.testing.assert_allclose(f16.astype(np.float32), f32, rtol=2e-3, atol=1e-3)
    mem = extract_features(TinyModel(), images, dtype="float16", progress=False)
    assert mem.dtype == np.float16
    np.testing.assert_array_equal(mem, np.asarray(f16))


def test_nan_features_raise_data_error_naming_the_item(tmp_path: Path) -> None:
    images = SyntheticImages(12, edits={9: np.full((32, 32, 3), 201, dtype=np.uint8)})
    with pytest.raises(DataError, match=r"item 9\b"):
        extract_features(TinyModel(nan_on_constant=True), images, batch_size=4, progress=False)
    with pytest.raises(DataError, match=r"item 9\b"):
        extract_features(TinyModel(nan_on_constant=True), images, cache_dir=tmp_path, batch_size=4, chunk_size=4, progress=False)
    assert not [p for p in _files(tmp_path) if p.name.endswith(".tmp")]


def test_float16_overflow_is_a_data_error() -> None:
    class Huge(TinyModel):
        def embed(self, x: torch.Tensor) -> torch.Tensor:
            return super().embed(x) + 1e6

    with pytest.raises(DataError, match="float16"):
        extract_features(Huge(), SyntheticImages(3), dtype="float16", progress=False)


def test_empty_catalog_and_bad_options(tmp_path: Path) -> None:
    empty = ArrayImages(np.zeros((0, 32, 32, 3), np.uint8))
    assert extract_features(TinyModel(), empty, progress=False).shape == (0, 8)
    assert extract_features(TinyModel(), empty, cache_dir=tmp_path, progress=False).shape == (0, 8)
    with pytest.raises(ConfigError, match="dtype"):
        extract_features(TinyModel(), empty, dtype="float64", progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        extract_features(TinyModel(), empty, batch_size=0, progress=False)
    with pytest.raises(ConfigError, match="chunk_size"):
        extract_features(TinyModel(), empty, chunk_size=0, progress=False)


def test_cli_features_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from pixelpush.cli.features import features
    from pixelpush.data import registry
    from pixelpush.data.catalog import Dataset
    from pixelpush.vision import models

    images = SyntheticImages(9)
    dataset = Dataset(
        name="fashion", images=images, categories=np.zeros(9, np.int64), category_names=("all",),
        interactions=np.zeros((0, 2), np.int64), n_users=0,
    )
    asked: dict = {}

    def fake_model(name: str, *, weights: object = "default", input_size: int | None = None, seed: int = 0) -> TinyModel:
        asked.update(name=name, weights=weights, input_size=input_size)
        return TinyModel()

    monkeypatch.setattr(registry, "load_dataset", lambda name, root=None: dataset)
    monkeypatch.setattr(models, "load_image_model", fake_model)
    app = typer.Typer()
    app.command()(features)
    out = tmp_path / "copy.npy"
    argv = ["--cache-dir", str(tmp_path / "cache"), "--out", str(out), "--no-progress", "--weights", "random"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert asked == {"name": "squeezenet1_1", "weights": None, "input_size": 32}  # fashion: the upload size
    assert "9 items x 8 features" in result.output and "cache " in result.output
    np.testing.assert_allclose(np.load(out), extract_features(TinyModel(), images, progress=False), rtol=1e-6)
    assert not [p for p in tmp_path.rglob("*.tmp")]


_KILLED_CHILD = """
import os, signal, sys
import numpy as np
sys.path.insert(0, {test_dir!r})
from test_features import SyntheticImages, TinyModel
from pixelpush.vision import feature_store
from pixelpush.vision.features import extract_features

real_header, calls = feature_store._npy_header, [0]
def header_then_die(fh, shape, dtype):
    calls[0] += 1
    real_header(fh, shape, dtype)
    if calls[0] == 3:  # SIGKILL in the middle of writing the third chunk
        fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)
feature_store._npy_header = header_then_die
extract_features(TinyModel(), SyntheticImages(45), cache_dir={cache!r}, batch_size=5, chunk_size=10, progress=False)
"""


def test_sigkill_mid_write_leaves_usable_chunks_and_resumes(tmp_path: Path) -> None:
    import subprocess
    import sys

    cache = tmp_path / "cache"
    code = _KILLED_CHILD.format(test_dir=str(Path(__file__).parent), cache=str(cache))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    tmps = [p for p in _files(cache) if p.name.endswith(".tmp")]
    assert len(tmps) == 1  # the half-written chunk, never under a .npy name
    assert [np.load(p).shape for p in _files(cache) if p.suffix == ".npy"] == [(10, 8), (10, 8)]

    model = TinyModel()
    resumed = extract_features(model, SyntheticImages(45), cache_dir=cache, batch_size=5, chunk_size=10, progress=False)
    assert model.images_seen == 25
    assert not tmps[0].exists()  # the dead writer's temporary was cleaned up
    np.testing.assert_array_equal(np.asarray(resumed), extract_features(TinyModel(), SyntheticImages(45), progress=False))


def test_progress_bars_are_not_drawn_into_a_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """stderr redirected to a file (capfd): progress=True must not write one redraw there."""
    images = SyntheticImages(40)
    extract_features(TinyModel(), images, cache_dir=tmp_path, batch_size=4, chunk_size=8, progress=True)
    extract_features(TinyModel(), images, batch_size=4, progress=True)  # the uncached path has its own bar
    err = capfd.readouterr().err
    assert "\r" not in err and "img/s" not in err and "hashing images" not in err


def test_thread_counts_change_features_by_float32_rounding_at_most():
    """torch's CPU kernels may round some batch shapes differently on 1 and 2 threads (the Ray
    actors run on one): within 1e-5 of the features' scale, never more."""
    from pixelpush.vision.models import load_image_model

    images = ArrayImages(np.random.default_rng(0).integers(0, 256, (44, 32, 32, 3), dtype=np.uint8))
    model = load_image_model("squeezenet1_1", input_size=32)
    before, runs = torch.get_num_threads(), []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            runs.append(extract_features(model, images, batch_size=16, progress=False))
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(runs[1], runs[0], rtol=0, atol=1e-5 * float(np.abs(runs[0]).max()))
