"""Bad input that reaches the library without the CLI: one row per case, the error type and its text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pixelpush.errors import ConfigError, DataError, PixelpushError
from pixelpush.evaluation.pair_log import check_record
from pixelpush.platform.budget import Budget

CASES: list[tuple[str, Callable[[], Any], type[PixelpushError], str]] = [
    # id                               call                                                error        message
    ("budget-uploads-is-a-string",     lambda: Budget(max_uploads="10"),                   ConfigError, "Budget.max_uploads must be an integer >= 0 or None, got str '10'"),
    ("budget-uploads-is-a-float",      lambda: Budget(max_uploads=1.5),                    ConfigError, "Budget.max_uploads must be an integer >= 0 or None, got float 1.5"),
    ("budget-uploads-is-a-whole-float", lambda: Budget(max_uploads=10.0),                  ConfigError, "Budget.max_uploads must be an integer >= 0 or None, got float 10.0"),
    ("budget-uploads-is-true",         lambda: Budget(max_uploads=True),                   ConfigError, "Budget.max_uploads must be an integer >= 0 or None, got bool True"),
    ("budget-queries-is-a-string",     lambda: Budget(max_queries="lots"),                 ConfigError, "Budget.max_queries must be an integer >= 0 or None, got str 'lots'"),
    ("budget-queries-is-a-list",       lambda: Budget(max_queries=[5]),                    ConfigError, "Budget.max_queries must be an integer >= 0 or None, got list [5]"),
    ("budget-queries-is-numpy-bool",   lambda: Budget(max_queries=np.True_),               ConfigError, "Budget.max_queries must be an integer >= 0 or None, got bool np.True_"),
    ("budget-uploads-is-negative",     lambda: Budget(max_uploads=-1),                     ConfigError, "Budget.max_uploads must be >= 0 or None, got -1"),
    ("record-is-an-array",             lambda: check_record([1, 2], "p.jsonl:4"),          DataError,   "p.jsonl:4: not a pair record: a JSON array, expected an object with a 'unit'"),
    ("record-without-unit",            lambda: check_record({"x": 1}, "p.jsonl:4"),        DataError,   "p.jsonl:4: not a pair record: field 'unit' must be a non-empty string, got missing"),
    ("record-with-empty-unit",         lambda: check_record({"unit": ""}, "p.jsonl:4"),    DataError,   "p.jsonl:4: not a pair record: field 'unit' must be a non-empty string, got an empty string"),
    ("record-unit-is-a-list",          lambda: check_record({"unit": ["a"]}, "p.jsonl:4"), DataError,   "p.jsonl:4: not a pair record: field 'unit' must be a non-empty string, got a JSON array"),
]


@pytest.mark.parametrize(("call", "error", "message"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_library_bad_input_raises_a_named_error(call: Callable[[], Any], error: type[PixelpushError], message: str) -> None:
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value) == message


def test_good_budgets_are_kept_as_plain_ints() -> None:
    budget = Budget(max_uploads=np.int64(10), max_queries=0)
    assert budget == Budget(max_uploads=10, max_queries=0)
    assert type(budget.max_uploads) is int
    assert Budget().max_uploads is None
