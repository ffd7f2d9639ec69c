"""Feature validation and the global feature normalisation the visual models apply.

Raw extractor features (e.g. SqueezeNet's non-negative pooled features, norms in the hundreds)
make VBPR training unstable. The models therefore map a raw feature ``f`` to ``(f - m) / s``:
``m`` is the mean training feature vector and ``s`` one global scalar, the mean L2 norm of the
centred training features; both are buffers fitted once, so raw features go in and an upload is
scored consistently with training. Centring changes no ranking: ``θ_u·Eᵀm`` and ``β'·m`` are
per-user constants that cancel in every comparison of two items, and ``∂s/∂f`` is unchanged
(``(E θ_u + β') / s``); it only removes the large shared component of non-negative features
that otherwise dominates ``Eᵀf`` early in training. No per-dimension scaling: near-dead
channels would blow up.
"""

from __future__ import annotations

import numpy as np
import torch

from pixelpush.errors import DataError


def as_feature_tensor(features: np.ndarray | torch.Tensor, *, n_items: int | None = None) -> torch.Tensor:
    """`features` as a float32 ``(N, d)`` tensor, checked finite; `n_items` checks ``N``.

    Raises :class:`DataError` naming the first item with a non-finite feature.
    """
    t = torch.as_tensor(features)
    if t.ndim != 2:
        raise DataError(f"features must be a 2-d (items, dims) array, got shape {tuple(t.shape)}")
    if n_items is not None and t.shape[0] != n_items:
        raise DataError(f"features cover {t.shape[0]} items, expected {n_items}")
    if not t.is_floating_point():
        t = t.to(torch.float32)
    check_finite(t)
    return t if t.dtype == torch.float32 else t.to(torch.float32)


_CHUNK_ROWS = 65_536
"""Rows per pass of the checks and fits below: their temporaries stay ``O(chunk x d)``, not
``O(N x d)`` (at 455k items x 2048 dims a float64 copy of the features is 7.5 GB)."""


def _row_chunks(features: torch.Tensor):
    for start in range(0, features.shape[0], _CHUNK_ROWS):
        yield start, features[start : start + _CHUNK_ROWS].detach()


def check_finite(features: torch.Tensor, items: torch.Tensor | None = None) -> None:
    """Raise :class:`DataError` naming the first item whose features hold NaN or infinity."""
    for start, block in _row_chunks(features):
        finite = torch.isfinite(block).all(dim=1)
        if not bool(finite.all()):
            row = start + int(torch.nonzero(~finite)[0, 0])
            item = int(items[row]) if items is not None else row
            raise DataError(f"features of item {item} are not finite (NaN or infinity)")


def fit_feature_scale(features: torch.Tensor, center: torch.Tensor | None = None) -> float:
    """The mean L2 norm of the rows of ``features - center`` (1.0 when it is zero).

    >>> fit_feature_scale(torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
    3.0
    """
    check_finite(features)
    if features.shape[0] == 0:
        return 1.0
    shift = center.to(torch.float64) if center is not None else 0.0
    total = sum(float((block.to(torch.float64) - shift).norm(dim=1).sum()) for _, block in _row_chunks(features))
    scale = total / features.shape[0]
    return scale if scale > 0 else 1.0


def fit_feature_center(features: torch.Tensor) -> torch.Tensor:
    """The mean feature vector ``(d,)`` (float32).

    >>> fit_feature_center(torch.tensor([[3.0, 4.0], [1.0, 0.0]])).tolist()
    [2.0, 2.0]
    """
    check_finite(features)
    if features.shape[0] == 0:
        return torch.zeros(features.shape[1])
    total = sum(block.to(torch.float64).sum(dim=0) for _, block in _row_chunks(features))
    return (total / features.shape[0]).to(torch.float32)
