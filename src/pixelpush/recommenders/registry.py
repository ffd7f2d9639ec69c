"""The recommender registry: model ids -> classes, labels and configs, and one constructor.

Adding a model is its module, its tests (a contract subclass, see ``tests/contracts``) and one
``RECOMMENDERS.add(...)`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pixelpush.errors import ConfigError
from pixelpush.recommenders.bpr import BPR
from pixelpush.recommenders.deepstyle import DeepStyle
from pixelpush.recommenders.factor import FactorConfig, FactorModel
from pixelpush.recommenders.vbpr import VBPR
from pixelpush.registry import Registry
from pixelpush.settings import build_settings

__all__ = ["RECOMMENDERS", "RecommenderEntry", "build_model", "model_config"]


@dataclass(frozen=True)
class RecommenderEntry:
    """What pixelpush knows about one trainable model (``visual``: it reads item features)."""

    id: str
    cls: type[FactorModel]
    label: str
    visual: bool = True
    needs_categories: bool = False


RECOMMENDERS: Registry[RecommenderEntry] = Registry("recommender")
RECOMMENDERS.add(RecommenderEntry("bpr", BPR, "BPR", visual=False))
RECOMMENDERS.add(RecommenderEntry("vbpr", VBPR, "VBPR"))
RECOMMENDERS.add(RecommenderEntry("deepstyle", DeepStyle, "DeepStyle", needs_categories=True))


def model_config(kind: str, config: FactorConfig | dict[str, Any] | None, *, where: str | None = None) -> FactorConfig:
    """The config object of model `kind` from a dict of its fields (checked), an object, or None."""
    cls = RECOMMENDERS.get(kind).cls
    if config is None:
        return cls.config_class()
    if isinstance(config, dict):
        return build_settings(cls.config_class, config, where=where or f"{kind} config")
    if not isinstance(config, cls.config_class):
        raise ConfigError(f"{kind} needs a {cls.config_class.__name__}, got {type(config).__name__}")
    return config


def build_model(
    kind: str,
    n_users: int,
    n_items: int,
    n_features: int,
    *,
    categories: np.ndarray | torch.Tensor | None = None,
    config: FactorConfig | dict[str, Any] | None = None,
    seed: int = 0,
) -> FactorModel:
    """A freshly initialised model of `kind` (``bpr``, ``vbpr`` or ``deepstyle``).

    `config` may be the model's config object or a dict of its fields.
    """
    entry = RECOMMENDERS.get(kind)
    cfg = model_config(kind, config)
    if entry.needs_categories:
        if categories is None:
            raise ConfigError(f"{kind} needs item categories")
        return entry.cls(n_users, n_items, n_features, cfg, categories=categories, seed=seed)  # type: ignore[call-arg]
    return entry.cls(n_users, n_items, n_features, cfg, seed=seed)  # type: ignore[call-arg]
