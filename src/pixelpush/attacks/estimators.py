"""Feature-gradient estimators: ∂s/∂f from feature changes ΔF and score changes Δs (paper §3.5).

Given d' perturbations of an upload with feature changes ``ΔF`` ``(d', d)`` and score changes
``Δs`` ``(d',)``, an estimator returns an estimate of ``∂s/∂f`` ``(d,)``, or ``None`` when the
batch carries no information (every Δs equal: typically the item already ranks first and no
perturbation moves it).

BLAS threads. The system is tiny (d' × d, e.g. 32 × 512), and a multi-threaded LAPACK call on
it costs more in thread wake-ups than in arithmetic: on two busy cores NumPy's ``pinv`` took
~500 ms and torch's ``lstsq`` with two threads ~35 ms, against ~0.5 ms on one thread; NumPy's
OpenBLAS threads also keep spinning afterwards and slow the image model. We therefore solve in
torch (float64, the ``gelsd`` driver) with torch pinned to one thread for the call only
(:func:`single_thread`), and never call NumPy's BLAS. This needs no ``threadpoolctl``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from pixelpush.errors import ConfigError

__all__ = ["FeatureGradientEstimator", "MinNormLeastSquares", "is_uninformative", "single_thread"]


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch's CPU kernels on one thread inside the block; restore the count afterwards."""
    before = torch.get_num_threads()
    if before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before > 1:
            torch.set_num_threads(before)


def is_uninformative(delta_s: np.ndarray) -> bool:
    """True when all score changes are equal (all zero included): no direction can be inferred.

    >>> is_uninformative(np.zeros(4)), is_uninformative(np.array([0.0, 0.1]))
    (True, False)
    """
    delta_s = np.asarray(delta_s, dtype=np.float64)
    return delta_s.size == 0 or bool(np.ptp(delta_s) == 0.0)


class FeatureGradientEstimator(ABC):
    """Maps ``(ΔF (d', d), Δs (d',))`` to an estimate of ∂s/∂f ``(d,)``, or ``None``."""

    def estimate(self, delta_f: np.ndarray, delta_s: np.ndarray) -> np.ndarray | None:
        """Validate the inputs, detect the no-information case, then :meth:`solve`."""
        delta_f = np.asarray(delta_f, dtype=np.float64)
        delta_s = np.asarray(delta_s, dtype=np.float64)
        if delta_f.ndim != 2 or delta_s.shape != (delta_f.shape[0],):
            raise ValueError(f"expected ΔF (d', d) and Δs (d',), got {delta_f.shape} and {delta_s.shape}")
        if not (np.isfinite(delta_f).all() and np.isfinite(delta_s).all()):
            raise ValueError("ΔF and Δs must be finite")
        if is_uninformative(delta_s):
            return None
        x = self.solve(delta_f, delta_s)
        return x.astype(np.float32)

    @abstractmethod
    def solve(self, delta_f: np.ndarray, delta_s: np.ndarray) -> np.ndarray:
        """The estimate for validated, informative float64 inputs."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MinNormLeastSquares(FeatureGradientEstimator):
    """The minimum-ℓ2-norm least-squares solution of ``ΔF x = Δs`` (the paper's Eq. 2).

    With d' < d the system is underdetermined and the minimum norm acts as a regulariser; with
    d' ≥ d it is the ordinary least-squares solution.

    Args:
        intercept: also fit a constant (a column of ones, dropped from the answer), as the
            paper's original code did. The paper's formula has no intercept (the default).
        rcond: relative cut-off for small singular values (``None``: machine precision × size).
    """

    def __init__(self, *, intercept: bool = False, rcond: float | None = None) -> None:
        if rcond is not None and not rcond >= 0:
            raise ConfigError(f"rcond must be non-negative, got {rcond}")
        self.intercept = bool(intercept)
        self.rcond = rcond

    def solve(self, delta_f: np.ndarray, delta_s: np.ndarray) -> np.ndarray:
        a = torch.from_numpy(delta_f)
        if self.intercept:
            a = torch.cat([a, torch.ones(a.shape[0], 1, dtype=a.dtype)], dim=1)
        b = torch.from_numpy(delta_s)[:, None]
        with single_thread():
            x = torch.linalg.lstsq(a, b, rcond=self.rcond, driver="gelsd").solution[:, 0]
        if self.intercept:
            x = x[:-1]
        return x.numpy()

    def __repr__(self) -> str:
        return f"MinNormLeastSquares(intercept={self.intercept}, rcond={self.rcond})"
