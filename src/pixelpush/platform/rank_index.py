"""Rank queries in O(log N): per-user sorted scores at *base* features plus a few corrections.

During an attack only the pushed item's score changes, so each user's scores of the unconsumed
items are computed once at the base features and kept sorted. The rank of item ``i`` at score
``s`` is ``1 + #{unconsumed j != i : score_j > s}``: a binary search on the sorted base scores,
minus ``i``'s own base entry, with the (few) items modified since the base replaced by their
current scores. Entries are built lazily, kept in an LRU bounded by memory, and rebuilt when the
base is rebased or the user's history changes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pixelpush.errors import DataError

log = logging.getLogger(__name__)


class ScoreSource(Protocol):
    """What the index reads from the platform."""

    n_items: int
    epoch: int  # bumped when the base features change (a rebase)

    def base_scores(self, users: np.ndarray) -> np.ndarray:
        """Scores ``(U, n_items)`` of `users` for every item at the base features."""

    def current_scores(self, user: int, items: np.ndarray) -> np.ndarray:
        """Scores ``(len(items),)`` of `user` for `items` at their current features."""

    def consumed(self, user: int) -> np.ndarray:
        """`user`'s consumed items, sorted and unique."""

    def history_version(self, user: int) -> int:
        """A number that changes whenever `user`'s consumed items change."""

    def modified_items(self) -> np.ndarray:
        """Items whose current features differ from the base ones, sorted."""

    def item_versions(self, items: np.ndarray) -> np.ndarray:
        """A number per item that changes at every upload of it."""


@dataclass
class _Entry:
    base: np.ndarray  # (N,) base score of every item (consumed ones included, never read)
    neg_sorted: np.ndarray  # (M,) negated base scores of the unconsumed items, ascending
    ids: np.ndarray  # (M,) those items: best first, ties by item id
    consumed: np.ndarray  # sorted consumed items
    epoch: int
    history_version: int
    current: dict[int, tuple[int, float]] = field(default_factory=dict)  # item -> (version, score)

    @property
    def nbytes(self) -> int:
        return self.base.nbytes + self.neg_sorted.nbytes + self.ids.nbytes + self.consumed.nbytes


def _is_member(sorted_arr: np.ndarray, values: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_arr, values)
    pos = np.minimum(pos, max(len(sorted_arr) - 1, 0))
    return (sorted_arr[pos] == values) if len(sorted_arr) else np.zeros(len(values), dtype=bool)


