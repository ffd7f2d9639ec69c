"""The engine interface: something that runs a campaign's units and hands back their outcomes.

The campaign driver (:func:`pixelpush.evaluation.campaign.run_campaign`) owns the run folder:
it plans the units, skips the ones already recorded, and for every outcome an engine yields it
saves the unit's files and appends its record to ``pairs.jsonl``. An engine only computes. So
whatever the engine, a killed run resumes from its records, and ``results.json``, computed from
the records alone, is byte for byte the same (units are deterministic and single-threaded).

An engine is a context manager: :meth:`Engine.start` acquires what it needs (worker processes
come later; a cluster connection now), before the driver writes anything, so a bad address or a
missing extra stops the run with nothing half-written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import ClassVar

from pixelpush.evaluation.preparation import CampaignContext
from pixelpush.evaluation.unit import UnitOutcome, UnitSpec

__all__ = ["Engine"]


class Engine(ABC):
    """Runs units (see the module docstring).

    Args:
        workers: how many units run at a time (each engine's default when None).
        address: where the engine's workers are (engines without a cluster refuse one).
    """

    id: ClassVar[str] = "engine"

    def __init__(self, *, workers: int | None = None, address: str | None = None) -> None:
        self.workers = workers
        self.address = address

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers!r}, address={self.address!r})"

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:  # noqa: B027 - optional hook
        """Acquire the engine's resources (called before the run folder is written)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Release them."""

    @abstractmethod
    def run(self, ctx: CampaignContext, units: Sequence[UnitSpec]) -> Iterator[UnitOutcome]:
        """Run `units` of the campaign `ctx`; yield each outcome as it finishes, in any order.

        Closing the iterator early (the driver failed) stops the work that has not started.
        """
