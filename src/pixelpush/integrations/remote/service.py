"""What a live recommender must answer for a black-box audit, and two implementations of it.

A :class:`RecommenderService` is the owner's system seen from outside: it registers users (and
folds them in), takes image uploads, and answers scores and/or ranks of an item for users,
under its current image or under candidate images. It answers at *full* access: the audit's
side (:class:`pixelpush.integrations.remote.platform.RemotePlatform`) applies each attack's
access level, counts uploads and queries, and enforces the budget, as pixelpush's own platform
does. A service that shows only scores gets ranks derived from scores; one that shows only ranks
is not attacked through scores (the audit skips those attacks).

Sessions: each unit of an audit opens one (``open_session(seed)``) and closes it at the end. A
service that can keep sessions apart (a staging copy per session; :class:`PlatformService`)
makes units independent and reproducible; one that cannot should return one shared session and
restore uploaded images on close (documented in ``docs/remote-service.md``).

- :class:`PlatformService`: sessions of pixelpush :class:`~pixelpush.platform.platform.Platform`
  objects (the reference implementation; ``pixelpush serve`` exposes it over HTTP).
- :class:`FunctionService`: a user's plain functions (score or rank a user's view of an item
  given the item's image; register a user).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from pixelpush.errors import ConfigError, PixelpushError, UnknownIdError
from pixelpush.platform.validation import check_history, check_id, check_ids, validate_batch, validate_upload

__all__ = ["FunctionService", "PlatformService", "RecommenderService", "ServiceError", "Shows"]

_log = logging.getLogger(__name__)

Shows = Literal["scores", "ranks", "rankings"]


class ServiceError(PixelpushError, RuntimeError):
    """The service could not be reached or answered nonsense (the message says which call)."""


@runtime_checkable
class RecommenderService(Protocol):
    """A live system, at full access. Ids are the service's: items ``0..n_items-1`` (the audit's
    catalog order), users as the service numbers them (real users ``0..n_users-1`` in the audit's
    dataset order; registered ones as it returns)."""

    def info(self) -> dict[str, Any]:
        """``{"n_items": int, "shows": [...]}``: any of ``scores`` (:meth:`scores`, :meth:`probe_scores`),
        ``ranks`` (:meth:`ranks`, :meth:`probe_ranks`), ``rankings`` (:meth:`ranking`). What a
        service lacks is derived from scores where it shows them."""

    def open_session(self, seed: int) -> str:
        """Start a session (a fresh state, seeded, where the service can); returns its id."""

    def close_session(self, session: str) -> None:
        """End a session (drop its users and uploads where the service can)."""

    def register_user(self, session: str, history: np.ndarray) -> int:
        """Register and fold in a user who consumed `history`; returns the user's id."""

    def upload_image(self, session: str, item: int, image: np.ndarray) -> None:
        """Replace `item`'s image by `image` ``(H, W, 3)`` uint8."""

    def image(self, session: str, item: int) -> np.ndarray:
        """`item`'s current image."""

    def scores(self, session: str, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores ``(U, I)`` of `items` for `users` under the current images."""

    def probe_scores(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Scores ``(U, B)`` of `item` for `users` had its image been each of `images` ``(B, H, W, 3)``."""

    def ranks(self, session: str, users: np.ndarray, item: int) -> np.ndarray:
        """1-based ranks ``(U,)`` of `item` among each user's unconsumed items (0: consumed); ties optimistic."""

    def probe_ranks(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Ranks ``(U, B)`` of `item` had its image been each of `images`."""

    def ranking(self, session: str, user: int, k: int) -> np.ndarray:
        """The first `k` items of `user`'s ranking (unconsumed items, best first, ties by id)."""


class PlatformService:
    """Sessions of pixelpush platforms: ``make_platform(seed)`` builds a fresh one per session.

    Thread-safe (one lock): the HTTP server may answer from several threads. At most
    `max_sessions` are open at once (the oldest is closed beyond that: a client that forgets to
    close cannot exhaust memory).
    """

    def __init__(self, make_platform: Callable[[int], Any], *, max_sessions: int = 16) -> None:
        self._make = make_platform
        self._sessions: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.max_sessions = int(max_sessions)
        probe = make_platform(0)
        self._n_items = int(probe.n_items)

    def info(self) -> dict[str, Any]:
        return {"n_items": self._n_items, "shows": ["scores", "ranks", "rankings"]}

    def _get(self, session: str) -> Any:
        try:
            return self._sessions[str(session)]
        except KeyError:
            raise UnknownIdError(f"unknown session {session!r} (closed, or never opened)") from None

    def open_session(self, seed: int) -> str:
        platform = self._make(int(seed))
        with self._lock:
            sid = f"s{next(self._ids)}"
            self._sessions[sid] = platform
            while len(self._sessions) > self.max_sessions:
                oldest = next(iter(self._sessions))
                _log.warning("closing session %s: more than %d open", oldest, self.max_sessions)
                del self._sessions[oldest]
        return sid

    def close_session(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(str(session), None)

    def register_user(self, session: str, history: np.ndarray) -> int:
        with self._lock:
            return int(self._get(session).register_user(history))

    def upload_image(self, session: str, item: int, image: np.ndarray) -> None:
        with self._lock:
            self._get(session).upload_image(item, image)

    def image(self, session: str, item: int) -> np.ndarray:
        with self._lock:
            return self._get(session).current_image(item)

    def scores(self, session: str, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        with self._lock:
            p = self._get(session)
            return p.score_rows(p.check_users(users), check_ids(items, p.n_items, "item"))

    def probe_scores(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get(session).probe_scores(np.asarray(users, np.int64), item, images))

    def ranks(self, session: str, users: np.ndarray, item: int) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get(session).rank(np.asarray(users, np.int64), item))

    def probe_ranks(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get(session).probe_ranks(np.asarray(users, np.int64), item, images))

    def ranking(self, session: str, user: int, k: int) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get(session).ranking(user, visible=int(k)))


class FunctionService:
    """A service from a user's plain functions (no sessions: one live state, images kept here).

    Args:
        n_items: the catalog size.
        images: ``item -> (H, W, 3) uint8``: the catalog's current public images.
        register: ``history -> user id``: the live system registers and folds in a user.
        score: ``(users (U,), items (I,), images (I, H, W, 3)) -> (U, I)`` scores of those items
            for those users had the items the given images (an upload is remembered here and
            passed on every later call); or None for a rank-only service.
        rank: ``(users (U,), item, images (B, H, W, 3)) -> (U, B)`` ranks of `item` had it each
            image (1-based among unconsumed items, 0 consumed); or None: ranks are derived from
            scores by the audit's side.
        ranking: optional ``(user, k) -> item ids``: the first `k` of the user's ranking.
        upload: optional ``(item, image) -> None`` told about every accepted upload.
    """

    def __init__(
        self,
        *,
        n_items: int,
        images: Callable[[int], np.ndarray],
        register: Callable[[np.ndarray], int],
        score: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
        rank: Callable[[np.ndarray, int, np.ndarray], np.ndarray] | None = None,
        ranking: Callable[[int, int], np.ndarray] | None = None,
        upload: Callable[[int, np.ndarray], None] | None = None,
    ) -> None:
        if score is None and rank is None:
            raise ConfigError("a FunctionService needs a score or a rank function")
        self.n_items = int(n_items)
        self._images, self._register, self._score, self._rank, self._upload = images, register, score, rank, upload
        self._ranking = ranking
        self._current: dict[int, np.ndarray] = {}

    def info(self) -> dict[str, Any]:
        given = (("scores", self._score), ("ranks", self._rank), ("rankings", self._ranking))
        return {"n_items": self.n_items, "shows": [s for s, f in given if f is not None]}

    def open_session(self, seed: int) -> str:  # noqa: ARG002 - one live state
        return "live"

    def close_session(self, session: str) -> None:
        self._current.clear()  # the catalog's own images again

    def register_user(self, session: str, history: np.ndarray) -> int:
        return int(self._register(check_history(history, self.n_items, required=True)))

    def upload_image(self, session: str, item: int, image: np.ndarray) -> None:
        item = check_id(item, self.n_items, "item")
        image = validate_upload(item, image)
        if self._upload is not None:
            self._upload(item, image)
        self._current[item] = image.copy()

    def image(self, session: str, item: int) -> np.ndarray:
        item = check_id(item, self.n_items, "item")
        return self._current[item].copy() if item in self._current else np.asarray(self._images(item)).copy()

    def _need(self, what: str, fn: Any) -> Any:
        if fn is None:
            raise ServiceError(f"this service shows no {what}")
        return fn

    def scores(self, session: str, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        items = check_ids(items, self.n_items, "item")
        images = np.stack([self.image(session, int(i)) for i in items])
        return np.asarray(self._need("scores", self._score)(np.asarray(users, np.int64), items, images), dtype=np.float64)

    def probe_scores(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        images = validate_batch(item, images)
        return np.asarray(self._need("scores", self._score)(np.asarray(users, np.int64), np.full(len(images), item), images), dtype=np.float64)

    def ranks(self, session: str, users: np.ndarray, item: int) -> np.ndarray:
        return self.probe_ranks(session, users, item, self.image(session, item)[None])[:, 0]

    def probe_ranks(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        images = validate_batch(item, images)
        return np.asarray(self._need("ranks", self._rank)(np.asarray(users, np.int64), int(item), images), dtype=np.int64)

    def ranking(self, session: str, user: int, k: int) -> np.ndarray:
        return np.asarray(self._need("rankings", self._ranking)(int(user), int(k)), dtype=np.int64)
