"""A campaign's fixed part: dataset, public image model, catalog features, trained recommenders.

Trained models and their metrics are kept in ``RUN_DIR/models/`` so that a resumed campaign,
and every worker process, reuses them instead of training again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelpush.data.catalog import Dataset
from pixelpush.data.registry import load_dataset
from pixelpush.evaluation.config import CampaignConfig, recommender_kind
from pixelpush.files import write_json_atomic
from pixelpush.recommenders import io as model_io
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.evaluation import auc, visual_gain
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import leave_one_out
from pixelpush.recommenders.training import TrainConfig, fit
from pixelpush.random import derive_seed
from pixelpush.vision.features import extract_features
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.models import load_image_model

_log = logging.getLogger(__name__)


@dataclass
class CampaignContext:
    """Everything the units of a campaign share (read-only during the attacks)."""

    config: CampaignConfig
    dataset: Dataset
    image_model: ImageModel
    features: np.ndarray
    recommenders: dict[str, Recommender]
    model_metrics: dict[str, dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    def model_metrics_public(self) -> dict[str, dict[str, Any]]:
        """Per recommender: AUC, visual gain and training figures (no timings)."""
        return {k: {m: v for m, v in d.items() if m != "train_seconds"} for k, d in self.model_metrics.items()}


def recommenders_needed(config: CampaignConfig) -> list[str]:
    """BPR (the visual gain's reference), the configured models, and every attacked one."""
    names = ["bpr", *config.training.models, *(r for e in config.experiments for r in e.recommenders)]
    return list(dict.fromkeys(names))


def _train_one(
    name: str, ctx_data: Dataset, feats: torch.Tensor, config: CampaignConfig, split: Any
) -> tuple[Recommender, dict[str, Any]]:
    kind = recommender_kind(name)
    seed = derive_seed(config.seed, "train", kind)  # variants of a kind differ by their options only
    options = dict(config.training.options.get(name, {}))
    train_options = {k: options.pop(k) for k in list(options) if k in TrainConfig.__dataclass_fields__}
    if config.training.epochs is not None:
        train_options.setdefault("epochs", config.training.epochs)
    model = build_model(
        kind, ctx_data.n_users, ctx_data.n_items, feats.shape[1], categories=ctx_data.categories, config=options or None, seed=seed
    )
    t0 = time.perf_counter()
    result = fit(model, feats, split, TrainConfig(seed=seed, **train_options))
    seconds = time.perf_counter() - t0
    test_auc = auc(model, feats, split.test, split.all_positives)
    model.eval()
    return model, {
        "auc": float(test_auc),
        "val_auc": float(result.val_auc),
        "epochs": int(result.epochs),
        "best_epoch": int(result.best_epoch),
        "train_seconds": round(seconds, 3),
    }


def prepare(config: CampaignConfig, run_dir: Path, *, train: bool = True) -> CampaignContext:
    """Load the dataset and image model, extract features, and train or reload the recommenders.

    With ``train=False`` (worker processes) models must already be in ``run_dir/models``.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    dataset = load_dataset(config.dataset.name, root=config.dataset.root, **config.dataset.options)
    timings["data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ic_cfg = config.image_model
    input_size = ic_cfg.input_size
    weights = "default" if ic_cfg.weights is None or ic_cfg.weights == "default" else ic_cfg.weights
    if ic_cfg.weights is None or ic_cfg.weights == "none":
        weights = None
    image_model = load_image_model(ic_cfg.name, weights=weights, input_size=input_size, seed=config.seed)
    features = extract_features(
        image_model,
        dataset.images,
        cache_dir=Path(config.cache_dir) / "features",
        batch_size=ic_cfg.batch_size,
        dtype=ic_cfg.dtype,
        progress=train,
    )
    features = np.array(features, dtype=np.float32)  # a private, writable copy of the cache
    timings["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    models_dir = run_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    feats = torch.from_numpy(features)
    split = None
    recommenders: dict[str, Recommender] = {}
    metrics: dict[str, dict[str, Any]] = {}
    recipe = {
        "dataset": config.dataset.model_dump(mode="json"),
        "image_model": image_model.identity,
        "training": config.training.model_dump(mode="json"),
        "seed": config.seed,
    }
    for kind in recommenders_needed(config):
        stem = kind.replace(":", "_")
        path, meta = models_dir / f"{stem}.pt", models_dir / f"{stem}.json"
        saved = json.loads(meta.read_text()) if path.is_file() and meta.is_file() else None
        if saved is not None and saved.get("recipe") == recipe:
            try:
                recommenders[kind] = model_io.load(path)
            except (RuntimeError, ValueError, KeyError, OSError) as err:  # e.g. saved by an older version
                _log.warning("%s cannot be loaded (%s): retraining", path, err)
            else:
                metrics[kind] = {k: v for k, v in saved.items() if k != "recipe"}
                continue
        elif saved is not None:
            _log.warning("%s was trained with another recipe (dataset, image model, training or seed): retraining", path)
        if not train:
            raise FileNotFoundError(f"{path} is missing: prepare the campaign in the parent process first")
        if split is None:
            split = leave_one_out(dataset.interactions, dataset.n_users, dataset.n_items, seed=derive_seed(config.seed, "split"))
        _log.info("training %s on %s", kind, dataset.name)
        recommenders[kind], metrics[kind] = _train_one(kind, dataset, feats, config, split)
        model_io.save(recommenders[kind], path)
        write_json_atomic(meta, {**metrics[kind], "recipe": recipe})
    bpr_auc = metrics["bpr"]["auc"]
    for kind, m in metrics.items():
        m["visual_gain"] = None if kind == "bpr" else float(visual_gain(m["auc"], bpr_auc))
    timings["train"] = time.perf_counter() - t0
    for model in recommenders.values():
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return CampaignContext(config, dataset, image_model, features, recommenders, metrics, timings)