class RankIndex:
    """Per-user sorted base scores answering ranks and top-k lists; LRU bounded by `max_bytes`."""

    def __init__(self, source: ScoreSource, *, max_bytes: int = 256 * 2**20) -> None:
        self.source = source
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self.builds = 0

    # -- entries ---------------------------------------------------------------------------

    def entry_bytes(self) -> int:
        """Approximate memory of one user's entry."""
        return 12 * self.source.n_items

    def invalidate(self, user: int | None = None) -> None:
        """Drop `user`'s entry (or every entry)."""
        if user is None:
            self._entries.clear()
            self._bytes = 0
        elif user in self._entries:
            self._bytes -= self._entries.pop(user).nbytes

    def _fresh(self, user: int) -> _Entry | None:
        e = self._entries.get(user)
        if e is None:
            return None
        if e.epoch != self.source.epoch or e.history_version != self.source.history_version(user):
            self.invalidate(user)
            return None
        self._entries.move_to_end(user)
        return e

    def prefetch(self, users: np.ndarray, *, chunk: int = 64) -> None:
        """Build the missing entries of `users` with batched scoring calls."""
        unique = dict.fromkeys(np.asarray(users, dtype=np.int64).tolist())
        todo = [u for u in unique if self._fresh(u) is None]
        for start in range(0, len(todo), chunk):
            part = np.asarray(todo[start : start + chunk], dtype=np.int64)
            base = self.source.base_scores(part)
            for row, u in zip(base, part, strict=True):
                self._insert(int(u), self._build(int(u), np.array(row)))

    def _entry(self, user: int) -> _Entry:
        e = self._fresh(user)
        if e is None:
            base = self.source.base_scores(np.asarray([user], dtype=np.int64))[0]
            e = self._insert(user, self._build(user, np.array(base)))
        return e

    def _build(self, user: int, base: np.ndarray) -> _Entry:
        if not np.all(np.isfinite(base)):
            raise DataError(f"the recommender returned non-finite scores for user {user}")
        consumed = np.asarray(self.source.consumed(user), dtype=np.int64)
        keep = np.ones(len(base), dtype=bool)
        keep[consumed] = False
        ids = np.flatnonzero(keep)
        neg = -base[ids]
        order = np.lexsort((ids, neg))  # ascending negated score = best first; ties by id
        self.builds += 1
        log.debug("rank index: built user %d (%d unconsumed items)", user, len(ids))
        return _Entry(
            base=base,
            neg_sorted=np.ascontiguousarray(neg[order]),
            ids=ids[order].astype(np.int32 if len(base) < 2**31 else np.int64),
            consumed=consumed,
            epoch=self.source.epoch,
            history_version=self.source.history_version(user),
        )

    def _insert(self, user: int, e: _Entry) -> _Entry:
        self.invalidate(user)
        self._entries[user] = e
        self._bytes += e.nbytes
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.nbytes
        return e

    def _modified(self, user: int, e: _Entry, exclude: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Modified unconsumed items (except `exclude`): ids, base scores, current scores."""
        mod = self.source.modified_items()
        if exclude is not None and len(mod):
            mod = mod[mod != exclude]
        if len(mod) and len(e.consumed):
            mod = mod[~_is_member(e.consumed, mod)]
        if not len(mod):
            empty = e.base[:0]
            return mod, empty, empty
        versions = dict(zip(mod.tolist(), self.source.item_versions(mod).tolist(), strict=True))
        stale = [j for j, v in versions.items() if e.current.get(j, (None,))[0] != v]
        if stale:
            fresh = self.source.current_scores(user, np.asarray(stale, dtype=np.int64))
            for j, s in zip(stale, fresh.tolist(), strict=True):
                e.current[j] = (versions[j], s)
        current = np.asarray([e.current[j][1] for j in mod.tolist()], dtype=e.base.dtype)
        return mod, e.base[mod], current

    # -- queries ---------------------------------------------------------------------------

    def is_consumed(self, user: int, item: int) -> bool:
        """Whether `user` consumed `item` (such an item has no rank)."""
        consumed = np.asarray(self.source.consumed(user))
        return bool(_is_member(consumed, np.asarray([item]))[0]) if len(consumed) else False

    def ranks(self, user: int, item: int, scores: np.ndarray) -> np.ndarray:
        """1-based ranks of `item` for `user` if its score were each of `scores`; 0 if consumed."""
        s = np.asarray(scores).reshape(-1)
        e = self._entry(user)
        if len(e.consumed) and _is_member(e.consumed, np.asarray([item]))[0]:
            return np.zeros(len(s), dtype=np.int64)
        s = s.astype(e.base.dtype, copy=False)
        higher = np.searchsorted(e.neg_sorted, -s, side="left").astype(np.int64)  # #{base > s}
        higher -= (e.base[item] > s).astype(np.int64)  # item's own base entry
        mod, base_m, cur_m = self._modified(user, e, exclude=item)
        if len(mod):
            higher -= (base_m[None, :] > s[:, None]).sum(axis=1)
            higher += (cur_m[None, :] > s[:, None]).sum(axis=1)
        return higher + 1

    def top(self, user: int, k: int | None = None) -> np.ndarray:
        """`user`'s unconsumed items at the current features, best first (ties by id); first `k`."""
        e = self._entry(user)
        n = len(e.ids) if k is None else min(int(k), len(e.ids))
        mod, _, cur_m = self._modified(user, e, exclude=None)
        if not len(mod):
            return e.ids[:n].astype(np.int64)
        head = e.ids if k is None else e.ids[: n + len(mod)]
        head_neg = e.neg_sorted[: len(head)]
        keep = ~np.isin(head, mod)
        ids = np.concatenate([head[keep].astype(np.int64), mod])
        neg = np.concatenate([head_neg[keep], -cur_m])
        order = np.lexsort((ids, neg))
        return ids[order][:n]
