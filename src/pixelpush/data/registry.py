"""Datasets by name: ``fashion`` (embedded), ``movielens-posters`` and ``amazon-*`` (need a root)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixelpush.data.catalog import Dataset
from pixelpush.errors import ConfigError, DataError

DATASETS = ("fashion", "movielens-posters", "amazon-clothing", "amazon-electronics")


def load_dataset(name: str, *, root: str | Path | None = None, **options: Any) -> Dataset:
    """Load a dataset by name; `root` is the folder of datasets that are not embedded."""
    if name == "fashion":
        from pixelpush.data.fashion import load_fashion

        return load_fashion(**options)
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if root is None:
        raise ConfigError(f"dataset {name!r} is not embedded: give its folder with --root PATH")
    root = Path(root)
    if not root.is_dir():
        why = "is a file, not a folder" if root.exists() else "no such folder"
        raise DataError(f"dataset {name!r}: root {root}: {why}")
    if name == "movielens-posters":
        from pixelpush.data.movielens import load_movielens_posters

        return load_movielens_posters(root, **options)
    from pixelpush.data.amazon import load_amazon

    return load_amazon(root, category=name.removeprefix("amazon-"), **options)
