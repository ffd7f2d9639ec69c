"""A remote service as a pixelpush platform: the attacks reach it through an ordinary client.

:class:`RemotePlatform` holds one session of a :class:`RecommenderService` and offers the
methods :func:`pixelpush.platform.client.client_gateway` dispatches to, so
``Client(remote_platform, access)`` is a :class:`~pixelpush.platform.api.PlatformClient` like any
other: access levels, counters and the budget are enforced here, on the audit's side, exactly as
the in-process platform enforces them. The experimenter's uncounted view (HR on real users) is
:meth:`RemotePlatform.evaluation_ranks`. Registration and uploads go to the service.

Ranks from a service that shows only scores are derived here: each user's scores of the whole
catalog are fetched once per session, and refreshed for the items uploaded since (only uploads
change scores during an audit); the consumed items of real users come from the audit's dataset,
those of registered users from their registration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pixelpush.errors import DataError
from pixelpush.ids import outside
from pixelpush.integrations.remote.service import RecommenderService, ServiceError
from pixelpush.platform.api import Access
from pixelpush.platform.budget import Budget, Meter
from pixelpush.platform.client import Client
from pixelpush.platform.validation import AccessDeniedError, check_history, check_id, check_ids, validate_batch, validate_upload

__all__ = ["RemotePlatform"]

_log = logging.getLogger(__name__)


def _cut(ranks: np.ndarray, visible: int | None) -> np.ndarray:
    return ranks if visible is None else np.where(ranks <= visible, ranks, 0)


class RemotePlatform:
    """One session of a remote service, behind pixelpush's platform interface.

    Args:
        service: the service (an :class:`~pixelpush.integrations.remote.http.HttpService`, a
            :class:`~pixelpush.integrations.remote.service.PlatformService`, a user's own).
        seed: the session's seed (the service folds users in with it where it can).
        consumed: the real users' histories, in the service's user order (for derived ranks).
        visible_fraction: share of each ranking visible at ``partial`` access (rounded up).
        budget: limits on the attacker's uploads and queries (None: unlimited).
    """

    def __init__(
        self,
        service: RecommenderService,
        *,
        seed: int,
        consumed: Sequence[np.ndarray],
        visible_fraction: float = 0.01,
        budget: Budget | None = None,
    ) -> None:
        info = service.info()
        try:
            self.n_items = int(info["n_items"])
            self.shows = frozenset(str(s) for s in info["shows"])
        except (KeyError, TypeError, ValueError) as err:
            raise ServiceError(f"the service's info() is not {{'n_items': int, 'shows': [...]}}: {info!r} ({err})") from None
        if not self.shows & {"scores", "ranks"}:
            raise ServiceError(f"the service shows neither scores nor ranks (shows {sorted(self.shows)})")
        self.service = service
        self.visible_count = max(1, math.ceil(float(visible_fraction) * self.n_items))
        self._meter = Meter(budget)
        self.registrations = 0
        self._histories: dict[int, np.ndarray] = {u: check_history(h, self.n_items, required=False) for u, h in enumerate(consumed)}
        self._uploaded: dict[int, np.ndarray] = {}
        self._images: dict[int, np.ndarray] = {}
        self._rows: dict[int, np.ndarray] = {}
        self._stale: dict[int, set[int]] = {}
        self.session = service.open_session(int(seed))

    # -- counters and handles ------------------------------------------------------------------
    @property
    def uploads(self) -> int:
        return self._meter.uploads

    @property
    def queries(self) -> int:
        return self._meter.queries

    def client(self, access: Access) -> Client:
        """An attacker's handle at `access` (``score`` only where the service shows scores)."""
        if access == "score" and "scores" not in self.shows:
            raise AccessDeniedError(f"the service shows no scores (it shows {sorted(self.shows)}): no score access")
        return Client(self, access)  # type: ignore[arg-type] - the gateway reads the platform's interface only

    def close(self) -> None:
        """End the session (the service drops its users and uploads where it can)."""
        try:
            self.service.close_session(self.session)
        except ServiceError as err:
            _log.warning("closing session %s failed: %s", self.session, err)

    def check_item(self, item: object) -> int:
        return check_id(item, self.n_items, "item")

    def _users(self, users: object) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(users)).reshape(-1)
        if ids.dtype.kind not in "iu":
            raise DataError(f"user ids must be integers, got {ids.dtype}")
        unknown = [int(u) for u in ids if int(u) not in self._histories]
        if unknown:
            raise DataError(f"unknown user {unknown[0]}: not a real user of the dataset nor registered in this session")
        return ids.astype(np.int64)

    # -- what the client dispatches to ---------------------------------------------------------
    def current_image(self, item: int) -> np.ndarray:
        item = self.check_item(item)
        if item in self._uploaded:
            return self._uploaded[item].copy()
        if item not in self._images:
            self._images[item] = np.asarray(self.service.image(self.session, item))
        return self._images[item].copy()

    def displayed_image(self, item: int) -> np.ndarray:
        """What a visitor sees of the item: for a service, the image it serves (its own pipeline
        already applied, if it has one), or the seller's last upload."""
        return self.current_image(item)

    def upload_image(self, item: int, image: np.ndarray) -> None:
        item = self.check_item(item)
        image = validate_upload(item, image)
        self._meter.admit(1, 0, f"upload of item {item}")
        self.service.upload_image(self.session, item, image)
        self._meter.charge(1, 0)
        self._uploaded[item] = image.copy()
        for stale in self._stale.values():
            stale.add(item)

    def register_user(self, history: np.ndarray | Sequence[int]) -> int:
        h = check_history(history, self.n_items, required=True)
        uid = int(self.service.register_user(self.session, h))
        if uid in self._histories:
            raise ServiceError(f"the service returned user {uid} for a new registration, an id it had already given")
        self._histories[uid] = h
        self.registrations += 1
        return uid

    def scores(self, user: int, items: np.ndarray | Sequence[int]) -> np.ndarray:
        self._require("scores")
        users = self._users([user])
        items = check_ids(items, self.n_items, "item")
        self._meter.admit(0, 1, f"scores for user {user}")
        out = np.asarray(self.service.scores(self.session, users, items))[0]
        self._meter.charge(0, 1)
        return out

    def rank(self, users: int | np.ndarray, item: int, *, visible: int | None = None) -> np.ndarray:
        item, ids = self.check_item(item), self._users(users)
        self._meter.admit(0, len(ids), f"rank of item {item}")
        out = self._ranks(ids, item)
        self._meter.charge(0, len(ids))
        return _cut(out, visible)

    def ranking(self, user: int, *, visible: int | None = None) -> np.ndarray:
        ids = self._users([user])
        self._meter.admit(0, 1, f"ranking of user {user}")
        k = self.n_items if visible is None else int(visible)
        if "rankings" in self.shows:
            out = np.asarray(self.service.ranking(self.session, int(ids[0]), k), dtype=np.int64)
        else:
            self._require("scores", "rankings")
            row = self._row(int(ids[0]))
            keep = outside(self._histories[int(ids[0])], self.n_items)
            out = keep[np.lexsort((keep, -row[keep]))][:k]
        self._meter.charge(0, 1)
        return out

    def probe_scores(self, users: int | np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        self._require("scores")
        single, ids, item, images = self._probe(users, item, images)
        out = np.asarray(self.service.probe_scores(self.session, ids, item, images)).reshape(len(ids), len(images))
        self._meter.charge(len(images), len(images) * len(ids))
        return out[0] if single else out

    def probe_ranks(self, users: int | np.ndarray, item: int, images: np.ndarray, *, visible: int | None = None) -> np.ndarray:
        single, ids, item, images = self._probe(users, item, images)
        if "ranks" in self.shows:
            out = np.asarray(self.service.probe_ranks(self.session, ids, item, images), dtype=np.int64).reshape(len(ids), len(images))
        else:
            scores = np.asarray(self.service.probe_scores(self.session, ids, item, images)).reshape(len(ids), len(images))
            out = np.stack([self._rank_at(int(u), item, scores[k]) for k, u in enumerate(ids)])
        self._meter.charge(len(images), len(images) * len(ids))
        out = _cut(out, visible)
        return out[0] if single else out

    # -- the experimenter's side (uncounted) ---------------------------------------------------
    def evaluation_ranks(self, users: np.ndarray, item: int) -> np.ndarray:
        """Ranks ``(U,)`` of `item` for real `users` at the current images (uncounted; 0: consumed)."""
        ids = self._users(users)
        return self._ranks(ids, self.check_item(item)) if len(ids) else np.zeros(0, np.int64)

    # -- helpers -------------------------------------------------------------------------------
    def _require(self, what: str, alternative: str | None = None) -> None:
        if what not in self.shows and (alternative is None or alternative not in self.shows):
            raise AccessDeniedError(f"the service shows no {alternative or what} (it shows {sorted(self.shows)})")

    def _probe(self, users: Any, item: int, images: np.ndarray) -> tuple[bool, np.ndarray, int, np.ndarray]:
        single = isinstance(users, int | np.integer) and not isinstance(users, bool)
        ids = self._users(users)
        if not len(ids):
            raise DataError("a probe needs at least one user")
        item = self.check_item(item)
        images = validate_batch(item, images)
        self._meter.admit(len(images), len(images) * len(ids), f"probe of item {item} with {len(images)} candidates")
        return single, ids, item, images

    def _ranks(self, ids: np.ndarray, item: int) -> np.ndarray:
        if "ranks" in self.shows:
            return np.asarray(self.service.ranks(self.session, ids, item), dtype=np.int64).reshape(len(ids))
        out = np.empty(len(ids), dtype=np.int64)
        for k, u in enumerate(ids.tolist()):
            row = self._row(u)
            out[k] = self._rank_at(u, item, row[item : item + 1])[0]
        return out

    def _row(self, user: int) -> np.ndarray:
        """`user`'s scores of every item at the current images (fetched once, refreshed where uploaded)."""
        if user not in self._rows:
            self._rows[user] = np.asarray(self.service.scores(self.session, np.asarray([user]), np.arange(self.n_items)))[0].astype(np.float64)
            self._stale[user] = set()
        stale = self._stale[user]
        if stale:
            items = np.fromiter(sorted(stale), dtype=np.int64)
            self._rows[user][items] = np.asarray(self.service.scores(self.session, np.asarray([user]), items))[0]
            stale.clear()
        return self._rows[user]

    def _rank_at(self, user: int, item: int, scores: np.ndarray) -> np.ndarray:
        """Ranks of `item` for `user` had it each of `scores` (optimistic ties; 0 if consumed)."""
        consumed = self._histories[user]
        if np.isin(item, consumed):
            return np.zeros(len(scores), dtype=np.int64)
        row = self._row(user).copy()
        row[consumed] = -np.inf
        row[item] = -np.inf
        ordered = np.sort(row)
        return (1 + len(ordered) - np.searchsorted(ordered, np.asarray(scores, dtype=np.float64), side="right")).astype(np.int64)
