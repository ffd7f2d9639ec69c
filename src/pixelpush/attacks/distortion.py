"""Imperceptibility as a constraint: bounds on how far an attack's upload may drift from the original.

A :class:`DistortionBound` turns a candidate step into the nearest allowed one. It composes, in
this order:

- a *texture mask*: only pixels whose neighbourhood in the original image has texture (local
  standard deviation at least `mask_threshold` intensity levels) may change, so flat regions (a
  product photo's plain background) stay untouched, where any noise is visible;
- an ℓ∞ budget: no pixel drifts more than `max_linf` levels from the original;
- an SSIM floor: SSIM(original, upload) never falls below `ssim_floor`. A step that would cross
  it keeps only the part of the change with the largest gradient magnitude that stays above the
  floor (binary search over that fraction); if nothing fits, the step uploads nothing.

The bound holds after every step by construction (a property test checks it): results can be
read as "HR@20 at SSIM >= 0.95". The original is the upload the attack started from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from pixelpush.errors import ConfigError
from pixelpush.vision.similarity import ssim

__all__ = ["DistortionBound", "texture_mask"]


def texture_mask(image: np.ndarray, threshold: float, size: int = 5) -> np.ndarray:
    """``(H, W, 1)`` bool: pixels whose `size` x `size` neighbourhood (grey levels) has a standard
    deviation of at least `threshold` intensity levels.

    >>> img = np.zeros((8, 8, 3), np.uint8); img[:, 4:] = 200
    >>> texture_mask(img, 10)[:, :, 0].any(axis=0).tolist()
    [False, False, True, True, True, True, False, False]
    """
    grey = np.asarray(image, dtype=np.float64).mean(axis=2)
    mean = uniform_filter(grey, size, mode="nearest")
    var = np.maximum(uniform_filter(grey * grey, size, mode="nearest") - mean * mean, 0.0)
    return (np.sqrt(var) >= threshold)[:, :, None]


@dataclass(frozen=True)
class DistortionBound:
    """The constraints an upload must keep (``None`` / ``0``: that constraint is off)."""

    ssim_floor: float | None = None
    max_linf: int | None = None
    mask_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.ssim_floor is not None and not 0.0 < self.ssim_floor < 1.0:
            raise ConfigError(f"ssim_floor must be in (0, 1), got {self.ssim_floor}")
        if self.max_linf is not None and (int(self.max_linf) != self.max_linf or not 1 <= self.max_linf <= 255):
            raise ConfigError(f"max_linf must be an integer in 1..255 levels, got {self.max_linf}")
        if not 0.0 <= self.mask_threshold <= 128.0:
            raise ConfigError(f"mask_threshold must be in 0..128 intensity levels, got {self.mask_threshold}")

    @property
    def active(self) -> bool:
        return self.ssim_floor is not None or self.max_linf is not None or self.mask_threshold > 0

    def project(self, original: np.ndarray, previous: np.ndarray, candidate: np.ndarray, gradient: np.ndarray | None = None) -> np.ndarray:
        """The allowed upload nearest to `candidate`, moving from `previous` (which is allowed).

        `gradient` ranks the changed pixels when the SSIM floor forces a partial step (the ones
        with the largest magnitude are kept); without it, the change is kept in raster order.
        """
        out = candidate
        if self.mask_threshold > 0:
            out = np.where(texture_mask(original, self.mask_threshold), out, previous)
        if self.max_linf is not None:
            lo = original.astype(np.int16) - self.max_linf
            hi = original.astype(np.int16) + self.max_linf
            out = np.clip(out.astype(np.int16), lo, hi).astype(np.uint8)
        if self.ssim_floor is not None and ssim(original, out) < self.ssim_floor:
            out = self._partial_step(original, previous, out, gradient)
        return out.astype(np.uint8)

    def _partial_step(self, original: np.ndarray, previous: np.ndarray, target: np.ndarray, gradient: np.ndarray | None) -> np.ndarray:
        """The largest prefix (by |gradient|) of the change previous -> target that keeps the SSIM floor."""
        changed = np.flatnonzero(target.reshape(-1) != previous.reshape(-1))
        if gradient is not None:
            changed = changed[np.argsort(-np.abs(np.asarray(gradient).reshape(-1)[changed]), kind="stable")]
        flat_prev, flat_target = previous.reshape(-1), target.reshape(-1)

        def with_first(k: int) -> np.ndarray:
            img = flat_prev.copy()
            img[changed[:k]] = flat_target[changed[:k]]
            return img.reshape(previous.shape)

        lo, hi = 0, len(changed)  # with_first(lo) keeps the floor (previous does); find the largest such k
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ssim(original, with_first(mid)) >= self.ssim_floor:
                lo = mid
            else:
                hi = mid - 1
        return with_first(lo)
