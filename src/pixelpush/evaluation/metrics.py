"""Attack metrics as small pure functions: hit ratio over ranks, SSIM of uploads (from
:mod:`pixelpush.vision.similarity`), cosine."""

from __future__ import annotations

import numpy as np

from pixelpush.vision.similarity import ssim

__all__ = ["HR_KS", "cosine", "hit_ratio", "hits", "ssim"]

HR_KS: tuple[int, ...] = (1, 10, 20)


def hits(ranks: np.ndarray, k: int) -> np.ndarray:
    """Whether each 1-based rank is within the top `k` (rank 0 means "not visible": a miss).

    >>> hits(np.array([1, 5, 20, 21, 0]), 20).tolist()
    [True, True, True, False, False]
    """
    ranks = np.asarray(ranks)
    return (ranks >= 1) & (ranks <= k)


def hit_ratio(ranks: np.ndarray, k: int) -> float:
    """HR@k: the fraction of (user, item) pairs whose rank is within the top `k`.

    >>> hit_ratio(np.array([1, 3, 50, 7]), 10)
    0.75
    """
    ranks = np.asarray(ranks)
    return float(hits(ranks, k).mean()) if ranks.size else 0.0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two flattened arrays (0.0 when either is zero).

    >>> cosine(np.array([1.0, 0.0]), np.array([2.0, 0.0]))
    1.0
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
