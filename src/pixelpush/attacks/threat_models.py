"""Threat models (paper §3.1, §4.2): whom the attack targets, and whom the campaign evaluates on.

A threat model is configuration; :meth:`ThreatModel.prepare` registers its mock users through
the attacker's view for one pushed item and returns a :class:`Preparation`: the *targeting*,
which names the registered user to attack before each step and is all the attack receives, and
the *real* evaluation users, which only the experimenter (the campaign runner) reads.

- :class:`SpecificUser`: a clone of the target's history; attack the clone, evaluate on the user.
- :class:`Segment`: one mock user holding a random item of the pushed item's category (the
  segment item); evaluate on the real users who consumed the *segment item*.
- :class:`GeneralPopulation`: ``n_mock`` mock users with one random item each; before each step
  order them best-placed first by the pushed item's score (``score`` access) or rank (otherwise;
  not visible = worst) and attack the one at the ``percentile``; evaluate on random real users.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from pixelpush.attacks.view import AttackerView
from pixelpush.errors import ConfigError
from pixelpush.ids import outside
from pixelpush.random import numpy_rng

__all__ = [
    "FixedTarget",
    "GeneralPopulation",
    "PercentileTarget",
    "PopulationData",
    "Preparation",
    "Segment",
    "SpecificUser",
    "ThreatModel",
]

_log = logging.getLogger(__name__)


class PopulationData(Protocol):
    """What threat models read from a dataset (:class:`pixelpush.data.catalog.Dataset` fits)."""

    @property
    def categories(self) -> np.ndarray: ...

    @property
    def n_users(self) -> int: ...

    @property
    def histories(self) -> Sequence[np.ndarray]: ...


@dataclass(frozen=True)
class FixedTarget:
    """Always the same registered user (specific user, segment)."""

    user: int

    def active_user(self, view: AttackerView, item: int) -> int:  # noqa: ARG002
        return self.user


@dataclass(frozen=True)
class PercentileTarget:
    """Mock users ranked best-placed first before each step; the one at `percentile` is active."""

    mock_users: tuple[int, ...]
    percentile: float

    def order(self, view: AttackerView, item: int) -> np.ndarray:
        """The mock users, best-placed first (len(mock_users) queries); ties keep registration order."""
        client = view.client
        users = np.asarray(self.mock_users, dtype=np.int64)
        if client.access == "score":
            key = -np.array([float(np.asarray(client.scores(int(u), [item]))[0]) for u in users])
        else:
            ranks = np.asarray(client.rank(users, item), dtype=np.float64).reshape(-1)
            key = np.where(ranks <= 0, np.inf, ranks)  # partial: not visible = worst
        return users[np.argsort(key, kind="stable")]

    def active_user(self, view: AttackerView, item: int) -> int:
        ordered = self.order(view, item)
        index = min(len(ordered) - 1, int(np.floor(self.percentile * len(ordered))))
        return int(ordered[index])


@dataclass(frozen=True)
class Preparation:
    """What :meth:`ThreatModel.prepare` returns: the attacker's targeting and the experimenter's users."""

    targeting: FixedTarget | PercentileTarget
    """Given to the attack."""
    evaluation_users: np.ndarray
    """The real users HR is measured on: the experimenter's, never shown to the attack."""
    info: dict[str, Any] = field(default_factory=dict)
    """What the record keeps about the preparation (the real target, the segment item, ...)."""


