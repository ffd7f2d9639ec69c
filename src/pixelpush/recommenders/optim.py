"""Adam that updates only the rows a minibatch touches (lazy Adam) and whole tensors otherwise.

A BPR minibatch reads a few hundred users and items out of tables that, at the paper's scale,
hold 127k users and 455k items. Dense Adam rewrites every row of every table (and its two
moment buffers) on every step: at 455k items that is ~100x the work of the batch itself. Here a
table's update names the rows it touches and only those rows and their moments change, the
update :class:`torch.optim.SparseAdam` makes ("lazy" Adam: an untouched row keeps its value and
its moments instead of drifting on momentum). Global tensors (the visual projection, biases of
the feature dimensions) are updated whole, exactly as :class:`torch.optim.Adam` does.

Both use Adam's formula ``p -= lr / (1 - β1^t) · m / (sqrt(v / (1 - β2^t)) + eps)`` with one
step count ``t`` shared by every tensor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from pixelpush.errors import ConfigError, DataError


class RowAdam:
    """Adam over named tensors; a step may update a tensor whole or only some of its rows.

    >>> w = torch.zeros(4, 2)
    >>> opt = RowAdam({"w": w}, lr=0.1)
    >>> opt.step({"w": (torch.tensor([1, 3]), torch.ones(2, 2))})
    >>> [round(x, 6) for x in w[:, 0].tolist()]  # rows 1 and 3 moved by lr against the gradient; 0, 2 untouched
    [0.0, -0.1, 0.0, -0.1]
    """

    def __init__(
        self,
        params: Mapping[str, torch.Tensor],
        *,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if not lr > 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or not eps > 0:
            raise ConfigError(f"bad Adam settings: lr {lr}, betas {betas}, eps {eps}")
        self.params = dict(params)
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.steps = 0
        self._m = {k: torch.zeros_like(p) for k, p in self.params.items()}
        self._v = {k: torch.zeros_like(p) for k, p in self.params.items()}

    @torch.no_grad()
    def step(self, grads: Mapping[str, tuple[torch.Tensor | None, torch.Tensor]]) -> None:
        """One Adam step: ``grads[name] = (rows, grad)``.

        `rows` holds *distinct* row indices and `grad` their gradient ``(len(rows), ...)``; with
        ``rows=None`` `grad` is the whole tensor's. Tensors not named are left as they are.
        """
        self.steps += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.steps, 1 - b2**self.steps
        params, ms, vs, gs, rows_of = [], [], [], [], []
        for name, (rows, grad) in grads.items():
            if name not in self.params:
                raise DataError(f"RowAdam has no tensor {name!r}")
            p, m, v = self.params[name], self._m[name], self._v[name]
            if rows is not None:  # work on copies of the touched rows, written back below
                m, v = m.index_select(0, rows), v.index_select(0, rows)
            params.append(p), ms.append(m), vs.append(v), gs.append(grad), rows_of.append(rows)
        if not params:
            return
        torch._foreach_lerp_(ms, gs, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - b2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, math.sqrt(c2))
        torch._foreach_add_(denom, self.eps)
        updates = torch._foreach_div(ms, denom)
        torch._foreach_mul_(updates, -self.lr / c1)
        for name, p, m, v, update, rows in zip(grads, params, ms, vs, updates, rows_of):
            if rows is None:
                p.add_(update)
            else:
                self._m[name].index_copy_(0, rows, m)
                self._v[name].index_copy_(0, rows, v)
                p.index_add_(0, rows, update)
