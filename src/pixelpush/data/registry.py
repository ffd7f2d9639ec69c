"""Datasets by name: ``fashion`` (embedded), ``movielens-posters`` and ``amazon-*`` (need a root)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixelpush.data.catalog import Dataset
from pixelpush.errors import ConfigError
from pixelpush.settings import accepts

DATASETS = ("fashion", "movielens-posters", "amazon-clothing", "amazon-electronics")


def _check_options(
    name: str, loader: Callable[..., Dataset], options: dict[str, Any], *, skip: int = 0, reserved: tuple[str, ...] = ()
) -> None:
    """Refuse options `loader` does not take, or of the wrong type (a loader's TypeError would be a traceback)."""
    params = list(inspect.signature(loader).parameters.values())[skip:]
    known = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in reserved]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"dataset {name!r} has no option {', '.join(unknown)}; its options: {', '.join(known) or 'none'}")
    hints = typing.get_type_hints(loader)
    for key, value in options.items():
        if key in hints and value is not None and not accepts(hints[key], value):
            raise ConfigError(f"dataset {name!r}: option {key} = {value!r} has the wrong type (expected {hints[key]})")


def load_dataset(name: str, *, root: str | Path | None = None, **options: Any) -> Dataset:
    """Load a dataset by name; `root` is the folder of datasets that are not embedded."""
    if name == "fashion":
        from pixelpush.data.fashion import load_fashion

        _check_options(name, load_fashion, options)
        return load_fashion(**options)
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if root is None:
        raise ConfigError(f"dataset {name!r} is not embedded: give its folder with --root PATH")
    if name == "movielens-posters":
        from pixelpush.data.movielens import load_movielens_posters

        _check_options(name, load_movielens_posters, options, skip=1)
        return load_movielens_posters(Path(root), **options)
    from pixelpush.data.amazon import load_amazon

    _check_options(name, load_amazon, options, skip=1, reserved=("category",))
    return load_amazon(Path(root), category=name.removeprefix("amazon-"), **options)
