"""Linear probes: known answers for expressible, inexpressible and separable targets."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpush.diagnostics.probes import ridge_probe, softmax_probe
from pixelpush.errors import DataError
from pixelpush.random import numpy_rng


def _features(n: int = 1500, d: int = 40, seed: int = 0) -> np.ndarray:
    rng = numpy_rng(seed, "test", "probe-features")
    return np.maximum(rng.normal(size=(n, d)) + 1.0, 0.0) * 100.0  # non-negative, large norms like SqueezeNet's


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ridge_recovers_a_linear_target_and_not_noise(seed: int) -> None:
    x = _features(seed=seed)
    rng = numpy_rng(seed, "test", "probe-target")
    linear = x @ rng.normal(size=(x.shape[1], 3)) + 7.0
    result = ridge_probe(x, linear, seed=seed)
    assert result.score > 0.99 and len(result.per_dim) == 3 and result.n_test == 300
    noise = ridge_probe(x, rng.normal(size=(len(x), 3)), seed=seed)
    assert abs(noise.score) < 0.05  # held-out R²: an unrelated target is not expressible
    half = ridge_probe(x, linear[:, 0] + np.std(linear[:, 0]) * rng.normal(size=len(x)), seed=seed)
    assert 0.4 < half.score < 0.6  # signal and noise of equal variance: R² about 1/2


@pytest.mark.parametrize("seed", [0, 1])
def test_softmax_separates_classes_and_is_chance_on_random_labels(seed: int) -> None:
    x = _features(seed=seed)
    labels = (x[:, 0] > np.median(x[:, 0])).astype(int) + 2 * (x[:, 1] > np.median(x[:, 1])).astype(int)
    assert softmax_probe(x, labels, seed=seed).score > 0.9  # chance: 0.25; a linear rule exists (finite sample: not 1)
    random_labels = numpy_rng(seed, "test", "labels").integers(0, 4, len(x))
    assert abs(softmax_probe(x, random_labels, seed=seed).score - 0.25) < 0.07


def test_bad_inputs_name_the_problem() -> None:
    x = _features(n=50)
    with pytest.raises(DataError, match="targets"):
        ridge_probe(x, np.zeros((49, 2)))
    with pytest.raises(DataError, match="at least 10 items"):
        ridge_probe(x[:5], np.zeros((5, 1)))
    with pytest.raises(DataError, match="label"):
        softmax_probe(x, np.zeros(3, int))
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="finite"):
        ridge_probe(bad, np.zeros((50, 1)))