def _flatten(histories: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All (user, item) pairs of `histories` as two aligned arrays."""
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    users = np.repeat(np.arange(len(histories), dtype=np.int64), lengths)
    items = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if len(histories) else np.zeros(0, np.int64)
    return users, items


def _holders(histories: Sequence[np.ndarray], item: int) -> np.ndarray:
    """The users whose history contains `item`, sorted."""
    users, items = _flatten(histories)
    return np.unique(users[items == item])


class ThreatModel(ABC):
    """Configuration of a target population; :meth:`prepare` registers its mock users."""

    id: ClassVar[str] = "threat"

    @abstractmethod
    def prepare(
        self, view: AttackerView, item: int, data: PopulationData, *, seed: int, user: int | None = None
    ) -> Preparation:
        """Register mock users for pushing `item` through `view`; `user` is the specific user's target."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def config(self) -> dict[str, Any]:
        """The threat model's settings (part of every unit's key)."""
        return dict(vars(self))


class SpecificUser(ThreatModel):
    """Clone the target user's history (the attacker knows it), attack the clone, evaluate on the user."""

    id = "specific-user"

    def prepare(
        self, view: AttackerView, item: int, data: PopulationData, *, seed: int, user: int | None = None
    ) -> Preparation:
        del seed
        if user is None:
            raise ConfigError("the specific-user threat model needs the target user")
        history = np.asarray(data.histories[user], dtype=np.int64)
        if item in set(history.tolist()):
            raise ConfigError(f"user {user} already consumed item {item}: not a valid pair")
        clone = view.register_user(history)
        return Preparation(FixedTarget(clone), np.array([user], dtype=np.int64), {"target": int(user)})


class Segment(ThreatModel):
    """One mock user holding a segment item: a seeded random item of the pushed item's category.

    Evaluation users are the real users who consumed the *segment item* and not the pushed item.

    Args:
        require_consumers: draw the segment item only among category items with at least one
            valid evaluation user (an experiment-design choice: an empty segment has no HR).
    """

    id = "segment"

    def __init__(self, *, require_consumers: bool = True) -> None:
        self.require_consumers = bool(require_consumers)

    def prepare(
        self, view: AttackerView, item: int, data: PopulationData, *, seed: int, user: int | None = None
    ) -> Preparation:
        del user
        categories = np.asarray(data.categories)
        candidates = np.flatnonzero(categories == categories[item])
        candidates = candidates[candidates != item]
        users, items = _flatten(data.histories)
        valid = ~np.isin(users, np.unique(users[items == item]))  # pairs with the pushed item are invalid
        users, items = users[valid], items[valid]
        if self.require_consumers:
            candidates = candidates[np.isin(candidates, items)]
        if candidates.size == 0:
            raise ConfigError(f"no segment item for item {item} in category {categories[item]}")
        segment_item = int(numpy_rng(seed, "segment", item).choice(candidates))
        mock = view.register_user([segment_item])
        evaluation = np.unique(users[items == segment_item])
        return Preparation(FixedTarget(mock), evaluation, {"segment_item": segment_item})


class GeneralPopulation(ThreatModel):
    """``n_mock`` single-item mock users; the one at `percentile` (best-placed first) is active.

    Args:
        n_mock: number of mock users (the paper: 200), each with one distinct random item.
        percentile: the active user's position in the best-first order (the paper: 0.25;
            0 = the best-placed mock user).
        n_eval: number of random real users to evaluate on (all when fewer valid ones exist).
    """

    id = "general"

    def __init__(self, *, n_mock: int = 200, percentile: float = 0.25, n_eval: int = 1000) -> None:
        if n_mock < 1 or int(n_mock) != n_mock:
            raise ConfigError(f"n_mock must be a positive integer, got {n_mock}")
        if not 0.0 <= percentile <= 1.0:
            raise ConfigError(f"percentile must be in [0, 1], got {percentile}")
        if n_eval < 1 or int(n_eval) != n_eval:
            raise ConfigError(f"n_eval must be a positive integer, got {n_eval}")
        self.n_mock = int(n_mock)
        self.percentile = float(percentile)
        self.n_eval = int(n_eval)

    def prepare(
        self, view: AttackerView, item: int, data: PopulationData, *, seed: int, user: int | None = None
    ) -> Preparation:
        del user
        n_items = len(data.categories)
        pool = np.delete(np.arange(n_items), item)
        rng = numpy_rng(seed, "general", item)
        items = rng.choice(pool, size=min(self.n_mock, pool.size), replace=False)
        mocks = tuple(view.register_user([int(j)]) for j in items)
        valid = outside(_holders(data.histories, item), data.n_users)
        evaluation = np.sort(rng.choice(valid, size=min(self.n_eval, valid.size), replace=False)) if valid.size else valid
        return Preparation(
            PercentileTarget(mock_users=mocks, percentile=self.percentile),
            evaluation.astype(np.int64),
            {"mock_items": items.astype(int).tolist()},
        )
