"""A campaign's fixed part: dataset, public image model, catalog features, trained recommenders.

Trained models and their metrics are kept in ``RUN_DIR/models/`` so that a resumed campaign,
and every worker process, reuses them instead of training again.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelpush.data.catalog import Dataset
from pixelpush.data.registry import load_dataset
from pixelpush.devices import resolve_device
from pixelpush.errors import ConfigError, PixelpushError
from pixelpush.evaluation.config import CampaignConfig, ModelConfig, recommender_kind
from pixelpush.evaluation.keys import array_digest, model_recipe
from pixelpush.files import write_atomic, write_json_atomic
from pixelpush.integrations.factory import ModelContext, build_from_factory, resolve
from pixelpush.recommenders import io as model_io
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.evaluation import auc, sample_heldout, visual_gain
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import campaign_split
from pixelpush.recommenders.training import TrainConfig, fit
from pixelpush.outputs import check_output_dir
from pixelpush.random import derive_seed
from pixelpush.settings import build_settings
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
    features_digest: str = ""
    processed_features: dict[str, np.ndarray] = field(default_factory=dict)
    """Catalog features under each ingest pipeline of the campaign's defenses, by pipeline identity."""
    services: dict[str, ModelConfig] = field(default_factory=dict)
    """Attacked models that are remote services (reached through their client, never loaded)."""
    live: dict[str, Any] = field(default_factory=dict)
    """Service objects made by a ``module:function`` service, one per model (built on first use)."""

    def features_for(self, pipeline: Any) -> np.ndarray:
        """The catalog's features as a platform with `pipeline` computes them (raw when empty)."""
        return self.features if not pipeline else self.processed_features[pipeline.identity]

    def model_metrics_public(self) -> dict[str, dict[str, Any]]:
        """Per recommender: AUC, visual gain and training figures (no timings)."""
        return {k: {m: v for m, v in d.items() if m != "train_seconds"} for k, d in self.model_metrics.items()}


@dataclass
class CampaignInputs:
    """The data half of a campaign's context: dataset, public image model, catalog features."""

    dataset: Dataset
    image_model: ImageModel
    features: np.ndarray
    features_digest: str
    timings: dict[str, float]
    processed_features: dict[str, np.ndarray] = field(default_factory=dict)

    def features_for(self, pipeline: Any) -> np.ndarray:
        """The catalog's features as a platform with `pipeline` computes them (raw when empty)."""
        return self.features if not pipeline else self.processed_features[pipeline.identity]


def recommenders_needed(config: CampaignConfig) -> list[str]:
    """BPR (the visual gain's reference), the configured models, and every attacked one."""
    names = ["bpr", *config.training.models, *(r for e in config.experiments for r in e.recommenders)]
    return list(dict.fromkeys(names))


def model_name(recommender: str, defense: Any) -> str:
    """The trained model a unit attacks: the recommender, or ``REC@DEFENSE`` when the defense
    changes training (its ingest pipeline, adversarial training, visual regularisation)."""
    return recommender if not defense.affects_model else f"{recommender}@{defense.name}"


def models_needed(config: CampaignConfig) -> list[tuple[str, str, Any]]:
    """``(model name, recommender, defense)`` of every model to train: the undefended ones first."""
    from pixelpush.defenses import NO_DEFENSE

    out = {name: (name, name, NO_DEFENSE) for name in recommenders_needed(config)}
    for e in config.experiments:
        for rec in e.recommenders:
            for d in e.defenses:
                defense = config.defense(d)
                out.setdefault(model_name(rec, defense), (model_name(rec, defense), rec, defense))
    return list(out.values())


def pipelines_needed(config: CampaignConfig) -> list[Any]:
    """The distinct non-empty ingest pipelines of the defenses the experiments run."""
    out: dict[str, Any] = {}
    for e in config.experiments:
        for d in e.defenses:
            p = config.defense(d).pipeline
            if p:
                out.setdefault(p.identity, p)
    return list(out.values())


