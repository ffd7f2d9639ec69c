"""Amazon product reviews with product images (McAuley et al. 2015; 2014 and 2018 releases).

Files in ``root`` (as distributed, gzip JSON lines; the full file is preferred over the 5-core one):

========== ======================================== =====================================
release    reviews                                  metadata
========== ======================================== =====================================
2014       ``reviews_<Cat>.json.gz`` (or ``_5``)    ``meta_<Cat>.json.gz``: Python dict
           JSON: reviewerID, asin, overall          literals (``ast.literal_eval``, never
                                                    ``eval``; JSON accepted too): asin,
                                                    imUrl, categories (list of lists)
2018       ``<Cat>.json.gz`` (or ``<Cat>_5``)       ``meta_<Cat>.json.gz``: JSON: asin,
           JSON: reviewerID, asin, overall          imageURLHighRes / imageURL, category
========== ======================================== =====================================

with ``<Cat>`` = ``Clothing_Shoes_and_Jewelry`` or ``Electronics``; images in
``root/images/{asin}.jpg`` (download them with :func:`amazon_image_urls` and
:func:`pixelpush.data.fetch.fetch_images`).

Preprocessing, as in the paper: a review is a positive interaction when ``overall >= min_rating``
(default 4, i.e. "rating > 3"); items need an image URL in the metadata and, for the Dataset, a
downloaded image file; optionally only the `max_items` most-reviewed items are kept; users with
fewer than `min_user_positives` (default 5) positives are dropped (one pass); items left without
a positive are dropped. An item's category is its second-level category (2014:
``categories[0][1]``; 2018: ``category[1]``, HTML entities unescaped); fallback: the first level
when there is no second, ``unknown`` when there is none at all. Items are labelled by ASIN.

Malformed lines (bad JSON/literal, missing or mistyped fields, a NaN or infinite rating) are
*skipped and counted*, with a warning naming file and line for the first few and a summary after:
the public dumps contain a few broken records and one should not cost a multi-gigabyte load. A
file with no valid line at all raises :class:`~pixelpush.errors.DataError`. Metadata lines of
items no review mentions are recognised by their ``asin`` field and not parsed (so not checked
either): the dumps hold millions.
"""

from __future__ import annotations

import ast
import gzip
import html
import json
import logging
import math
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.data.filtering import FileImages, KeyIndex, dense_ids, describe_counts, select_interactions
from pixelpush.errors import ConfigError, DataError
from pixelpush.progress import progress_bar

logger = logging.getLogger(__name__)

CATEGORIES = {"clothing": "Clothing_Shoes_and_Jewelry", "electronics": "Electronics"}
RELEASES = ("2014", "2018")
MAX_LINE_WARNINGS = 10
_ASIN = re.compile(r"""['"]asin['"]\s*:\s*['"]([^'"]*)['"]""")


@dataclass(frozen=True)
class AmazonFiles:
    """The located reviews and metadata files of one category and release."""

    release: str
    reviews: Path
    meta: Path


def _first_existing(root: Path, stems: list[str]) -> Path | None:
    for stem in stems:
        for suffix in (".json.gz", ".json"):
            if (root / f"{stem}{suffix}").is_file():
                return root / f"{stem}{suffix}"
    return None


