"""The platform's ingest pipeline: what a real shop does to an upload before its model sees it.

A :class:`Pipeline` is an ordered tuple of deterministic Pillow transforms — JPEG re-encoding at
a quality, resizing to a display size, a center crop, bit-depth reduction, a median filter —
applied to every upload (and to every catalog image: the features a recommender is trained and
scored on are those of processed images). The model sees the processed image; the attacker
uploads the raw one. Each transform *is* a Pillow call (``Image.save(format="JPEG")``,
``Image.resize``, ``Image.crop``, ``ImageOps.posterize``, ``ImageFilter.MedianFilter``), so its
output is Pillow's own, bit for bit (tests compare).

Configs are tables ``{op = "jpeg", quality = 75}``; :func:`parse_pipeline` refuses an unknown op,
an unknown or ill-typed field and an out-of-range value with a :class:`ConfigError` naming the
field (``defenses.jpeg.ingest.transforms[0].quality``).

>>> p = parse_pipeline([{"op": "jpeg", "quality": 90}, {"op": "resize", "size": 8}])
>>> p.identity
'jpeg(q=90,420)>resize(8,bicubic)'
>>> p.apply(np.zeros((16, 16, 3), np.uint8)).shape
(8, 8, 3)
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from pixelpush.errors import ConfigError, ImageDecodeError
from pixelpush.settings import build_settings

__all__ = ["CenterCrop", "JPEG", "Median", "Pipeline", "Posterize", "Resize", "Transform", "TRANSFORMS", "parse_pipeline"]

Resample = Literal["nearest", "bilinear", "bicubic", "lanczos", "box"]
_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


class Transform:
    """One deterministic transform of a ``(H, W, 3)`` uint8 image (a frozen dataclass)."""

    op: ClassVar[str] = "transform"

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The transformed image ``(H', W', 3)`` uint8 (Pillow's output)."""
        return np.asarray(self.pil(Image.fromarray(image, "RGB")), dtype=np.uint8)

    def pil(self, image: Image.Image) -> Image.Image:
        """The transform as a Pillow call on an RGB image."""
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """``(H', W')`` of the output for an input of ``(H, W)``."""
        return shape

    @property
    def identity(self) -> str:
        return self.op


@dataclass(frozen=True)
class JPEG(Transform):
    """Re-encode as JPEG at `quality` (1..100) with chroma `subsampling`, decode again."""

    op: ClassVar[str] = "jpeg"
    quality: int = 85
    """JPEG quality, 1 (worst) .. 100."""
    subsampling: Literal["444", "422", "420"] = "420"
    """Chroma subsampling (``420``: Pillow's default at these qualities)."""

    def __post_init__(self) -> None:
        _int_range("quality", self.quality, 1, 100)

    def pil(self, image: Image.Image) -> Image.Image:
        buf = io.BytesIO()
        sub = {"444": 0, "422": 1, "420": 2}[self.subsampling]
        image.save(buf, format="JPEG", quality=self.quality, subsampling=sub)
        buf.seek(0)
        with Image.open(buf) as out:
            return out.convert("RGB")

    @property
    def identity(self) -> str:
        return f"jpeg(q={self.quality},{self.subsampling})"


@dataclass(frozen=True)
class Resize(Transform):
    """Resize so the shorter side is `size` (aspect kept, rounded), with a Pillow filter."""

    op: ClassVar[str] = "resize"
    size: int = 96
    """The shorter side after resizing, in pixels (>= 1)."""
    resample: Resample = "bicubic"
    """Pillow's resampling filter (antialiased, as Pillow's resize always is)."""

    def __post_init__(self) -> None:
        _int_range("size", self.size, 1, 8192)

    def output_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        h, w = shape
        if h <= w:
            return self.size, max(1, round(w * self.size / h))
        return max(1, round(h * self.size / w)), self.size

    def pil(self, image: Image.Image) -> Image.Image:
        h, w = self.output_shape((image.height, image.width))
        return image.resize((w, h), _RESAMPLE[self.resample])

    @property
    def identity(self) -> str:
        return f"resize({self.size},{self.resample})"