def _train_one(
    name: str, ctx_data: Dataset, feats: torch.Tensor, config: CampaignConfig, split: Any, *, progress: bool = True,
    defense: Any = None,
) -> tuple[Recommender, dict[str, Any]]:
    from pixelpush.recommenders.registry import RECOMMENDERS

    kind = recommender_kind(name)
    seed = derive_seed(config.seed, "train", kind)  # variants of a kind differ by their options only
    options = dict(config.training.options.get(name, {}))
    train_fields = set(TrainConfig.__dataclass_fields__)
    train_options = {k: options.pop(k) for k in list(options) if k in train_fields}
    if defense is not None:  # the same seed: a defended model differs from its undefended one by the defense only
        visual = RECOMMENDERS.get(kind).visual
        options |= defense.model_options(visual)
        train_options |= defense.train_options(visual)
    if config.training.epochs is not None:
        train_options.setdefault("epochs", config.training.epochs)
    model = build_model(
        kind, ctx_data.n_users, ctx_data.n_items, feats.shape[1], categories=ctx_data.categories, config=options or None, seed=seed
    )
    t0 = time.perf_counter()
    settings = {"seed": seed, "progress": progress, **train_options}
    device = resolve_device(config.device)
    train_config = build_settings(TrainConfig, settings, where=f"training.options.{name}")
    result = fit(model, feats, split, train_config, device=device)
    seconds = time.perf_counter() - t0
    test = sample_heldout(split.test, train_config.eval_pairs, seed=seed, what="test")
    test_auc = auc(model.to(device), feats.to(device), test, split.all_positives)
    model.to("cpu").eval()  # attacked on the CPU: only the image model's work is worth a GPU there
    sampled = {} if train_config.eval_pairs is None else {"auc_pairs": len(test)}
    return model, {
        "auc": float(test_auc),
        "val_auc": float(result.val_auc),
        "epochs": int(result.epochs),
        "best_epoch": int(result.best_epoch),
        "train_seconds": round(seconds, 3),
        **sampled,
    }


def build_loaded(name: str, spec: ModelConfig, inputs: CampaignInputs, config: CampaignConfig, split: Any) -> Recommender:
    """Call a loaded model's factory with the campaign's :class:`ModelContext` (nothing is kept)."""
    factory = spec.factory
    if factory is None:
        raise ConfigError(f"model {name!r} is a service: it has no factory to build it with")
    context = ModelContext(
        name=name,
        dataset=inputs.dataset,
        features=inputs.features.copy(),  # the factory's own: writing into it changes nothing here
        split=split,
        seed=derive_seed(config.seed, "model", name),
        image_model=inputs.image_model.identity,
    )
    return build_from_factory(factory, context, dict(spec.options), path=spec.path)


def _load_one(
    name: str, spec: ModelConfig, inputs: CampaignInputs, feats: torch.Tensor, config: CampaignConfig, split: Any
) -> tuple[Recommender, dict[str, Any]]:
    """Build a loaded model with its factory and measure it on the campaign's held-out items."""
    t0 = time.perf_counter()
    model = build_loaded(name, spec, inputs, config, split)
    seconds = time.perf_counter() - t0
    with torch.inference_mode():
        test_auc = auc(model, feats, split.test, split.all_positives)
        val_auc = auc(model, feats, split.val, split.all_positives)
    return model, {
        "auc": float(test_auc),
        "val_auc": float(val_auc),
        "epochs": None,
        "best_epoch": None,
        "train_seconds": round(seconds, 3),
        "source": "factory",
    }


def _write_pickle(model: Recommender, path: Path) -> bool:
    """Keep a loaded model for resumed runs and worker processes (False if it cannot be pickled)."""
    try:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        _log.warning("%s cannot be pickled (%s): it is rebuilt by every run and cannot run in worker processes", path.stem, err)
        return False
    write_atomic(path, payload)
    return True


def _read_pickle(path: Path, spec: ModelConfig | None) -> Recommender:
    """A loaded model kept by :func:`_write_pickle` (its factory's module importable first)."""
    if spec is not None and spec.factory is not None:
        resolve(spec.factory, path=spec.path)  # the module of the model's class, for unpickling
    return pickle.loads(path.read_bytes())  # noqa: S301 - a file this run folder's own runs wrote


