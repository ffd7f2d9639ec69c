"""decode_image and validate_upload: every mode to RGB uint8, every bad input to ImageDecodeError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from pixelpush.errors import ImageDecodeError, PixelpushError
from pixelpush.vision.decode import decode_image, validate_upload


def encode(im: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def test_rgb_png_exact_and_path_source(tmp_path):
    arr = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7
    path = tmp_path / "item.png"
    path.write_bytes(encode(Image.fromarray(arr)))
    for source in (path, str(path), path.read_bytes()):
        out = decode_image(source)
        assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
        assert out.flags.writeable and out.flags.c_contiguous  # torch.from_numpy-ready
        np.testing.assert_array_equal(out, arr)


def test_grayscale_and_one_bit():
    gray = np.array([[0, 100, 255]], dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(gray, "L")))
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))
    bits = Image.fromarray(np.array([[True, False]])).convert("1")
    assert bits.mode == "1"
    np.testing.assert_array_equal(decode_image(encode(bits)), [[[255] * 3, [0] * 3]])


def test_la_and_rgba_composite_on_white():
    la = Image.fromarray(np.array([[[0, 0], [0, 255], [200, 128]]], dtype=np.uint8), "LA")
    # alpha 0 -> white, alpha 255 -> the colour, alpha 128 -> (200*128 + 255*127)/255 = 227.4
    np.testing.assert_array_equal(decode_image(encode(la))[0, :, 0], [255, 0, 227])
    rgba = np.array([[[10, 20, 30, 255], [10, 20, 30, 0], [0, 0, 0, 51]]], dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(out, [[[10, 20, 30], [255, 255, 255], [204, 204, 204]]])


def test_palette_with_and_without_transparency():
    p = Image.new("P", (2, 1))
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    p.putpixel((0, 0), 0)
    p.putpixel((1, 0), 1)
    np.testing.assert_array_equal(decode_image(encode(p)), [[[255, 0, 0], [0, 0, 255]]])
    np.testing.assert_array_equal(decode_image(encode(p, "GIF")), [[[255, 0, 0], [0, 0, 255]]])
    # palette index 1 transparent -> white
    np.testing.assert_array_equal(decode_image(encode(p, transparency=1)), [[[255, 0, 0], [255, 255, 255]]])


def test_cmyk_tiff():
    cmyk = np.array([[[0, 0, 0, 0], [0, 0, 0, 255], [255, 0, 0, 0]]], dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(cmyk, "CMYK"), "TIFF"))
    np.testing.assert_array_equal(out, [[[255, 255, 255], [0, 0, 0], [0, 255, 255]]])


def test_sixteen_bit_scaled_with_rounding():
    values = np.array([[0, 257, 65535, 128, 129, 257 * 100]], dtype=np.uint16)
    im = Image.fromarray(values)
    assert im.mode == "I;16"
    out = decode_image(encode(im))
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 255, 0, 1, 100])
    assert (out[..., 0] == out[..., 2]).all()
    im32 = Image.fromarray(values.astype(np.int32))
    assert im32.mode == "I"
    np.testing.assert_array_equal(decode_image(encode(im32, "TIFF"))[0, :, 1], [0, 1, 255, 0, 1, 100])


def test_exif_orientation_applied():
    arr = np.zeros((2, 3, 3), dtype=np.uint8)
    arr[0, 0] = (255, 0, 0)  # red at top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90 degrees clockwise for display
    out = decode_image(encode(Image.fromarray(arr), exif=exif))
    assert out.shape == (3, 2, 3)
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])  # top-left moved to top-right
    assert out.sum() == 255


def test_first_frame_of_animation():
    frames = [Image.new("RGB", (2, 2), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(decode_image(buf.getvalue())[0, 0], [255, 0, 0])


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"hello, this is not an image at all", "not a recognised image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "photo.png"),
    ],
)
def test_bad_bytes_name_the_file(data, needle):
    with pytest.raises(ImageDecodeError, match=needle) as info:
        decode_image(data, name="photo.png")
    assert "photo.png" in str(info.value)


def test_truncated_png_and_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for fmt in ("PNG", "JPEG"):
        data = encode(Image.fromarray(arr), fmt)
        path = tmp_path / f"cut.{fmt.lower()}"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageDecodeError, match=f"cut.{fmt.lower()}"):
            decode_image(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ImageDecodeError, match="nope.jpg"):
        decode_image(tmp_path / "nope.jpg")


def _png_with_size(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR then claims width x height (data too short: never decoded)."""
    data = bytearray(encode(Image.new("L", (1, 1))))
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def test_pixel_limit_and_decompression_bombs():
    small = encode(Image.new("RGB", (20, 20)))
    with pytest.raises(ImageDecodeError, match="exceeds the limit of 100"):
        decode_image(small, name="big.png", max_pixels=100)
    assert decode_image(small, max_pixels=400).shape == (20, 20, 3)
    # Beyond Pillow's own bomb thresholds (error above 2x MAX_IMAGE_PIXELS, warning above 1x)
    limit = Image.MAX_IMAGE_PIXELS
    for side in (int((3 * limit) ** 0.5), int((1.5 * limit) ** 0.5)):
        with pytest.raises(ImageDecodeError, match="b.png") as info:
            decode_image(_png_with_size(side, side), name="b.png", max_pixels=10**12)
        assert "decompression bomb" in str(info.value)
    # and our own, smaller default limit refuses a plausible-looking 8000x8000 header
    with pytest.raises(ImageDecodeError, match="exceeds the limit"):
        decode_image(_png_with_size(8000, 8000), name="huge.png")