def locate_files(root: Path, category: str, release: str = "auto") -> AmazonFiles:
    """Find the reviews and metadata files of `category` for `release` ("2014", "2018" or "auto")."""
    if category not in CATEGORIES:
        raise ConfigError(f"unknown Amazon category {category!r}; known: {', '.join(CATEGORIES)}")
    if release not in ("auto", *RELEASES):
        raise ConfigError(f"unknown Amazon release {release!r}; known: auto, {', '.join(RELEASES)}")
    cat = CATEGORIES[category]
    reviews = {
        "2014": _first_existing(root, [f"reviews_{cat}", f"reviews_{cat}_5"]),
        "2018": _first_existing(root, [cat, f"{cat}_5"]),
    }
    if release == "auto":
        found = [r for r in RELEASES if reviews[r] is not None]
        if not found:
            raise DataError(
                f"{root}: no reviews file for {category}: expected reviews_{cat}.json.gz (2014 release) "
                f"or {cat}.json.gz (2018 release)"
            )
        if len(found) > 1:
            raise ConfigError(
                f"{root}: reviews files of both releases for {category} are present; pass release='2014' or '2018'"
            )
        release = found[0]
    review_path = reviews[release]
    if review_path is None:
        expected = f"reviews_{cat}.json.gz" if release == "2014" else f"{cat}.json.gz"
        raise DataError(f"{root / expected}: file not found (the {release} release's reviews of {category})")
    meta_path = _first_existing(root, [f"meta_{cat}"])
    if meta_path is None:
        raise DataError(f"{root / f'meta_{cat}.json.gz'}: file not found")
    return AmazonFiles(release, review_path, meta_path)


