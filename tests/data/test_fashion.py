"""The embedded ``fashion`` catalog: contents, on-demand upsampling, content keys, bad assets."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixelpush
from pixelpush.data.appearance import layer_activations
from pixelpush.data.fashion import (
    CATALOGS,
    CATEGORY_NAMES,
    UpsampledImages,
    asset_metadata,
    load_fashion,
    simulated_style,
    style_projection,
)
from pixelpush.data.registry import load_dataset
from pixelpush.errors import ConfigError, DataError, UnknownIdError
from pixelpush.vision.models import load_image_model

ASSET_DIR = Path(pixelpush.__file__).parent / "assets" / "fashion"
REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("build_fashion_catalog", REPO / "scripts" / "build_fashion_catalog.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


def test_default_catalog_is_in_the_clothing_regime() -> None:
    """Interactions per user and per item near Amazon Clothing's (8.2 and 2.3), more items than
    users, every item bought at least once, and many test items cold."""
    ds = load_fashion()
    assert ds.name == "fashion"
    assert (ds.n_users, ds.n_categories) == (2000, 10) and 6000 <= ds.n_items <= 8000
    assert ds.category_names == CATEGORY_NAMES
    assert set(np.unique(ds.categories)) == set(range(10))
    assert ds.interactions.dtype == np.int64 and len(np.unique(ds.interactions, axis=0)) == len(ds.interactions)
    per_user, per_item = len(ds.interactions) / ds.n_users, len(ds.interactions) / ds.n_items
    assert 7.5 <= per_user <= 9.0 and 2.0 <= per_item <= 2.7, (per_user, per_item)
    assert 3.0 <= ds.n_items / ds.n_users <= 4.2  # Clothing: 3.6
    assert ds.item_popularity.min() >= 1  # only bought items, as in review data
    assert np.mean(ds.item_popularity == 1) >= 0.4  # a long tail of items bought once
    lengths = np.array([len(h) for h in ds.histories])
    assert lengths.min() == 5 and 6 <= np.median(lengths) <= 8
    assert ds.item_labels[0].startswith(CATEGORY_NAMES[ds.categories[0]])


def test_dense_catalog_is_the_first_embedded_one() -> None:
    ds = load_fashion(name="fashion-dense")
    assert ds.name == "fashion-dense"
    assert (ds.n_items, ds.n_users, ds.n_categories) == (3000, 2000, 10)
    assert np.array_equal(np.bincount(ds.categories), np.full(10, 300))
    assert ds.interactions.dtype == np.int64 and 40_000 <= len(ds.interactions) <= 60_000
    assert len(np.unique(ds.interactions, axis=0)) == len(ds.interactions)
    lengths = np.array([len(h) for h in ds.histories])
    assert lengths.min() == 5 and 15 <= np.median(lengths) <= 20 and lengths.max() >= 200
    assert ds.item_popularity.max() >= 10 * np.median(ds.item_popularity)  # long-tailed popularity
    assert simulated_style(name="fashion-dense").shape == (3000, 12)
    assert style_projection(name="fashion-dense") is None  # pixel PCA: recomputed, not stored


def test_default_style_is_appearance_as_the_image_model_sees_it() -> None:
    """The stored style of an item is the stored projection of the image model's fire5
    activations on that item's own upload."""
    meta = asset_metadata()
    assert meta["appearance"]["layer"] == "fire5" and meta["appearance"]["upload_size"] == 112
    style, projection = simulated_style(), style_projection()
    ds = load_fashion(upload_size=meta["appearance"]["upload_size"])
    assert style.shape == (ds.n_items, 12) and projection is not None and projection.dims == 12
    model = load_image_model("squeezenet1_1", input_size=meta["recipe"]["style_input_size"])
    assert meta["appearance"]["image_model"] == model.identity
    items = np.arange(0, ds.n_items, ds.n_items // 12)
    acts = layer_activations(model, ds.images, "fire5", items=items)
    np.testing.assert_allclose(projection.apply(acts), style[items], atol=2e-3)
    # standardised over the pool it was fitted on; the bought items are a biased but broad sample
    assert np.all(np.abs(style.mean(axis=0)) < 0.5) and np.all((style.std(axis=0) > 0.6) & (style.std(axis=0) < 1.4))


def test_uploads_are_bicubic_upsampled_rgb() -> None:
    ds = load_fashion(upload_size=112)
    store = ds.images
    assert isinstance(store, UpsampledImages)
    img = store.get(7)
    assert img.shape == (112, 112, 3) and img.dtype == np.uint8
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])
    expected = np.asarray(Image.fromarray(store.source(7), mode="L").resize((112, 112), Image.Resampling.BICUBIC))
    assert np.array_equal(img[..., 0], expected)
    assert np.array_equal(store.get(7), img)  # deterministic
    # block means of the 4x upsampled image reproduce the 28x28 source closely
    blocks = img[..., 0].reshape(28, 4, 28, 4).mean(axis=(1, 3))
    assert np.abs(blocks - store.source(7)).mean() < 6.0
    # upload_size 28 is the source itself
    assert np.array_equal(load_fashion(upload_size=28).images.get(7)[..., 0], store.source(7))


def test_get_returns_a_fresh_copy_and_rejects_unknown_items() -> None:
    store = load_fashion(name="fashion-dense", upload_size=56).images
    a = store.get(3)
    a[:] = 0
    assert store.get(3).any()
    with pytest.raises(UnknownIdError, match="3000"):
        store.get(3000)
    with pytest.raises(UnknownIdError, match="-1"):
        store.content_key(-1)


