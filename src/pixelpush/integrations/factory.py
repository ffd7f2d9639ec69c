"""Loading a model pixelpush did not train: ``"module:function"`` factories and what they receive.

A config names a user's model as ``[models.NAME] factory = "my_models:build"``. pixelpush imports
``my_models`` (from the config's folder first, see :func:`resolve`), and calls
``build(context, **options)`` with a :class:`ModelContext`: the campaign's dataset, the public
image model's raw catalog features, the campaign's training split and a seed. The function
returns an object that keeps the ``Recommender`` contract (``docs/model-interface.md``); it
may train there (on ``context.split.train``) or load trained weights from disk.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.errors import ConfigError, PixelpushError
from pixelpush.recommenders.split import Split

__all__ = ["ModelContext", "build_from_factory", "load_pixelpush_model", "resolve"]

_log = logging.getLogger(__name__)

REQUIRED = ("n_users", "n_items", "score", "fold_in")
"""What a factory's result must have (the contract checks the rest: ``pixelpush check-model``)."""


@dataclass(frozen=True)
class ModelContext:
    """What a model factory receives.

    Attributes:
        name: the model's name in the config.
        dataset: the campaign's dataset (dense 0-based user and item ids, histories, categories).
        features: the public image model's raw features of every catalog image ``(n_items, d)``
            float32 (a copy; ``score`` and ``fold_in`` are given features of the same kind, uploads'
            included).
        split: the campaign's training split (:func:`pixelpush.recommenders.split.campaign_split`):
            train on ``split.train`` so that pixelpush's AUC on ``split.test`` is honest.
        seed: a seed for the factory's own randomness (derived from the campaign's).
        image_model: the identity of the public image model that made `features`.
    """

    name: str
    dataset: Dataset
    features: np.ndarray
    split: Split
    seed: int
    image_model: str


def resolve(target: str, *, path: str | Path | None = None, what: str = "factory") -> Callable[..., Any]:
    """The callable named ``"module:attribute"`` (dots in the attribute walk into it).

    `path`, when given, is put at the front of ``sys.path`` first (and left there, so that worker
    processes and unpickling find the module's classes too).
    """
    module_name, sep, attribute = str(target).partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{what} must be 'module:function', got {target!r}")
    if path is not None:
        folder = str(Path(path).resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        where = f" (looked in {path} and on sys.path)" if path is not None else ""
        raise ConfigError(f"{what} {target!r}: cannot import {module_name!r}{where}: {err}") from None
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{what} {target!r}: module {module_name!r} has no {attribute!r}") from None
    if not callable(obj):
        raise ConfigError(f"{what} {target!r} is a {type(obj).__name__}, not a function or class")
    return obj


def build_from_factory(
    target: str, context: ModelContext, options: dict[str, Any], *, path: str | Path | None = None
) -> Any:
    """Call the factory `target` with `context` and `options`; check the result has the contract's members."""
    factory = resolve(target, path=path)
    _log.info("building %s with %s", context.name, target)
    try:
        model = factory(context, **options)
    except PixelpushError:
        raise
    except TypeError as err:
        raise ConfigError(f"model {context.name}: factory {target} refused its options {sorted(options)}: {err}") from err
    missing = [m for m in REQUIRED if not hasattr(model, m)]
    if missing:
        raise ConfigError(
            f"model {context.name}: factory {target} returned a {type(model).__name__} without {', '.join(missing)} "
            "(see docs/model-interface.md)"
        )
    return model


def load_pixelpush_model(context: ModelContext, *, path: str) -> Any:
    """Factory: a model saved by pixelpush (``pixelpush train --out DIR``: ``DIR/model.pt``, or a run
    folder's ``models/NAME.pt``), checked against the campaign's catalog and users."""
    from pixelpush.errors import DataError
    from pixelpush.recommenders import io as model_io

    model = model_io.load(Path(path))
    if model.n_items != context.dataset.n_items or model.n_users != context.dataset.n_users:
        raise DataError(
            f"{path}: the model knows {model.n_users} users and {model.n_items} items; the campaign's "
            f"dataset has {context.dataset.n_users} and {context.dataset.n_items}"
        )
    return model
