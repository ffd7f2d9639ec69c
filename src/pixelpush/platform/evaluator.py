"""The experimenter's view of a platform: ranks and hits of an item for many real users.

Never given to attackers and never counted. It keeps its own rank index, so evaluating many
users does not evict the entries an attack is using.
"""

from __future__ import annotations

import numpy as np

from pixelpush.platform.rank_index import RankIndex
from pixelpush.platform.service import Platform


class Evaluator:
    """Uncounted, vectorised ranks of one item for many users at the platform's current features.

    Args:
        platform: the platform to evaluate.
        max_bytes: memory bound of the evaluator's own rank index; when the users of one call do
            not fit, ranks are computed directly from each user's current scores instead.
    """

    def __init__(self, platform: Platform, *, max_bytes: int = 512 * 2**20) -> None:
        self.platform = platform
        self.index = RankIndex(platform._source, max_bytes=max_bytes)

    def ranks(self, users: np.ndarray, item: int) -> np.ndarray:
        """1-based ranks ``(U,)`` of `item` for `users`; 0 for a user who consumed the item."""
        p = self.platform
        item = p.check_item(item)
        users = p._check_users(users)
        if not len(users):
            return np.zeros(0, dtype=np.int64)
        s = p._score(users, np.asarray([item]), p._features[item][None])[:, 0]
        if len(np.unique(users)) * self.index.entry_bytes() > self.index.max_bytes:
            return self._direct(users, item, s)
        self.index.prefetch(users)
        return np.asarray([self.index.ranks(int(u), item, s[k : k + 1])[0] for k, u in enumerate(users)], np.int64)

    def hits(self, users: np.ndarray, item: int, k: int) -> np.ndarray:
        """Whether `item` is in each user's top `k` (False for a user who consumed it)."""
        r = self.ranks(users, item)
        return (r >= 1) & (r <= k)

    def _direct(self, users: np.ndarray, item: int, s: np.ndarray, chunk: int = 64) -> np.ndarray:
        """Ranks from full current score rows, chunk by chunk (for more users than the index holds)."""
        p = self.platform
        out = np.empty(len(users), dtype=np.int64)
        all_items = np.arange(p.n_items)
        for start in range(0, len(users), chunk):
            part = users[start : start + chunk]
            rows = p._score(part, all_items, p._features)
            for k, u in enumerate(part.tolist()):
                row = rows[k]
                consumed = p._consumed[u]
                if np.isin(item, consumed):
                    out[start + k] = 0
                    continue
                higher = row > s[start + k]
                higher[consumed] = False
                higher[item] = False
                out[start + k] = 1 + int(higher.sum())
        return out
