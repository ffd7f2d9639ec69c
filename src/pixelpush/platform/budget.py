"""Upload and query counters with an optional budget that refuses the first call past it."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from pixelpush.errors import BudgetExceededError, ConfigError


@dataclass(frozen=True)
class Budget:
    """Limits on what one platform serves; ``None`` means unlimited.

    Attributes:
        max_uploads: total uploads (each probed candidate counts as one upload).
        max_queries: total queries (one per score list, per user ranked, per probed candidate).
    """

    max_uploads: int | None = None
    max_queries: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_uploads", "max_queries"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ConfigError(f"Budget.{name} must be an integer >= 0 or None, got {type(value).__name__} {value!r}")
            if value < 0:
                raise ConfigError(f"Budget.{name} must be >= 0 or None, got {value}")
            object.__setattr__(self, name, int(value))  # a NumPy integer becomes a plain int


class Meter:
    """Counts uploads and queries against a :class:`Budget`.

    A call is first :meth:`admit`-ted (which raises :class:`BudgetExceededError` and counts
    nothing if it would pass the budget), then :meth:`charge`-d once it has succeeded.
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.uploads = 0
        self.queries = 0

    def admit(self, uploads: int, queries: int, what: str) -> None:
        """Raise :class:`BudgetExceededError` if `uploads`/`queries` more would pass the budget."""
        b = self.budget
        if b.max_uploads is not None and self.uploads + uploads > b.max_uploads:
            raise BudgetExceededError(
                f"{what}: {uploads} upload(s) refused, {self.uploads} of {b.max_uploads} already used"
            )
        if b.max_queries is not None and self.queries + queries > b.max_queries:
            raise BudgetExceededError(
                f"{what}: {queries} query(ies) refused, {self.queries} of {b.max_queries} already used"
            )

    def charge(self, uploads: int, queries: int) -> None:
        """Count a call that was admitted and has succeeded."""
        self.uploads += uploads
        self.queries += queries

    def reset(self) -> None:
        """Set both counters back to zero (the budget applies afresh)."""
        self.uploads = 0
        self.queries = 0
