"""Limiting what the platform reveals to new accounts: the cheapest attacks feed on it.

A newly registered account sees its catalog-wide ranking at once (fold-in), and the prior
attacks turn that one answer into a direction in feature space. :class:`RevealLimit` makes the
platform (:class:`pixelpush.platform.platform.Platform`, ``reveal=``) answer new accounts —
optionally only those with a thin history — with

- truncation: only the top `top_k` of a ranking (a rank beyond it reads 0, not shown);
- noise: every score they are shown (and the scores their ranks come from) plus fresh Gaussian
  noise of `noise` times the spread of that user's scores over the catalog;
- a rate limit: at most `max_queries` queries per account (then BudgetExceededError).

:func:`new_user_quality` measures what it costs genuine new users: real users re-registered
with their training history, and the hit ratio of their held-out item in the list they are shown.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelpush.errors import ConfigError

__all__ = ["RevealLimit", "new_user_quality"]


@dataclass(frozen=True)
class RevealLimit:
    """What new (or thin-history) accounts are shown."""

    top_k: int | None = None
    """Show only the top this many items of a ranking (None: the whole ranking)."""
    noise: float = 0.0
    """Std of the noise added to their scores, relative to the user's score spread (0: none)."""
    max_queries: int | None = None
    """Queries allowed per account (None: no limit)."""
    thin_history: int | None = None
    """Apply only to new accounts with at most this many items (None: to every new account)."""

    def __post_init__(self) -> None:
        for name in ("top_k", "max_queries"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
        if self.thin_history is not None and (isinstance(self.thin_history, bool) or self.thin_history < 0):
            raise ConfigError(f"thin_history must be a non-negative integer or None, got {self.thin_history!r}")
        if not self.noise >= 0:
            raise ConfigError(f"noise must be non-negative, got {self.noise!r}")


def new_user_quality(
    recommender: Any, images: Any, image_model: Any, features: np.ndarray, train_histories: list[np.ndarray],
    test: np.ndarray, *, reveal: RevealLimit | None, n_users: int, seed: int, pipeline: Any = None, k: int = 20,
) -> dict[str, float]:
    """HR@k (and HR@10) of genuine new users' held-out items under `reveal` (None: undefended).

    `n_users` real users (drawn by `seed`) register as new accounts with their training history
    and look at their ranking once (1 query); a hit is the held-out item (`test` rows ``(user,
    item)``) within the first k items they are shown.
    """
    from pixelpush.platform.platform import Platform
    from pixelpush.random import numpy_rng

    rec = copy.deepcopy(recommender)
    platform = Platform(rec, images, image_model, features=features, consumed=[np.asarray(h) for h in train_histories],
                        visible_fraction=1.0, seed=seed, reveal=reveal, pipeline=pipeline)
    users = numpy_rng(seed, "new-users").choice(len(test), size=min(n_users, len(test)), replace=False)
    hits = {10: 0, k: 0}
    for row in users:
        user, item = int(test[row, 0]), int(test[row, 1])
        uid = platform.register_user(train_histories[user])
        shown = platform.ranking(uid)
        for cut in hits:
            hits[cut] += int(item in set(shown[:cut].tolist()))
    return {f"hr{cut}": hits[cut] / len(users) for cut in sorted(hits)} | {"users": int(len(users))}
