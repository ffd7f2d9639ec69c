"""Attack metrics as small pure functions: hit ratio over ranks, SSIM of uploads, cosine."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

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


def ssim(original: np.ndarray, current: np.ndarray) -> float:
    """SSIM between two ``(H, W, 3)`` uint8 uploads (Wang et al. 2004, computed by scikit-image).

    Conventions: each RGB channel separately, then the mean over channels; data range L = 255,
    K1 = 0.01, K2 = 0.03; a 7x7 window of equal weights (the largest odd side that fits a
    smaller image, at least 3) with sample (n - 1) variances and covariance; the mean over the
    window positions that lie wholly inside the image (borders cropped, no padding).

    >>> img = np.zeros((16, 16, 3), np.uint8)
    >>> ssim(img, img)
    1.0
    """
    if original.shape != current.shape:
        raise ValueError(f"SSIM needs equal shapes, got {original.shape} and {current.shape}")
    side = min(original.shape[:2])
    win = min(7, side if side % 2 else side - 1)
    return float(
        structural_similarity(original, current, channel_axis=-1, data_range=255, win_size=max(win, 3))
    )


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two flattened arrays (0.0 when either is zero).

    >>> cosine(np.array([1.0, 0.0]), np.array([2.0, 0.0]))
    1.0
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
