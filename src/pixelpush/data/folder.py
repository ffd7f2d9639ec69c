"""Bring your own data: a folder of item images plus an interactions table (``docs/bring-your-own-data.md``).

Layout::

    ROOT/
      interactions.csv      or interactions.parquet: columns user,item[,rating,timestamp] (CSV: a header row)
      images/ITEM.jpg       one image per item, named by the item's id (.jpg .jpeg .png .webp .bmp .gif)
      items.csv             optional: columns item,category (items without a row: category "unknown")

Ids are strings as written (``007`` and ``7`` are two items) and are numbered densely in sorted
order; the dataset keeps the raw ids as ``item_labels`` and ``user_labels`` (reports show them).
Every image is a catalog item, consumed or not (a new item is what a seller pushes). Validation is complete
before anything is built: every malformed row is named by file and line (the first ten, and how many
in all), and so is every item whose image is missing or does not decode. ``missing_images="drop"``
drops those items with their interactions instead (logged). Features come through the ordinary
cached extractor (``pixelpush features``, campaigns), keyed by each file's bytes.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.data.filtering import FileImages, drop_sparse_users, unique_pairs
from pixelpush.errors import ConfigError, DataError

__all__ = ["IMAGE_SUFFIXES", "load_folder"]

_log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
COLUMNS = ("user", "item", "rating", "timestamp")
MAX_NAMED = 10


def _fail(what: str, problems: list[str]) -> DataError:
    shown = "; ".join(problems[:MAX_NAMED])
    more = f" (and {len(problems) - MAX_NAMED} more)" if len(problems) > MAX_NAMED else ""
    return DataError(f"{what}: {len(problems)} problem(s): {shown}{more}")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows_csv(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``(where, row)`` for every data row of a CSV with a header (where = ``file:line``)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file (expected a header row user,item[,rating,timestamp])")
            names = [h.strip().lower() for h in header]
            missing = [c for c in ("user", "item") if c not in names]
            unknown = [h for h in names if h not in COLUMNS]
            if missing or unknown:
                raise DataError(f"{path}:1: header {header} must name user and item (optional rating, timestamp); "
                                + (f"missing {missing}" if missing else f"unknown {unknown}"))
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(names):
                    yield where, {"_error": f"{len(row)} fields, the header has {len(names)}"}
                    continue
                yield where, {n: c.strip() for n, c in zip(names, row)}
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None


def _rows_parquet(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(f"{path}: reading Parquet needs pyarrow: pip install 'pixelpush[parquet]'") from None
    try:
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"{path}: not a readable Parquet file ({err})") from None
    names = [n.lower() for n in table.column_names]
    missing = [c for c in ("user", "item") if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    if missing or unknown:
        raise DataError(f"{path}: columns {table.column_names} must be user and item (optional rating, timestamp); "
                        + (f"missing {missing}" if missing else f"unknown {unknown}"))
    columns = {n: table.column(i).to_pylist() for i, n in enumerate(names)}
    for k in range(table.num_rows):
        yield f"{path}: row {k + 1}", {n: "" if columns[n][k] is None else str(columns[n][k]) for n in names}


def _interactions(root: Path, min_rating: float | None) -> tuple[list[tuple[str, str]], str]:
    csv_path, parquet_path = root / "interactions.csv", root / "interactions.parquet"
    if csv_path.is_file() == parquet_path.is_file():
        why = "both exist" if csv_path.is_file() else "neither exists"
        raise DataError(f"{root}: expected exactly one of interactions.csv and interactions.parquet ({why})")
    path = csv_path if csv_path.is_file() else parquet_path
    rows = _rows_csv(path) if path is csv_path else _rows_parquet(path)
    kept, problems, dropped = [], [], 0
    for where, row in rows:
        if "_error" in row:
            problems.append(f"{where}: {row['_error']}")
            continue
        user, item = row.get("user", ""), row.get("item", "")
        if not user or not item:
            problems.append(f"{where}: empty {'user' if not user else 'item'}")
            continue
        rating_text = row.get("rating", "")
        rating = _number(rating_text) if rating_text else None
        if rating_text and rating is None:
            problems.append(f"{where}: rating {rating_text!r} is not a finite number")
            continue
        stamp = row.get("timestamp", "")
        if stamp and _number(stamp) is None:
            problems.append(f"{where}: timestamp {stamp!r} is not a number (seconds since 1970)")
            continue
        if min_rating is not None:
            if rating is None:
                problems.append(f"{where}: no rating, but min_rating = {min_rating} asks for one")
                continue
            if rating < min_rating:
                dropped += 1
                continue
        kept.append((user, item))
    if problems:
        raise _fail(f"{path}", problems)
    if not kept:
        raise DataError(f"{path}: no interactions" + (f" with rating >= {min_rating}" if min_rating is not None else ""))
    return kept, f"{len(kept)} interactions kept, {dropped} below min_rating"


def _images(root: Path) -> dict[str, Path]:
    folder = root / "images"
    if not folder.is_dir():
        raise DataError(f"{root}: no images/ folder (one image per item, named by the item's id)")
    found: dict[str, Path] = {}
    clashes = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            clashes.append(f"{path.name} and {found[path.stem].name} are both item {path.stem!r}")
        found[path.stem] = path
    if clashes:
        raise _fail(f"{folder}", clashes)
    return found


def _unreadable(path: Path) -> str | None:
    """Why `path` is not a decodable image (None if it is): a light check, no full decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"not a readable image ({type(err).__name__}: {err})"
    return None


