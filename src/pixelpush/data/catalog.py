"""The dataset type every component reads: items with uploads and categories, users with histories."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pixelpush.errors import DataError, UnknownIdError


class ImageStore(ABC):
    """Item uploads by item index, loaded on demand so a large catalog never sits in memory."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def get(self, item: int) -> np.ndarray:
        """The upload of `item`: a ``(H, W, 3)`` uint8 array (a fresh copy the caller may modify)."""

    def content_key(self, item: int) -> str:
        """A hash of the upload's pixels and shape (the feature cache's per-image key)."""
        img = self.get(item)
        h = hashlib.blake2b(digest_size=16)
        h.update(str(img.shape).encode())
        h.update(np.ascontiguousarray(img).tobytes())
        return h.hexdigest()

    def many(self, items: Sequence[int]) -> list[np.ndarray]:
        """Uploads of several items."""
        return [self.get(int(i)) for i in items]


class ArrayImages(ImageStore):
    """Uploads held in one ``(N, H, W, 3)`` uint8 array (small catalogs)."""

    def __init__(self, images: np.ndarray) -> None:
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}")
        self._images = images

    def __len__(self) -> int:
        return len(self._images)

    def get(self, item: int) -> np.ndarray:
        if not 0 <= item < len(self._images):
            raise UnknownIdError(f"unknown item {item}: the catalog has items 0..{len(self._images) - 1}")
        return self._images[item].copy()


@dataclass(frozen=True)
class Dataset:
    """Items (uploads, categories) and positive user-item interactions, ids 0-based and dense.

    `interactions` is an ``(M, 2)`` int64 array of unique ``(user, item)`` pairs.
    """

    name: str
    images: ImageStore
    categories: np.ndarray
    category_names: tuple[str, ...]
    interactions: np.ndarray
    n_users: int
    description: str = ""
    item_labels: tuple[str, ...] = field(default=(), repr=False)
    user_labels: tuple[str, ...] = field(default=(), repr=False)
    """The users' raw ids in the source data, where a loader keeps them (dense id -> raw id)."""

    def __post_init__(self) -> None:
        n_items = len(self.images)
        if self.categories.shape != (n_items,):
            raise DataError(f"{self.name}: {len(self.categories)} categories for {n_items} items")
        if self.interactions.ndim != 2 or self.interactions.shape[1] != 2:
            raise DataError(f"{self.name}: interactions must be (M, 2), got {self.interactions.shape}")
        if len(self.interactions):
            u, i = self.interactions[:, 0], self.interactions[:, 1]
            if u.min() < 0 or u.max() >= self.n_users or i.min() < 0 or i.max() >= n_items:
                raise DataError(f"{self.name}: interaction ids out of range")
        if len(self.categories) and (self.categories.min() < 0 or self.categories.max() >= len(self.category_names)):
            raise DataError(f"{self.name}: category ids out of range")

    @property
    def n_items(self) -> int:
        return len(self.images)

    @property
    def n_categories(self) -> int:
        return len(self.category_names)

    @cached_property
    def histories(self) -> list[np.ndarray]:
        """Each user's consumed items, sorted."""
        order = np.lexsort((self.interactions[:, 1], self.interactions[:, 0]))
        users, items = self.interactions[order, 0], self.interactions[order, 1]
        bounds = np.searchsorted(users, np.arange(self.n_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    @cached_property
    def item_popularity(self) -> np.ndarray:
        """Number of users who consumed each item."""
        return np.bincount(self.interactions[:, 1], minlength=self.n_items)

    def info(self) -> dict:
        """Summary counts (what ``pixelpush data info`` prints)."""
        lengths = np.array([len(h) for h in self.histories])
        first = self.images.get(0) if self.n_items else np.zeros((0, 0, 3), np.uint8)
        return {
            "name": self.name,
            "n_users": int(self.n_users),
            "n_items": int(self.n_items),
            "n_interactions": int(len(self.interactions)),
            "n_categories": int(self.n_categories),
            "categories": list(self.category_names),
            "image_shape": list(first.shape),
            "density": float(len(self.interactions) / max(1, self.n_users * self.n_items)),
            "history_length": {
                "min": int(lengths.min()) if len(lengths) else 0,
                "median": float(np.median(lengths)) if len(lengths) else 0.0,
                "mean": float(lengths.mean()) if len(lengths) else 0.0,
                "p90": float(np.percentile(lengths, 90)) if len(lengths) else 0.0,
                "max": int(lengths.max(initial=0)),
            },
        }
