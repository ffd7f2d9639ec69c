import numpy as np
import pytest
from skimage.metrics import structural_similarity

from pixelpush.evaluation import metrics


def test_hit_ratio_counts_invisible_ranks_as_misses():
    ranks = np.array([0, 1, 10, 11, 20, 21])
    assert metrics.hit_ratio(ranks, 1) == pytest.approx(1 / 6)
    assert metrics.hit_ratio(ranks, 10) == pytest.approx(2 / 6)
    assert metrics.hit_ratio(ranks, 20) == pytest.approx(4 / 6)


def test_ssim_matches_scikit_image_and_falls_with_noise():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    previous = 1.0
    for level in (1, 5, 20):
        noisy = np.clip(img.astype(int) + rng.integers(-level, level + 1, img.shape), 0, 255).astype(np.uint8)
        ours = metrics.ssim(img, noisy)
        ref = structural_similarity(img, noisy, channel_axis=-1, data_range=255)
        assert ours == pytest.approx(ref, abs=1e-12)
        assert ours < previous
        previous = ours


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        metrics.ssim(np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8))


def test_cosine_of_orthogonal_and_opposite_vectors():
    assert metrics.cosine(np.array([1.0, 0]), np.array([0, 3.0])) == 0.0
    assert metrics.cosine(np.array([1.0, 2]), np.array([-2, -4.0])) == pytest.approx(-1.0)
    assert metrics.cosine(np.zeros(3), np.ones(3)) == 0.0
