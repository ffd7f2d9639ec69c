"""Preprocessing shared by the file-backed loaders: positive-count filters, dense id maps, an on-disk image store.

The loaders (MovieLens+posters, Amazon) all follow the same recipe: keep positive interactions,
keep items that have an image, drop users with too few positives, drop items nobody kept, and
remap the surviving raw ids to dense 0-based indices in a deterministic (sorted) order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from pixelpush.data.catalog import ImageStore
from pixelpush.errors import UnknownIdError


def unique_pairs(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The unique ``(user, item)`` pairs of two equal-length integer arrays, as an ``(M, 2)`` int64 array.

    >>> unique_pairs(np.array([1, 0, 1]), np.array([5, 2, 5])).tolist()
    [[0, 2], [1, 5]]
    """
    pairs = np.stack([np.asarray(users, np.int64), np.asarray(items, np.int64)], axis=1).reshape(-1, 2)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def drop_sparse_users(pairs: np.ndarray, min_count: int) -> np.ndarray:
    """Keep the pairs of users with at least `min_count` pairs (one pass, as in the paper).

    >>> drop_sparse_users(np.array([[0, 1], [0, 2], [1, 1]]), 2).tolist()
    [[0, 1], [0, 2]]
    """
    if min_count <= 1 or not len(pairs):
        return pairs
    _, inverse, counts = np.unique(pairs[:, 0], return_inverse=True, return_counts=True)
    return pairs[counts[inverse] >= min_count]


def k_core(pairs: np.ndarray, *, min_user: int, min_item: int) -> np.ndarray:
    """Repeatedly drop users with fewer than `min_user` pairs and items with fewer than `min_item` until stable.

    >>> k_core(np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 2]]), min_user=2, min_item=2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    while len(pairs):
        _, ui, uc = np.unique(pairs[:, 0], return_inverse=True, return_counts=True)
        _, ii, ic = np.unique(pairs[:, 1], return_inverse=True, return_counts=True)
        keep = (uc[ui] >= min_user) & (ic[ii] >= min_item)
        if keep.all():
            break
        pairs = pairs[keep]
    return pairs


def dense_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary integer ids to ``0..n-1`` in sorted order: returns ``(dense, originals)``.

    >>> dense, originals = dense_ids(np.array([30, 10, 30]))
    >>> dense.tolist(), originals.tolist()
    ([1, 0, 1], [10, 30])
    """
    originals, dense = np.unique(np.asarray(values), return_inverse=True)
    return dense.astype(np.int64).reshape(-1), originals


class KeyIndex:
    """Interns hashable raw ids (e.g. Amazon's string ASINs) as consecutive integers, in first-seen order."""

    def __init__(self) -> None:
        self._index: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []

    def __len__(self) -> int:
        return len(self.keys)

    def __call__(self, key: Hashable) -> int:
        """The integer of `key`, assigning the next one on first sight."""
        code = self._index.get(key)
        if code is None:
            code = self._index[key] = len(self.keys)
            self.keys.append(key)
        return code


class FileImages(ImageStore):
    """Uploads read from image files and decoded on demand (native size; the image model resizes).

    `content_key` hashes the file's bytes (no decode), namespaced so it never equals a pixel hash.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self._paths)

    def path(self, item: int) -> Path:
        """The file of `item`."""
        if not 0 <= item < len(self._paths):
            raise UnknownIdError(f"unknown item {item}: the catalog has items 0..{len(self._paths) - 1}")
        return self._paths[item]

    def get(self, item: int) -> np.ndarray:
        from pixelpush.vision.decode import decode_image

        path = self.path(item)
        return decode_image(path, name=str(path))

    def content_key(self, item: int) -> str:
        h = hashlib.blake2b(digest_size=16, person=b"pixelpush-file")
        h.update(self.path(item).read_bytes())
        return "file-" + h.hexdigest()


def select_interactions(
    users: np.ndarray,
    items: np.ndarray,
    has_image: np.ndarray,
    *,
    min_user_positives: int,
    max_items: int | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """The loaders' common recipe on positive ``(user, item)`` codes; returns kept raw pairs and counts.

    Steps, in order: drop duplicate pairs; drop pairs whose item has no image (`has_image[item]`
    False); if `max_items` is set, keep only the `max_items` items with the most positives
    (ties: lower code first); drop users with fewer than `min_user_positives` positives (one
    pass, as in the paper). Items are those left with at least one positive.
    """
    pairs = unique_pairs(users, items)
    counts = {"positives": int(len(pairs))}
    with_image = np.asarray(has_image, bool)[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    counts["positives_without_image"] = int((~with_image).sum())
    pairs = pairs[with_image]
    if max_items is not None and len(pairs):
        codes, pop = np.unique(pairs[:, 1], return_counts=True)
        order = np.lexsort((codes, -pop))[: max(0, int(max_items))]
        counts["items_over_max_items"] = int(len(codes) - len(order))
        pairs = pairs[np.isin(pairs[:, 1], codes[order])]
    before_users = len(np.unique(pairs[:, 0]))
    pairs = drop_sparse_users(pairs, min_user_positives)
    counts["users_below_min_positives"] = int(before_users - len(np.unique(pairs[:, 0])))
    counts["users"] = int(len(np.unique(pairs[:, 0])))
    counts["items"] = int(len(np.unique(pairs[:, 1])))
    counts["interactions"] = int(len(pairs))
    return pairs, counts


def describe_counts(counts: dict[str, int]) -> str:
    """``key=value`` pairs of a loader's counts, for `Dataset.description`."""
    return ", ".join(f"{k}={v}" for k, v in counts.items())
