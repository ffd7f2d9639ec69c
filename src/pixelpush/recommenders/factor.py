"""What BPR, VBPR and DeepStyle share: scores as ``bias_i + <user_u, item_i>``, fold-in, penalties.

Each model maps a user to one vector (its per-user parameters concatenated) and an item, *from
its current features*, to a bias and a vector of the same length. Scoring and fold-in are
written once here on top of that.

Training reads a model through a :class:`TripleBatch`: the per-user and per-item tables a model
names in ``user_tables`` and ``item_tables`` restricted to the rows one minibatch touches. A
model writes its BPR pair difference once, against those rows, and declares the L2 weight of
each parameter; the same code serves the whole tables (:meth:`FactorModel.pair_difference`),
and it is what lets training update only the rows a batch touches
(:mod:`pixelpush.recommenders.optim`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pixelpush.errors import ConfigError, DataError, UnknownIdError
from pixelpush.ids import outside
from pixelpush.random import numpy_rng, torch_generator
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.scaling import (
    as_feature_tensor,
    check_finite,
    fit_feature_center,
    fit_feature_scale,
    row_blocks,
)


@dataclass(frozen=True)
class FactorConfig:
    """Settings shared by the factor models (BPR and the visual models extend it)."""

    dim: int = 10
    """Length of the collaborative factors (gamma_u, gamma_i; DeepStyle's p_u, q_i)."""
    lambda_user: float = 0.05
    """L2 weight on the per-user factors, per training triple (and in fold-in)."""
    lambda_item: float = 0.05
    """L2 weight on the per-item factors, per training triple (positive and negative item)."""
    lambda_bias: float = 0.05
    """L2 weight on the item biases beta_i, per training triple."""
    init_std: float = 0.1
    """Standard deviation of the normal initialisation of factors (biases start at 0)."""
    fold_in_negatives: int = 4096
    """Fold-in compares the history against at most this many sampled unconsumed items."""
    fold_in_max_iter: int = 30
    """Newton iterations of fold-in at most (the per-user problem is convex and smooth)."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, int | float) and value < 0:
                raise ConfigError(f"{type(self).__name__}.{name} must be non-negative, got {value}")
        if self.dim < 1:
            raise ConfigError(f"{type(self).__name__}.dim must be at least 1, got {self.dim}")
        if self.fold_in_negatives < 1 or self.fold_in_max_iter < 1:
            raise ConfigError("fold_in_negatives and fold_in_max_iter must be at least 1")


@dataclass(frozen=True)
class TripleBatch:
    """Training triples ``(u, i, j)`` (u consumed i, not j) and the parameter rows they read.

    ``rows[name]`` is a per-user or per-item table restricted to some of its rows; `users`,
    `pos` and `neg` are positions in those rows (for the whole tables, the ids). `pos_ids` and
    `neg_ids` are catalog ids (to read categories); `items` the batch's distinct catalog ids,
    which `pos_at` and `neg_at` index (to read each item's features once); `features` all
    items' raw features ``(n_items, d)``.
    """

    rows: Mapping[str, torch.Tensor]
    users: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor
    pos_ids: torch.Tensor
    neg_ids: torch.Tensor
    items: torch.Tensor
    pos_at: torch.Tensor
    neg_at: torch.Tensor
    features: torch.Tensor | None
    _taken: dict[tuple[str, str], torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def take(self, name: str, which: str) -> torch.Tensor:
        """The rows of table `name` for each triple's ``"users"``, ``"pos"`` or ``"neg"`` (gathered once)."""
        key = (name, which)
        if key not in self._taken:
            self._taken[key] = self.rows[name].index_select(0, getattr(self, which))
        return self._taken[key]

    def sum_of_squares(self, name: str, *which: str) -> torch.Tensor:
        """``sum ||row||²`` of table `name` over the triples' rows `which` (e.g. ``"pos", "neg"``)."""
        return sum(self.take(name, w).pow(2).sum() for w in which)  # type: ignore[return-value]

    def projected_difference(self, weight: torch.Tensor) -> torch.Tensor:
        """``(f_i - f_j) @ weight`` of each triple ``(B, k)``, from raw features.

        Projects each distinct item once and subtracts the projections: a batch then reads an
        item's feature row once, and never writes a ``(B, d)`` difference (the step is bound by
        memory traffic over the feature rows, not by arithmetic).
        """
        if self.features is None:
            raise DataError("this model reads features: the batch has none")
        # contiguous: gathering rows of the transposed product is 8x slower than of a copy
        proj = project(self.features.index_select(0, self.items), weight).contiguous()
        return proj.index_select(0, self.pos_at) - proj.index_select(0, self.neg_at)


def project(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight`` for a thin `weight` ``(d, k)``, computed as ``(weightᵀ xᵀ)ᵀ`` with a contiguous ``weightᵀ``.

    Same product. With MKL a ``(B, k)`` result for ``k ≈ 10`` is 4x slower than a ``(k, B)`` one,
    and the backward of ``x @ weight`` to `weight` (``xᵀ g``) 5x slower than ``gᵀ x``; a
    contiguous ``weightᵀ`` makes autograd take the fast layout both ways. This product and its
    backward are most of a VBPR or DeepStyle training step.
    """
    return torch.mm(weight.t().contiguous(), x.t()).t()


class FactorModel(Recommender):
    """A recommender scoring ``s(u, i) = b_i(f_i) + user_u · v_i(f_i)``; features divided by a scale.

    Subclasses name their per-user tables (``user_tables``, concatenated in that order into a
    user vector) and per-item tables (``item_tables``, indexed by item id); every other parameter
    is global. They define the item side of scoring (:meth:`item_terms`), the BPR pair
    difference of a :class:`TripleBatch` (:meth:`batch_difference`) and the L2 weight of each
    parameter (:meth:`l2_weights`), which makes the penalty.
    """

    kind: ClassVar[str] = "factor"
    config_class: ClassVar[type[FactorConfig]] = FactorConfig
    user_tables: ClassVar[tuple[str, ...]] = ()
    """Names of the per-user parameter tables ``(n_users, k)``, in the user vector's order."""
    item_tables: ClassVar[tuple[str, ...]] = ()
    """Names of the per-item parameter tables ``(n_items, ...)``."""
    feature_scale: torch.Tensor
    feature_center: torch.Tensor

    def __init__(self, n_users: int, n_items: int, n_features: int, config: FactorConfig, *, seed: int = 0) -> None:
        super().__init__()
        if n_users < 1 or n_items < 1 or n_features < 0:
            raise ConfigError(f"need users, items and features: got {n_users}, {n_items}, {n_features}")
        self.config = config
        self.n_features = int(n_features)
        self._n_items = int(n_items)
        self.register_buffer("feature_scale", torch.tensor(1.0))
        self.register_buffer("feature_center", torch.zeros(self.n_features))
        self._gen = torch_generator(seed, self.kind, "init")

    # -- subclass hooks -------------------------------------------------------------------------
    @abstractmethod
    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bias ``(I,)`` and vector ``(I, K)`` of `items` with scaled features ``(I, d)``."""

    @abstractmethod
    def batch_difference(self, batch: TripleBatch) -> torch.Tensor:
        """``s(u, i) - s(u, j)`` of each triple of `batch` ``(B,)``."""

    @abstractmethod
    def l2_weights(self) -> dict[str, float]:
        """The L2 weight of every parameter, by name.

        A per-user or per-item table's weight applies per training triple (to the user's row,
        and to the positive's and the negative's rows), averaged over the batch; a global
        parameter's applies once per minibatch. See :meth:`batch_penalty`.
        """

    def extra_state(self) -> dict[str, Any]:
        """Constructor arguments beyond ``(n_users, n_items, n_features, config)`` (for io)."""
        return {}

    # -- helpers ----------------------------------------------------------------------------------
    def _normal(self, *shape: int, std: float | None = None) -> nn.Parameter:
        std = self.config.init_std if std is None else std
        return nn.Parameter(torch.randn(*shape, generator=self._gen) * std)

    def set_feature_scale(self, scale: float, center: torch.Tensor | None = None) -> None:
        """Set the normalisation ``f -> (f - center) / scale`` (fitted on the training features)."""
        if not np.isfinite(scale) or scale <= 0:
            raise ConfigError(f"feature scale must be positive and finite, got {scale}")
        self.feature_scale.fill_(float(scale))
        if center is not None:
            if center.shape != self.feature_center.shape:
                raise DataError(f"feature center of shape {tuple(center.shape)}, expected ({self.n_features},)")
            self.feature_center.copy_(center)

    @torch.no_grad()
    def fit_normalisation(self, features: torch.Tensor, *, center: bool = True) -> None:
        """Fit the feature normalisation on the training `features` (mean vector, mean norm)."""
        mean = fit_feature_center(features) if center else torch.zeros(self.n_features)
        self.set_feature_scale(fit_feature_scale(features, mean), mean)

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features ``(I, d)`` to the model's scale: ``(f - center) / scale``."""
        # in place on the difference: one (I, d) temporary, not two (the catalog's is N x d)
        return (features.to(self.feature_scale.dtype) - self.feature_center).div_(self.feature_scale)

    def user_parameters(self) -> list[tuple[nn.Parameter, float]]:
        """The per-user parameter tables ``(n_users, k)`` with their L2 weights, in concat order."""
        weights = self.l2_weights()
        return [(getattr(self, name), weights[name]) for name in self.user_tables]

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        """The concatenated per-user parameters of `users`, ``(U, K)``."""
        return torch.cat([table[users] for table, _ in self.user_parameters()], dim=1)

    def _user_weights(self) -> torch.Tensor:
        return torch.cat(
            [torch.full((table.shape[1],), float(lam), device=table.device) for table, lam in self.user_parameters()]
        )

    def _check_ids(self, ids: torch.Tensor, limit: int, what: str) -> None:
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= limit):
            bad = ids[(ids < 0) | (ids >= limit)][0]
            raise UnknownIdError(f"unknown {what} {int(bad)}: known {what}s are 0..{limit - 1}")

    def _scaled(self, features: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise DataError(f"expected features of shape (I, {self.n_features}), got {tuple(features.shape)}")
        check_finite(features, items)
        return self.normalise(features)

    # -- Recommender ------------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return int(self.user_parameters()[0][0].shape[0])

    @property
    def n_items(self) -> int:
        return self._n_items

    def score(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        items = torch.as_tensor(items, dtype=torch.long).reshape(-1)
        if features.shape[0] != items.shape[0]:
            raise DataError(f"{items.shape[0]} items but {features.shape[0]} feature rows")
        self._check_ids(items, self.n_items, "item")
        return self._user_scores(users, *self.item_terms(items, self._scaled(features, items)))

    def _user_scores(self, users: torch.Tensor, bias: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
        """``bias_i + user_u · vec_i`` of `users` against items whose terms are given."""
        users = torch.as_tensor(users, dtype=torch.long).reshape(-1)
        self._check_ids(users, self.n_users, "user")
        return bias.unsqueeze(0) + self.user_vectors(users) @ vec.T

    def catalog_scorer(self, features: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """Item terms of the whole catalog computed once; each call then scores its users with
        one product, the same scores as :meth:`score`.

        The item terms are computed in blocks of rows (:func:`row_blocks`), so the normalised
        features are one block at a time, not an (N, d) copy: at 455k items that was 0.9 GB
        written and read again, and the blocks gave the same terms bit for bit (BENCHMARKS.md).
        A catalog of one block is computed exactly as :meth:`score` computes it.
        """
        if features.shape[0] != self.n_items:
            raise DataError(f"{self.n_items} items but {features.shape[0]} feature rows")
        terms = []
        for rows in row_blocks(self.n_items):
            items = torch.arange(rows.start, rows.stop, device=features.device)
            terms.append(self.item_terms(items, self._scaled(features[rows], items)))
        bias, vec = torch.cat([b for b, _ in terms]), torch.cat([v for _, v in terms])
        return lambda users: self._user_scores(users, bias, vec)

    def whole_batch(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, features: torch.Tensor | None
    ) -> TripleBatch:
        """A :class:`TripleBatch` over the whole tables (positions are ids)."""
        rows = {name: getattr(self, name) for name in (*self.user_tables, *self.item_tables)}
        items, at = torch.unique(torch.cat([pos, neg]), return_inverse=True)
        n = pos.shape[0]
        return TripleBatch(rows, users, pos, neg, pos, neg, items, at[:n], at[n:], features)

    def pair_difference(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, features: torch.Tensor
    ) -> torch.Tensor:
        """``s(u, i) - s(u, j)`` for a batch of triples; `features` are all items' ``(n_items, d)``."""
        return self.batch_difference(self.whole_batch(users, pos, neg, features))

    def penalty(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """The L2 penalty of a batch of triples: per-user and per-item terms averaged, plus globals."""
        return self.batch_penalty(self.whole_batch(users, pos, neg, None))

    def batch_penalty(self, batch: TripleBatch) -> torch.Tensor:
        """The L2 penalty of `batch` (:meth:`l2_weights`): ``sum_t λ_t Σ_triples ||row||² / B + sum_g λ_g ||g||²``.

        Training adds this penalty's gradient in closed form (``2 λ · row · count / B``) rather
        than through autograd; this is its value, and the reference the closed form is tested on.
        """
        total = torch.zeros(())
        for name, lam in self.l2_weights().items():
            if name in self.user_tables:
                total = total + lam * batch.sum_of_squares(name, "users") / batch.users.shape[0]
            elif name in self.item_tables:
                total = total + lam * batch.sum_of_squares(name, "pos", "neg") / batch.users.shape[0]
            else:
                total = total + lam * getattr(self, name).pow(2).sum()
        return total

    @torch.no_grad()
    def all_item_terms(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Biases ``(n_items,)`` and vectors ``(n_items, K)`` of every item (no gradient)."""
        items = torch.arange(self.n_items)
        return self.item_terms(items, self._scaled(features))

    def fold_in(self, history: np.ndarray, features: torch.Tensor, *, seed: int) -> int:
        hist = np.unique(np.asarray(history, dtype=np.int64).reshape(-1))
        if hist.size == 0:
            raise DataError("cannot fold in a user with an empty history")
        self._check_ids(torch.from_numpy(hist), self.n_items, "item")
        feats = as_feature_tensor(features, n_items=self.n_items)
        unconsumed = outside(hist, self.n_items)
        if unconsumed.size == 0:
            raise DataError("cannot fold in a user who consumed every item (no negatives)")
        if unconsumed.size > self.config.fold_in_negatives:
            rng = numpy_rng(seed, self.kind, "fold-in")
            unconsumed = np.sort(rng.choice(unconsumed, self.config.fold_in_negatives, replace=False))
        # item terms of the history and the sampled negatives only: O((|h| + negatives) d), not O(N d)
        hist_t, neg_t = torch.from_numpy(hist), torch.from_numpy(unconsumed)
        with torch.no_grad():
            bias_h, vec_h = self.item_terms(hist_t, self.normalise(feats[hist_t]))
            bias_n, vec_n = self.item_terms(neg_t, self.normalise(feats[neg_t]))
        row = newton_bpr_row(
            bias_h.double(), vec_h.double(), bias_n.double(), vec_n.double(),
            self._user_weights().double(), max_iter=self.config.fold_in_max_iter,
        )
        self._append_user(row.to(vec_h.dtype))
        return self.n_users - 1

    @torch.no_grad()
    def _append_user(self, row: torch.Tensor) -> None:
        start = 0
        for table, _ in self.user_parameters():
            k = table.shape[1]
            table.data = torch.cat([table.data, row[start : start + k].unsqueeze(0).to(table.dtype)])
            if table.grad is not None:
                table.grad = None
            start += k


def newton_bpr_row(
    bias_pos: torch.Tensor,
    vec_pos: torch.Tensor,
    bias_neg: torch.Tensor,
    vec_neg: torch.Tensor,
    weights: torch.Tensor,
    *,
    max_iter: int = 30,
    tol: float = 1e-9,
) -> torch.Tensor:
    """The user vector ``u`` minimising the mean BPR loss of every (positive, negative) pair plus
    ``sum(weights * u**2)``, with the items' biases and vectors fixed.

    The objective is convex in ``u`` (a logistic loss of terms linear in ``u`` plus a ridge), so
    damped Newton from zero converges in a handful of iterations; gradient and Hessian are
    closed-form, which keeps fold-in at about a millisecond for a short history.
    """
    n_pairs = vec_pos.shape[0] * vec_neg.shape[0]
    ridge = 2 * weights + 1e-10
    u = torch.zeros(vec_pos.shape[1], dtype=vec_pos.dtype)

    def objective(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (bias_pos + vec_pos @ u)[:, None] - (bias_neg + vec_neg @ u)[None, :]
        return -F.logsigmoid(x).sum() / n_pairs + (weights * u * u).sum(), x

    value, x = objective(u)
    for _ in range(max_iter):
        g = -torch.sigmoid(-x) / n_pairs  # d loss / d x
        grad = vec_pos.T @ g.sum(1) - vec_neg.T @ g.sum(0) + ridge * u
        w = torch.sigmoid(x) * torch.sigmoid(-x) / n_pairs
        cross = vec_pos.T @ w @ vec_neg
        hess = (
            (vec_pos.T * w.sum(1)) @ vec_pos + (vec_neg.T * w.sum(0)) @ vec_neg - cross - cross.T + torch.diag(ridge)
        )
        step = torch.linalg.solve(hess, grad)
        decrement = float(grad @ step)
        if decrement / 2 <= tol:
            break
        t = 1.0
        while True:  # backtracking line search (Armijo)
            new_value, new_x = objective(u - t * step)
            if new_value <= value - 0.25 * t * decrement or t < 1e-6:
                break
            t *= 0.5
        u, value, x = u - t * step, new_value, new_x
    return u
