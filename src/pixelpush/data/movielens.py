"""MovieLens 100K with movie posters: ``root/ml-100k/{u.data,u.item,u.genre}`` and ``root/posters/{id}.jpg``.

Preprocessing (each step configurable where noted, counts logged and kept in the description):

- a rating is a positive interaction when ``rating >= min_rating`` (default 4, i.e. the paper's
  "rating > 3" on a 1..5 scale); other ratings are dropped;
- movies without a poster file are left out, with their ratings;
- optionally (`max_items`) only the most-rated movies are kept;
- users with fewer than `min_user_positives` positives are dropped (one pass);
- movies left without a positive are dropped; users and movies are then numbered densely in
  the order of their MovieLens ids.

A movie's category is its first genre flag in ``u.genre`` order (``unknown`` included; a movie
with no flag set counts as ``unknown``). The GroupLens terms forbid redistribution: the files
are read from the user's own copy and never written anywhere.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.data.filtering import FileImages, dense_ids, describe_counts, select_interactions
from pixelpush.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

NAME = "movielens-posters"

_INT64_MAX = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]+")


def _integer(text: str) -> int | None:
    """`text` as an int64 (ASCII digits, optional minus), None if it is not one or overflows."""
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else None


@dataclass(frozen=True)
class Movies:
    """The parsed ``u.item``: MovieLens ids, titles and first-genre category per movie."""

    ids: np.ndarray
    titles: tuple[str, ...]
    categories: np.ndarray
    genre_names: tuple[str, ...]


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected the MovieLens 100K layout root/ml-100k/, root/posters/)")
    return path


def read_genres(path: Path) -> tuple[str, ...]:
    """Genre names from ``u.genre`` (``name|index`` lines), in index order."""
    named: dict[int, str] = {}
    for lineno, line in enumerate(_require(path).read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, index = line.rpartition("|")
        if not sep or not name or not re.fullmatch(r"[0-9]{1,9}", index.strip()):
            raise DataError(f"{path}:{lineno}: expected 'name|index', got {line!r}")
        named[int(index)] = name
    if sorted(named) != list(range(len(named))) or not named:
        raise DataError(f"{path}: genre indices must be 0..n-1, got {sorted(named)}")
    return tuple(named[i] for i in range(len(named)))


def read_movies(path: Path, genre_names: tuple[str, ...]) -> Movies:
    """Parse ``u.item`` (latin-1, ``|``-separated; the last ``len(genre_names)`` fields are 0/1 flags)."""
    n_genres = len(genre_names)
    ids: list[int] = []
    titles: list[str] = []
    cats: list[int] = []
    for lineno, line in enumerate(_require(path).read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        flags = fields[-n_genres:]
        movie = _integer(fields[0].strip())
        if len(fields) < n_genres + 2 or movie is None or movie < 0 or any(f not in ("0", "1") for f in flags):
            raise DataError(
                f"{path}:{lineno}: expected 'id|title|...|' (id a 64-bit integer >= 0) and {n_genres} genre flags, "
                f"got {line!r}"
            )
        ids.append(movie)
        titles.append(fields[1])
        cats.append(flags.index("1") if "1" in flags else genre_names.index("unknown") if "unknown" in genre_names else 0)
    id_array = np.asarray(ids, np.int64)
    if len(np.unique(id_array)) != len(id_array):
        raise DataError(f"{path}: duplicate movie ids")
    return Movies(id_array, tuple(titles), np.asarray(cats, np.int64), genre_names)


def read_ratings(path: Path) -> np.ndarray:
    """Parse ``u.data`` (``user<TAB>item<TAB>rating<TAB>timestamp``) into an ``(M, 3)`` int64 array."""
    rows: list[tuple[int, int, int]] = []
    with _require(path).open(encoding="latin-1") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split()
            values = [_integer(x) for x in fields]
            if len(fields) != 4 or None in values:
                raise DataError(
                    f"{path}:{lineno}: expected 4 tab-separated integers (user item rating timestamp, "
                    f"each within 64 bits), got {line.rstrip()!r}"
                )
            user, item, rating, _ = values
            if user < 0 or item < 0:  # type: ignore[operator]
                raise DataError(f"{path}:{lineno}: user and item ids must be >= 0, got {line.rstrip()!r}")
            rows.append((user, item, rating))  # type: ignore[arg-type]
    return np.asarray(rows, np.int64).reshape(-1, 3)


def load_movielens_posters_with_stats(
    root: Path, *, min_rating: int = 4, min_user_positives: int = 5, max_items: int | None = None
) -> tuple[Dataset, dict[str, int]]:
    """:func:`load_movielens_posters` plus the counts of every preprocessing step."""
    root = Path(root)
    if max_items is not None and max_items < 1:
        raise ConfigError(f"max_items must be at least 1, got {max_items}")
    base = root / "ml-100k"
    genres = read_genres(base / "u.genre")
    movies = read_movies(base / "u.item", genres)
    ratings = read_ratings(base / "u.data")

    row_of = {int(m): r for r, m in enumerate(movies.ids)}
    unknown = sorted({int(i) for i in np.unique(ratings[:, 1])} - row_of.keys())
    if unknown:
        raise DataError(f"{base / 'u.data'}: ratings of movies missing from u.item: {unknown[:10]}")
    poster_paths = [root / "posters" / f"{m}.jpg" for m in movies.ids]
    has_poster = np.array([p.is_file() for p in poster_paths], bool)
    stats = {
        "raw_users": int(len(np.unique(ratings[:, 0]))),
        "raw_movies": int(len(movies.ids)),
        "raw_ratings": int(len(ratings)),
        "movies_without_poster": int((~has_poster).sum()),
    }
    if stats["movies_without_poster"]:
        logger.info("%s: %d of %d movies have no poster in %s and are left out",
                    NAME, stats["movies_without_poster"], len(movies.ids), root / "posters")

    positive = ratings[:, 2] >= min_rating
    item_rows = np.array([row_of[int(i)] for i in ratings[positive, 1]], np.int64)
    pairs, counts = select_interactions(
        ratings[positive, 0], item_rows, has_poster, min_user_positives=min_user_positives, max_items=max_items
    )
    stats.update(counts)
    if not len(pairs):
        raise DataError(f"{root}: no interactions left after preprocessing ({describe_counts(stats)})")
    users, _ = dense_ids(pairs[:, 0])
    items, rows = dense_ids(pairs[:, 1])
    logger.info("%s: %d users, %d movies, %d positives after preprocessing",
                NAME, stats["users"], stats["items"], stats["interactions"])
    dataset = Dataset(
        name=NAME,
        images=FileImages([poster_paths[r] for r in rows]),
        categories=movies.categories[rows],
        category_names=genres,
        interactions=np.stack([users, items], axis=1),
        n_users=stats["users"],
        description=(
            f"MovieLens 100K with posters from {root}: positive = rating >= {min_rating}, "
            f"users with >= {min_user_positives} positives; {describe_counts(stats)}"
        ),
        item_labels=tuple(movies.titles[r] for r in rows),
    )
    return dataset, stats


def load_movielens_posters(
    root: Path, *, min_rating: int = 4, min_user_positives: int = 5, max_items: int | None = None
) -> Dataset:
    """MovieLens 100K positives with movie posters as item uploads (see the module docstring).

    Items are labelled by movie title and categorised by first genre; posters are decoded on
    demand at their native size (mostly 92x138).
    """
    return load_movielens_posters_with_stats(
        root, min_rating=min_rating, min_user_positives=min_user_positives, max_items=max_items
    )[0]
