"""The feature-gradient estimator on synthetic systems with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TanhVisualRec, attack_context, make_world

from pixelpush.attacks import BlackBoxAttack
from pixelpush.attacks.estimators import MinNormLeastSquares, is_uninformative
from pixelpush.random import numpy_rng


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_exact_recovery_when_overdetermined() -> None:
    rng = numpy_rng(0, "est")
    x_true = rng.normal(size=20)
    delta_f = rng.normal(size=(40, 20))
    x = MinNormLeastSquares().estimate(delta_f, delta_f @ x_true)
    np.testing.assert_allclose(x, x_true, rtol=1e-4, atol=1e-5)


def test_underdetermined_gives_the_minimum_norm_solution() -> None:
    rng = numpy_rng(1, "est")
    delta_f, delta_s = rng.normal(size=(8, 64)), rng.normal(size=8)
    x = MinNormLeastSquares().estimate(delta_f, delta_s)
    np.testing.assert_allclose(x, np.linalg.pinv(delta_f) @ delta_s, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(delta_f @ x, delta_s, atol=1e-5)  # it solves the system exactly


def test_underdetermined_cosine_is_clearly_positive() -> None:
    """With d' = 16 of d = 64 isotropic directions the cosine concentrates near sqrt(16/64) = 0.5."""
    cosines = []
    for seed in range(20):
        rng = numpy_rng(seed, "est-under")
        x_true = rng.normal(size=64)
        delta_f = rng.normal(size=(16, 64))
        cosines.append(_cos(MinNormLeastSquares().estimate(delta_f, delta_f @ x_true), x_true))
    assert 0.35 < np.mean(cosines) < 0.65
    assert min(cosines) > 0.15


def test_intercept_absorbs_a_constant_offset() -> None:
    rng = numpy_rng(2, "est")
    x_true = rng.normal(size=10)
    delta_f = rng.normal(size=(30, 10))
    delta_s = delta_f @ x_true + 3.0
    with_intercept = MinNormLeastSquares(intercept=True).estimate(delta_f, delta_s)
    without = MinNormLeastSquares().estimate(delta_f, delta_s)
    np.testing.assert_allclose(with_intercept, x_true, rtol=1e-4, atol=1e-5)
    assert np.abs(without - x_true).max() > 1e-2


@pytest.mark.parametrize("delta_s", [np.zeros(8), np.full(8, 0.25)])
def test_no_information_is_detected(delta_s: np.ndarray) -> None:
    delta_f = numpy_rng(3, "est").normal(size=(8, 16))
    assert is_uninformative(delta_s)
    assert MinNormLeastSquares().estimate(delta_f, delta_s) is None
    assert MinNormLeastSquares(intercept=True).estimate(delta_f, delta_s) is None


def test_bad_shapes_and_values_are_refused() -> None:
    est = MinNormLeastSquares()
    with pytest.raises(ValueError):
        est.estimate(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError):
        est.estimate(np.full((2, 3), np.nan), np.array([0.0, 1.0]))


def test_repr_shows_config() -> None:
    assert repr(MinNormLeastSquares(intercept=True)) == "MinNormLeastSquares(intercept=True, rcond=None)"


def test_solve_restores_the_thread_count() -> None:
    import torch

    before = torch.get_num_threads()
    rng = numpy_rng(4, "est")
    MinNormLeastSquares().estimate(rng.normal(size=(4, 8)), rng.normal(size=4))
    assert torch.get_num_threads() == before


def _one_step_estimate(oracle: str, d: int, seed: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(estimate, true ∂s/∂f, the best estimate in the span of ΔF) at one upload, on the test CNN.

    The nonlinear TinyConvNet and TanhVisualRec live only in the tests. The best an estimator
    can do from d' feature changes is the projection of the true gradient onto their span
    (what the minimum-norm solution gives when Δs is exactly linear in ΔF).
    """
    world = make_world(seed=seed, rec_cls=TanhVisualRec)
    ctx = attack_context(world, oracle, seed=seed)
    attack = BlackBoxAttack(oracle=oracle, perturbations=d, steps=1)
    state = attack.begin(ctx)
    ctx.client.upload_image(ctx.item, state.image)  # the platform now scores exactly this upload
    batch, delta_f = attack.perturb(state)
    delta_s, _ = attack.probe(ctx.client, ctx.targeting.user, ctx.item, batch)
    truth = world.platform.white_box().feature_gradient(ctx.targeting.user, ctx.item).astype(np.float64)
    best = np.linalg.pinv(delta_f) @ (delta_f @ truth)
    return attack.estimator.estimate(delta_f, delta_s), truth, best


@pytest.mark.parametrize("d", [4, 8])
def test_score_estimate_on_a_nonlinear_model_is_near_the_best_its_perturbations_allow(d: int) -> None:
    """With exact scores, the estimate loses little to the nonlinearity at radius 7 (d' < d = 16)."""
    for seed in range(6):
        est, truth, best = _one_step_estimate("score", d, seed)
        assert est is not None
        assert _cos(est, truth) >= 0.9 * _cos(best, truth), seed


def test_score_estimate_on_a_nonlinear_model_recovers_the_gradient_with_twice_d_perturbations() -> None:
    cosines = [_cos(est, truth) for est, truth, _ in (_one_step_estimate("score", 32, seed) for seed in range(4))]
    assert min(cosines) > 0.95, cosines


def test_rank_estimate_on_a_nonlinear_model_points_along_the_gradient() -> None:
    """From ranks alone (quantised), d' = 32 of d = 16. A direction independent of the truth has a
    cosine with mean 0 and standard deviation 1/sqrt(16) = 0.25 in 16 dimensions, so the mean of
    8 seeds has sd 0.088: a mean above 0.5 is more than 5 sd beyond chance."""
    cosines = []
    for seed in range(8):
        est, truth, _ = _one_step_estimate("rank", 32, seed)
        cosines.append(_cos(est, truth) if est is not None else 0.0)
    assert np.mean(cosines) > 0.5, cosines
