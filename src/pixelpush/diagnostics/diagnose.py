"""The diagnosis of a dataset: can images help a recommender here, and do they?

Four groups of figures, each answering one question:

* **regime**: how sparse the data is and how many test items are cold (per user, per item,
  items per user, the share of items bought once, the share of test items with fewer than
  ``cold_below`` training interactions) — next to Amazon Clothing's (the paper's Table 1);
* **probe**: how much of what the simulated shoppers chose by a linear map of the recommender's
  input features recovers (R² to the style vectors, accuracy on the category), on held-out items;
* **models**: test AUC of BPR, VBPR and DeepStyle overall, on cold and on warm test items, and
  the visual gains over BPR in each group;
* **lambda_visual**: VBPR's validation and test AUC as its visual penalty varies, the other
  options fixed.

Training uses the campaign's split and seeds (:mod:`pixelpush.recommenders.search`), so with the
options a search selected the models are the ones a campaign attacks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pixelpush.data.catalog import Dataset
from pixelpush.diagnostics.probes import ridge_probe, softmax_probe
from pixelpush.recommenders.evaluation import auc, auc_cold_warm, visual_gain
from pixelpush.recommenders.search import campaign_split, train_model
from pixelpush.recommenders.split import Split
from pixelpush.threads import torch_threads

log = logging.getLogger(__name__)

#: Amazon Clothing after the paper's preprocessing (Table 1): 127,055 users, 455,412 items,
#: 1,042,097 interactions, visual gain 23%.
CLOTHING = {"n_users": 127_055, "n_items": 455_412, "n_interactions": 1_042_097, "visual_gain": 0.23}
LAMBDA_VISUAL_CURVE: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 0.0)


def regime(dataset: Dataset, split: Split, *, cold_below: int = 5) -> dict[str, Any]:
    """Sparsity and coldness figures of `dataset` under the campaign `split`."""
    m, u, i = len(dataset.interactions), dataset.n_users, dataset.n_items
    bought = dataset.item_popularity
    train_pop = split.train_popularity()
    test_counts = train_pop[split.test[:, 1]] if len(split.test) else np.zeros(0, int)
    return {
        "n_users": int(u),
        "n_items": int(i),
        "n_interactions": int(m),
        "per_user": m / max(u, 1),
        "per_item": m / max(i, 1),
        "items_per_user": i / max(u, 1),
        "items_bought_once": float(np.mean(bought == 1)),
        "items_never_bought": float(np.mean(bought == 0)),
        "test_items_unseen_in_training": float(np.mean(test_counts == 0)) if len(test_counts) else float("nan"),
        "test_items_cold": float(np.mean(test_counts < cold_below)) if len(test_counts) else float("nan"),
        "cold_below": int(cold_below),
        "clothing": {
            "per_user": CLOTHING["n_interactions"] / CLOTHING["n_users"],
            "per_item": CLOTHING["n_interactions"] / CLOTHING["n_items"],
            "items_per_user": CLOTHING["n_items"] / CLOTHING["n_users"],
        },
    }


def probes(features: np.ndarray, categories: np.ndarray, style: np.ndarray | None, *, seed: int = 0) -> dict[str, Any]:
    """Linear probes from the recommender's input `features` to the simulated `style` and the category."""
    out: dict[str, Any] = {}
    if style is not None:
        r = ridge_probe(features, style, seed=seed)
        out["style_r2"] = r.score
        out["style_r2_per_dim"] = list(r.per_dim)
        out["style_penalty"] = r.penalty
    c = softmax_probe(features, categories, seed=seed)
    out["category_accuracy"] = c.score
    out["category_chance"] = float(np.bincount(categories).max() / len(categories))
    out["category_penalty"] = c.penalty
    out["n_test_items"] = c.n_test
    return out


