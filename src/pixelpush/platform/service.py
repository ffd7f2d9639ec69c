"""The black-box service: uploads, user registration (fold-in), score/rank oracles, budgets.

:class:`Platform` is the experimenter's object; attackers only ever receive a :class:`Client`
(``platform.client(access)``), which implements :class:`pixelpush.platform.api.PlatformClient`
and shares the platform's counters. See ``platform/api.py`` for the contract.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from pixelpush.data.catalog import ImageStore
from pixelpush.errors import ConfigError, DataError, ImageDecodeError, PixelpushError, UnknownIdError
from pixelpush.platform.api import Access
from pixelpush.platform.budget import Budget, Meter
from pixelpush.platform.rank_index import RankIndex
from pixelpush.random import derive_seed
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.decode import validate_upload as check_upload
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.memo import FeatureMemo

if TYPE_CHECKING:
    from pixelpush.platform.whitebox import WhiteBoxHandle

log = logging.getLogger(__name__)

ACCESS_LEVELS: tuple[Access, ...] = ("score", "rank", "partial")


class AccessDeniedError(PixelpushError, PermissionError):
    """A client called something its access level does not expose."""


class InvalidRequestError(PixelpushError, ValueError):
    """A platform call with malformed arguments (an empty history, ids of the wrong type, ...)."""


def validate_upload(item: int, image: object) -> np.ndarray:
    """Check an upload is an ``(H, W, 3)`` uint8 array; raise :class:`ImageDecodeError` naming `item`.

    Stricter than :func:`pixelpush.vision.decode.validate_upload` (which it reuses for dtype and
    size): the service takes RGB arrays only, no grayscale to stack.
    """
    name = f"upload for item {item}"
    if isinstance(image, np.ndarray):
        if image.dtype.kind == "f" and np.isnan(image).any():
            raise ImageDecodeError(f"{name}: expected uint8 pixels, got {image.dtype} containing NaN")
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ImageDecodeError(f"{name}: expected shape (H, W, 3), got {image.shape}")
    return check_upload(image, name=name)


def validate_batch(item: int, images: object) -> np.ndarray:
    """Check candidate uploads are ``(B, H, W, 3)`` uint8 with B >= 1, naming `item` if not."""
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ImageDecodeError(f"candidate uploads for item {item}: expected (B, H, W, 3), got {shape}")
    if images.shape[0] < 1:
        raise ImageDecodeError(f"candidate uploads for item {item}: the batch is empty")
    validate_upload(item, images[0])  # dtype and per-image shape are the batch's
    return images


class _Source:
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
        p = self._p
        return p._score(users, np.arange(p.n_items), p._base)

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
        memo: feature memo for uploads and probes (a fresh one of capacity 512 if None).
        rebase_after: when more items than this differ from the base features, make the current
            features the new base (the rank index then rebuilds lazily).
        index_bytes: memory bound of the rank index.
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
        self._meter = Meter(budget)
        self.registrations = 0

        feats = self._initial_features(features)
        self._features = feats
        self._base = feats.clone()
        self._epoch = 0
        self._modified: set[int] = set()
        self._modified_sorted = np.zeros(0, dtype=np.int64)
        self._item_versions = np.zeros(n, dtype=np.int64)
        self._current_uploads: dict[int, np.ndarray] = {}
        self._consumed = [self._clean_history(h, new=False) for h in consumed]
        self._history_versions = [0] * len(self._consumed)
        self._source = _Source(self)
        self.index = RankIndex(self._source, max_bytes=index_bytes)

    # -- construction helpers ----------------------------------------------------------------

    def _initial_features(self, features: np.ndarray | torch.Tensor | None) -> torch.Tensor:
        if features is None:
            log.info("extracting features of %d catalog images with %s", self.n_items, self.image_model.identity)
            chunk = 64
            rows = [
                self.image_model.extract(self.images.many(range(s, min(s + chunk, self.n_items))))
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
        bad = (~torch.isfinite(feats)).any(dim=1).nonzero().flatten()
        if len(bad):
            raise DataError(f"non-finite features for {len(bad)} item(s), first item {int(bad[0])}")
        return feats

    def _clean_history(self, history: np.ndarray | Sequence[int], *, new: bool) -> np.ndarray:
        h = np.asarray(history)
        if h.size == 0:
            if new:
                raise InvalidRequestError("register_user: the history is empty; a user must have consumed an item")
            return np.zeros(0, dtype=np.int64)
        if h.ndim != 1 or h.dtype.kind not in "iu":
            raise InvalidRequestError(f"a history must be a 1-D array of integer item ids, got {h.dtype} {h.shape}")
        bad = h[(h < 0) | (h >= self.n_items)]
        if len(bad):
            raise UnknownIdError(f"unknown item {int(bad[0])} in history: the catalog has items 0..{self.n_items - 1}")
        return np.unique(h.astype(np.int64))

    # -- ids -----------------------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        """Number of users the platform serves (existing plus registered)."""
        return len(self._consumed)

    def check_user(self, user: int | np.integer) -> int:
        """`user` as an int; :class:`UnknownIdError` if the platform does not know it."""
        if isinstance(user, bool) or not isinstance(user, int | np.integer):
            raise InvalidRequestError(f"a user id must be an integer, got {type(user).__name__}")
        if not 0 <= int(user) < self.n_users:
            raise UnknownIdError(f"unknown user {int(user)}: the platform has users 0..{self.n_users - 1}")
        return int(user)

    def check_item(self, item: int | np.integer) -> int:
        """`item` as an int; :class:`UnknownIdError` if the catalog does not have it."""
        if isinstance(item, bool) or not isinstance(item, int | np.integer):
            raise InvalidRequestError(f"an item id must be an integer, got {type(item).__name__}")
        if not 0 <= int(item) < self.n_items:
            raise UnknownIdError(f"unknown item {int(item)}: the catalog has items 0..{self.n_items - 1}")
        return int(item)

    def _check_items(self, items: np.ndarray | Sequence[int]) -> np.ndarray:
        arr = np.asarray(items)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise InvalidRequestError(f"item ids must be a 1-D integer array, got {arr.dtype} {arr.shape}")
        bad = arr[(arr < 0) | (arr >= self.n_items)]
        if len(bad):
            raise UnknownIdError(f"unknown item {int(bad[0])}: the catalog has items 0..{self.n_items - 1}")
        return arr.astype(np.int64)

    def _check_users(self, users: int | np.integer | np.ndarray | Sequence[int]) -> np.ndarray:
        if isinstance(users, int | np.integer) and not isinstance(users, bool):
            return np.asarray([self.check_user(users)], dtype=np.int64)
        arr = np.asarray(users)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise InvalidRequestError(f"user ids must be an int or a 1-D integer array, got {arr.dtype} {arr.shape}")
        bad = arr[(arr < 0) | (arr >= self.n_users)]
        if len(bad):
            raise UnknownIdError(f"unknown user {int(bad[0])}: the platform has users 0..{self.n_users - 1}")
        return arr.astype(np.int64)

    # -- state ---------------------------------------------------------------------------------

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

    def current_features(self) -> torch.Tensor:
        """A copy of the current ``(N, d)`` features (experimenter's view)."""
        return self._features.clone()

    def current_image(self, item: int) -> np.ndarray:
        """The item's current upload (a copy): the last accepted upload, else the catalog's."""
        item = self.check_item(item)
        img = self._current_uploads.get(item)
        return img.copy() if img is not None else self.images.get(item)

    def history(self, user: int) -> np.ndarray:
        """`user`'s consumed items, sorted (a copy)."""
        return self._consumed[self.check_user(user)].copy()

    def add_consumed(self, user: int, items: np.ndarray | Sequence[int]) -> None:
        """Record that `user` consumed `items` too (their ranks then exclude them)."""
        user = self.check_user(user)
        extra = self._check_items(items)
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

    def client(self, access: Access) -> Client:
        """An attacker's handle at `access` ``"score"``, ``"rank"`` or ``"partial"``."""
        if access not in ACCESS_LEVELS:
            raise ConfigError(f"unknown access level {access!r}; expected one of {ACCESS_LEVELS}")
        return Client(self, access)

    def white_box(self) -> WhiteBoxHandle:
        """Full access for the white-box attack and diagnostics (never given to black-box attacks)."""
        from pixelpush.platform.whitebox import WhiteBoxHandle

        return WhiteBoxHandle(self)

    # -- scoring -------------------------------------------------------------------------------

    def _score(self, users: np.ndarray, items: np.ndarray, feats: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            out = self.recommender.score(
                torch.as_tensor(np.asarray(users), dtype=torch.long),
                torch.as_tensor(np.asarray(items), dtype=torch.long),
                feats,
            )
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

    # -- the service (gated by Client) ---------------------------------------------------------

    def upload_image(self, item: int, image: np.ndarray) -> None:
        """Replace `item`'s upload and features (1 upload)."""
        item = self.check_item(item)
        image = validate_upload(item, image)
        self._meter.admit(1, 0, f"upload of item {item}")
        feats = self.memo(image[None])[0]
        if not torch.isfinite(feats).all():
            raise DataError(f"the image model returned non-finite features for the upload of item {item}")
        self._meter.charge(1, 0)
        self._current_uploads[item] = image.copy()
        self._set_features(item, feats)

    def register_user(self, history: np.ndarray | Sequence[int]) -> int:
        """Fold in a new user who consumed `history`; returns the id (not counted as a query)."""
        h = self._clean_history(history, new=True)
        expected = self.n_users
        if self.recommender.n_users != expected:
            raise DataError(f"the recommender has {self.recommender.n_users} users, the platform {expected}")
        uid = self.recommender.fold_in(h, self._features, seed=derive_seed(self.seed, "fold-in", expected))
        if uid != expected:
            raise DataError(f"the recommender's fold-in returned user {uid}, expected {expected}")
        self._consumed.append(h)
        self._history_versions.append(0)
        self.registrations += 1
        self.index.invalidate(uid)
        return int(uid)

    def scores(self, user: int, items: np.ndarray | Sequence[int]) -> np.ndarray:
        """Scores of `items` for `user` at the current features (1 query)."""
        user = self.check_user(user)
        items = self._check_items(items)
        self._meter.admit(0, 1, f"scores for user {user}")
        out = self._score(np.asarray([user]), items, self._features[torch.as_tensor(items)])[0]
        self._meter.charge(0, 1)
        return out

    def rank(self, users: int | np.ndarray, item: int, *, visible: int | None = None) -> np.ndarray:
        """1-based ranks of `item` for `users` (0: consumed, or beyond `visible`); 1 query per user."""
        item = self.check_item(item)
        users = self._check_users(users)
        self._meter.admit(0, len(users), f"rank of item {item}")
        s = self._score(users, np.asarray([item]), self._features[item][None])[:, 0]
        if len(users) > 1:
            self.index.prefetch(users)  # build missing entries in batched scoring calls
        out = np.asarray([self.index.ranks(int(u), item, s[k : k + 1])[0] for k, u in enumerate(users)], np.int64)
        self._meter.charge(0, len(users))
        return _cut(out, visible)

    def ranking(self, user: int, *, visible: int | None = None) -> np.ndarray:
        """`user`'s unconsumed items best first (ties by id), the first `visible` of them (1 query)."""
        user = self.check_user(user)
        self._meter.admit(0, 1, f"ranking of user {user}")
        out = self.index.top(user, visible)
        self._meter.charge(0, 1)
        return out

    def probe_scores(self, user: int, item: int, images: np.ndarray) -> np.ndarray:
        """Scores of `item` for `user` under each of B candidate uploads (B uploads, B queries)."""
        user, item, feats = self._probe_features(user, item, images)
        out = self._score(np.asarray([user]), np.full(len(feats), item), feats)[0]
        self._meter.charge(len(feats), len(feats))
        return out

    def probe_ranks(self, user: int, item: int, images: np.ndarray, *, visible: int | None = None) -> np.ndarray:
        """Ranks of `item` for `user` under each candidate upload (0 beyond `visible`)."""
        user, item, feats = self._probe_features(user, item, images)
        s = self._score(np.asarray([user]), np.full(len(feats), item), feats)[0]
        out = self.index.ranks(user, item, s)
        self._meter.charge(len(feats), len(feats))
        return _cut(out, visible)

    def _probe_features(self, user: int, item: int, images: np.ndarray) -> tuple[int, int, torch.Tensor]:
        user = self.check_user(user)
        item = self.check_item(item)
        images = validate_batch(item, images)
        b = len(images)
        self._meter.admit(b, b, f"probe of item {item} with {b} candidates")
        feats = self.memo(images)
        if not torch.isfinite(feats).all():
            raise DataError(f"the image model returned non-finite features for a candidate upload of item {item}")
        return user, item, feats


def _cut(ranks: np.ndarray, visible: int | None) -> np.ndarray:
    if visible is None:
        return ranks
    return np.where(ranks <= visible, ranks, 0)


class Client:
    """An attacker's handle on a :class:`Platform` at one access level (see ``platform/api.py``).

    Counters are the platform's own: every client of one platform reads the same totals.
    """

    def __init__(self, platform: Platform, access: Access) -> None:
        self._platform = platform
        self.access: Access = access
        self.n_items = platform.n_items
        self.visible_count = platform.visible_count

    def __repr__(self) -> str:
        return f"Client(access={self.access!r}, n_items={self.n_items}, visible_count={self.visible_count})"

    @property
    def uploads(self) -> int:
        return self._platform.uploads

    @property
    def queries(self) -> int:
        return self._platform.queries

    @property
    def _visible(self) -> int | None:
        return self.visible_count if self.access == "partial" else None

    def _require(self, allowed: tuple[Access, ...], what: str) -> None:
        if self.access not in allowed:
            raise AccessDeniedError(f"{what} is not available at {self.access!r} access (only {allowed})")

    def image(self, item: int) -> np.ndarray:
        """The item's current public image (not counted: any visitor sees product images)."""
        return self._platform.current_image(item)

    def upload_image(self, item: int, image: np.ndarray) -> None:
        """Replace `item`'s image by `image` ``(H, W, 3)`` uint8 (1 upload)."""
        self._platform.upload_image(item, image)

    def register_user(self, history: np.ndarray | list[int]) -> int:
        """Register a user who consumed `history`; the platform folds them in. Returns the id."""
        return self._platform.register_user(history)

    def scores(self, user: int, items: np.ndarray | list[int]) -> np.ndarray:
        """Scores of `items` for `user` (``score`` access only; 1 query)."""
        self._require(("score",), "scores()")
        return self._platform.scores(user, items)

    def rank(self, users: int | np.ndarray, item: int) -> np.ndarray:
        """1-based rank of `item` per user (0: consumed, or not visible in ``partial``); 1 query per user."""
        return self._platform.rank(users, item, visible=self._visible)

    def ranking(self, user: int) -> np.ndarray:
        """`user`'s visible ranking, best first: all unconsumed items, or the top `visible_count` (1 query)."""
        return self._platform.ranking(user, visible=self._visible)

    def probe_scores(self, user: int, item: int, images: np.ndarray) -> np.ndarray:
        """Scores of `item` for `user` under each of B candidate images (``score`` only; B uploads, B queries)."""
        self._require(("score",), "probe_scores()")
        return self._platform.probe_scores(user, item, images)

    def probe_ranks(self, user: int, item: int, images: np.ndarray) -> np.ndarray:
        """Ranks of `item` for `user` under each candidate image (0 = not visible); B uploads, B queries."""
        return self._platform.probe_ranks(user, item, images, visible=self._visible)
