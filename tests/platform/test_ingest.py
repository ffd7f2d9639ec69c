"""The ingest pipeline: Pillow's own output bit for bit, clear config errors, and what a platform
with a pipeline computes, shows and keys by."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter, ImageOps

from pixelpush.data.catalog import ArrayImages
from pixelpush.data.processed import ProcessedImages
from pixelpush.errors import ConfigError, ImageDecodeError
from pixelpush.platform.ingest import JPEG, CenterCrop, Median, Pipeline, Posterize, Resize, parse_pipeline


def _image(seed: int, h: int = 40, w: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(h // 8, w // 8, 3))
    img = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1) + rng.normal(0, 20, size=(h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _jpeg(pil: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


REFERENCE = [  # (transform, the same thing written directly against Pillow)
    (JPEG(quality=95), lambda p: _jpeg(p, 95)),
    (JPEG(quality=75), lambda p: _jpeg(p, 75)),
    (JPEG(quality=10), lambda p: _jpeg(p, 10)),
    (Resize(size=24), lambda p: p.resize((24, 24), Image.Resampling.BICUBIC)),
    (Resize(size=17, resample="lanczos"), lambda p: p.resize((17, 17), Image.Resampling.LANCZOS)),
    (Resize(size=64, resample="bilinear"), lambda p: p.resize((64, 64), Image.Resampling.BILINEAR)),
    (CenterCrop(size=30), lambda p: p.crop((5, 5, 35, 35))),
    (Posterize(bits=3), lambda p: ImageOps.posterize(p, 3)),
    (Median(size=3), lambda p: p.filter(ImageFilter.MedianFilter(3))),
    (Median(size=5), lambda p: p.filter(ImageFilter.MedianFilter(5))),
]


@pytest.mark.parametrize(("transform", "pillow"), REFERENCE, ids=lambda v: getattr(v, "identity", ""))
def test_each_transform_is_pillows_own_output_bit_for_bit(transform, pillow) -> None:
    for seed in range(3):
        img = _image(seed)
        expected = np.asarray(pillow(Image.fromarray(img, "RGB")), dtype=np.uint8)
        out = transform.apply(img)
        assert out.dtype == np.uint8 and out.shape == expected.shape
        np.testing.assert_array_equal(out, expected)


def test_a_pipeline_applies_its_transforms_in_order_and_changes_the_image() -> None:
    img = _image(4)
    p = parse_pipeline([{"op": "resize", "size": 32}, {"op": "center-crop", "size": 24}, {"op": "jpeg", "quality": 80}])
    expected = JPEG(quality=80).apply(CenterCrop(size=24).apply(Resize(size=32).apply(img)))
    np.testing.assert_array_equal(p.apply(img), expected)
    assert p.output_shape((40, 40)) == (24, 24) and p.apply_batch(np.stack([img, img])).shape == (2, 24, 24, 3)
    assert parse_pipeline(p.config()) == p
    assert Pipeline().apply(img) is img and not Pipeline()
    assert Posterize(bits=8).apply(img).tolist() == img.tolist()  # 8 bits: nothing to drop


def test_resize_keeps_the_aspect_ratio_of_a_non_square_image() -> None:
    assert Resize(size=20).apply(_image(0, 40, 80)).shape == (20, 40, 3)
    assert Resize(size=20).apply(_image(0, 80, 40)).shape == (40, 20, 3)


@pytest.mark.parametrize(
    ("tables", "field"),
    [
        ([{"op": "jpeg", "quality": 0}], "transforms[0].quality"),
        ([{"op": "jpeg", "quality": 101}], "transforms[0].quality"),
        ([{"op": "jpeg", "quality": 75.5}], "transforms[0].quality"),
        ([{"op": "resize", "size": -3}], "transforms[0].size"),
        ([{"op": "jpeg"}, {"op": "center-crop", "size": 0}], "transforms[1].size"),
        ([{"op": "median", "size": 4}], "transforms[0].size"),
        ([{"op": "bit-depth", "bits": 9}], "transforms[0].bits"),
        ([{"op": "blur", "radius": 2}], "transforms[0].op"),
        ([{"quality": 75}], "transforms[0]"),
        ([{"op": "jpeg", "qualty": 75}], "transforms[0]"),
        ([{"op": "resize", "resample": "cubic"}], "transforms[0].resample"),
    ],
)
def test_bad_pipeline_configs_name_the_field(tables, field) -> None:
    with pytest.raises(ConfigError) as err:
        parse_pipeline(tables)
    assert str(err.value).startswith(field), str(err.value)


def test_a_crop_larger_than_the_image_is_a_clear_error() -> None:
    with pytest.raises(ImageDecodeError, match="center-crop of 50 pixels does not fit a 40x40 image"):
        CenterCrop(size=50).apply(_image(0))


def test_processed_catalog_is_keyed_by_the_pipeline_and_shows_processed_images() -> None:
    raw = ArrayImages(np.stack([_image(k) for k in range(3)]))
    a, b = ProcessedImages(raw, Pipeline((JPEG(quality=75),))), ProcessedImages(raw, Pipeline((JPEG(quality=85),)))
    assert a.content_key(0) != b.content_key(0) != raw.content_key(0)
    np.testing.assert_array_equal(a.get(1), JPEG(quality=75).apply(raw.get(1)))


def test_the_platform_features_and_shows_processed_uploads() -> None:
    from foreign_models import LinearIC, LinearVisualRec

    from pixelpush.platform.platform import Platform

    images = np.stack([_image(k, 16, 16) for k in range(20)])
    model = LinearIC()
    pipeline = Pipeline((JPEG(quality=50), Resize(size=12)))
    store = ArrayImages(images)
    feats = model.extract([pipeline.apply(im) for im in images])
    histories = [np.array([0, 1]), np.array([2, 3])]
    rec = LinearVisualRec(20, histories, torch.from_numpy(feats), seed=0)
    platform = Platform(rec, store, model, features=feats, consumed=histories, pipeline=pipeline)
    upload = images[5].copy()
    upload[:4] = 255
    platform.upload_image(5, upload)
    expected = model.extract([pipeline.apply(upload)])[0]
    np.testing.assert_allclose(platform.item_features(5).numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(platform.current_image(5), upload)  # the experimenter sees the raw upload
    shown = platform.client("rank").image(5)  # a visitor sees the processed one
    np.testing.assert_array_equal(shown, pipeline.apply(upload))
    assert shown.shape == (12, 12, 3)
