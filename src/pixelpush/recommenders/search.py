"""Hyperparameters chosen by validation AUC: a small, seeded grid search per recommender.

For each model kind every point of its grid (the product of a few axes over its config's
penalties and sizes) is trained on the leave-one-out split a campaign uses, with the seeds a
campaign uses (``derive_seed(seed, "split")`` for the split, ``derive_seed(seed, "train",
kind)`` for initialisation, shuffling and negatives), early-stopped on validation AUC. The point
with the best validation AUC is selected (ties go to the first in grid order). Test AUC is
computed for the selected models only — overall, on cold and on warm test items — so the test
items never take part in a choice. The selected options are what a campaign's
``training.options`` should hold to train exactly these models.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from pixelpush.data.catalog import Dataset
from pixelpush.errors import ConfigError
from pixelpush.random import derive_seed
from pixelpush.recommenders.evaluation import auc_cold_warm, visual_gain
from pixelpush.recommenders.factor import FactorModel
from pixelpush.recommenders.registry import RECOMMENDERS, build_model
from pixelpush.recommenders.split import Split, leave_one_out
from pixelpush.recommenders.training import TrainConfig, TrainResult, fit
from pixelpush.threads import torch_threads

log = logging.getLogger(__name__)

Axis = list[dict[str, Any]]
"""One axis of a grid: alternative partial configs (fields set together), e.g. one penalty level."""


def _penalty(levels: tuple[float, ...]) -> Axis:
    return [{"lambda_user": lam, "lambda_item": lam, "lambda_bias": lam} for lam in levels]


_PENALTIES = (0.005, 0.05, 0.5)
_VISUAL_PENALTIES = (1e-2, 1e-3, 1e-4, 1e-5, 0.0)

#: The default grids: the collaborative penalty (users, items and biases together) and the
#: factor size for every model; the visual penalty (and VBPR's visual size) for the visual ones.
#: The visual penalty's axis ends at 0 so that a selection at its low end is not an artefact of
#: where the grid stops.
DEFAULT_GRIDS: dict[str, list[Axis]] = {
    "bpr": [[{"dim": d} for d in (10, 20, 40)], _penalty(_PENALTIES)],
    "vbpr": [
        [{"dim": d} for d in (10, 20)],
        [{"visual_dim": k} for k in (10, 20)],
        [{"lambda_visual": lam} for lam in _VISUAL_PENALTIES],
        _penalty(_PENALTIES),
    ],
    "deepstyle": [
        [{"dim": d} for d in (10, 20)],
        [{"lambda_visual": lam} for lam in _VISUAL_PENALTIES],
        _penalty(_PENALTIES),
    ],
}


def grid_points(axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination of one entry per axis, merged, in row-major order.

    >>> grid_points([[{"dim": 10}, {"dim": 20}], [{"lambda_visual": 0.1}]])
    [{'dim': 10, 'lambda_visual': 0.1}, {'dim': 20, 'lambda_visual': 0.1}]
    """
    points = []
    for combo in itertools.product(*axes):
        merged: dict[str, Any] = {}
        for part in combo:
            clash = set(merged) & set(part)
            if clash:
                raise ConfigError(f"grid axes set the same fields twice: {sorted(clash)}")
            merged |= part
        points.append(merged)
    return points


def campaign_split(dataset: Dataset, seed: int) -> Split:
    """The leave-one-out split a campaign with `seed` trains on."""
    return leave_one_out(dataset.interactions, dataset.n_users, dataset.n_items, seed=derive_seed(seed, "split"))


def train_model(
    kind: str,
    options: dict[str, Any],
    dataset: Dataset,
    features: torch.Tensor,
    split: Split,
    *,
    seed: int,
    epochs: int | None = None,
) -> tuple[FactorModel, TrainResult]:
    """Train `kind` with config `options` as a campaign with `seed` would; returns model and result."""
    train_seed = derive_seed(seed, "train", kind)
    model = build_model(
        kind, dataset.n_users, dataset.n_items, features.shape[1], categories=dataset.categories,
        config=dict(options) or None, seed=train_seed,
    )
    extra = {} if epochs is None else {"epochs": epochs}
    return model, fit(model, features, split, TrainConfig(seed=train_seed, progress=False, **extra))