def prepare_inputs(config: CampaignConfig, *, progress: bool = True) -> CampaignInputs:
    """Load the dataset and the public image model, and extract (or read cached) catalog features."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    dataset = load_dataset(config.dataset.name, root=config.dataset.root, **config.dataset.options)
    timings["data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ic_cfg = config.image_model
    weights = "default" if ic_cfg.weights is None or ic_cfg.weights == "default" else ic_cfg.weights
    if ic_cfg.weights is None or ic_cfg.weights == "none":
        weights = None
    image_model = load_image_model(ic_cfg.name, weights=weights, input_size=ic_cfg.input_size, seed=config.seed)
    image_model.to(resolve_device(config.device))
    cache = check_output_dir(Path(config.cache_dir) / "features", "cache_dir")
    features = extract_features(
        image_model, dataset.images, cache_dir=cache, batch_size=ic_cfg.batch_size, dtype=ic_cfg.dtype, progress=progress
    )
    features = np.array(features, dtype=np.float32)  # a private, writable copy of the cache
    processed = {}
    for pipeline in pipelines_needed(config):
        from pixelpush.data.processed import ProcessedImages

        _log.info("features of the catalog through the ingest pipeline %s", pipeline.identity)
        processed[pipeline.identity] = np.array(
            extract_features(image_model, ProcessedImages(dataset.images, pipeline), cache_dir=cache,
                             batch_size=ic_cfg.batch_size, dtype=ic_cfg.dtype, progress=progress),
            dtype=np.float32,
        )
    timings["features"] = time.perf_counter() - t0
    return CampaignInputs(dataset, image_model, features, array_digest(features), timings, processed)


def prepare_models(
    config: CampaignConfig, inputs: CampaignInputs, run_dir: Path, *, train: bool = True, progress: bool = True
) -> tuple[dict[str, Recommender], dict[str, dict[str, Any]]]:
    """Train or reload every recommender the campaign needs (kept in ``run_dir/models``).

    A saved model is reused only when its recipe (dataset, image model, its own options, epochs,
    seed) equals the config's. With ``train=False`` (worker processes) models must be there.
    """
    t0 = time.perf_counter()
    dataset, features = inputs.dataset, inputs.features
    models_dir = run_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    feats = torch.from_numpy(features)
    split = None
    recommenders: dict[str, Recommender] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for name, rec, defense in models_needed(config):
        spec = config.model_spec(rec)
        if spec is not None and defense.affects_model:
            raise ConfigError(
                f"defense {defense.name!r} changes training or the features it trains on, but {rec!r} is a loaded model "
                "or a service: pixelpush cannot retrain it (use reveal-limit or upload-monitor defenses against it, or "
                "train it with the defense yourself)"
            )
        if spec is not None and spec.service is not None:  # a live system: nothing to train or load
            metrics[name] = {"auc": None, "val_auc": None, "epochs": None, "best_epoch": None, "source": "service"}
            continue
        recipe = model_recipe(config, rec, inputs.image_model.identity, defense)
        stem = name.replace(":", "_")
        loaded = spec is not None
        path, meta = models_dir / (f"{stem}.pickle" if loaded else f"{stem}.pt"), models_dir / f"{stem}.json"
        saved = None
        if path.is_file() and meta.is_file():
            try:
                saved = json.loads(meta.read_text())
            except (OSError, ValueError) as err:
                _log.warning("%s is unreadable (%s): retraining", meta, err)
        if isinstance(saved, dict) and saved.get("recipe") == recipe:
            try:
                recommenders[name] = _read_pickle(path, spec) if loaded else model_io.load(path)
            except (PixelpushError, RuntimeError, ValueError, KeyError, OSError, pickle.UnpicklingError, AttributeError) as err:
                _log.warning("%s cannot be loaded (%s): retraining", path, err)
            else:
                metrics[name] = {k: v for k, v in saved.items() if k != "recipe"}
                continue
        elif saved is not None:
            _log.warning("%s was made with another recipe (data, image model, options, epochs or seed): rebuilding", path)
        if not train:
            raise FileNotFoundError(f"{path} is missing: prepare the campaign in the parent process first")
        if split is None:
            split = campaign_split(dataset.interactions, dataset.n_users, dataset.n_items, seed=config.seed)
        if loaded:
            assert spec is not None
            recommenders[name], metrics[name] = _load_one(name, spec, inputs, feats, config, split)
            if _write_pickle(recommenders[name], path):
                write_json_atomic(meta, {**metrics[name], "recipe": recipe})
            continue
        _log.info("training %s on %s", name, dataset.name)
        model_feats = torch.from_numpy(inputs.features_for(defense.pipeline))
        recommenders[name], metrics[name] = _train_one(rec, dataset, model_feats, config, split, progress=progress, defense=defense)
        if defense.name != "none":
            metrics[name] |= {"recommender": rec, "defense": defense.name}
        model_io.save(recommenders[name], path)
        write_json_atomic(meta, {**metrics[name], "recipe": recipe})
    bpr_auc = metrics["bpr"]["auc"]
    for name, m in metrics.items():
        m["visual_gain"] = None if name == "bpr" or m.get("auc") is None else float(visual_gain(m["auc"], bpr_auc))
        if "defense" in m:
            m["auc_change"] = float(m["auc"] - metrics[m["recommender"]]["auc"])
    for model in recommenders.values():
        if isinstance(model, torch.nn.Module):
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
    inputs.timings["train"] = time.perf_counter() - t0
    return recommenders, metrics


def prepare(
    config: CampaignConfig, run_dir: Path, *, train: bool = True, inputs: CampaignInputs | None = None, progress: bool = True
) -> CampaignContext:
    """Load the dataset and image model, extract features, and train or reload the recommenders.

    With ``train=False`` (worker processes) models must already be in ``run_dir/models``.
    """
    progress = progress and train
    inputs = inputs if inputs is not None else prepare_inputs(config, progress=progress)
    recommenders, metrics = prepare_models(config, inputs, run_dir, train=train, progress=progress)
    services = {}
    for name in recommenders_needed(config):
        spec = config.model_spec(name)
        if spec is not None and spec.service is not None:
            services[name] = spec
    return CampaignContext(
        config, inputs.dataset, inputs.image_model, inputs.features, recommenders, metrics, inputs.timings,
        inputs.features_digest, inputs.processed_features, services,
    )
