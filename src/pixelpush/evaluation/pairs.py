"""Drawing the campaign's pairs by seed: which item is pushed, to whom, and who is measured.

Pairs depend only on the seed, the threat model and the pair's index, so every attack and
recommender of a campaign is measured on the same pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.errors import DataError
from pixelpush.random import numpy_rng


@dataclass(frozen=True)
class Pair:
    """One pushed item and its targets under a threat model."""

    index: int
    item: int
    target_user: int | None = None
    """Specific user: the real user whose clone is attacked and who is measured."""
    segment_item: int | None = None
    """Segment: the item held by the mock user; its real holders are measured."""
    eval_users: tuple[int, ...] = ()
    """Real users HR is measured on (none of them has consumed `item`)."""


def _holders(dataset: Dataset) -> list[np.ndarray]:
    order = np.argsort(dataset.interactions[:, 1], kind="stable")
    users, items = dataset.interactions[order, 0], dataset.interactions[order, 1]
    bounds = np.searchsorted(items, np.arange(dataset.n_items + 1))
    return [users[bounds[i] : bounds[i + 1]] for i in range(dataset.n_items)]


def draw_pairs(
    dataset: Dataset, threat_model: str, n: int, *, seed: int, n_eval_users: int = 1000
) -> list[Pair]:
    """`n` pairs for `threat_model` (``specific-user``, ``segment`` or ``general``).

    Specific user: a random user with a non-empty history and a random item outside it.
    Segment: a random pushed item and a random other item of its category that at least one
    user holds (the segment item); measured on that item's holders who do not hold the pushed
    item. General: a random pushed item, measured on `n_eval_users` random users (all if fewer)
    who do not hold it.
    """
    histories = dataset.histories
    active = np.array([u for u in range(dataset.n_users) if len(histories[u])])
    if not len(active):
        raise DataError(f"{dataset.name}: no user has any interaction")
    holders = _holders(dataset)
    pairs = []
    for index in range(n):
        rng = numpy_rng(seed, "pairs", threat_model, index)
        if threat_model == "specific-user":
            user = int(rng.choice(active))
            consumed = np.zeros(dataset.n_items, bool)
            consumed[histories[user]] = True
            item = int(rng.choice(np.flatnonzero(~consumed)))
            pairs.append(Pair(index, item, target_user=user, eval_users=(user,)))
        elif threat_model == "segment":
            for _ in range(1000):
                item = int(rng.integers(dataset.n_items))
                same = np.flatnonzero(dataset.categories == dataset.categories[item])
                candidates = [j for j in same if j != item and len(np.setdiff1d(holders[j], holders[item]))]
                if candidates:
                    break
            else:
                raise DataError(f"{dataset.name}: no item has a segment item with holders")
            segment = int(rng.choice(candidates))
            users = np.setdiff1d(holders[segment], holders[item])
            pairs.append(Pair(index, item, segment_item=segment, eval_users=tuple(int(u) for u in users)))
        elif threat_model == "general":
            item = int(rng.integers(dataset.n_items))
            pool = np.setdiff1d(np.arange(dataset.n_users), holders[item])
            chosen = np.sort(rng.choice(pool, size=min(n_eval_users, len(pool)), replace=False))
            pairs.append(Pair(index, item, eval_users=tuple(int(u) for u in chosen)))
        else:
            raise ValueError(f"unknown threat model {threat_model!r}")
    return pairs
