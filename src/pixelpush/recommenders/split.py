"""Leave-one-out split: per user one held-out item for validation and one for test.

Following VBPR's protocol, only users with at least ``min_positives`` (default 5) interactions are
evaluated. Unlike VBPR, which discards the others, we keep them *train-only*: all their
interactions train the item parameters, and they stay real users of the platform (attack
targets, fold-in sources); they simply have no held-out items and do not count in any AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpush.errors import ConfigError, DataError
from pixelpush.random import derive_seed, numpy_rng


@dataclass(frozen=True)
class Split:
    """Training pairs and held-out ``(user, item)`` pairs, all ``(M, 2)`` int64 arrays."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    n_users: int
    n_items: int

    @property
    def all_positives(self) -> np.ndarray:
        """Every known interaction (train, validation and test): excluded from AUC negatives."""
        return np.concatenate([self.train, self.val, self.test])

    def train_histories(self) -> list[np.ndarray]:
        """Each user's training items, sorted."""
        order = np.lexsort((self.train[:, 1], self.train[:, 0]))
        users, items = self.train[order, 0], self.train[order, 1]
        bounds = np.searchsorted(users, np.arange(self.n_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    def train_popularity(self) -> np.ndarray:
        """Training interactions per item."""
        return np.bincount(self.train[:, 1], minlength=self.n_items)


def leave_one_out(
    interactions: np.ndarray, n_users: int, n_items: int, *, seed: int, min_positives: int = 5
) -> Split:
    """Hold out one random item per user for validation and another for test.

    Users with fewer than `min_positives` interactions are kept train-only (see module doc).

    >>> pairs = np.array([[0, i] for i in range(5)] + [[1, 0], [1, 1]])
    >>> s = leave_one_out(pairs, 2, 5, seed=0)
    >>> len(s.train), s.val[:, 0].tolist(), s.test[:, 0].tolist()
    (5, [0], [0])
    """
    if min_positives < 3:
        raise ConfigError(f"min_positives must be at least 3 (train, validation, test), got {min_positives}")
    pairs = np.unique(np.asarray(interactions, dtype=np.int64).reshape(-1, 2), axis=0)
    if len(pairs) == 0:
        raise DataError("no interactions to split")
    if pairs[:, 0].min() < 0 or pairs[:, 0].max() >= n_users or pairs[:, 1].min() < 0 or pairs[:, 1].max() >= n_items:
        raise DataError("interaction ids out of range")
    rng = numpy_rng(seed, "split", "leave-one-out")
    keys = rng.random(len(pairs))
    order = np.lexsort((keys, pairs[:, 0]))  # users sorted, items in random order within a user
    pairs = pairs[order]
    bounds = np.searchsorted(pairs[:, 0], np.arange(n_users + 1))
    counts = np.diff(bounds)
    evaluated = np.nonzero(counts >= min_positives)[0]
    val_rows, test_rows = bounds[evaluated], bounds[evaluated] + 1
    held = np.zeros(len(pairs), dtype=bool)
    held[val_rows] = True
    held[test_rows] = True
    return Split(
        train=pairs[~held],
        val=pairs[val_rows],
        test=pairs[test_rows],
        n_users=int(n_users),
        n_items=int(n_items),
    )


def campaign_split(interactions: np.ndarray, n_users: int, n_items: int, *, seed: int) -> Split:
    """The training split a campaign of seed `seed` uses: :func:`leave_one_out` under the seed
    ``derive_seed(seed, "split")``. A model trained outside pixelpush on ``train`` of this split
    is measured (AUC, visual gain) on the same held-out items as the models pixelpush trains.

    >>> pairs = np.array([[0, i] for i in range(6)])
    >>> campaign_split(pairs, 1, 6, seed=0).test.tolist() == leave_one_out(
    ...     pairs, 1, 6, seed=derive_seed(0, "split")).test.tolist()
    True
    """
    return leave_one_out(interactions, n_users, n_items, seed=derive_seed(seed, "split"))