def model_gains(
    dataset: Dataset,
    features: torch.Tensor,
    split: Split,
    options: dict[str, dict[str, Any]],
    *,
    seed: int = 0,
    cold_below: int = 5,
    epochs: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Test AUC overall / cold / warm of each kind in `options` (BPR required), with visual gains."""
    popularity = split.train_popularity()
    out: dict[str, dict[str, Any]] = {}
    for kind in dict.fromkeys(["bpr", *options]):
        model, result = train_model(kind, options.get(kind, {}), dataset, features, split, seed=seed, epochs=epochs)
        out[kind] = {
            "options": options.get(kind, {}),
            "val_auc": float(result.val_auc),
            "best_epoch": int(result.best_epoch),
            **auc_cold_warm(model, features, split.test, split.all_positives, popularity, cold_below=cold_below),
        }
        log.info("diagnose %s: test AUC %.4f (cold %.4f, warm %.4f)", kind, out[kind]["auc"], out[kind]["auc_cold"], out[kind]["auc_warm"])
    ref = out["bpr"]
    for kind, m in out.items():
        if kind != "bpr":
            for key in ("auc", "auc_cold", "auc_warm"):
                m[f"visual_gain{key.removeprefix('auc')}"] = float(visual_gain(m[key], ref[key]))
    return out


def lambda_visual_curve(
    dataset: Dataset,
    features: torch.Tensor,
    split: Split,
    vbpr_options: dict[str, Any],
    bpr_test_auc: float,
    *,
    lambdas: Sequence[float] = LAMBDA_VISUAL_CURVE,
    seed: int = 0,
    epochs: int | None = None,
) -> list[dict[str, float]]:
    """VBPR's validation and test AUC (and gain over `bpr_test_auc`) per visual penalty."""
    curve = []
    for lam in lambdas:
        model, result = train_model("vbpr", {**vbpr_options, "lambda_visual": float(lam)}, dataset, features, split, seed=seed, epochs=epochs)
        test = auc(model, features, split.test, split.all_positives)
        curve.append({"lambda_visual": float(lam), "val_auc": float(result.val_auc), "auc": float(test),
                      "visual_gain": float(visual_gain(test, bpr_test_auc))})
        log.info("diagnose vbpr lambda_visual %g: val AUC %.4f, test AUC %.4f", lam, result.val_auc, test)
    return curve


def diagnose(
    dataset: Dataset,
    features: np.ndarray,
    *,
    style: np.ndarray | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    cold_below: int = 5,
    lambdas: Sequence[float] | None = LAMBDA_VISUAL_CURVE,
    train: bool = True,
    epochs: int | None = None,
    threads: int | None = 1,
) -> dict[str, Any]:
    """All four groups of figures (``models`` and ``lambda_visual`` only when `train`).

    `options` per kind default to each model's defaults; `style` is the simulated shoppers'
    style per item (None for real data: the style probe is skipped). Training runs on `threads`
    torch threads, as :func:`pixelpush.recommenders.search.search` does.
    """
    with torch_threads(threads):
        return _diagnose(dataset, features, style=style, options=options, seed=seed, cold_below=cold_below,
                         lambdas=lambdas, train=train, epochs=epochs)


def _diagnose(
    dataset: Dataset,
    features: np.ndarray,
    *,
    style: np.ndarray | None,
    options: dict[str, dict[str, Any]] | None,
    seed: int,
    cold_below: int,
    lambdas: Sequence[float] | None,
    train: bool,
    epochs: int | None,
) -> dict[str, Any]:
    split = campaign_split(dataset, seed)
    out: dict[str, Any] = {
        "dataset": dataset.name,
        "seed": int(seed),
        "regime": regime(dataset, split, cold_below=cold_below),
        "probe": probes(features, dataset.categories, style, seed=seed),
    }
    if train:
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
        opts = options if options is not None else {"bpr": {}, "vbpr": {}, "deepstyle": {}}
        out["models"] = model_gains(dataset, feats, split, opts, seed=seed, cold_below=cold_below, epochs=epochs)
        if lambdas:
            out["lambda_visual"] = lambda_visual_curve(
                dataset, feats, split, opts.get("vbpr", {}), out["models"]["bpr"]["auc"], lambdas=lambdas, seed=seed, epochs=epochs
            )
    return out
