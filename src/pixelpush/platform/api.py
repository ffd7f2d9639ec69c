"""What an attacker may call: the client of a platform, at one access level.

CONTRACT (implemented in ``platform/service.py``):

- ``Access``: ``"score"`` (scores and ranks visible), ``"rank"`` (full ranking visible, no
  scores), ``"partial"`` (only the top ``visible_count`` = ceil(1% of the catalog) of each
  ranking is visible; a rank outside it is never revealed, it reads as ``None``/0).
- Ranks are 1-based among the items the user has not consumed; ties count optimistically
  (rank = 1 + number of other unconsumed items with a strictly higher score). An item the user
  has consumed is in no ranking of theirs: its rank reads 0 at every access level.
- Every upload and every query is counted; a budget, when set, refuses the first call past it
  with :class:`pixelpush.errors.BudgetExceededError` (nothing is counted for a refused call).
- ``probe_*(users, item, images)`` answers for a batch of B candidate uploads of one item in one
  call: it scores each candidate as if it were the item's image, for one user (an ``int``: the
  answer is ``(B,)``) or several (an array: ``(U, B)``), and leaves the item's current image
  unchanged afterwards. It counts B uploads — one upload of a candidate answers for every user —
  and B queries per user.
- ``image(item)`` is the item's current public image (any visitor sees it; not counted).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np

Access = Literal["score", "rank", "partial"]


@runtime_checkable
class PlatformClient(Protocol):
    """The attacker's handle: only what a real service exposes."""

    access: Access
    n_items: int
    visible_count: int
    uploads: int
    queries: int

    def upload_image(self, item: int, image: np.ndarray) -> None:
        """Replace `item`'s image by `image` ``(H, W, 3)`` uint8 (1 upload)."""

    def register_user(self, history: np.ndarray | list[int]) -> int:
        """Register a new user who consumed `history`; the platform folds them in. Returns the id.

        Not counted as an upload or a query (the platform counts registrations separately).
        """

    def scores(self, user: int, items: np.ndarray | list[int]) -> np.ndarray:
        """Scores of `items` for `user` (access ``score`` only; 1 query)."""

    def rank(self, users: int | np.ndarray, item: int) -> np.ndarray:
        """1-based rank of `item` for each user (``score``/``rank``; ``partial``: 0 where not visible).

        0 also where the user consumed `item`. One query per user.
        """

    def ranking(self, user: int) -> np.ndarray:
        """`user`'s visible ranking as item ids, best first (full list, or the top `visible_count`)."""

    def image(self, item: int) -> np.ndarray:
        """The item's current public image ``(H, W, 3)`` uint8 (not counted)."""

    def probe_scores(self, users: int | np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Scores of `item` under each of B candidate images ``(B, H, W, 3)``: ``(B,)`` or ``(U, B)``."""

    def probe_ranks(self, users: int | np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        """Ranks of `item` under each candidate image (``partial``: 0 = not visible): ``(B,)`` or ``(U, B)``."""
