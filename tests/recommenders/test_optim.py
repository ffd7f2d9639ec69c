"""RowAdam against torch's Adam and SparseAdam; the closed-form L2 gradient against autograd."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

from pixelpush.errors import ConfigError, DataError
from pixelpush.recommenders import optim
from pixelpush.recommenders.optim import RowAdam
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.training import TrainConfig, BPRStep


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_whole_tensor_steps_are_torch_adam() -> None:
    w, b = _randn(5, 3, seed=0), _randn(4, seed=1)
    ref_w, ref_b = w.clone().requires_grad_(), b.clone().requires_grad_()
    ours, ref = RowAdam({"w": w, "b": b}, lr=0.05), torch.optim.Adam([ref_w, ref_b], lr=0.05)
    for t in range(25):
        gw, gb = _randn(5, 3, seed=10 + t), _randn(4, seed=100 + t)
        ours.step({"w": (None, gw), "b": (None, gb)})
        ref_w.grad, ref_b.grad = gw.clone(), gb.clone()
        ref.step()
    torch.testing.assert_close(w, ref_w.detach(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(b, ref_b.detach(), rtol=1e-6, atol=1e-6)


def test_row_steps_are_adam_on_those_rows_and_leave_the_others() -> None:
    """Updating rows {1, 4} every step is Adam on the 2-row sub-table; other rows never move."""
    table = _randn(6, 3, seed=2)
    rows = torch.tensor([1, 4])
    sub = table[rows].clone().requires_grad_()
    before = table.clone()
    ours, ref = RowAdam({"t": table}, lr=0.02), torch.optim.Adam([sub], lr=0.02)
    for t in range(25):
        g = _randn(2, 3, seed=50 + t)
        ours.step({"t": (rows, g)})
        sub.grad = g.clone()
        ref.step()
    torch.testing.assert_close(table[rows], sub.detach(), rtol=1e-6, atol=1e-6)
    others = torch.tensor([0, 2, 3, 5])
    assert torch.equal(table[others], before[others])


def test_changing_rows_is_torch_sparse_adam() -> None:
    """With a different set of rows each step it is SparseAdam's lazy update (eps placed as in Adam)."""
    table = _randn(8, 2, seed=3)
    ref_table = table.clone().requires_grad_()
    ours, ref = RowAdam({"t": table}, lr=0.03), torch.optim.SparseAdam([ref_table], lr=0.03)
    gen = torch.Generator().manual_seed(4)
    for t in range(30):
        rows = torch.randperm(8, generator=gen)[:3].sort().values
        g = _randn(3, 2, seed=200 + t)
        ours.step({"t": (rows, g)})
        ref_table.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), g.clone(), (8, 2), check_invariants=True)
        ref.step()
    torch.testing.assert_close(table, ref_table.detach(), rtol=1e-5, atol=1e-5)


def test_doctests_pass() -> None:
    assert doctest.testmod(optim).failed == 0


def test_bad_settings_and_unknown_names_are_refused() -> None:
    with pytest.raises(ConfigError):
        RowAdam({"w": torch.zeros(2)}, lr=0.0)
    with pytest.raises(DataError, match="'x'"):
        RowAdam({"w": torch.zeros(2)}, lr=0.1).step({"x": (None, torch.zeros(2))})


def _model_and_batch(kind: str):
    n_users, n_items, d = 7, 9, 5
    cats = np.arange(n_items) % 3
    model = build_model(kind, n_users, n_items, d, categories=cats, seed=1)
    with torch.no_grad():  # non-zero biases and styles so every penalty term counts
        for p in model.parameters():
            p.add_(_randn(*p.shape, seed=p.numel()) * 0.3)
    feats = torch.rand(n_items, d, generator=torch.Generator().manual_seed(5)) * 50
    model.fit_normalisation(feats)
    users = torch.tensor([0, 3, 3, 6, 1, 0])
    pos = torch.tensor([1, 2, 2, 8, 0, 4])
    neg = torch.tensor([5, 1, 7, 3, 5, 5])  # item 1 is a positive and a negative; 5 a negative thrice
    return model, feats, users, pos, neg


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
@pytest.mark.parametrize("sparse", [True, False])
def test_step_gradient_is_autograd_of_loss_plus_penalty(kind: str, sparse: bool) -> None:
    """The gradient a training step applies (batch rows or whole tables; L2 part in closed form)
    is autograd's gradient of ``mean BPR loss + batch_penalty`` on the whole model."""
    model, feats, users, pos, neg = _model_and_batch(kind)
    loss, grads = BPRStep(model, feats, TrainConfig(sparse=sparse)).gradients(users, pos, neg)
    bpr = -torch.nn.functional.logsigmoid(model.pair_difference(users, pos, neg, feats)).mean()
    names, params = zip(*model.named_parameters())
    want = dict(zip(names, torch.autograd.grad(bpr + model.penalty(users, pos, neg), params)))
    assert loss == pytest.approx(float(bpr.detach()))
    assert set(grads) == set(want)
    for name, (rows, grad) in grads.items():
        full = torch.zeros_like(want[name])
        if rows is None:
            full = grad
        else:
            full[rows] = grad
            untouched = torch.ones(len(full), dtype=torch.bool)
            untouched[rows] = False
            assert not want[name][untouched].any(), f"{name}: a row outside the batch has a gradient"
        torch.testing.assert_close(full, want[name], rtol=1e-5, atol=1e-7, msg=lambda m: f"{kind} {name}: {m}")