def _categories(root: Path, items: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    path = root / "items.csv"
    if not path.is_file():
        return np.zeros(len(items), dtype=np.int64), ("all",)
    given, problems = {}, []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        if "item" not in header or "category" not in header:
            raise DataError(f"{path}:1: header must name item and category, got {header}")
        i_item, i_cat = header.index("item"), header.index("category")
        for row in reader:
            if not row:
                continue
            if len(row) != len(header) or not row[i_item].strip() or not row[i_cat].strip():
                problems.append(f"{path}:{reader.line_num}: expected {len(header)} fields with an item and a category")
                continue
            given[row[i_item].strip()] = row[i_cat].strip()
    if problems:
        raise _fail(f"{path}", problems)
    names = sorted({given.get(i, "unknown") for i in items})
    index = {n: k for k, n in enumerate(names)}
    return np.array([index[given.get(i, "unknown")] for i in items], dtype=np.int64), tuple(names)


def load_folder(
    root: str | Path,
    *,
    min_rating: float | None = None,
    min_user_interactions: int = 1,
    missing_images: Literal["error", "drop"] = "error",
    name: str = "folder",
) -> Dataset:
    """The dataset of a bring-your-own-data folder (layout in the module docstring).

    Args:
        root: the folder.
        min_rating: keep only interactions with ``rating >= min_rating`` (the table needs ratings).
        min_user_interactions: drop users with fewer interactions (one pass, after the rating filter).
        missing_images: ``error`` (default): name every item without a readable image and stop;
            ``drop``: drop those items and their interactions, and log how many.
        name: the dataset's name in results.
    """
    root = Path(root)
    if missing_images not in ("error", "drop"):
        raise ConfigError(f"missing_images must be 'error' or 'drop', got {missing_images!r}")
    if isinstance(min_user_interactions, bool) or int(min_user_interactions) != min_user_interactions or min_user_interactions < 1:
        raise ConfigError(f"min_user_interactions must be a positive integer, got {min_user_interactions!r}")
    pairs, note = _interactions(root, min_rating)
    files = _images(root)
    wanted = sorted({item for _, item in pairs} | set(files))  # an image nobody consumed yet is a catalog item too
    bad = {}
    for item in wanted:
        path = files.get(item)
        why = "no image file" if path is None else _unreadable(path)
        if why is not None:
            bad[item] = f"item {item!r}: {why}" + (f" ({path})" if path is not None else f" (looked for images/{item}.*)")
    if bad and missing_images == "error":
        raise _fail(f"{root}/images", list(bad.values()) + ["(missing_images = \"drop\" drops these items instead)"])
    if bad:
        _log.warning("%s: dropping %d item(s) without a readable image, e.g. %s", root, len(bad), next(iter(bad.values())))
    raw_users = sorted({u for u, i in pairs if i not in bad})
    if not raw_users:
        raise DataError(f"{root}: no interactions left once items without a readable image are dropped")
    items = [i for i in wanted if i not in bad]
    user_index = {u: k for k, u in enumerate(raw_users)}
    item_index = {i: k for k, i in enumerate(items)}
    coded = unique_pairs(
        np.array([user_index[u] for u, i in pairs if i not in bad], dtype=np.int64),
        np.array([item_index[i] for u, i in pairs if i not in bad], dtype=np.int64),
    )
    coded = drop_sparse_users(coded, int(min_user_interactions))
    if not len(coded):
        raise DataError(f"{root}: no interactions left (min_user_interactions = {min_user_interactions})")
    kept_users = np.unique(coded[:, 0])
    users = np.searchsorted(kept_users, coded[:, 0])
    categories, category_names = _categories(root, items)
    description = (f"{root}: {note}; {len(bad)} item(s) without a readable image dropped; {len(raw_users) - len(kept_users)} "
                   f"user(s) below min_user_interactions dropped; user ids in sorted order of the raw ids")
    return Dataset(
        name=name,
        images=FileImages([files[i] for i in items]),
        categories=categories,
        category_names=category_names,
        interactions=np.stack([users, coded[:, 1]], axis=1).astype(np.int64),
        n_users=int(len(kept_users)),
        description=description,
        item_labels=tuple(items),
        user_labels=tuple(raw_users[int(u)] for u in kept_users),
    )