class _Lines:
    """JSON-lines (or dict-literal lines) of a possibly gzipped file, skipping and counting malformed ones."""

    def __init__(self, path: Path, *, literals: bool, wanted: Callable[[str], bool] | None = None) -> None:
        self.path = path
        self.literals = literals
        self.wanted = wanted
        self.lines = 0
        self.malformed = 0
        self._prefer_literal = False

    def _parse(self, text: str) -> Any:
        parsers = [json.loads, ast.literal_eval] if self.literals else [json.loads]
        if self._prefer_literal:
            parsers.reverse()
        for parser in parsers:
            try:
                value = parser(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            self._prefer_literal = parser is ast.literal_eval
            return value
        raise ValueError("neither JSON nor a Python literal" if self.literals else "not JSON")

    def skip(self, lineno: int, why: str) -> None:
        """Count line `lineno` as malformed, warning for the first few."""
        self.malformed += 1
        if self.malformed <= MAX_LINE_WARNINGS:
            logger.warning("%s:%d: skipped malformed line (%s)", self.path, lineno, why)

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        opener = gzip.open if self.path.suffix == ".gz" else open
        lineno = 0
        try:
            with opener(self.path, "rt", encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(progress_bar(f, desc=self.path.name, unit=" lines", leave=False), 1):
                    if not line.strip():
                        continue
                    self.lines += 1
                    if self.wanted is not None and not self.wanted(line):
                        continue
                    try:
                        record = self._parse(line)
                    except ValueError as e:
                        self.skip(lineno, str(e))
                        continue
                    if not isinstance(record, dict):
                        self.skip(lineno, "not an object")
                        continue
                    yield lineno, record
        except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{self.path}:{lineno + 1}: cannot read: {e}") from e

    def finish(self) -> None:
        """Summarise skipped lines; raise if the file had no valid line."""
        if self.malformed > MAX_LINE_WARNINGS:
            logger.warning("%s: %d malformed lines skipped in all", self.path, self.malformed)
        if self.lines == 0:
            raise DataError(f"{self.path}: no records")
        if self.malformed == self.lines:
            raise DataError(f"{self.path}: all {self.lines} lines are malformed (see the warnings above)")


@dataclass
class Reviews:
    """Positive reviews as integer codes of reviewer and ASIN."""

    users: np.ndarray
    items: np.ndarray
    item_keys: list[str]
    counts: dict[str, int]


def read_reviews(path: Path, *, min_rating: float = 4.0) -> Reviews:
    """Positive ``(reviewerID, asin)`` pairs (``overall >= min_rating``) of a reviews file."""
    lines = _Lines(path, literals=False)
    user_index, item_index = KeyIndex(), KeyIndex()
    users, items = array("q"), array("q")
    for lineno, rec in lines:
        user, asin, rating = rec.get("reviewerID"), rec.get("asin"), rec.get("overall")
        if not (isinstance(user, str) and user and isinstance(asin, str) and asin):
            lines.skip(lineno, "missing reviewerID or asin")
            continue
        if isinstance(rating, str):
            try:
                rating = float(rating)
            except ValueError:
                rating = None
        if not isinstance(rating, (int, float)) or isinstance(rating, bool):
            lines.skip(lineno, "missing or non-numeric 'overall'")
            continue
        if not math.isfinite(rating):  # JSON's NaN/Infinity tokens and "NaN"/"inf" strings parse
            lines.skip(lineno, f"non-finite 'overall' ({rating})")
            continue
        if rating >= min_rating:
            users.append(user_index(user))
            items.append(item_index(asin))
    lines.finish()
    counts = {"review_lines": lines.lines, "review_lines_malformed": lines.malformed}
    return Reviews(np.array(users, np.int64), np.array(items, np.int64), item_index.keys, counts)


def _category_2014(rec: dict) -> str:
    cats = rec.get("categories")
    first = cats[0] if isinstance(cats, list) and cats and isinstance(cats[0], list) else []
    names = [c for c in first if isinstance(c, str) and c.strip()]
    return names[1] if len(names) > 1 else names[0] if names else "unknown"


def _category_2018(rec: dict) -> str:
    cats = rec.get("category")
    names = [html.unescape(c).strip() for c in cats if isinstance(c, str) and c.strip()] if isinstance(cats, list) else []
    return names[1] if len(names) > 1 else names[0] if names else "unknown"


def _image_2014(rec: dict) -> str | None:
    url = rec.get("imUrl")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def _image_2018(rec: dict) -> str | None:
    for field in ("imageURLHighRes", "imageURL"):
        urls = rec.get(field)
        if isinstance(urls, str):
            urls = [urls]
        for url in urls if isinstance(urls, list) else []:
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                return url
    return None


def read_meta(path: Path, release: str, wanted: dict[str, int]) -> tuple[list[str | None], list[str], dict[str, int]]:
    """Image URL and second-level category for each ASIN in `wanted` (ASIN -> code; first record wins).

    Lines whose ``asin`` field is plainly another item's are not parsed (the dumps hold millions).
    """

    def maybe_wanted(line: str) -> bool:
        match = _ASIN.search(line)
        return match is None or match.group(1) in wanted

    lines = _Lines(path, literals=True, wanted=maybe_wanted)
    urls: list[str | None] = [None] * len(wanted)
    cats = ["unknown"] * len(wanted)
    seen = np.zeros(len(wanted), bool)
    image, category = (_image_2014, _category_2014) if release == "2014" else (_image_2018, _category_2018)
    for lineno, rec in lines:
        asin = rec.get("asin")
        if not isinstance(asin, str) or not asin:
            lines.skip(lineno, "missing asin")
            continue
        code = wanted.get(asin)
        if code is None or seen[code]:
            continue
        seen[code] = True
        urls[code], cats[code] = image(rec), category(rec)
    lines.finish()
    counts = {
        "meta_lines": lines.lines,
        "meta_lines_malformed": lines.malformed,
        "items_without_meta": int((~seen).sum()),
    }
    return urls, cats, counts


@dataclass(frozen=True)
class _Parsed:
    files: AmazonFiles
    reviews: Reviews
    urls: list[str | None]
    categories: list[str]
    counts: dict[str, int]


def _parse(root: Path, category: str, release: str, min_rating: float) -> _Parsed:
    files = locate_files(root, category, release)
    logger.info("amazon-%s: reading the %s release: %s, %s", category, files.release, files.reviews.name, files.meta.name)
    reviews = read_reviews(files.reviews, min_rating=min_rating)
    wanted = {asin: code for code, asin in enumerate(reviews.item_keys)}
    urls, cats, meta_counts = read_meta(files.meta, files.release, wanted)
    counts = {**reviews.counts, **meta_counts, "items_without_image_url": sum(u is None for u in urls)}
    return _Parsed(files, reviews, urls, cats, counts)


def amazon_image_urls(
    root: Path, *, category: str, release: str = "auto", min_rating: float = 4.0, min_user_positives: int = 5,
    max_items: int | None = None,
) -> dict[str, str]:
    """ASIN -> image URL of the items the preprocessing keeps (before image files are required).

    Feed it to :func:`pixelpush.data.fetch.fetch_images` with ``dest=root / "images"``.
    """
    parsed = _parse(Path(root), category, release, min_rating)
    has_url = np.array([u is not None for u in parsed.urls], bool)
    pairs, _ = select_interactions(
        parsed.reviews.users, parsed.reviews.items, has_url, min_user_positives=min_user_positives, max_items=max_items
    )
    return {parsed.reviews.item_keys[c]: parsed.urls[c] for c in np.unique(pairs[:, 1])}  # type: ignore[misc]


def load_amazon_with_stats(
    root: Path, *, category: str, release: str = "auto", min_rating: float = 4.0, min_user_positives: int = 5,
    max_items: int | None = None, images_dir: Path | None = None,
) -> tuple[Dataset, dict[str, int]]:
    """:func:`load_amazon` plus the counts of every parsing and preprocessing step."""
    root = Path(root)
    if max_items is not None and max_items < 1:
        raise ConfigError(f"max_items must be at least 1, got {max_items}")
    images_dir = Path(images_dir) if images_dir is not None else root / "images"
    parsed = _parse(root, category, release, min_rating)
    keys = parsed.reviews.item_keys
    paths = [images_dir / f"{asin}.jpg" for asin in keys]
    has_url = np.array([u is not None for u in parsed.urls], bool)
    has_file = np.array([bool(u) and p.is_file() for u, p in zip(has_url, paths, strict=True)], bool)
    stats = {**parsed.counts, "items_without_image_file": int((has_url & ~has_file).sum())}
    if stats["items_without_image_file"]:
        logger.warning("amazon-%s: %d items with an image URL have no file in %s and are left out "
                       "(download them with amazon_image_urls + fetch_images)",
                       category, stats["items_without_image_file"], images_dir)
    pairs, counts = select_interactions(
        parsed.reviews.users, parsed.reviews.items, has_file, min_user_positives=min_user_positives, max_items=max_items
    )
    stats.update(counts)
    if not len(pairs):
        raise DataError(f"{root}: no interactions left after preprocessing ({describe_counts(stats)})")
    users, _ = dense_ids(pairs[:, 0])
    items, codes = dense_ids(pairs[:, 1])
    names = sorted({parsed.categories[c] for c in codes})
    cat_of = {n: i for i, n in enumerate(names)}
    name = f"amazon-{category}"
    logger.info("%s: %d users, %d items, %d positives after preprocessing",
                name, stats["users"], stats["items"], stats["interactions"])
    dataset = Dataset(
        name=name,
        images=FileImages([paths[c] for c in codes]),
        categories=np.array([cat_of[parsed.categories[c]] for c in codes], np.int64),
        category_names=tuple(names),
        interactions=np.stack([users, items], axis=1),
        n_users=stats["users"],
        description=(
            f"Amazon {CATEGORIES[category]} ({parsed.files.release} release) from {root}: positive = overall >= "
            f"{min_rating}, users with >= {min_user_positives} positives; {describe_counts(stats)}"
        ),
        item_labels=tuple(keys[c] for c in codes),
    )
    return dataset, stats


def load_amazon(
    root: Path, *, category: str, release: str = "auto", min_rating: float = 4.0, min_user_positives: int = 5,
    max_items: int | None = None, images_dir: Path | None = None,
) -> Dataset:
    """Amazon `category` ("clothing" or "electronics") positives with product images (see the module docstring)."""
    return load_amazon_with_stats(
        root, category=category, release=release, min_rating=min_rating, min_user_positives=min_user_positives,
        max_items=max_items, images_dir=images_dir,
    )[0]
