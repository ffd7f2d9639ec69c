"""The recommender registry: model ids -> classes, labels and configs, and one constructor.

Adding a model is its module, its tests (a contract subclass, see ``tests/contracts``) and one
``RECOMMENDERS.add(...)`` line.

Two kinds of entries: models pixelpush *trains* (``cls``, a :class:`FactorModel` class: BPR,
VBPR, DeepStyle) and models it *loads* from a factory (``factory``, ``"module:function"``, see
:mod:`pixelpush.integrations.factory`), such as the Cornac adapters. A config may define more
loaded models by name in its ``[models.NAME]`` tables (a user's ``module:factory`` or a remote
service); those live in the config, not in this registry.
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
    """What pixelpush knows about one model (``visual``: it reads item features).

    Attributes:
        id: the model's name in configs and results.
        cls: the class pixelpush trains (None for a loaded model).
        label: its name in tables and figures.
        visual: its scores read the items' image features.
        needs_categories: its constructor takes the item categories (DeepStyle).
        factory: ``"module:function"`` that builds a loaded model (None for a trained one).
        gradients: its scores are differentiable in the features (the white-box attack runs).
    """

    id: str
    cls: type[FactorModel] | None
    label: str
    visual: bool = True
    needs_categories: bool = False
    factory: str | None = None
    gradients: bool = True

    @property
    def trained(self) -> bool:
        """Whether pixelpush trains this model (else it is loaded from its factory)."""
        return self.cls is not None

    def trained_class(self) -> type[FactorModel]:
        """The class pixelpush trains; ConfigError for a loaded model."""
        if self.cls is None:
            raise ConfigError(f"recommender {self.id!r} is loaded from {self.factory}, not trained by pixelpush")
        return self.cls


RECOMMENDERS: Registry[RecommenderEntry] = Registry("recommender")
RECOMMENDERS.add(RecommenderEntry("bpr", BPR, "BPR", visual=False))
RECOMMENDERS.add(RecommenderEntry("vbpr", VBPR, "VBPR"))
RECOMMENDERS.add(RecommenderEntry("deepstyle", DeepStyle, "DeepStyle", needs_categories=True))
RECOMMENDERS.add(RecommenderEntry("cornac-vbpr", None, "Cornac VBPR", factory="pixelpush.integrations.cornac:train_vbpr"))
RECOMMENDERS.add(RecommenderEntry("cornac-amr", None, "Cornac AMR", factory="pixelpush.integrations.cornac:train_amr"))


def model_config(kind: str, config: FactorConfig | dict[str, Any] | None, *, where: str | None = None) -> FactorConfig:
    """The config object of model `kind` from a dict of its fields (checked), an object, or None."""
    cls = RECOMMENDERS.get(kind).trained_class()
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
    """A freshly initialised model of a trained `kind` (``bpr``, ``vbpr`` or ``deepstyle``).

    `config` may be the model's config object or a dict of its fields.
    """
    entry = RECOMMENDERS.get(kind)
    cls = entry.trained_class()
    cfg = model_config(kind, config)
    if entry.needs_categories:
        if categories is None:
            raise ConfigError(f"{kind} needs item categories")
        return cls(n_users, n_items, n_features, cfg, categories=categories, seed=seed)  # type: ignore[call-arg]
    return cls(n_users, n_items, n_features, cfg, seed=seed)  # type: ignore[call-arg]
