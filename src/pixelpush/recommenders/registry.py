"""Model classes by name and a constructor that takes a dataset's shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pixelpush.errors import ConfigError
from pixelpush.recommenders.bpr import BPR
from pixelpush.recommenders.deepstyle import DeepStyle
from pixelpush.recommenders.factor import FactorConfig, FactorModel
from pixelpush.recommenders.vbpr import VBPR

MODELS: dict[str, type[FactorModel]] = {"bpr": BPR, "vbpr": VBPR, "deepstyle": DeepStyle}


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
    if kind not in MODELS:
        raise ConfigError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")
    cls = MODELS[kind]
    if isinstance(config, dict):
        try:
            config = cls.config_class(**config)
        except TypeError as err:
            raise ConfigError(f"bad {kind} config: {err}") from None
    elif config is not None and not isinstance(config, cls.config_class):
        raise ConfigError(f"{kind} needs a {cls.config_class.__name__}, got {type(config).__name__}")
    if cls is DeepStyle:
        if categories is None:
            raise ConfigError("deepstyle needs item categories")
        return DeepStyle(n_users, n_items, n_features, config, categories=categories, seed=seed)  # type: ignore[arg-type]
    return cls(n_users, n_items, n_features, config, seed=seed)  # type: ignore[call-arg]
