import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from pixelpush.evaluation import metrics


def test_hit_ratio_counts_invisible_ranks_as_misses():
    ranks = np.array([0, 1, 10, 11, 20, 21])
    assert metrics.hit_ratio(ranks, 1) == pytest.approx(1 / 6)
    assert metrics.hit_ratio(ranks, 10) == pytest.approx(2 / 6)
    assert metrics.hit_ratio(ranks, 20) == pytest.approx(4 / 6)


def reference_ssim(x: np.ndarray, y: np.ndarray, *, data_range: float = 255.0, k1: float = 0.01, k2: float = 0.03) -> float:
    """SSIM from Wang et al. (2004), eq. 13, written out window by window, without scikit-image.

    Conventions as :func:`pixelpush.evaluation.metrics.ssim` states them: each RGB channel on its
    own, then the mean over channels; a square w x w window of equal weights, w = 7, or the largest
    odd side that fits a smaller image (at least 3); means, variances and the covariance of each
    window with the sample (n - 1) normalisation; C1 = (K1 L)^2, C2 = (K2 L)^2 with L = 255; and
    the mean over every window position that lies wholly inside the image (no padding).
    """
    x, y = x.astype(np.float64), y.astype(np.float64)
    side = min(x.shape[:2])
    w = max(min(7, side if side % 2 else side - 1), 3)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    per_channel = []
    for ch in range(x.shape[2]):
        # (H-w+1, W-w+1, w*w): the pixels of every window that fits
        wx = sliding_window_view(x[:, :, ch], (w, w)).reshape(-1, w * w)
        wy = sliding_window_view(y[:, :, ch], (w, w)).reshape(-1, w * w)
        mx, my = wx.mean(axis=1), wy.mean(axis=1)
        dx, dy = wx - mx[:, None], wy - my[:, None]
        n = w * w
        vx, vy = (dx * dx).sum(axis=1) / (n - 1), (dy * dy).sum(axis=1) / (n - 1)
        cxy = (dx * dy).sum(axis=1) / (n - 1)
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        per_channel.append(s.mean())
    return float(np.mean(per_channel))


def _noise(rng: np.random.Generator, img: np.ndarray, level: int) -> np.ndarray:
    return np.clip(img.astype(int) + rng.integers(-level, level + 1, img.shape), 0, 255).astype(np.uint8)


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    random = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:32, 0:32]
    gradient = np.stack([xx * 8, yy * 8, (xx + yy) * 4], axis=-1).astype(np.uint8)
    checker = (((yy // 4 + xx // 4) % 2) * 255).astype(np.uint8)[:, :, None].repeat(3, axis=2)
    shirt = np.full((40, 40, 3), 255, np.uint8)
    shirt[8:36, 12:28] = (40, 90, 170)
    return [
        ("noise-1", random, _noise(rng, random, 1)),
        ("noise-20", random, _noise(rng, random, 20)),
        ("unrelated-noise", random, rng.integers(0, 256, random.shape, dtype=np.uint8)),
        ("gradient-shifted", gradient, np.roll(gradient, 2, axis=1)),
        ("checker-shifted", checker, np.roll(checker, (1, 3), axis=(0, 1))),
        ("checker-inverted", checker, 255 - checker),
        ("shirt-brightened", shirt, np.clip(shirt.astype(int) + 30, 0, 255).astype(np.uint8)),
        ("shirt-noise-5", shirt, _noise(rng, shirt, 5)),
        ("constant-equal", np.full((16, 16, 3), 77, np.uint8), np.full((16, 16, 3), 77, np.uint8)),
        ("constant-unequal", np.full((16, 16, 3), 10, np.uint8), np.full((16, 16, 3), 200, np.uint8)),
        ("constant-vs-noise", np.full((20, 20, 3), 128, np.uint8), rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)),
        ("black-vs-white", np.zeros((12, 12, 3), np.uint8), np.full((12, 12, 3), 255, np.uint8)),
        ("small-6x9-window-5", random[:6, :9], _noise(rng, random[:6, :9], 15)),
        ("small-5x5-window-5", random[:5, :5], _noise(rng, random[:5, :5], 15)),
        ("small-4x10-window-3", random[:4, :10], _noise(rng, random[:4, :10], 15)),
        ("small-3x3-one-window", random[:3, :3], _noise(rng, random[:3, :3], 40)),
        ("thin-8x40", random[:8], np.roll(random[:8], 1, axis=1)),
    ]


@pytest.mark.parametrize(("x", "y"), [pytest.param(x, y, id=name) for name, x, y in _pairs()])
def test_ssim_matches_an_independent_computation(x: np.ndarray, y: np.ndarray) -> None:
    expected = reference_ssim(x, y)
    assert metrics.ssim(x, y) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(y, x) == pytest.approx(expected, abs=1e-6)  # symmetric


def test_reference_ssim_has_the_definitions_known_values() -> None:
    """The reference itself: 1 for equal images; for two constants only the luminance term remains."""
    a, b = np.full((9, 9, 3), 10, np.uint8), np.full((9, 9, 3), 200, np.uint8)
    c1 = (0.01 * 255) ** 2
    assert reference_ssim(a, a) == 1.0
    assert reference_ssim(a, b) == pytest.approx((2 * 10 * 200 + c1) / (10**2 + 200**2 + c1), rel=1e-12)


def test_ssim_falls_with_noise() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    values = [metrics.ssim(img, _noise(rng, img, level)) for level in (0, 1, 5, 20)]
    assert values[0] == 1.0 and all(a > b for a, b in zip(values, values[1:]))


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        metrics.ssim(np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8))


def test_cosine_of_orthogonal_and_opposite_vectors():
    assert metrics.cosine(np.array([1.0, 0]), np.array([0, 3.0])) == 0.0
    assert metrics.cosine(np.array([1.0, 2]), np.array([-2, -4.0])) == pytest.approx(-1.0)
    assert metrics.cosine(np.zeros(3), np.ones(3)) == 0.0
