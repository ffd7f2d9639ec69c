"""Datasets by name: ``fashion`` and ``fashion-dense`` (embedded), ``movielens-posters`` and ``amazon-*`` (need a root)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixelpush.data.catalog import Dataset
from pixelpush.errors import ConfigError

#: ``fashion`` is the default (the paper's Clothing regime); ``fashion-dense`` the Electronics-like one.
DATASETS = ("fashion", "fashion-dense", "movielens-posters", "amazon-clothing", "amazon-electronics")
#: The catalogs that ship inside the package.
EMBEDDED = ("fashion", "fashion-dense")


def load_dataset(name: str, *, root: str | Path | None = None, **options: Any) -> Dataset:
    """Load a dataset by name; `root` is the folder of datasets that are not embedded."""
    if name in EMBEDDED:
        from pixelpush.data.fashion import load_fashion

        return load_fashion(name=name, **options)
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if root is None:
        raise ConfigError(f"dataset {name!r} is not embedded: give its folder with --root PATH")
    if name == "movielens-posters":
        from pixelpush.data.movielens import load_movielens_posters

        return load_movielens_posters(Path(root), **options)
    from pixelpush.data.amazon import load_amazon

    return load_amazon(Path(root), category=name.removeprefix("amazon-"), **options)
