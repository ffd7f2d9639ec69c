"""Fold-in: a clone of a user ranks like the user; only the new row is learned; seeded; fast."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pixelpush.recommenders.evaluation import top_k_overlap
from rec_helpers import all_scores, clone_model


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
def test_clone_of_a_user_ranks_like_the_user(kind, trained, synth_split, synth_features) -> None:
    model = clone_model(trained[kind][0])
    histories = synth_split.train_histories()
    overlaps = []
    for u in range(30):
        clone = model.fold_in(histories[u], synth_features, seed=u)
        s = all_scores(model, [u, clone], synth_features)
        s[:, histories[u]] = -np.inf
        overlaps.append(top_k_overlap(np.argsort(-s[0])[:20], np.argsort(-s[1])[:20]))
    assert np.mean(overlaps) > 0.7, overlaps
    assert np.min(overlaps) >= 0.4, overlaps


def test_fold_in_learns_only_the_new_row(trained, synth_features) -> None:
    model = clone_model(trained["vbpr"][0])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n = model.n_users
    new = model.fold_in(np.array([1, 5, 9]), synth_features, seed=0)
    assert new == n and model.n_users == n + 1
    after = model.state_dict()
    for key, value in before.items():
        kept = after[key][: value.shape[0]] if value.ndim else after[key]
        torch.testing.assert_close(kept, value, rtol=0, atol=0)
    assert after["theta_user"].shape[0] == n + 1
    assert float(after["gamma_user"][new].abs().sum()) > 0


def test_fold_in_is_the_optimum_of_the_per_user_bpr_objective(trained, synth_features) -> None:
    """With every unconsumed item as a negative, the row zeroes the objective's gradient."""
    model = clone_model(trained["deepstyle"][0])
    history = np.array([3, 30, 300])
    new = model.fold_in(history, synth_features, seed=0)
    bias, vec = model.all_item_terms(synth_features)
    neg = np.setdiff1d(np.arange(model.n_items), history)
    row = model.p_user[new].detach().clone().double().requires_grad_(True)
    a = bias.double() + vec.double() @ row
    loss = -F.logsigmoid(a[history][:, None] - a[neg][None, :]).mean() + model.config.lambda_user * row.pow(2).sum()
    (grad,) = torch.autograd.grad(loss, row)
    assert float(grad.norm()) < 1e-6


def test_fold_in_is_deterministic_for_a_seed(trained, synth_features) -> None:
    base = trained["vbpr"][0]
    a, b = clone_model(base), clone_model(base)
    a.config = b.config = type(base.config)(**{**base.config.__dict__, "fold_in_negatives": 50})
    history = np.arange(0, 40, 4)
    ra = a.fold_in(history, synth_features, seed=7)
    rb = b.fold_in(history, synth_features, seed=7)
    rc = b.fold_in(history, synth_features, seed=8)
    torch.testing.assert_close(a.user_vectors(torch.tensor([ra])), b.user_vectors(torch.tensor([rb])), rtol=0, atol=0)
    assert not torch.equal(b.user_vectors(torch.tensor([rb])), b.user_vectors(torch.tensor([rc])))


def test_fold_in_is_fast(trained, synth_features) -> None:
    model = clone_model(trained["vbpr"][0])
    model.fold_in(np.arange(5), synth_features, seed=0)  # warm-up
    times = []
    for k in range(10):
        t0 = time.perf_counter()
        model.fold_in(np.arange(k, 100, 7), synth_features, seed=k)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.2


def test_fold_in_with_sampled_negatives_is_the_optimum_over_those_negatives(trained, synth_features) -> None:
    """With fewer sampled negatives than unconsumed items, the row is the optimum over the
    history against exactly the seeded sample (item terms of those items only, not all N)."""
    import dataclasses

    from pixelpush.random import numpy_rng
    from pixelpush.recommenders.registry import build_model

    base = trained["vbpr"][0]
    model = build_model("vbpr", base.n_users, base.n_items, base.n_features,
                        config=dataclasses.replace(base.config, fold_in_negatives=50))
    model.load_state_dict(base.state_dict())
    history = np.array([2, 40, 41, 399])
    new = model.fold_in(history, synth_features, seed=7)
    unconsumed = np.setdiff1d(np.arange(model.n_items), history)
    bias, vec = model.all_item_terms(synth_features)

    def gradient_norm(neg: np.ndarray) -> float:
        row = torch.cat([model.gamma_user[new], model.theta_user[new]]).detach().double().requires_grad_(True)
        a = bias.double() + vec.double() @ row
        loss = -F.logsigmoid(a[history][:, None] - a[neg][None, :]).mean() + model.config.lambda_user * row.pow(2).sum()
        return float(torch.autograd.grad(loss, row)[0].norm())

    sample = np.sort(numpy_rng(7, "vbpr", "fold-in").choice(unconsumed, 50, replace=False))
    other = np.sort(numpy_rng(8, "vbpr", "fold-in").choice(unconsumed, 50, replace=False))
    assert gradient_norm(sample) < 1e-4  # the row is stored in float32
    assert gradient_norm(other) > 100 * gradient_norm(sample)