@dataclass(frozen=True)
class CenterCrop(Transform):
    """Keep the central `size` x `size` pixels (offsets rounded down, as torchvision's)."""

    op: ClassVar[str] = "center-crop"
    size: int = 96
    """The side of the crop in pixels (>= 1, at most the image's shorter side)."""

    def __post_init__(self) -> None:
        _int_range("size", self.size, 1, 8192)

    def box(self, h: int, w: int) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` of the crop in an ``h`` x ``w`` image."""
        if self.size > min(h, w):
            raise ImageDecodeError(f"center-crop of {self.size} pixels does not fit a {h}x{w} image")
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return left, top, left + self.size, top + self.size

    def output_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        self.box(*shape)
        return self.size, self.size

    def pil(self, image: Image.Image) -> Image.Image:
        return image.crop(self.box(image.height, image.width))

    @property
    def identity(self) -> str:
        return f"center-crop({self.size})"


@dataclass(frozen=True)
class Posterize(Transform):
    """Bit-depth reduction: keep the `bits` high bits of each channel (``ImageOps.posterize``)."""

    op: ClassVar[str] = "bit-depth"
    bits: int = 5
    """Bits kept per channel, 1..8."""

    def __post_init__(self) -> None:
        _int_range("bits", self.bits, 1, 8)

    def pil(self, image: Image.Image) -> Image.Image:
        return ImageOps.posterize(image, self.bits)

    @property
    def identity(self) -> str:
        return f"bit-depth({self.bits})"


@dataclass(frozen=True)
class Median(Transform):
    """Median filter over `size` x `size` windows per channel, edges replicated (Pillow's)."""

    op: ClassVar[str] = "median"
    size: int = 3
    """The window's side: odd, >= 3."""

    def __post_init__(self) -> None:
        _int_range("size", self.size, 3, 31)
        if self.size % 2 == 0:
            raise ConfigError(f"size must be odd, got {self.size}")

    def pil(self, image: Image.Image) -> Image.Image:
        return image.filter(ImageFilter.MedianFilter(self.size))

    @property
    def identity(self) -> str:
        return f"median({self.size})"


TRANSFORMS: dict[str, type[Transform]] = {cls.op: cls for cls in (JPEG, Resize, CenterCrop, Posterize, Median)}
"""Every transform by its ``op`` name (one line per transform)."""


def _int_range(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in {low}..{high}, got {value!r}")


@dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of transforms; the empty pipeline passes uploads through untouched."""

    transforms: tuple[Transform, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.transforms)

    @property
    def identity(self) -> str:
        """A string naming every transform and its settings, in order (part of cache and unit keys)."""
        return ">".join(t.identity for t in self.transforms) or "none"

    def config(self) -> list[dict[str, Any]]:
        """The pipeline as config tables (``parse_pipeline(p.config()) == p``)."""
        return [{"op": t.op, **dataclasses.asdict(t)} for t in self.transforms]  # type: ignore[call-overload]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The processed image (a new array; the input itself when the pipeline is empty)."""
        if not self.transforms:
            return image
        pil = Image.fromarray(np.ascontiguousarray(image), "RGB")
        for t in self.transforms:
            pil = t.pil(pil)
        return np.asarray(pil, dtype=np.uint8)

    def apply_batch(self, images: np.ndarray) -> np.ndarray:
        """Processed uploads ``(B, H', W', 3)`` of a batch ``(B, H, W, 3)``."""
        if not self.transforms:
            return images
        return np.stack([self.apply(im) for im in images])

    def output_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """``(H', W')`` after every transform (a crop that does not fit raises ImageDecodeError)."""
        for t in self.transforms:
            shape = t.output_shape(shape)
        return shape


def parse_pipeline(tables: Sequence[dict[str, Any]] | None, *, where: str = "transforms") -> Pipeline:
    """A :class:`Pipeline` from config tables ``[{op = "jpeg", quality = 75}, ...]`` (checked)."""
    if tables is None:
        return Pipeline()
    if not isinstance(tables, list | tuple):
        raise ConfigError(f"{where}: expected a list of transforms, got {type(tables).__name__}")
    out = []
    for k, table in enumerate(tables):
        at = f"{where}[{k}]"
        if not isinstance(table, dict) or "op" not in table:
            raise ConfigError(f"{at}: a transform is a table with an 'op' ({', '.join(TRANSFORMS)})")
        op = table["op"]
        if op not in TRANSFORMS:
            raise ConfigError(f"{at}.op: unknown transform {op!r}; known: {', '.join(TRANSFORMS)}")
        fields = {key: v for key, v in table.items() if key != "op"}
        try:
            out.append(build_settings(TRANSFORMS[op], fields, where=at))
        except ConfigError as err:
            raise _name_field(err, at, fields) from None
    return Pipeline(tuple(out))


def _name_field(err: ConfigError, at: str, fields: dict[str, Any]) -> ConfigError:
    """Put the field's name in front of a transform's own range error (``at.quality: ...``)."""
    text = str(err).removeprefix(f"{at}: ")
    name = text.split(" ", 1)[0]
    if name in fields and not text.startswith(f"{at}."):
        return ConfigError(f"{at}.{name}: {text.split(' ', 1)[1]}")
    return ConfigError(text if text.startswith(at) else f"{at}: {text}")
