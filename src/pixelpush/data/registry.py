"""Datasets by name: ``fashion`` and ``fashion-dense`` (embedded); ``synthetic-scale`` (generated,
up to Amazon Clothing's size, :mod:`pixelpush.data.synthetic_scale`); ``movielens-posters``,
``amazon-*`` and ``folder`` (bring your own: images plus an interactions table,
:mod:`pixelpush.data.folder`) need a root."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixelpush.data.catalog import Dataset
from pixelpush.errors import ConfigError, DataError
from pixelpush.settings import accepts

#: ``fashion`` is the default (the paper's Clothing regime); ``fashion-dense`` the Electronics-like one.
DATASETS = ("fashion", "fashion-dense", "synthetic-scale", "movielens-posters", "amazon-clothing", "amazon-electronics", "folder")
#: The catalogs that ship inside the package.
EMBEDDED = ("fashion", "fashion-dense")


def _loader(name: str) -> tuple[Callable[..., Dataset], int, tuple[str, ...]]:
    """The loader of dataset `name`, how many leading arguments it takes positionally, reserved keywords."""
    if name in EMBEDDED:
        from pixelpush.data.fashion import load_fashion

        return load_fashion, 0, ("name",)
    if name == "synthetic-scale":
        from pixelpush.data.synthetic_scale import load_synthetic_scale

        return load_synthetic_scale, 0, ("name",)
    if name == "folder":
        from pixelpush.data.folder import load_folder

        return load_folder, 1, ()
    if name == "movielens-posters":
        from pixelpush.data.movielens import load_movielens_posters

        return load_movielens_posters, 1, ()
    if name in DATASETS:
        from pixelpush.data.amazon import load_amazon

        return load_amazon, 1, ("category",)
    raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def check_dataset_options(name: str, options: dict[str, Any]) -> None:
    """Refuse an unknown dataset, or options its loader does not take or of the wrong type.

    Called when a config is loaded, so a bad option fails before anything runs (a loader's own
    TypeError would otherwise surface as a traceback).
    """
    loader, skip, reserved = _loader(name)
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
    check_dataset_options(name, options)
    loader, skip, _ = _loader(name)
    if not skip:
        return loader(name=name, **options)
    if root is None:
        raise ConfigError(f"dataset {name!r} is not embedded: give its folder with --root PATH")
    root = Path(root)
    if not root.is_dir():
        why = "is a file, not a folder" if root.exists() else "no such folder"
        raise DataError(f"dataset {name!r}: root {root}: {why}")
    if name.startswith("amazon-"):
        return loader(root, category=name.removeprefix("amazon-"), **options)
    return loader(root, **options)
