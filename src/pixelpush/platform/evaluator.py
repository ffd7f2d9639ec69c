"""The experimenter's view of a platform: ranks and hits of an item for many real users.

Never given to attackers and never counted. It keeps its own rank index, so evaluating many
users does not evict the entries an attack is using. It reads the platform through
:class:`EvaluationSource`, the platform's small experimenter interface.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pixelpush.evaluation.metrics import hits as hits_within
from pixelpush.platform.rank_index import RankIndex, ScoreSource

__all__ = ["EvaluationSource", "Evaluator"]


class EvaluationSource(Protocol):
    """What the evaluator reads from a platform."""

    n_items: int

    def check_item(self, item: object) -> int: ...

    def check_users(self, users: object) -> np.ndarray: ...

    def score_rows(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray: ...

    def history(self, user: int) -> np.ndarray: ...

    def rank_source(self) -> ScoreSource: ...


class Evaluator:
    """Uncounted, vectorised ranks of one item for many users at the platform's current features.

    Args:
        platform: the platform to evaluate.
        max_bytes: memory bound of the evaluator's own rank index; when the users of one call do
            not fit, ranks are computed directly from each user's current scores instead.
    """

    def __init__(self, platform: EvaluationSource, *, max_bytes: int = 512 * 2**20) -> None:
        self.platform = platform
        self.index = RankIndex(platform.rank_source(), max_bytes=max_bytes)

    def ranks(self, users: np.ndarray, item: int) -> np.ndarray:
        """1-based ranks ``(U,)`` of `item` for `users`; 0 for a user who consumed the item."""
        p = self.platform
        item = p.check_item(item)
        users = p.check_users(users)
        if not len(users):
            return np.zeros(0, dtype=np.int64)
        s = p.score_rows(users, np.asarray([item]))[:, 0]
        if len(np.unique(users)) * self.index.entry_bytes() > self.index.max_bytes:
            return self._direct(users, item, s)
        self.index.prefetch(users)
        return np.asarray([self.index.ranks(int(u), item, s[k : k + 1])[0] for k, u in enumerate(users)], np.int64)

    def hits(self, users: np.ndarray, item: int, k: int) -> np.ndarray:
        """Whether `item` is in each user's top `k` (False for a user who consumed it)."""
        return hits_within(self.ranks(users, item), k)

    def _direct(self, users: np.ndarray, item: int, s: np.ndarray, chunk: int = 64) -> np.ndarray:
        """Ranks from full current score rows, chunk by chunk (for more users than the index holds)."""
        p = self.platform
        out = np.empty(len(users), dtype=np.int64)
        for start in range(0, len(users), chunk):
            part = users[start : start + chunk]
            rows = p.score_rows(part)
            for k, u in enumerate(part.tolist()):
                consumed = p.history(u)
                if np.isin(item, consumed):
                    out[start + k] = 0
                    continue
                higher = rows[k] > s[start + k]
                higher[consumed] = False
                higher[item] = False
                out[start + k] = 1 + int(higher.sum())
        return out
