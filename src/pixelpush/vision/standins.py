"""Differentiable stand-ins of the ingest transforms, for attacks that know the pipeline.

Each stand-in maps ``(B, H, W, 3)`` float pixels in 0..255 to the transform's output. Where the
transform is non-differentiable (JPEG's quantisation, bit-depth reduction) the stand-in is a
*straight-through* (BPDA, Athalye et al. 2018) module: the forward value is Pillow's exact output
(computed on the rounded pixels), the backward goes through a smooth surrogate
``y = s(x) + (pillow(x) - s(x)).detach()``:

- JPEG: the surrogate is kornia's differentiable JPEG (``kornia.enhance.jpeg_codec_differentiable``,
  the optional ``adaptive`` extra) with ``surrogate = "kornia"``, or the identity (classic BPDA);
- resize: Pillow's own resampling as two exact linear maps (its float32 kernels applied to unit
  impulses), so the surrogate is the transform before rounding;
- center crop: slicing (exact, and exactly differentiable);
- bit depth: the identity;
- median: the torch median over replicated-edge windows, exact in value; its gradient flows to
  the selected pixel.

:func:`stand_in` builds the module of a whole :class:`~pixelpush.platform.ingest.Pipeline`;
:class:`KnownPipelineModel` is an image model that runs it first (the attacker's model copy when
it knows the pipeline). :func:`random_stand_in` draws a jittered pipeline for EOT.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixelpush.errors import ConfigError
from pixelpush.platform.ingest import JPEG, CenterCrop, Median, Pipeline, Posterize, Resize, Transform, _RESAMPLE
from pixelpush.vision.image_model import ImageModel

__all__ = ["KnownPipelineModel", "Surrogate", "kornia_available", "random_stand_in", "resize_matrix", "stand_in"]

_log = logging.getLogger(__name__)

Surrogate = Literal["identity", "kornia"]


def kornia_available() -> bool:
    """Whether the optional kornia (the ``adaptive`` extra) can be imported."""
    try:
        import kornia.enhance  # noqa: F401
    except ImportError:
        return False
    return True


class _StraightThrough(nn.Module):
    """Forward: the transform's exact Pillow output; backward: through `surrogate`."""

    def __init__(self, transform: Transform, surrogate: nn.Module | None = None) -> None:
        super().__init__()
        self.transform = transform
        self.surrogate = surrogate

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.detach().round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        out = np.stack([self.transform.apply(im) for im in pixels])
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        smooth = x if self.surrogate is None else self.surrogate(x)
        return smooth + (self.exact(x) - smooth).detach()


class _KorniaJPEG(nn.Module):
    def __init__(self, quality: int) -> None:
        super().__init__()
        self.quality = quality

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from kornia.enhance import jpeg_codec_differentiable

        h, w = x.shape[1:3]
        rgb = x.permute(0, 3, 1, 2) / 255.0
        ph, pw = (-h) % 16, (-w) % 16  # kornia needs sides divisible by 16: replicate-pad, crop back
        if ph or pw:
            rgb = F.pad(rgb, (0, pw, 0, ph), mode="replicate")
        q = torch.full((x.shape[0],), float(self.quality), dtype=rgb.dtype, device=rgb.device)
        out = jpeg_codec_differentiable(rgb, q)[..., :h, :w]
        return out.permute(0, 2, 3, 1) * 255.0


@lru_cache(maxsize=64)
def resize_matrix(n_in: int, n_out: int, resample: str) -> np.ndarray:
    """Pillow's 1-D resampling from `n_in` to `n_out` samples as a ``(n_out, n_in)`` matrix.

    Read from Pillow itself: a float32 ("F") image of unit impulses resized along one axis.
    """
    eye = Image.fromarray(np.eye(n_in, dtype=np.float32), mode="F")  # row k = impulse at column k
    out = eye.resize((n_out, n_in), _RESAMPLE[resample])  # horizontal pass only
    return np.asarray(out, dtype=np.float64).T.copy()  # (n_out, n_in)


