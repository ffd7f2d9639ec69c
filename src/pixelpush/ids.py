"""Sets of integer ids (items, users) as arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def outside(ids: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    """The ids in ``0..n-1`` that are not in `ids`, ascending (int64).

    The same array as ``np.setdiff1d(np.arange(n), ids)`` in O(n), without its sort: at 455k
    items that is half a millisecond instead of 0.4 s, and fold-in, pair drawing and the rank-reading attacks
    ask for it often. Ids outside ``0..n-1`` are ignored, as setdiff1d ignores them.

    >>> outside([3, 0, 3], 5).tolist()
    [1, 2, 4]
    """
    arr = np.asarray(ids, dtype=np.int64).reshape(-1)
    keep = np.ones(n, dtype=bool)
    keep[arr[(arr >= 0) & (arr < n)]] = False
    return np.flatnonzero(keep).astype(np.int64, copy=False)
