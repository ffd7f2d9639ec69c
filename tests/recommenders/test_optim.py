"""RowAdam against torch's Adam and SparseAdam."""

from __future__ import annotations

import pytest
import torch

from pixelpush.errors import ConfigError, DataError
from pixelpush.recommenders.optim import RowAdam


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


def test_bad_settings_and_unknown_names_are_refused() -> None:
    with pytest.raises(ConfigError):
        RowAdam({"w": torch.zeros(2)}, lr=0.0)
    with pytest.raises(DataError, match="'x'"):
        RowAdam({"w": torch.zeros(2)}, lr=0.1).step({"x": (None, torch.zeros(2))})
