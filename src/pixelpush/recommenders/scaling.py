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

from collections.abc import Iterator

import numpy as np
import torch

from torch import nn

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


def row_blocks(n_rows: int) -> Iterator[slice]:
    """Slices of at most 65,536 rows that cover ``0..n_rows`` (the blocks the checks, the fits and
    a factor model's catalog scoring work in)."""
    for start in range(0, n_rows, _CHUNK_ROWS):
        yield slice(start, min(start + _CHUNK_ROWS, n_rows))


def _row_chunks(features: torch.Tensor):
    for rows in row_blocks(features.shape[0]):
        yield rows.start, features[rows].detach()


def nonfinite_rows(features: torch.Tensor) -> torch.Tensor:
    """The indices of the rows of `features` that hold NaN or infinity (empty when all are finite).

    A block whose sum is finite has no NaN or infinity (either would make the sum non-finite), so
    a finite catalog costs one read and no mask; only a block whose sum is not finite (a
    non-finite value, or finite values so large that the sum overflows) is checked row by row.
    """
    bad: list[torch.Tensor] = []
    for start, block in _row_chunks(features):
        if block.numel() == 0 or bool(torch.isfinite(block.sum())):
            continue
        bad.append(start + torch.nonzero(~torch.isfinite(block).all(dim=1)).flatten())
    return torch.cat(bad) if bad else torch.zeros(0, dtype=torch.long)


def check_finite(features: torch.Tensor, items: torch.Tensor | None = None) -> None:
    """Raise :class:`DataError` naming the first item whose features hold NaN or infinity."""
    bad = nonfinite_rows(features)
    if len(bad):
        row = int(bad[0])
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


class FeatureNormaliser(nn.Module):
    """``f -> (f - center) / scale``: the normalisation a model should apply to raw image features.

    Raw features of a pretrained CNN are far from zero-mean and unit-norm (SqueezeNet's pooled
    features are non-negative with norms in the hundreds). A model that feeds them to a
    nonlinearity (tanh, sigmoid, softmax attention) saturates: its scores stop moving under the
    small feature changes an upload makes, and it looks robust when it is only numb. Fit this
    once on the catalog's features and apply it first in ``score`` and ``fold_in``::

        self.norm = FeatureNormaliser.fit(features)      # in __init__
        x = self.norm(features)                           # in score()

    ``center`` is the mean feature vector and ``scale`` one global scalar, the mean L2 norm of the
    centred features (per-dimension scaling would blow up near-dead channels). Differentiable,
    deep-copyable and picklable (two buffers).

    >>> norm = FeatureNormaliser.fit(torch.tensor([[3.0, 4.0], [1.0, 0.0]]))
    >>> norm(torch.tensor([[2.0, 2.0]])).tolist(), round(norm.scale, 4)
    ([[0.0, 0.0]], 2.2361)
    """

    center: torch.Tensor
    scale_tensor: torch.Tensor

    def __init__(self, center: torch.Tensor, scale: float) -> None:
        super().__init__()
        if not np.isfinite(scale) or scale <= 0:
            raise DataError(f"feature scale must be positive and finite, got {scale}")
        self.register_buffer("center", torch.as_tensor(center, dtype=torch.float32).reshape(-1).clone())
        self.register_buffer("scale_tensor", torch.tensor(float(scale)))

    @classmethod
    def fit(cls, features: torch.Tensor | np.ndarray, *, center: bool = True) -> FeatureNormaliser:
        """Fit on catalog (or training) features ``(N, d)``: mean vector and mean centred norm."""
        feats = as_feature_tensor(np.asarray(features) if not torch.is_tensor(features) else features)
        mean = fit_feature_center(feats) if center else torch.zeros(feats.shape[1])
        return cls(mean, fit_feature_scale(feats, mean))

    @property
    def scale(self) -> float:
        """The global scale ``s``."""
        return float(self.scale_tensor)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised features, same shape as `features` ``(I, d)``."""
        return (features.to(self.center.dtype) - self.center).div_(self.scale_tensor)  # one N x d temporary
