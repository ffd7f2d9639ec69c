"""`outside` gives the array `np.setdiff1d(np.arange(n), ids)` gives, whatever the ids."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpush.ids import outside


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_outside_equals_setdiff1d_of_the_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    ids = rng.integers(-20, n + 20, size=int(rng.integers(0, 2 * n)))  # unsorted, repeated, out of range
    for given in (ids, ids.tolist(), ids.astype(np.int32)):
        got = outside(given, n)
        want = np.setdiff1d(np.arange(n), ids)
        assert got.dtype == np.int64 and np.array_equal(got, want)
    assert np.array_equal(outside([], n), np.arange(n))
    assert outside(np.arange(n), n).size == 0
