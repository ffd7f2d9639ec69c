"""DeepStyle (Liu et al., SIGIR'17): ``s(u, i) = p_u·(Eᵀ f_i − l_{c(i)} + q_i) + beta_i``.

As in the attack paper's code, a visual bias ``beta'·f_i`` and a category bias ``b_{c(i)}`` are
added. Item categories are a buffer; features are divided by the global feature scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from pixelpush.errors import DataError
from pixelpush.recommenders.factor import FactorConfig, FactorModel


@dataclass(frozen=True)
class DeepStyleConfig(FactorConfig):
    """DeepStyle's settings (``dim`` is the length of p_u, q_i, l_c and Eᵀ f_i)."""

    lambda_visual: float = 0.01
    """L2 weight on the visual projection E and the visual bias beta', once per minibatch."""
    lambda_category: float = 0.001
    """L2 weight on the category style vectors l_c and category biases, once per minibatch."""


class DeepStyle(FactorModel):
    """DeepStyle with visual and category biases; per-user parameters are ``p_u``."""

    kind: ClassVar[str] = "deepstyle"
    config_class: ClassVar[type[FactorConfig]] = DeepStyleConfig
    config: DeepStyleConfig
    categories: torch.Tensor

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_features: int,
        config: DeepStyleConfig | None = None,
        *,
        categories: np.ndarray | torch.Tensor,
        seed: int = 0,
    ) -> None:
        super().__init__(n_users, n_items, n_features, config or DeepStyleConfig(), seed=seed)
        cats = torch.as_tensor(np.asarray(categories), dtype=torch.long).reshape(-1)
        if cats.shape[0] != n_items or (cats.numel() and int(cats.min()) < 0):
            raise DataError(f"DeepStyle needs one non-negative category per item: got {tuple(cats.shape)}")
        n_categories = int(cats.max()) + 1 if cats.numel() else 1
        self.register_buffer("categories", cats)
        k = self.config.dim
        self.p_user = self._normal(n_users, k)
        self.q_item = self._normal(n_items, k)
        self.beta_item = nn.Parameter(torch.zeros(n_items))
        self.embedding = self._normal(n_features, k)
        self.beta_visual = nn.Parameter(torch.zeros(n_features))
        self.style = nn.Parameter(torch.zeros(n_categories, k))
        self.beta_category = nn.Parameter(torch.zeros(n_categories))

    def extra_state(self) -> dict[str, Any]:
        return {"categories": self.categories.clone()}

    def user_parameters(self) -> list[tuple[nn.Parameter, float]]:
        return [(self.p_user, self.config.lambda_user)]

    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cats = self.categories[items]
        bias = self.beta_item[items] + scaled @ self.beta_visual + self.beta_category[cats]
        return bias, scaled @ self.embedding - self.style[cats] + self.q_item[items]

    def pair_difference(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, features: torch.Tensor
    ) -> torch.Tensor:
        """``s(u, i) - s(u, j)``; the visual terms are linear in f, so one product with ``f_i - f_j``."""
        diff = (features[pos] - features[neg]).to(self.feature_scale.dtype) / self.feature_scale
        visual = diff @ torch.cat([self.embedding, self.beta_visual.unsqueeze(1)], dim=1)
        ci, cj = self.categories[pos], self.categories[neg]
        vec = visual[:, :-1] - self.style[ci] + self.style[cj] + self.q_item[pos] - self.q_item[neg]
        bias = self.beta_item[pos] - self.beta_item[neg] + visual[:, -1] + self.beta_category[ci] - self.beta_category[cj]
        return bias + (self.p_user[users] * vec).sum(dim=1)

    def item_penalty(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        c = self.config
        both = torch.cat([pos, neg])
        per_triple = (
            self.q_item[both].pow(2).sum() * c.lambda_item + self.beta_item[both].pow(2).sum() * c.lambda_bias
        ) / pos.shape[0]
        visual = (self.embedding.pow(2).sum() + self.beta_visual.pow(2).sum()) * c.lambda_visual
        category = (self.style.pow(2).sum() + self.beta_category.pow(2).sum()) * c.lambda_category
        return per_triple + visual + category