def test_content_key_is_cheap_stable_and_discriminating() -> None:
    small, big = load_fashion(upload_size=64).images, load_fashion(upload_size=112).images
    keys = [big.content_key(i) for i in range(len(big))]
    assert len(set(keys)) == len(keys)  # no two Fashion-MNIST sources in the subset are identical
    assert keys[5] == load_fashion(upload_size=112).images.content_key(5)
    assert small.content_key(5) != keys[5]
    same_pixels = UpsampledImages(np.stack([big.source(5)]), 112)
    assert same_pixels.content_key(0) == keys[5]


@pytest.mark.parametrize("size", [0, -3, 2.5, True, 5000])
def test_bad_upload_size(size) -> None:
    with pytest.raises(ConfigError, match="upload_size"):
        load_fashion(upload_size=size)


def test_missing_corrupt_or_incomplete_asset(tmp_path: Path) -> None:
    missing = tmp_path / "nope.npz"
    with pytest.raises(DataError, match="missing.*nope.npz"):
        load_fashion(path=missing)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 this is not a zip file")
    with pytest.raises(DataError, match="corrupt.*garbage.npz"):
        load_fashion(path=garbage)
    partial = tmp_path / "partial.npz"
    np.savez(partial, images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="lacks array.*labels"):
        load_fashion(path=partial)
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((2, 28, 28), np.uint8), labels=np.zeros(3, np.uint8),
             interactions=np.zeros((1, 2), np.int32), source_index=np.zeros(2, np.int32), metadata=np.array("{}"))
    with pytest.raises(DataError, match="inconsistent.*labels"):
        load_fashion(path=bad)


def test_registry_and_notice() -> None:
    ds = load_dataset("fashion", upload_size=32)
    assert ds.name == "fashion" and ds.info()["image_shape"] == [32, 32, 3]
    assert load_dataset("fashion-dense", upload_size=32).n_items == 3000
    with pytest.raises(ConfigError, match="fashion-sparse"):
        load_dataset("fashion-sparse")
    with pytest.raises(ConfigError, match="unknown embedded catalog"):
        load_fashion(name="nope")
    notice = (ASSET_DIR / "NOTICE").read_text()
    assert "Zalando SE" in notice and "Permission is hereby granted" in notice and "simulated" in notice
    assert all(f in notice for f in CATALOGS.values())
    for asset in CATALOGS.values():  # shipped within a few MB
        assert (ASSET_DIR / asset).stat().st_size < 4 * 1024 * 1024


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def test_read_idx_known_answer(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x.gz", arr)
    assert np.array_equal(_script().read_idx(tmp_path / "x.gz"), arr)
    (tmp_path / "y.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00"))
    with pytest.raises(ValueError, match="IDX"):
        _script().read_idx(tmp_path / "y.gz")


def _tiny_source(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    labels = np.repeat(np.arange(10), 8)
    images = rng.integers(0, 256, size=(80, 28, 28)).astype(np.uint8)
    _write_idx(src / "train-images-idx3-ubyte.gz", images)
    _write_idx(src / "train-labels-idx1-ubyte.gz", labels)
    (src / "COPYRIGHT.debian").write_text("Copyright: 2017, Zalando SE\nLicense: Expat\n")
    return src, images, labels


def test_build_script_end_to_end_on_a_tiny_source(tmp_path: Path) -> None:
    src, images, labels = _tiny_source(tmp_path)
    out = tmp_path / "out"
    args = ["--catalog", "fashion-dense", "--source", str(src), "--out", str(out),
            "--items-per-class", "6", "--users", "12", "--seed", "5"]
    _script().main(args)
    first = (out / "fashion-dense.npz").read_bytes()
    ds = load_fashion(name="fashion-dense", path=out / "fashion-dense.npz", upload_size=28)
    assert (ds.n_items, ds.n_users) == (60, 12)
    with np.load(out / "fashion-dense.npz") as npz:
        idx = npz["source_index"]
        meta = json.loads(str(npz["metadata"]))
        assert np.array_equal(npz["images"], images[idx]) and np.array_equal(npz["labels"], labels[idx])
    assert meta["simulation"]["seed"] == 5 and meta["simulation"]["config"]["n_users"] == 12
    assert meta["simulation"]["config"]["median_history"] == 17.0  # the dense recipe
    assert np.array_equal(np.bincount(ds.categories), np.full(10, 6))
    assert "Zalando SE" in (out / "NOTICE").read_text()
    assert not list(out.glob(".*tmp"))  # atomic write left no temporaries
    _script().main(args)
    with np.load(out / "fashion-dense.npz") as a, np.load(__import__("io").BytesIO(first)) as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)  # re-running reproduces the asset


def test_build_script_default_recipe_keeps_bought_items_and_their_style(tmp_path: Path) -> None:
    src, images, _ = _tiny_source(tmp_path)
    out = tmp_path / "out"
    _script().main(["--source", str(src), "--out", str(out), "--items-per-class", "8", "--users", "6", "--seed", "1"])
    path = out / "fashion.npz"
    ds = load_fashion(path=path, upload_size=112)
    meta = asset_metadata(path=path)
    assert meta["name"] == "fashion" and meta["pool_size"] == 80 and meta["recipe"]["consumed_only"]
    assert ds.n_users == 6 and ds.n_items < 80 and ds.item_popularity.min() >= 1  # only bought items
    with np.load(path) as npz:
        assert np.array_equal(npz["images"], images[npz["source_index"]])
    style, projection = simulated_style(path=path), style_projection(path=path)
    model = load_image_model("squeezenet1_1", input_size=112)
    acts = layer_activations(model, ds.images, "fire5")
    np.testing.assert_allclose(projection.apply(acts), style, atol=2e-3)