@dataclass(frozen=True)
class Trial:
    """One grid point's outcome."""

    kind: str
    options: dict[str, Any]
    val_auc: float
    best_epoch: int
    epochs: int
    seconds: float


@dataclass(frozen=True)
class SearchResult:
    """Every trial, the selected options per kind and the selected models' test figures."""

    dataset: str
    seed: int
    trials: dict[str, list[Trial]]
    selected: dict[str, dict[str, Any]]
    """Per kind: the options with the best validation AUC."""
    metrics: dict[str, dict[str, Any]]
    """Per kind: validation AUC, test AUC overall / cold / warm, and the visual gains over BPR."""
    grids: dict[str, list[Axis]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (trials as lists of dicts)."""
        out = asdict(self)
        out["trials"] = {k: [asdict(t) for t in v] for k, v in self.trials.items()}
        return out


def search(
    dataset: Dataset,
    features: np.ndarray | torch.Tensor,
    *,
    seed: int = 0,
    grids: dict[str, list[Axis]] | None = None,
    cold_below: int = 5,
    epochs: int | None = None,
    threads: int | None = 1,
) -> SearchResult:
    """Grid-search each kind in `grids` (default :data:`DEFAULT_GRIDS`) on `dataset`'s campaign split.

    BPR must be among the kinds: the visual gains are measured against the selected BPR.
    Training runs on `threads` torch threads (None: leave as is); one thread keeps the numbers
    independent of the machine and avoids oversubscribing a shared one.
    """
    with torch_threads(threads):
        return _search(dataset, features, seed=seed, grids=grids, cold_below=cold_below, epochs=epochs)


def _search(
    dataset: Dataset,
    features: np.ndarray | torch.Tensor,
    *,
    seed: int,
    grids: dict[str, list[Axis]] | None,
    cold_below: int,
    epochs: int | None,
) -> SearchResult:
    grids = DEFAULT_GRIDS if grids is None else grids
    unknown = sorted(set(grids) - set(RECOMMENDERS.ids()))
    if unknown:
        raise ConfigError(f"unknown model kinds in the grid: {unknown}; known: {', '.join(RECOMMENDERS.ids())}")
    if "bpr" not in grids:
        raise ConfigError("the grid must include bpr: visual gains are measured against it")
    feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
    split = campaign_split(dataset, seed)
    popularity = split.train_popularity()
    trials: dict[str, list[Trial]] = {}
    selected: dict[str, dict[str, Any]] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for kind, axes in grids.items():
        points = grid_points(axes)
        best: tuple[float, FactorModel | None, dict[str, Any]] = (-np.inf, None, {})
        trials[kind] = []
        for i, options in enumerate(points, 1):
            t0 = time.perf_counter()
            model, result = train_model(kind, options, dataset, feats, split, seed=seed, epochs=epochs)
            trial = Trial(kind, options, float(result.val_auc), result.best_epoch, result.epochs, round(time.perf_counter() - t0, 2))
            trials[kind].append(trial)
            log.info("%s %d/%d %s: val AUC %.4f (best epoch %d)", kind, i, len(points), options, trial.val_auc, trial.best_epoch)
            if trial.val_auc > best[0]:
                best = (trial.val_auc, model, options)
        val, model, options = best
        if model is None:
            raise ConfigError(f"no {kind} trial reached a finite validation AUC")
        selected[kind] = options
        test = auc_cold_warm(model, feats, split.test, split.all_positives, popularity, cold_below=cold_below)
        metrics[kind] = {"val_auc": val, **test, "cold_below": cold_below}
        log.info("%s selected %s: val AUC %.4f, test AUC %.4f", kind, options, val, test["auc"])
    ref = metrics["bpr"]
    for kind, m in metrics.items():
        if kind != "bpr":
            for key in ("auc", "auc_cold", "auc_warm"):
                m[f"visual_gain{key.removeprefix('auc')}"] = float(visual_gain(m[key], ref[key]))
    return SearchResult(dataset.name, int(seed), trials, selected, metrics, dict(grids))
