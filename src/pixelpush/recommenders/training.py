"""BPR training with sampled negatives, Adam, minibatches, L2 penalties and early stopping.

Each epoch visits every training pair once (shuffled) with one negative drawn uniformly among
the items the user did not consume in training. Validation AUC is computed every `eval_every`
epochs; training stops after `patience` evaluations without improvement and restores the best
parameters. Shuffling, negatives and initialisation come from the seed only, so a run is
deterministic for a seed (on a fixed number of threads).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pixelpush.errors import ConfigError, DataError
from pixelpush.progress import progress_bar
from pixelpush.random import torch_generator
from pixelpush.recommenders.evaluation import auc
from pixelpush.recommenders.factor import FactorModel
from pixelpush.recommenders.scaling import as_feature_tensor
from pixelpush.recommenders.split import Split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the model's config holds its sizes and L2 weights)."""

    epochs: int = 200
    """Maximum number of epochs."""
    batch_size: int = 512
    """Training triples per minibatch."""
    lr: float = 0.01
    """Adam's learning rate (plain SGD with a large rate diverged with visual terms on)."""
    patience: int = 5
    """Stop after this many validation evaluations without improvement."""
    eval_every: int = 1
    """Evaluate validation AUC every this many epochs."""
    min_delta: float = 1e-4
    """An improvement of validation AUC smaller than this does not reset the patience."""
    seed: int = 0
    """Seed of the shuffling and the negative sampling."""
    fit_scale: bool = True
    """Fit the model's feature normalisation (mean vector, mean norm) on the features first."""
    center: bool = True
    """Centre features on their training mean (ranking-neutral; better conditioned)."""
    progress: bool = True
    """Show a progress bar over epochs."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1 or self.eval_every < 1:
            raise ConfigError("epochs, batch_size, patience and eval_every must be at least 1")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")


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


class NegativeSampler:
    """Uniform negatives excluding each user's training positives (a few rejection rounds)."""

    def __init__(self, train: np.ndarray, n_items: int, generator: torch.Generator, rounds: int = 10) -> None:
        self.n_items = n_items
        self.keys = torch.from_numpy(np.unique(train[:, 0] * n_items + train[:, 1]))
        self.gen = generator
        self.rounds = rounds

    def _is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        keys = users * self.n_items + items
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
            allowed = np.setdiff1d(np.arange(self.n_items), (self.keys[lo:hi] - user * self.n_items).numpy())
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
    exclude = split.all_positives
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    best_auc, best_epoch, best_state = -np.inf, 0, None
    history: list[tuple[int, float, float]] = []
    bad, opt_seconds, epoch = 0, 0.0, 0
    start = time.perf_counter()
    bar = progress_bar(range(1, config.epochs + 1), desc=f"train {model.kind}", enabled=config.progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=gen)
        total = 0.0
        for lo in range(0, len(order), config.batch_size):
            batch = train[order[lo : lo + config.batch_size]]
            users, pos = batch[:, 0], batch[:, 1]
            neg = sampler.sample(users)
            users, pos, neg = users.to(device), pos.to(device), neg.to(device)
            x = model.pair_difference(users, pos, neg, feats)
            loss = -F.logsigmoid(x).mean() + model.penalty(users, pos, neg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
        opt_seconds += time.perf_counter() - t0
        if not np.isfinite(total):
            raise DataError(f"training {model.kind} diverged at epoch {epoch} (loss {total})")
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        model.eval()
        val = auc(model, feats, split.val, exclude) if len(split.val) else float("nan")
        history.append((epoch, val, opt_seconds))
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
    return TrainResult(final, best_epoch, epoch, seconds, tuple(history))