class _LinearResize(nn.Module):
    def __init__(self, transform: Resize, shape: tuple[int, int]) -> None:
        super().__init__()
        h, w = shape
        oh, ow = transform.output_shape(shape)
        self.register_buffer("rows", torch.from_numpy(resize_matrix(h, oh, transform.resample)).float())
        self.register_buffer("cols", torch.from_numpy(resize_matrix(w, ow, transform.resample)).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oh,bhwc,pw->bopc", self.rows.to(x.dtype), x, self.cols.to(x.dtype))


class _Crop(nn.Module):
    def __init__(self, transform: CenterCrop, shape: tuple[int, int]) -> None:
        super().__init__()
        self.left, self.top, self.right, self.bottom = transform.box(*shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.top : self.bottom, self.left : self.right]


class _Median(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        r = self.size // 2
        padded = F.pad(x.permute(0, 3, 1, 2), (r, r, r, r), mode="replicate")
        windows = padded.unfold(2, self.size, 1).unfold(3, self.size, 1)  # (B, C, H, W, k, k)
        return windows.reshape(b, c, h, w, -1).median(dim=-1).values.permute(0, 2, 3, 1)


class _Sequence(nn.Module):
    def __init__(self, parts: list[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for part in self.parts:
            x = part(x)
        return x


def _one(t: Transform, shape: tuple[int, int], surrogate: Surrogate) -> nn.Module:
    if isinstance(t, JPEG):
        if surrogate == "kornia":
            if not kornia_available():
                raise ConfigError("surrogate 'kornia' needs the optional kornia package: pip install 'pixelpush[adaptive]'")
            return _StraightThrough(t, _KorniaJPEG(t.quality))
        return _StraightThrough(t)
    if isinstance(t, Resize):
        return _StraightThrough(t, _LinearResize(t, shape))
    if isinstance(t, CenterCrop):
        return _Crop(t, shape)
    if isinstance(t, Posterize):
        return _StraightThrough(t)
    if isinstance(t, Median):
        return _Median(t.size)
    raise ConfigError(f"no differentiable stand-in for transform {t.op!r}")


def stand_in(pipeline: Pipeline, shape: tuple[int, int], *, surrogate: Surrogate = "identity") -> nn.Module:
    """The differentiable stand-in of `pipeline` for uploads of ``(H, W)`` = `shape`."""
    if surrogate not in ("identity", "kornia"):
        raise ConfigError(f"surrogate must be 'identity' or 'kornia', got {surrogate!r}")
    parts = []
    for t in pipeline.transforms:
        parts.append(_one(t, shape, surrogate))
        shape = t.output_shape(shape)
    return _Sequence(parts)


def random_stand_in(
    pipeline: Pipeline, shape: tuple[int, int], rng: np.random.Generator, *, scale: float, surrogate: Surrogate = "identity"
) -> nn.Module:
    """A jittered stand-in for EOT: every resize and crop size drawn in ``[1 - scale, 1 + scale]``
    of its configured size (a crop at most the image), then the pipeline's own transforms.

    With no resize or crop in the pipeline, a random resize of the upload is drawn and undone.
    """
    import dataclasses

    jittered: list[Transform] = []
    h0 = min(shape)
    for t in pipeline.transforms:
        if isinstance(t, Resize | CenterCrop):
            size = max(1, int(round(t.size * rng.uniform(1 - scale, 1 + scale))))
            if isinstance(t, CenterCrop):
                size = min(size, min(Pipeline(tuple(jittered)).output_shape(shape)))
            jittered.append(dataclasses.replace(t, size=size))
        else:
            jittered.append(t)
    if not any(isinstance(t, Resize | CenterCrop) for t in pipeline.transforms):
        size = max(8, int(round(h0 * rng.uniform(1 - scale, 1 + scale))))
        jittered = [Resize(size=size, resample="bilinear"), *jittered, Resize(size=h0, resample="bilinear")]
    return stand_in(Pipeline(tuple(jittered)), shape, surrogate=surrogate)


class KnownPipelineModel(ImageModel):
    """An image model that runs a pipeline's stand-in first: the attacker's copy when it knows it.

    ``forward(p) = model(stand_in(p))``: differentiable to the raw upload's pixels, exact in value.
    The stand-in is built per upload shape (and kept).
    """

    def __init__(self, model: ImageModel, pipeline: Pipeline, *, surrogate: Surrogate = "identity") -> None:
        super().__init__(input_size=model.input_size)
        self.inner = model
        self.pipeline = pipeline
        self.surrogate: Surrogate = surrogate
        self.name = model.name
        self.feature_dim = model.feature_dim
        self.weights_id = model.weights_id
        self._stand_ins: dict[tuple[int, int], nn.Module] = {}

    @property
    def identity(self) -> str:
        return f"{self.inner.identity}+{self.pipeline.identity}~{self.surrogate}"

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.inner.normalize(rgb)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.embed(x)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        shape = (int(images.shape[1]), int(images.shape[2]))
        if shape not in self._stand_ins:
            self._stand_ins[shape] = stand_in(self.pipeline, shape, surrogate=self.surrogate)
        return self.inner.preprocess(self._stand_ins[shape](images.to(torch.float32)))
