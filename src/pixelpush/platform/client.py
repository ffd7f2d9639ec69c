"""The attacker's handle on a platform: only what a real service exposes, at one access level.

A :class:`Client` holds no reference to the platform in any attribute: its one slot is a
dispatch function closed over the platform and the access level, and it enforces the access
level itself (rebinding ``client.access`` is impossible, and would change nothing). Every
answer is a fresh array. So an attack that walks the attributes of what it was handed finds no
platform, recommender or feature table to read or write. (Within one Python process that is a
boundary of the API, not of memory: campaigns that must prove isolation run the attack in a
separate process, see :mod:`pixelpush.attacks.isolation`.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelpush.platform.api import Access
from pixelpush.platform.validation import AccessDeniedError

if TYPE_CHECKING:
    from pixelpush.platform.platform import Platform

__all__ = ["Client", "ClientMethods", "client_gateway"]

Gateway = Callable[..., Any]


def client_gateway(platform: Platform, access: Access) -> Gateway:
    """The dispatch function behind a :class:`Client`: ``call(op, *args)`` for the allowed ops."""
    visible = platform.visible_count if access == "partial" else None
    facts = {"access": access, "n_items": platform.n_items, "visible_count": platform.visible_count}

    def require(allowed: tuple[Access, ...], what: str) -> None:
        if access not in allowed:
            raise AccessDeniedError(f"{what} is not available at {access!r} access (only {allowed})")

    def scores(user: int, items: Any) -> np.ndarray:
        require(("score",), "scores()")
        return platform.scores(user, items)

    def probe_scores(users: Any, item: int, images: np.ndarray) -> np.ndarray:
        require(("score",), "probe_scores()")
        return platform.probe_scores(users, item, images)

    ops: dict[str, Callable[..., Any]] = {
        "fact": facts.__getitem__,
        "uploads": lambda: platform.uploads,
        "queries": lambda: platform.queries,
        "image": platform.displayed_image,
        "upload_image": platform.upload_image,
        "register_user": platform.register_user,
        "scores": scores,
        "rank": lambda users, item: platform.rank(users, item, visible=visible),
        "ranking": lambda user: platform.ranking(user, visible=visible),
        "probe_scores": probe_scores,
        "probe_ranks": lambda users, item, images: platform.probe_ranks(users, item, images, visible=visible),
    }

    def call(op: str, *args: Any) -> Any:
        return ops[op](*args)

    return call


class ClientMethods:
    """The client's methods, each one call of ``self._call(op, *args)``: shared by the in-process
    :class:`Client` and the isolated attacker's ``RemoteClient`` (:mod:`pixelpush.attacks.isolation`)."""

    __slots__ = ()
    _call: Gateway

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a platform client is read-only (tried to set {name!r})")

    def __reduce__(self) -> Any:
        raise TypeError("a platform client cannot be pickled: it is a handle on a live platform")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(access={self.access!r}, n_items={self.n_items}, visible_count={self.visible_count})"

    @property
    def access(self) -> Access:
        """``"score"``, ``"rank"`` or ``"partial"``."""
        return self._call("fact", "access")

    @property
    def n_items(self) -> int:
        """The number of catalog items."""
        return self._call("fact", "n_items")

    @property
    def visible_count(self) -> int:
        """How many items of a ranking ``partial`` access shows."""
        return self._call("fact", "visible_count")

    @property
    def uploads(self) -> int:
        """Uploads counted by the platform so far."""
        return self._call("uploads")

    @property
    def queries(self) -> int:
        """Queries counted by the platform so far."""
        return self._call("queries")

    def image(self, item: int) -> np.ndarray:
        """The item's current public image (not counted: any visitor sees product images)."""
        return self._call("image", item)

    def upload_image(self, item: int, image: np.ndarray) -> None:
        """Replace `item`'s image by `image` ``(H, W, 3)`` uint8 (1 upload)."""
        self._call("upload_image", item, image)

    def register_user(self, history: np.ndarray | list[int]) -> int:
        """Register a user who consumed `history`; the platform folds them in. Returns the id."""
        return self._call("register_user", history)

    def scores(self, user: int, items: np.ndarray | list[int]) -> np.ndarray:
        """Scores of `items` for `user` (``score`` access only; 1 query)."""
        return self._call("scores", user, items)

    def rank(self, users: int | np.ndarray, item: int) -> np.ndarray:
        """1-based rank of `item` per user (0: consumed, or not visible in ``partial``); 1 query per user."""
        return self._call("rank", users, item)

    def ranking(self, user: int) -> np.ndarray:
        """`user`'s visible ranking, best first: all unconsumed items, or the top `visible_count` (1 query)."""
        return self._call("ranking", user)

    def probe_scores(self, users: int | np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Scores of `item` under each of B candidate images: ``(B,)`` for one user, ``(U, B)`` for several.

        ``score`` access only; B uploads and B queries per user.
        """
        return self._call("probe_scores", users, item, images)

    def probe_ranks(self, users: int | np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Ranks of `item` under each candidate image (0 = not visible): ``(B,)`` or ``(U, B)``.

        B uploads and B queries per user.
        """
        return self._call("probe_ranks", users, item, images)


class Client(ClientMethods):
    """An attacker's handle on a platform at one access level (see ``platform/api.py``).

    Counters are the platform's own: every client of one platform reads the same totals.
    """

    __slots__ = ("_call",)

    def __init__(self, platform: Platform, access: Access) -> None:
        object.__setattr__(self, "_call", client_gateway(platform, access))
