"""The platform: a live recommender service over a catalog, with counted and budgeted access.

:class:`Platform` is the experimenter's object. Attackers only ever receive a
:class:`~pixelpush.platform.client.Client` (``platform.client(access)``), which implements
:class:`pixelpush.platform.api.PlatformClient`; see ``platform/api.py`` for that contract.
The experimenter's side (the evaluator, the white-box handle, diagnostics) reads the platform
through the small public interface in the last section of the class, never its private state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pixelpush.data.catalog import ImageStore
from pixelpush.errors import BudgetExceededError, ConfigError, DataError
from pixelpush.platform.api import Access
from pixelpush.platform.budget import Budget, Meter
from pixelpush.platform.client import Client
from pixelpush.platform.ingest import Pipeline
from pixelpush.platform.rank_index import RankIndex, ScoreSource
from pixelpush.platform.validation import (
    InvalidRequestError,
    check_histories,
    check_history,
    check_id,
    check_ids,
    validate_batch,
    validate_upload,
)
from pixelpush.platform.whitebox import WhiteBoxHandle
from pixelpush.random import derive_seed, numpy_rng
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.scaling import nonfinite_rows
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.memo import FeatureMemo

log = logging.getLogger(__name__)

ACCESS_LEVELS: tuple[Access, ...] = ("score", "rank", "partial")


class _Source(ScoreSource):
    """The platform as seen by a :class:`RankIndex` (base/current scores, versions)."""

    def __init__(self, platform: Platform) -> None:
        self._p = platform

    @property
    def n_items(self) -> int:
        return self._p.n_items

    @property
    def epoch(self) -> int:
        return self._p._epoch

    def base_scores(self, users: np.ndarray) -> np.ndarray:
        return self._p._base_scores(users)

    def current_scores(self, user: int, items: np.ndarray) -> np.ndarray:
        p = self._p
        return p._score(np.asarray([user]), items, p._features[torch.as_tensor(items)])[0]

    def consumed(self, user: int) -> np.ndarray:
        return self._p._consumed[user]

    def history_version(self, user: int) -> int:
        return self._p._history_versions[user]

    def modified_items(self) -> np.ndarray:
        return self._p._modified_sorted

    def item_versions(self, items: np.ndarray) -> np.ndarray:
        return self._p._item_versions[items]


class Platform:
    """A live recommender service over a catalog, with counted and budgeted access.

    Args:
        recommender: scores users against items from the items' current features.
        images: the catalog's current uploads.
        image_model: the public image model the service runs on every upload.
        features: precomputed ``(N, d)`` features of `images`; computed with `image_model` if None.
        consumed: each existing user's history (excluded from that user's rankings).
        visible_fraction: share of each ranking visible at ``partial`` access (rounded up).
        budget: limits on uploads and queries; unlimited if None.
        seed: the seed of fold-in (``derive_seed(seed, "fold-in", user_id)``).
        memo: the compute-only feature memo for uploads and probes, over `image_model` (a fresh
            one of capacity 512 if None). Its :meth:`~FeatureMemo.reader` may be shared with an
            attacker in one process: nobody can write into it.
        rebase_after: when more items than this differ from the base features, make the current
            features the new base (the rank index then rebuilds lazily).
        index_bytes: memory bound of the rank index.
        pipeline: the ingest pipeline (:mod:`pixelpush.platform.ingest`) every upload and probe goes
            through before the image model sees it; `features` must then be those of the processed
            catalog images. Visitors (``client.image``) see processed images.
        reveal: limits on what new accounts see (:class:`pixelpush.defenses.reveal.RevealLimit`).
        monitor: an upload monitor that observes every upload and probe candidate
            (:class:`pixelpush.defenses.monitor.UploadMonitor`); it only records.
    """

    def __init__(
        self,
        recommender: Recommender,
        images: ImageStore,
        image_model: ImageModel,
        *,
        features: np.ndarray | torch.Tensor | None = None,
        consumed: Sequence[np.ndarray],
        visible_fraction: float = 0.01,
        budget: Budget | None = None,
        seed: int = 0,
        memo: FeatureMemo | None = None,
        rebase_after: int = 64,
        index_bytes: int = 256 * 2**20,
        pipeline: Pipeline | None = None,
        reveal: Any = None,
        monitor: Any = None,
    ) -> None:
        n = len(images)
        if recommender.n_items != n:
            raise DataError(f"the recommender knows {recommender.n_items} items, the catalog has {n}")
        if len(consumed) != recommender.n_users:
            raise DataError(f"{len(consumed)} histories given for the recommender's {recommender.n_users} users")
        if not 0.0 < visible_fraction <= 1.0:
            raise ConfigError(f"visible_fraction must be in (0, 1], got {visible_fraction}")
        if memo is not None and memo.model is not image_model:
            raise ConfigError("the feature memo wraps a different image model than the platform's")
        self.recommender = recommender
        self.images = images
        self.image_model = image_model
        self.memo = memo if memo is not None else FeatureMemo(image_model)
        self.n_items = n
        self.visible_fraction = float(visible_fraction)
        self.visible_count = max(1, math.ceil(visible_fraction * n))
        self.seed = int(seed)
        self.rebase_after = int(rebase_after)
        self.pipeline = pipeline if pipeline is not None else Pipeline()
        self.reveal = reveal
        self.monitor = monitor
        self._meter = Meter(budget)
        self.registrations = 0

        feats = self._initial_features(features)
        self._features = feats
        self._base = feats.clone()
        self._epoch = 0
        self._base_scorer: tuple[int, Any] | None = None
        self._modified: set[int] = set()
        self._modified_sorted = np.zeros(0, dtype=np.int64)
        self._item_versions = np.zeros(n, dtype=np.int64)
        self._current_uploads: dict[int, np.ndarray] = {}
        self._consumed = check_histories(consumed, n)
        self._history_versions = [0] * len(self._consumed)
        self.n_initial_users = len(self._consumed)
        self._account_queries: dict[int, int] = {}
        self._displayed: dict[int, np.ndarray] = {}
        self._spreads: dict[tuple[str, int], float] = {}
        self._noise_draws: dict[int, int] = {}
        self._source = _Source(self)
        self.index = RankIndex(self._source, max_bytes=index_bytes)

    def _initial_features(self, features: np.ndarray | torch.Tensor | None) -> torch.Tensor:
        if features is None:
            log.info("extracting features of %d catalog images with %s", self.n_items, self.image_model.identity)
            chunk = 64
            rows = [
                self.image_model.extract(
                    [self.pipeline.apply(im) for im in self.images.many(range(s, min(s + chunk, self.n_items)))]
                )
                for s in range(0, self.n_items, chunk)
            ]
            features = np.concatenate(rows) if rows else np.zeros((0, self.image_model.feature_dim), np.float32)
        feats = torch.as_tensor(np.asarray(features) if not torch.is_tensor(features) else features.detach())
        feats = feats.to(device="cpu", dtype=torch.float32).clone()
        if feats.ndim != 2 or feats.shape[0] != self.n_items:
            raise DataError(f"features must be ({self.n_items}, d), got {tuple(feats.shape)}")
        dim = self.image_model.feature_dim
        if dim and feats.shape[1] != dim:
            raise DataError(f"features have {feats.shape[1]} dimensions, {self.image_model.identity} gives {dim}")
        bad = nonfinite_rows(feats)
        if len(bad):
            raise DataError(f"non-finite features for {len(bad)} item(s), first item {int(bad[0])}")
        return feats

    # -- ids and counters ----------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        """Number of users the platform serves (existing plus registered)."""
        return len(self._consumed)

    def check_user(self, user: object) -> int:
        """`user` as an int; :class:`UnknownIdError` if the platform does not know it."""
        return check_id(user, self.n_users, "user")

    def check_item(self, item: object) -> int:
        """`item` as an int; :class:`UnknownIdError` if the catalog does not have it."""
        return check_id(item, self.n_items, "item")

    def check_users(self, users: object) -> np.ndarray:
        """`users` (an int or a 1-D integer array) as an int64 array of known user ids."""
        return check_ids(users, self.n_users, "user", scalar_ok=True)

    @property
    def uploads(self) -> int:
        """Uploads counted so far (probed candidates included)."""
        return self._meter.uploads

    @property
    def queries(self) -> int:
        """Queries counted so far."""
        return self._meter.queries

    @property
    def budget(self) -> Budget:
        return self._meter.budget

    def reset_counters(self) -> None:
        """Set the upload and query counters back to zero."""
        self._meter.reset()

    # -- handles -------------------------------------------------------------------------------

    def client(self, access: Access) -> Client:
        """An attacker's handle at `access` ``"score"``, ``"rank"`` or ``"partial"``."""
        if access not in ACCESS_LEVELS:
            raise ConfigError(f"unknown access level {access!r}; expected one of {ACCESS_LEVELS}")
        return Client(self, access)

    def white_box(self) -> WhiteBoxHandle:
        """Full access for the white-box attack and diagnostics (never given to black-box attacks)."""
        return WhiteBoxHandle(self)

    # -- the service (reached through a Client) ------------------------------------------------

    def _score(self, users: np.ndarray, items: np.ndarray, feats: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            out = self.recommender.score(
                torch.as_tensor(np.asarray(users), dtype=torch.long),
                torch.as_tensor(np.asarray(items), dtype=torch.long),
                feats,
            )
        return out.detach().cpu().numpy()

    def _base_scores(self, users: np.ndarray) -> np.ndarray:
        """Scores of `users` against the whole catalog at its base features (the rank index's)."""
        with torch.inference_mode():
            if self._base_scorer is None or self._base_scorer[0] != self._epoch:  # once per base
                self._base_scorer = (self._epoch, self.recommender.catalog_scorer(self._base))
            out = self._base_scorer[1](torch.as_tensor(np.asarray(users), dtype=torch.long))
        return out.detach().cpu().numpy()

    def _set_features(self, item: int, feats: torch.Tensor) -> None:
        self._features[item] = feats
        self._item_versions[item] += 1
        if torch.equal(feats, self._base[item]):
            self._modified.discard(item)
        else:
            self._modified.add(item)
        self._modified_sorted = np.fromiter(sorted(self._modified), dtype=np.int64, count=len(self._modified))
        if len(self._modified) > self.rebase_after:
            log.debug("rebasing the rank index: %d items modified", len(self._modified))
            self.rebase()

    def _features_of(self, item: int, images: np.ndarray) -> torch.Tensor:
        """The features ``(B, d)`` the service computes for uploads of `item` (checked finite):
        those of the processed images, after the monitor has seen the raw ones."""
        if self.monitor is not None:
            self.monitor.observe(item, images)
        feats = self.memo(self.pipeline.apply_batch(images))
        if not torch.isfinite(feats).all():
            raise DataError(f"the image model returned non-finite features for an upload of item {item}")
        return feats

    def upload_image(self, item: int, image: np.ndarray) -> None:
        """Replace `item`'s upload and features (1 upload)."""
        item = self.check_item(item)
        image = validate_upload(item, image)
        self._meter.admit(1, 0, f"upload of item {item}")
        feats = self._features_of(item, image[None])[0]
        self._meter.charge(1, 0)
        self._current_uploads[item] = image.copy()
        self._displayed.pop(item, None)
        self._set_features(item, feats)

    def register_user(self, history: np.ndarray | Sequence[int]) -> int:
        """Fold in a new user who consumed `history`; returns the id (not counted as a query)."""
        h = check_history(history, self.n_items, required=True)
        expected = self.n_users
        if self.recommender.n_users != expected:
            raise DataError(f"the recommender has {self.recommender.n_users} users, the platform {expected}")
        uid = self.recommender.fold_in(h, self._features, seed=derive_seed(self.seed, "fold-in", expected))
        if uid != expected or self.recommender.n_users != expected + 1:
            raise DataError(
                f"the recommender's fold_in returned user {uid} and has {self.recommender.n_users} users; "
                f"expected user {expected} and {expected + 1} users (see the Recommender contract)"
            )
        self._consumed.append(h)
        self._history_versions.append(0)
        self.registrations += 1
        self.index.invalidate(uid)
        return int(uid)

    def scores(self, user: int, items: np.ndarray | Sequence[int]) -> np.ndarray:
        """Scores of `items` for `user` at the current features (1 query)."""
        user = self.check_user(user)
        items = check_ids(items, self.n_items, "item")
        self._meter.admit(0, 1, f"scores for user {user}")
        self._admit_accounts(np.asarray([user]), 1)
        out = self._score(np.asarray([user]), items, self._features[torch.as_tensor(items)])[0]
        out = self._noisy(np.asarray([user]), out[None])[0]
        self._meter.charge(0, 1)
        return out

    def rank(self, users: int | np.ndarray, item: int, *, visible: int | None = None) -> np.ndarray:
        """1-based ranks of `item` for `users` (0: consumed, or beyond `visible`); 1 query per user."""
        item = self.check_item(item)
        users = self.check_users(users)
        self._meter.admit(0, len(users), f"rank of item {item}")
        self._admit_accounts(users, 1)
        s = self._score(users, np.asarray([item]), self._features[item][None])
        out = self._ranks_at(users, item, self._noisy(users, s))[:, 0]
        self._meter.charge(0, len(users))
        return self._truncate(users, _cut(out, visible)[:, None])[:, 0]

    def ranking(self, user: int, *, visible: int | None = None) -> np.ndarray:
        """`user`'s unconsumed items best first (ties by id), the first `visible` of them (1 query)."""
        user = self.check_user(user)
        self._meter.admit(0, 1, f"ranking of user {user}")
        self._admit_accounts(np.asarray([user]), 1)
        limit = self._limit(user)
        if limit is not None and limit.noise > 0:
            out = self._noisy_ranking(user, visible)
        else:
            out = self.index.top(user, visible)
        if limit is not None and limit.top_k is not None:
            out = out[: limit.top_k]
        self._meter.charge(0, 1)
        return out

    def probe_scores(self, users: int | np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Scores of `item` under each of B candidate uploads: ``(B,)`` for one user, ``(U, B)`` for several.

        B uploads (one per candidate, whatever the number of users) and B queries per user.
        """
        single, users, item, feats = self._probe(users, item, images)
        out = self._noisy(users, self._score(users, np.full(len(feats), item), feats))
        self._meter.charge(len(feats), len(feats) * len(users))
        return out[0] if single else out

    def probe_ranks(
        self, users: int | np.ndarray, item: int, images: np.ndarray, *, visible: int | None = None
    ) -> np.ndarray:
        """Ranks of `item` under each candidate upload (0 beyond `visible`): ``(B,)`` or ``(U, B)``."""
        single, users, item, feats = self._probe(users, item, images)
        s = self._noisy(users, self._score(users, np.full(len(feats), item), feats))
        out = self._truncate(users, _cut(self._ranks_at(users, item, s), visible))
        self._meter.charge(len(feats), len(feats) * len(users))
        return out[0] if single else out

    def _probe(self, users: int | np.ndarray, item: int, images: np.ndarray) -> tuple[bool, np.ndarray, int, torch.Tensor]:
        single = isinstance(users, int | np.integer) and not isinstance(users, bool)
        users = self.check_users(users)
        if not len(users):
            raise InvalidRequestError("a probe needs at least one user")
        item = self.check_item(item)
        images = validate_batch(item, images)
        b = len(images)
        self._meter.admit(b, b * len(users), f"probe of item {item} with {b} candidates for {len(users)} user(s)")
        self._admit_accounts(users, b)
        return single, users, item, self._features_of(item, images)

    # -- what new accounts see (the reveal-limiting defense) -------------------------------------

    def _limit(self, user: int) -> Any:
        """The reveal limit that applies to `user`, or None (existing accounts, or no limit)."""
        r = self.reveal
        if r is None or user < self.n_initial_users:
            return None
        if r.thin_history is not None and len(self._consumed[user]) > r.thin_history:
            return None
        return r

    def _admit_accounts(self, users: np.ndarray, queries: int) -> None:
        """Refuse a call that would take a limited account past its query limit (nothing counted)."""
        if self.reveal is None or self.reveal.max_queries is None:
            return
        for u in users.tolist():
            limit = self._limit(int(u))
            if limit is not None and self._account_queries.get(int(u), 0) + queries > limit.max_queries:
                raise BudgetExceededError(
                    f"account {u} reached the platform's limit of {limit.max_queries} queries for new accounts"
                )
        for u in users.tolist():
            if self._limit(int(u)) is not None:
                self._account_queries[int(u)] = self._account_queries.get(int(u), 0) + queries

    def _noise_rng(self, user: int) -> np.random.Generator:
        count = self._noise_draws.get(user, 0)
        self._noise_draws[user] = count + 1  # fresh noise for every answer, reproducible per seed
        return numpy_rng(self.seed, "reveal-noise", user, count)

    def _score_spread(self, user: int) -> float:
        key = ("spread", user)
        if key not in self._spreads:
            self._spreads[key] = float(np.std(self._source.base_scores(np.asarray([user]))[0])) or 1.0
        return self._spreads[key]

    def _noisy(self, users: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """`scores` ``(U, B)`` with the reveal limit's noise added for limited accounts."""
        if self.reveal is None or not self.reveal.noise > 0:
            return scores
        out = np.array(scores, dtype=np.float64 if scores.dtype == np.float64 else np.float32)
        for k, u in enumerate(users.tolist()):
            limit = self._limit(int(u))
            if limit is not None and limit.noise > 0:
                sd = limit.noise * self._score_spread(int(u))
                out[k] = out[k] + self._noise_rng(int(u)).normal(0.0, sd, size=out.shape[1])
        return out

    def _noisy_ranking(self, user: int, visible: int | None) -> np.ndarray:
        s = self._noisy(np.asarray([user]), self.score_rows(np.asarray([user])))[0]
        s[self._consumed[user]] = -np.inf
        order = np.lexsort((np.arange(self.n_items), -s))
        order = order[: self.n_items - len(self._consumed[user])]
        return order if visible is None else order[:visible]

    def _truncate(self, users: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Ranks ``(U, B)`` with those beyond a limited account's `top_k` read as 0 (not shown)."""
        if self.reveal is None or self.reveal.top_k is None:
            return ranks
        out = ranks.copy()
        for k, u in enumerate(users.tolist()):
            limit = self._limit(int(u))
            if limit is not None and limit.top_k is not None:
                out[k] = np.where(out[k] <= limit.top_k, out[k], 0)
        return out

    def _ranks_at(self, users: np.ndarray, item: int, scores: np.ndarray) -> np.ndarray:
        """Ranks ``(U, B)`` of `item` for each user at each of that user's B candidate scores."""
        if len(users) > 1:
            self.index.prefetch(users)  # build missing entries in batched scoring calls
        return np.stack([self.index.ranks(int(u), item, scores[k]) for k, u in enumerate(users)])

    # -- the experimenter's interface (evaluator, white-box handle, diagnostics) ----------------

    def current_features(self) -> torch.Tensor:
        """A copy of the current ``(N, d)`` features."""
        return self._features.clone()

    def item_features(self, item: int) -> torch.Tensor:
        """A copy of `item`'s current ``(d,)`` features."""
        return self._features[self.check_item(item)].clone()

    def current_image(self, item: int) -> np.ndarray:
        """The item's current upload (a copy): the last accepted upload, else the catalog's."""
        item = self.check_item(item)
        img = self._current_uploads.get(item)
        return img.copy() if img is not None else self.images.get(item)

    def displayed_image(self, item: int) -> np.ndarray:
        """What a visitor sees of the item: its current upload after the ingest pipeline (a copy)."""
        item = self.check_item(item)
        if not self.pipeline:
            return self.current_image(item)
        if item not in self._displayed:
            self._displayed[item] = self.pipeline.apply(self.current_image(item))
        return self._displayed[item].copy()

    def history(self, user: int) -> np.ndarray:
        """`user`'s consumed items, sorted (a copy)."""
        return self._consumed[self.check_user(user)].copy()

    def score_rows(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Uncounted scores ``(U, I)`` of `users` for `items` (all when None) at the current features."""
        users = self.check_users(users)
        items = np.arange(self.n_items) if items is None else check_ids(items, self.n_items, "item")
        return self._score(users, items, self._features[torch.as_tensor(items)])

    def rank_source(self) -> ScoreSource:
        """The platform's scores as a :class:`RankIndex` reads them (for an evaluator's own index)."""
        return self._source

    def add_consumed(self, user: int, items: np.ndarray | Sequence[int]) -> None:
        """Record that `user` consumed `items` too (their ranks then exclude them)."""
        user = self.check_user(user)
        extra = check_ids(items, self.n_items, "item")
        self._consumed[user] = np.union1d(self._consumed[user], extra)
        self._history_versions[user] += 1
        self.index.invalidate(user)

    def rebase(self) -> None:
        """Make the current features the base of the rank index (entries rebuild lazily).

        Call it too if the recommender's parameters change (e.g. it is retrained).
        """
        self._base = self._features.clone()
        self._epoch += 1
        self._modified.clear()
        self._modified_sorted = np.zeros(0, dtype=np.int64)
        self.index.invalidate()


def _cut(ranks: np.ndarray, visible: int | None) -> np.ndarray:
    if visible is None:
        return ranks
    return np.where(ranks <= visible, ranks, 0)
