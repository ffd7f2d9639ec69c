"""Drawing the campaign's pairs by seed: which item is pushed, and to whom.

Pairs depend only on the seed, the threat model and the pair's index, so every attack and
recommender of a campaign is measured on the same pairs. The threat models
(:mod:`pixelpush.attacks.threat_models`) pick the mock users and the evaluation users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.errors import DataError
from pixelpush.ids import outside
from pixelpush.random import numpy_rng


@dataclass(frozen=True)
class Pair:
    """One pushed item, and for the specific-user threat model its real target user."""

    index: int
    item: int
    target_user: int | None = None


def draw_pairs(dataset: Dataset, threat_model: str, n: int, *, seed: int) -> list[Pair]:
    """`n` pairs for `threat_model` (``specific-user``, ``segment`` or ``general``).

    Specific user: a random user with a non-empty history and a random item outside it.
    Segment: a random item whose category has another item that some user holds without
    holding the pushed one (else the segment has no one to measure). General: a random item.
    """
    histories = dataset.histories
    active = np.array([u for u in range(dataset.n_users) if len(histories[u])])
    if not len(active):
        raise DataError(f"{dataset.name}: no user has any interaction")
    pairs = []
    for index in range(n):
        rng = numpy_rng(seed, "pairs", threat_model, index)
        if threat_model == "specific-user":
            user = int(rng.choice(active))
            pairs.append(Pair(index, int(rng.choice(outside(histories[user], dataset.n_items))), target_user=user))
        elif threat_model == "segment":
            pairs.append(Pair(index, _item_with_a_segment(dataset, rng)))
        elif threat_model == "general":
            pairs.append(Pair(index, int(rng.integers(dataset.n_items))))
        else:
            raise ValueError(f"unknown threat model {threat_model!r}")
    return pairs


def _item_with_a_segment(dataset: Dataset, rng: np.random.Generator) -> int:
    users, items = dataset.interactions[:, 0], dataset.interactions[:, 1]
    for _ in range(1000):
        item = int(rng.integers(dataset.n_items))
        holders = users[items == item]
        same = (dataset.categories[items] == dataset.categories[item]) & (items != item)
        if np.any(same & ~np.isin(users, holders)):
            return item
    raise DataError(f"{dataset.name}: no item has a segment item with holders")
