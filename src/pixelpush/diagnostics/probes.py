"""Linear probes: how much of a target a linear map of image features recovers on held-out items.

Features are normalised as the recommenders normalise them (centred on the training rows'
mean, divided by their mean norm). Items are split at random into train / validation / test
(60 / 20 / 20, seeded); the probe's penalty is chosen on validation and the figure reported on
test, so it measures what is linearly *expressible*, not what a probe can memorise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pixelpush.errors import DataError
from pixelpush.random import numpy_rng
from pixelpush.threads import torch_threads

RIDGE_PENALTIES: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
SOFTMAX_PENALTIES: tuple[float, ...] = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


@dataclass(frozen=True)
class ProbeResult:
    """A probe's held-out figure, per target dimension where that applies, and its chosen penalty."""

    score: float
    """R² averaged over target dimensions (ridge) or accuracy (softmax), on the test items."""
    per_dim: tuple[float, ...]
    """Test R² per target dimension (ridge); empty for the softmax probe."""
    penalty: float
    """The penalty selected on the validation items."""
    n_test: int
    """Number of test items."""


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if n < 10:
        raise DataError(f"a probe needs at least 10 items, got {n}")
    order = numpy_rng(seed, "probe", "split").permutation(n)
    a, b = int(0.6 * n), int(0.8 * n)
    return order[:a], order[a:b], order[b:]


def _normalise(features: np.ndarray, train: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(features, dtype=np.float64))
    if x.ndim != 2 or not bool(torch.isfinite(x).all()):
        raise DataError(f"probe features must be a finite (N, d) array, got shape {tuple(x.shape)}")
    x = x - x[train].mean(dim=0)
    scale = float(x[train].norm(dim=1).mean())
    return x / (scale if scale > 0 else 1.0)


def r2_per_dim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``1 - SS_res / SS_tot`` per column.

    >>> r2_per_dim(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]])).round(4).tolist()
    [0.7857]
    """
    res = ((pred - target) ** 2).sum(axis=0)
    tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - res / np.where(tot > 0, tot, np.nan)


def ridge_probe(
    features: np.ndarray, targets: np.ndarray, *, seed: int = 0, penalties: Sequence[float] = RIDGE_PENALTIES
) -> ProbeResult:
    """Test R² of ridge regression (with intercept) from `features` ``(N, d)`` to `targets` ``(N, k)``."""
    targets = np.asarray(targets, dtype=np.float64)
    targets = targets[:, None] if targets.ndim == 1 else targets
    if len(targets) != len(features):
        raise DataError(f"{len(features)} feature rows but {len(targets)} targets")
    train, val, test = _split(len(features), seed)
    with torch_threads(1):
        x = _normalise(features, train)
        x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
        y = torch.from_numpy(targets)
        gram, rhs = x[train].T @ x[train], x[train].T @ y[train]
        eye = torch.eye(x.shape[1], dtype=x.dtype)
        eye[-1, -1] = 0.0  # no penalty on the intercept
        best = (-np.inf, penalties[0], None)
        for lam in penalties:
            w = torch.linalg.solve(gram + lam * len(train) * eye, rhs)
            score = float(np.nanmean(r2_per_dim((x[val] @ w).numpy(), targets[val])))
            if score > best[0]:
                best = (score, lam, w)
        _, lam, w = best
        per_dim = r2_per_dim((x[test] @ w).numpy(), targets[test])
    return ProbeResult(float(np.nanmean(per_dim)), tuple(float(v) for v in per_dim), float(lam), len(test))


def softmax_probe(
    features: np.ndarray, labels: np.ndarray, *, seed: int = 0, penalties: Sequence[float] = SOFTMAX_PENALTIES
) -> ProbeResult:
    """Test accuracy of L2-penalised multinomial logistic regression from `features` to `labels`."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(features),) or labels.min() < 0:
        raise DataError(f"expected one non-negative label per feature row, got {labels.shape}")
    train, val, test = _split(len(features), seed)
    n_classes = int(labels.max()) + 1
    with torch_threads(1):
        x = _normalise(features, train)
        y = torch.from_numpy(labels)
        best = (-np.inf, penalties[0], None)
        for lam in penalties:
            w = torch.zeros(x.shape[1], n_classes, dtype=x.dtype, requires_grad=True)
            b = torch.zeros(n_classes, dtype=x.dtype, requires_grad=True)
            opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = F.cross_entropy(x[train] @ w + b, y[train]) + lam * (w * w).sum()
                loss.backward()
                return loss

            opt.step(closure)
            with torch.no_grad():
                acc = float(((x[val] @ w + b).argmax(dim=1) == y[val]).double().mean())
                if acc > best[0]:
                    best = (acc, lam, (w.detach().clone(), b.detach().clone()))
        _, lam, (w, b) = best
        with torch.no_grad():
            acc = float(((x[test] @ w + b).argmax(dim=1) == y[test]).double().mean())
    return ProbeResult(acc, (), float(lam), len(test))
