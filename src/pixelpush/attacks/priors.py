"""Priors on ∂s/∂f from what a platform shows any account: ridge fits with their own regularisation.

The platform ranks (or scores) the whole catalog for the attacker's registered user, and the
catalog's product images are public, so are their public-model features. Regressing the user's
scores (or a transform of the ranks) on those features estimates the direction in feature space
along which this user's scores grow: for a scorer linear in the features (VBPR, DeepStyle) that
is ∂s/∂f itself, up to the item-specific collaborative terms, which act as noise.

:func:`ridge_fit` solves ``min ||y - X w - b||² + α ||w||²`` with α chosen by generalised
cross-validation on the data given (the attacker's own: never the evaluation users), through
one eigendecomposition of the smaller Gram matrix, so every α of the grid costs O(min(n, d)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pixelpush.attacks.estimators import single_thread
from pixelpush.errors import ConfigError
from pixelpush.ids import outside

__all__ = ["RidgeFit", "partial_targets", "rank_targets", "ridge_fit", "select_rows"]

ALPHA_GRID = np.logspace(-6, 1, 15)
"""α relative to the mean eigenvalue of the centred Gram matrix (a scale-free grid)."""


@dataclass(frozen=True)
class RidgeFit:
    """A ridge solution: coefficients ``w (d,)``, intercept, the chosen α and its GCV score."""

    w: np.ndarray
    intercept: float
    alpha: float
    gcv: float
    r2: float
    """Share of the target's variance the fit explains (in sample)."""


def ridge_fit(x: np.ndarray, y: np.ndarray, *, alpha: float | None = None, intercept: bool = True) -> RidgeFit:
    """Ridge regression of `y` ``(n,)`` on `x` ``(n, d)``; α by GCV over :data:`ALPHA_GRID` if None.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(200, 5)); w = np.arange(5.0)
    >>> fit = ridge_fit(x, x @ w + 3 + rng.normal(scale=0.01, size=200))
    >>> np.round(fit.w, 2).tolist()[1:], round(fit.intercept, 1)
    ([1.0, 2.0, 3.0, 4.0], 3.0)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ConfigError(f"ridge_fit needs x (n, d) and y (n,) with n >= 2, got {x.shape} and {y.shape}")
    mx = x.mean(axis=0) if intercept else np.zeros(x.shape[1])
    my = float(y.mean()) if intercept else 0.0
    xc, yc = x - mx, y - my
    n, d = xc.shape
    with single_thread():
        xt = torch.from_numpy(xc)
        gram = xt.T @ xt if d <= n else xt @ xt.T  # the smaller side: (d, d) or (n, n)
        evals, evecs = torch.linalg.eigh(gram)
    lam, vec = np.clip(evals.numpy(), 0.0, None), evecs.numpy()
    positive = lam > 1e-12 * max(float(lam.max()), 1e-300)
    if d <= n:  # vec = right singular vectors V; z = V' X' y = s * (U' y)
        z = vec.T @ (xc.T @ yc)
        uy = np.divide(z, np.sqrt(lam), out=np.zeros_like(z), where=positive)
    else:  # vec = left singular vectors U
        uy = vec.T @ yc
        uy[~positive] = 0.0
    total, explained = float(yc @ yc), float(uy @ uy)
    scale = lam.sum() / max(len(lam), 1) or 1.0
    alphas = [float(alpha)] if alpha is not None else [float(a * scale) for a in ALPHA_GRID]
    best = None
    for a in alphas:
        shrink = lam / (lam + a)
        resid = total - explained + float(((uy * (1.0 - shrink)) ** 2).sum())
        gcv = resid / n / max(1.0 - float(shrink.sum()) / n, 1e-9) ** 2
        if best is None or gcv < best[1]:
            best = (a, gcv, resid)
    assert best is not None
    a, gcv, resid = best
    if d <= n:
        w = vec @ np.divide(z, lam + a, out=np.zeros_like(z), where=positive)
    else:
        w = xc.T @ (vec @ np.divide(uy, lam + a, out=np.zeros_like(uy), where=positive))
    return RidgeFit(w=w, intercept=my - float(mx @ w), alpha=a, gcv=gcv, r2=1.0 - resid / total if total > 0 else 0.0)


def rank_targets(n_items: int, ranking: np.ndarray, mapping: str = "probit") -> tuple[np.ndarray, np.ndarray]:
    """Items of a full ranking (best first) and their targets: ``1 - r/N`` or the probit quantile."""
    from pixelpush.attacks.blackbox import ranks_to_scores

    ranking = np.asarray(ranking, dtype=np.int64)
    return ranking, ranks_to_scores(np.arange(1, len(ranking) + 1), n_items, mapping)  # type: ignore[arg-type]


def partial_targets(n_items: int, visible: np.ndarray, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every item but `exclude`, with target 1 for the visible top of the list and 0 for the rest."""
    items = outside(exclude, n_items)
    return items, np.isin(items, visible).astype(np.float64)


def select_rows(targets: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """At most `max_rows` indices: the best-targeted quarter kept whole, a random sample of the rest."""
    n = len(targets)
    if n <= max_rows:
        return np.arange(n)
    order = np.argsort(-targets, kind="stable")
    head = order[: max_rows // 4]
    tail = rng.choice(order[max_rows // 4 :], size=max_rows - len(head), replace=False)
    return np.sort(np.concatenate([head, tail]))
