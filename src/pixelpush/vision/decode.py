"""Robust image decoding and upload validation: anything in, ``(H, W, 3)`` uint8 RGB out.

Every failure on untrusted input (empty, corrupt, truncated, not an image, too many pixels,
a decompression bomb) raises :class:`~pixelpush.errors.ImageDecodeError` naming the file.
Transparent images are composited on white; 16-bit images are scaled to 8 bits with rounding;
EXIF orientation is applied; multi-frame files give their first frame.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pixelpush.errors import ImageDecodeError

_log = logging.getLogger(__name__)

#: Largest side accepted by :func:`validate_upload` (what the platform takes).
MAX_UPLOAD_SIDE = 4096
DEFAULT_MAX_PIXELS = 40_000_000


def decode_image(source: bytes | str | Path, *, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file or its bytes to an ``(H, W, 3)`` uint8 RGB array.

    Args:
        source: the encoded bytes, or a path to the file.
        name: how to call the image in error messages (default: the path, or ``"<bytes>"``).
        max_pixels: refuse images with more than this many pixels (before decoding them).

    >>> buf = io.BytesIO(); Image.new("LA", (2, 1), (0, 0)).save(buf, "PNG")
    >>> decode_image(buf.getvalue()).tolist()  # fully transparent black on white
    [[[255, 255, 255], [255, 255, 255]]]
    """
    label = name if name is not None else ("<bytes>" if isinstance(source, bytes | bytearray | memoryview) else str(source))
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageDecodeError(f"{label}: cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageDecodeError(f"{label}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # e.g. "Corrupt EXIF data": logged below, not shown
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width < 1 or height < 1:
                    raise ImageDecodeError(f"{label}: image has no pixels ({width}x{height})")
                if width * height > max_pixels:
                    raise ImageDecodeError(
                        f"{label}: {width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,}"
                    )
                im.seek(0)
                im.load()
                rgb = _to_rgb(ImageOps.exif_transpose(im))
        for w in caught:
            _log.debug("%s: %s", label, w.message)
        return rgb
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{label}: refused as a decompression bomb ({exc})") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{label}: not a recognised image format") from exc
    except MemoryError as exc:
        raise ImageDecodeError(f"{label}: out of memory while decoding") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on bad data
        raise ImageDecodeError(f"{label}: corrupt or truncated image ({type(exc).__name__}: {exc})") from exc


def _composite_on_white(rgba: Image.Image) -> np.ndarray:
    a = np.asarray(rgba.convert("RGBA"), dtype=np.uint16)
    alpha = a[..., 3:4]
    out = (a[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _scale_16_to_8(values: np.ndarray) -> np.ndarray:
    """0..65535 to 0..255 by rounding v/257 (so 257*k maps to k exactly); clips outside."""
    v = np.clip(values.astype(np.int64), 0, 65535)
    return ((v + 128) // 257).astype(np.uint8)


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        out = np.asarray(im)
    elif mode in ("RGBA", "LA", "PA", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        out = _composite_on_white(im)
    elif mode in ("L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        out = np.asarray(im.convert("RGB"))
    elif mode.startswith("I"):  # "I", "I;16", "I;16B", "I;16L", "I;16N", ...
        gray = _scale_16_to_8(np.asarray(im))
        out = np.repeat(gray[..., None], 3, axis=2)
    elif mode == "F":
        gray = np.clip(np.rint(np.nan_to_num(np.asarray(im, dtype=np.float64))), 0, 255).astype(np.uint8)
        out = np.repeat(gray[..., None], 3, axis=2)
    else:
        _log.debug("converting unusual image mode %s to RGB via Pillow", mode)
        out = np.asarray(im.convert("RGB"))
    if out.ndim != 3 or out.shape[2] != 3 or out.dtype != np.uint8:
        raise ValueError(f"mode {mode} decoded to {out.dtype} {out.shape}")
    if not (out.flags.c_contiguous and out.flags.writeable):  # np.asarray(im) is read-only
        out = np.array(out, dtype=np.uint8, order="C")
    return out


def validate_upload(image: np.ndarray, *, name: str = "<upload>") -> np.ndarray:
    """Check an array handed to the platform: ``(H, W, 3)`` uint8 with 1 <= H, W <= 4096.

    A grayscale ``(H, W)`` or ``(H, W, 1)`` uint8 array is accepted and stacked to 3 channels.
    Returns a C-contiguous array (a copy only when needed); raises ImageDecodeError otherwise.

    >>> validate_upload(np.zeros((2, 3), np.uint8), name="x").shape
    (2, 3, 3)
    """
    if not isinstance(image, np.ndarray):
        raise ImageDecodeError(f"{name}: expected a NumPy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageDecodeError(f"{name}: expected dtype uint8, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageDecodeError(f"{name}: expected shape (H, W, 3), got {image.shape}")
    h, w = image.shape[:2]
    if not (1 <= h <= MAX_UPLOAD_SIDE and 1 <= w <= MAX_UPLOAD_SIDE):
        raise ImageDecodeError(f"{name}: size {h}x{w} outside 1..{MAX_UPLOAD_SIDE} per side")
    return np.ascontiguousarray(image)
