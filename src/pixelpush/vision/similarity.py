"""How alike two uploads look: SSIM, the paper's measure of an attack's visibility."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

__all__ = ["ssim"]


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
