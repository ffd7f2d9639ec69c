"""BPR training with sampled negatives, Adam, minibatches, L2 penalties and early stopping.

Each epoch visits every training pair once (shuffled) with one negative drawn uniformly among
the items the user did not consume in training. Validation AUC is computed every `eval_every`
epochs; training stops after `patience` evaluations without improvement and restores the best
parameters. Shuffling, negatives and initialisation come from the seed only, so a run is
deterministic for a seed (on a fixed number of threads).

A step reads and updates only the rows of the per-user and per-item tables its batch touches
(lazy Adam, :mod:`pixelpush.recommenders.optim`), so its cost does not grow with the catalog;
the global tensors (visual projection and biases, category styles) are updated whole.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pixelpush.errors import ConfigError, DataError
from pixelpush.ids import outside
from pixelpush.progress import progress_bar
from pixelpush.random import torch_generator
from pixelpush.recommenders.adversarial import adversarial_batch_loss
from pixelpush.recommenders.evaluation import auc, sample_heldout
from pixelpush.recommenders.factor import FactorModel, TripleBatch
from pixelpush.recommenders.optim import RowAdam
from pixelpush.recommenders.scaling import as_feature_tensor
from pixelpush.recommenders.split import Split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the model's config holds its sizes and L2 weights)."""

    epochs: int = 200
    """Maximum number of epochs."""
    batch_size: int = 1024
    """Training triples per minibatch (1024 beat 512 in validation and test AUC for BPR, VBPR and
    DeepStyle on the embedded catalog at three seeds, in half the steps; BENCHMARKS.md)."""
    lr: float = 0.01
    """Adam's learning rate (plain SGD with a large rate diverged with visual terms on)."""
    lr_start: float | None = 0.05
    """The first epoch's learning rate, decayed by `lr_decay` per epoch down to `lr` (from the
    8th epoch on); None: `lr` throughout. Lazy Adam moves a row only when a batch reads it, so
    rows start slowly at `lr`: this start reached VBPR's plateau in ~25% fewer epochs on the
    embedded catalog, with equal or better test AUC for all three models at three seeds."""
    lr_decay: float = 0.8
    """Per-epoch factor from `lr_start` down to `lr`."""
    patience: int = 5
    """Stop after this many validation evaluations without improvement."""
    eval_every: int = 1
    """Evaluate validation AUC every this many epochs."""
    eval_pairs: int | None = None
    """Validate (and, in a campaign, test) on at most this many held-out pairs, a seeded sample
    (:func:`~pixelpush.recommenders.evaluation.sample_heldout`); None: all of them, exact."""
    min_delta: float = 1e-4
    """An improvement of validation AUC smaller than this does not reset the patience."""
    seed: int = 0
    """Seed of the shuffling and the negative sampling."""
    fit_scale: bool = True
    """Fit the model's feature normalisation (mean vector, mean norm) on the features first."""
    center: bool = True
    """Centre features on their training mean (ranking-neutral; better conditioned)."""
    sparse: bool = True
    """Update only the table rows a batch touches (lazy Adam); False: dense Adam on whole tables."""
    progress: bool = True
    """Show a progress bar over epochs."""
    adv_epsilon: float = 0.0
    """AMR adversarial training: the L2 norm of the worst-case item-feature perturbation, in the
    model's normalised feature space (0: off; :mod:`pixelpush.recommenders.adversarial`)."""
    adv_weight: float = 1.0
    """AMR: the weight of the adversarial loss term."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1 or self.eval_every < 1:
            raise ConfigError("epochs, batch_size, patience and eval_every must be at least 1")
        if self.eval_pairs is not None and self.eval_pairs < 1:
            raise ConfigError(f"eval_pairs must be at least 1 (or None: all held-out pairs), got {self.eval_pairs}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.lr_start is not None and not self.lr_start >= self.lr:
            raise ConfigError(f"lr_start must be at least lr ({self.lr}), got {self.lr_start}")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if not self.adv_epsilon >= 0 or not self.adv_weight >= 0:
            raise ConfigError(f"adv_epsilon and adv_weight must be non-negative, got {self.adv_epsilon}, {self.adv_weight}")

    def epoch_lr(self, epoch: int) -> float:
        """The learning rate of `epoch` (1-based)."""
        if self.lr_start is None:
            return self.lr
        return max(self.lr, self.lr_start * self.lr_decay ** (epoch - 1))


@dataclass(frozen=True)
class TrainResult:
    """What a training run reached."""

    val_auc: float
    """Best validation AUC (the restored parameters'); NaN without validation pairs."""
    best_epoch: int
    """Epoch of the best validation AUC."""
    epochs: int
    """Epochs run (early stopping may end before the maximum)."""
    seconds: float
    """Wall time of the whole run, evaluation included."""
    history: tuple[tuple[int, float, float], ...]
    """``(epoch, validation AUC, seconds of optimisation so far)`` per evaluation."""
    cpu_seconds: tuple[float, ...] = ()
    """Process CPU seconds of optimisation so far at each evaluation (steadier on a busy machine)."""


class NegativeSampler:
    """Uniform negatives excluding each user's training positives (a few rejection rounds).

    Membership is a lookup in a user x item bitmap while that fits in `bitmap_bytes` (several
    times faster than the binary search over the positives that larger catalogs fall back to);
    both give the same answers, so the negatives do not depend on which one is used.
    """

    def __init__(
        self, train: np.ndarray, n_items: int, generator: torch.Generator, rounds: int = 10,
        bitmap_bytes: int = 64 * 2**20,
    ) -> None:
        self.n_items = n_items
        self.keys = torch.from_numpy(np.unique(train[:, 0] * n_items + train[:, 1]))
        self.gen = generator
        self.rounds = rounds
        cells = (int(train[:, 0].max()) + 1) * n_items if len(train) else 0
        self.bitmap: torch.Tensor | None = None
        if cells <= bitmap_bytes:
            self.bitmap = torch.zeros(cells, dtype=torch.bool)
            self.bitmap[self.keys] = True

    def _is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        keys = users * self.n_items + items
        if self.bitmap is not None:
            return self.bitmap[keys]
        pos = torch.searchsorted(self.keys, keys).clamp_(max=len(self.keys) - 1)
        return self.keys[pos] == keys

    def sample(self, users: torch.Tensor) -> torch.Tensor:
        """One negative item per entry of `users` (exact: leftovers drawn from the complement)."""
        items = torch.randint(self.n_items, users.shape, generator=self.gen)
        for _ in range(self.rounds):
            bad = self._is_positive(users, items)
            if not bool(bad.any()):
                return items
            items[bad] = torch.randint(self.n_items, (int(bad.sum()),), generator=self.gen)
        for row in torch.nonzero(self._is_positive(users, items)).flatten().tolist():
            user = int(users[row])
            lo, hi = torch.searchsorted(self.keys, torch.tensor([user * self.n_items, (user + 1) * self.n_items]))
            allowed = outside((self.keys[lo:hi] - user * self.n_items).numpy(), self.n_items)
            if allowed.size == 0:
                raise DataError(f"user {user} consumed every item: no negatives to sample")
            items[row] = int(allowed[int(torch.randint(allowed.size, (1,), generator=self.gen))])
        return items


def fit(
    model: FactorModel,
    features: np.ndarray | torch.Tensor,
    split: Split,
    config: TrainConfig | None = None,
    *,
    device: torch.device | str | None = None,
) -> TrainResult:
    """Train `model` on ``split.train`` with raw `features` ``(n_items, d)``; early-stop on ``split.val``.

    The optimisation runs on `device` (default: where the model is); the model goes back to
    where it was at the end. Shuffling and negatives are drawn on the CPU either way.
    """
    config = config or TrainConfig()
    feats = as_feature_tensor(features, n_items=model.n_items)
    if split.n_items != model.n_items or split.n_users != model.n_users:
        raise DataError(
            f"split has {split.n_users} users x {split.n_items} items, model {model.n_users} x {model.n_items}"
        )
    if len(split.train) == 0:
        raise DataError("no training interactions")
    if config.fit_scale:
        model.fit_normalisation(feats, center=config.center)
    home = next(model.parameters()).device
    device = torch.device(device) if device is not None else home
    model.to(device)
    feats = feats.to(device)
    gen = torch_generator(config.seed, model.kind, "train")
    sampler = NegativeSampler(split.train, model.n_items, gen)
    train = torch.from_numpy(split.train)
    train_users, train_items = train[:, 0].contiguous(), train[:, 1].contiguous()
    exclude = split.all_positives
    val_pairs = sample_heldout(split.val, config.eval_pairs, seed=config.seed, what="val")
    step = BPRStep(model, feats, config)
    best_auc, best_epoch, best_state = -np.inf, 0, None
    history: list[tuple[int, float, float]] = []
    bad, opt_seconds, opt_cpu, epoch = 0, 0.0, 0.0, 0
    cpu_marks: list[float] = []
    start = time.perf_counter()
    bar = progress_bar(range(1, config.epochs + 1), desc=f"train {model.kind}", enabled=config.progress, leave=False)
    for epoch in bar:
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        step.opt.lr = config.epoch_lr(epoch)
        order = torch.randperm(len(train), generator=gen)
        users, pos = train_users[order], train_items[order]
        neg = sampler.sample(users)  # the whole epoch's negatives in one vectorised draw
        users, pos, neg = users.to(device), pos.to(device), neg.to(device)
        total = 0.0
        for lo in range(0, len(order), config.batch_size):
            hi = lo + config.batch_size
            total += step(users[lo:hi], pos[lo:hi], neg[lo:hi]) * len(users[lo:hi])
        opt_seconds += time.perf_counter() - t0
        opt_cpu += time.process_time() - c0
        if not np.isfinite(total):
            raise DataError(f"training {model.kind} diverged at epoch {epoch} (loss {total})")
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        model.eval()
        val = auc(model, feats, val_pairs, exclude) if len(val_pairs) else float("nan")
        history.append((epoch, val, opt_seconds))
        cpu_marks.append(opt_cpu)
        bar.set_postfix(loss=f"{total / len(train):.4f}", val_auc=f"{val:.4f}")
        if np.isnan(val):
            continue
        if val > best_auc + config.min_delta:
            best_auc, best_epoch, bad = val, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= config.patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to(home)
    model.eval()
    seconds = time.perf_counter() - start
    final = float(best_auc) if best_state is not None else float("nan")
    log.info("%s: val AUC %.4f at epoch %d of %d (%.1f s)", model.kind, final, best_epoch, epoch, seconds)
    return TrainResult(final, best_epoch, epoch, seconds, tuple(history), tuple(cpu_marks))


class BPRStep:
    """Optimisation steps of `model` on batches of triples ``(users, pos, neg)``.

    Calling it takes one step and returns the batch's mean BPR loss (without the penalty; with
    AMR, plus its adversarial term).

    The loss's gradient comes from autograd; the L2 penalty's (:meth:`FactorModel.batch_penalty`)
    is added in closed form, ``2 λ · row · count / B`` for a table row that `count` triples of
    the batch read and ``2 λ · p`` for a global parameter: the same gradient for a quarter of
    the operations of a step.
    """

    def __init__(self, model: FactorModel, features: torch.Tensor, config: TrainConfig) -> None:
        self.model, self.features, self.sparse = model, features, config.sparse
        self.adv_epsilon, self.adv_weight = config.adv_epsilon, config.adv_weight
        self.params = dict(model.named_parameters())
        self.weights = model.l2_weights()
        self.user_tables, self.item_tables = model.user_tables, model.item_tables
        tables = (*self.user_tables, *self.item_tables)
        if set(self.weights) != set(self.params) or not set(tables) <= set(self.params):
            raise DataError(
                f"{model.kind}: tables {tables} and L2 weights {sorted(self.weights)} must name its parameters "
                f"{sorted(self.params)}"
            )
        self.globals = [name for name in self.params if name not in tables]
        self.opt = RowAdam({k: p.data for k, p in self.params.items()}, lr=config.lr)

    def __call__(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> float:
        loss, grads = self.gradients(users, pos, neg)
        self.opt.step(grads)
        return loss

    def gradients(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor
    ) -> tuple[float, dict[str, tuple[torch.Tensor | None, torch.Tensor]]]:
        """The batch's mean BPR loss and, per parameter, ``(rows or None, gradient of loss + penalty)``."""
        model, n = self.model, users.shape[0]
        both = torch.cat([pos, neg])
        if self.sparse:
            user_ids, users_at, user_counts = torch.unique(users, return_inverse=True, return_counts=True)
            item_ids, items_at, item_counts = torch.unique(both, return_inverse=True, return_counts=True)
            ids = {name: user_ids for name in self.user_tables} | {name: item_ids for name in self.item_tables}
            rows = {name: self.params[name].detach().index_select(0, i).requires_grad_() for name, i in ids.items()}
            pos_at, neg_at = items_at[:n], items_at[n:]
            batch = TripleBatch(rows, users_at, pos_at, neg_at, pos, neg, item_ids, pos_at, neg_at, self.features)
        else:
            user_counts = torch.bincount(users, minlength=model.n_users)
            item_counts = torch.bincount(both, minlength=model.n_items)
            batch = model.whole_batch(users, pos, neg, self.features)
            rows, ids = {name: self.params[name] for name in (*self.user_tables, *self.item_tables)}, {}
        loss = -F.logsigmoid(model.batch_difference(batch)).mean()
        if self.adv_epsilon > 0:  # AMR: the only addition of adversarial training
            loss = loss + self.adv_weight * adversarial_batch_loss(model, batch, self.adv_epsilon)
        names = [*rows, *self.globals]
        tensors = [*rows.values(), *(self.params[name] for name in self.globals)]
        grads = torch.autograd.grad(loss, tensors, allow_unused=True)
        per_triple = {"user": user_counts.to(loss.dtype) * (2.0 / n), "item": item_counts.to(loss.dtype) * (2.0 / n)}
        updates: dict[str, tuple[torch.Tensor | None, torch.Tensor]] = {}
        for name, tensor, grad in zip(names, tensors, grads):
            value = tensor.detach()
            grad = torch.zeros_like(value) if grad is None else grad
            lam = self.weights[name]
            if name in rows:
                coef = per_triple["user" if name in self.user_tables else "item"]
                grad.addcmul_(value, coef.view(-1, *([1] * (value.dim() - 1))), value=lam)
            else:
                grad.add_(value, alpha=2.0 * lam)
            updates[name] = (ids.get(name), grad)
        return float(loss.detach()), updates
