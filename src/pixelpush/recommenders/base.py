"""The interface the platform needs from a recommender, and nothing more.

A recommender scores users against items *from the items' current feature vectors*, so that an
upload changes a score at once; scores are differentiable with respect to those features. It
can fold in a new user from a history with its item parameters fixed, as a live service does.
The platform relies on this interface only, so a foreign model (a test's own class) works too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from torch import nn


class Recommender(nn.Module, ABC):
    """Personalised scores from item features. Ids are 0-based and dense."""

    @property
    @abstractmethod
    def n_users(self) -> int:
        """Current number of users (grows with :meth:`fold_in`)."""

    @property
    @abstractmethod
    def n_items(self) -> int:
        """Number of catalog items."""

    @abstractmethod
    def score(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Scores ``(U, I)`` of `users` ``(U,)`` for `items` ``(I,)`` whose features are ``(I, d)``.

        `items` may repeat one item with different candidate features (a batch of perturbed
        uploads of the same item).
        """

    @abstractmethod
    def fold_in(self, history: np.ndarray, features: torch.Tensor, *, seed: int) -> int:
        """Add a user who consumed `history`, learning only that user's parameters; return the id.

        `features` are all items' current features ``(n_items, d)``. Deterministic for a seed.
        """

    def catalog_scorer(self, features: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """``users -> scores (U, n_items)`` against every item, with the items' `features` fixed.

        For scoring many users against one catalog (AUC, the platform's rankings): a model may
        compute its item side once here instead of once per call (the factor models do; at
        Amazon Clothing's size that is 455k items x 512 features per call saved). The scores
        are those of :meth:`score`. This default calls :meth:`score` for each batch of users.
        """
        items = torch.arange(self.n_items, device=features.device)
        return lambda users: self.score(users, items, features)
