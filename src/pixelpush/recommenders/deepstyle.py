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
from pixelpush.recommenders.factor import FactorConfig, FactorModel, TripleBatch


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
    user_tables: ClassVar[tuple[str, ...]] = ("p_user",)
    item_tables: ClassVar[tuple[str, ...]] = ("q_item", "beta_item")

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

    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cats = self.categories[items]
        bias = self.beta_item[items] + scaled @ self.beta_visual + self.beta_category[cats]
        return bias, scaled @ self.embedding - self.style[cats] + self.q_item[items]

    def batch_difference(self, batch: TripleBatch) -> torch.Tensor:
        """``s(u, i) - s(u, j)``; the visual terms are linear in f, so they need only ``(f_i - f_j) @ [E, β']``."""
        weight = torch.cat([self.embedding, self.beta_visual.unsqueeze(1)], dim=1)
        visual = batch.projected_difference(weight) / self.feature_scale
        ci, cj = self.categories.index_select(0, batch.pos_ids), self.categories.index_select(0, batch.neg_ids)
        q = batch.take("q_item", "pos") - batch.take("q_item", "neg")
        vec = visual[:, :-1] - self.style.index_select(0, ci) + self.style.index_select(0, cj) + q
        bias = (
            batch.take("beta_item", "pos") - batch.take("beta_item", "neg") + visual[:, -1]
            + self.beta_category.index_select(0, ci) - self.beta_category.index_select(0, cj)
        )
        return bias + (batch.take("p_user", "users") * vec).sum(dim=1)

    def l2_weights(self) -> dict[str, float]:
        c = self.config
        return {
            "p_user": c.lambda_user, "q_item": c.lambda_item, "beta_item": c.lambda_bias,
            "embedding": c.lambda_visual, "beta_visual": c.lambda_visual,
            "style": c.lambda_category, "beta_category": c.lambda_category,
        }
