"""The platform's one-pass check of every existing history gives what the per-history check gives."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpush.platform.validation import check_histories, check_history


def _outcome(check, histories, n_items):
    try:
        return [(h.dtype, h.tolist()) for h in check(histories, n_items)]
    except Exception as err:  # noqa: BLE001 - the same error is the expected outcome
        return (type(err), str(err))


def _one_by_one(histories, n_items):
    return [check_history(h, n_items, required=False) for h in histories]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_matches_the_per_history_check_on_random_histories(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(400):
        histories = []
        for _ in range(int(rng.integers(0, 6))):
            kind = rng.integers(4)
            if kind == 0:  # sorted unique, as a dataset keeps them
                histories.append(np.sort(rng.choice(30, size=int(rng.integers(0, 6)), replace=False)))
            elif kind == 1:  # unsorted, with repeats
                histories.append(rng.integers(0, 30, size=int(rng.integers(0, 5))))
            elif kind == 2:  # an unknown item
                histories.append(np.array([int(rng.integers(0, 30)), int(rng.choice([-1, 30, 99]))]))
            else:
                histories.append(np.zeros(0, dtype=np.int32))
        assert _outcome(check_histories, histories, 30) == _outcome(_one_by_one, histories, 30), histories


def test_known_cases() -> None:
    assert [h.tolist() for h in check_histories([[], [3, 2]], 8)] == [[], [2, 3]]  # empty first, then unsorted
    assert [h.tolist() for h in check_histories([[1, 2], [2, 3], []], 8)] == [[1, 2], [2, 3], []]
    assert check_histories([], 8) == []
    with pytest.raises(Exception, match="unknown item 8"):
        check_histories([[1], [8]], 8)
    with pytest.raises(Exception, match="integer"):
        check_histories([np.array([1.5])], 8)