def test_validate_upload():
    img = np.zeros((5, 4, 3), dtype=np.uint8)
    assert validate_upload(img, name="a") is img
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    out = validate_upload(gray, name="g")
    assert out.shape == (2, 3, 3) and (out[..., 1] == gray).all()
    assert validate_upload(gray[..., None], name="g1").shape == (2, 3, 3)
    nc = np.zeros((4, 6, 3), dtype=np.uint8)[:, ::2]
    assert validate_upload(nc, name="nc").flags.c_contiguous
    bad = [
        (np.zeros((5, 4, 3), dtype=np.float32), "dtype"),
        (np.zeros((5, 4, 4), dtype=np.uint8), "shape"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "size"),
        (np.zeros((4097, 2, 3), dtype=np.uint8), "size"),
        (np.zeros((2, 2, 2, 3), dtype=np.uint8), "shape"),
        ([[0, 1]], "NumPy array"),
    ]
    for arr, needle in bad:
        with pytest.raises(ImageDecodeError, match=needle) as info:
            validate_upload(arr, name="upload-7.png")  # type: ignore[arg-type]
        assert "upload-7.png" in str(info.value)
    assert validate_upload(np.zeros((4096, 1, 3), np.uint8), name="edge").shape == (4096, 1, 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24), st.just(3))))
def test_png_round_trip_is_exact(arr):
    np.testing.assert_array_equal(decode_image(encode(Image.fromarray(arr))), arr)


_MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM", b"RIFF", b"P6\n"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_MAGICS), st.binary(max_size=256))
def test_random_bytes_only_raise_decode_errors(magic, tail):
    try:
        out = decode_image(magic + tail, name="fuzz.bin", max_pixels=1_000_000)
    except ImageDecodeError as exc:
        assert "fuzz.bin" in str(exc)
    else:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 5))
def test_corrupted_real_png_only_raises_decode_errors(position, kind):
    data = bytearray(encode(Image.fromarray(np.full((8, 8, 3), 77, np.uint8))))
    pos = position % len(data)
    if kind == 0:
        data = data[:pos]
    else:
        data[pos] ^= 1 << kind
    try:
        decode_image(bytes(data), name="flip.png")
    except PixelpushError as exc:
        assert isinstance(exc, ImageDecodeError) and "flip.png" in str(exc)
