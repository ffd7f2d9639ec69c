"""BPR-MF (Rendle et al. 2009): ``s(u, i) = beta_i + gamma_u · gamma_i``; features are ignored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from pixelpush.recommenders.factor import FactorConfig, FactorModel, TripleBatch


@dataclass(frozen=True)
class BPRConfig(FactorConfig):
    """BPR's settings: those of :class:`FactorConfig` (BPR has no visual terms)."""


class BPR(FactorModel):
    """Matrix factorisation with item biases; takes features in :meth:`score` and ignores them."""

    kind: ClassVar[str] = "bpr"
    config_class: ClassVar[type[FactorConfig]] = BPRConfig
    user_tables: ClassVar[tuple[str, ...]] = ("gamma_user",)
    item_tables: ClassVar[tuple[str, ...]] = ("gamma_item", "beta_item")

    def __init__(
        self, n_users: int, n_items: int, n_features: int, config: BPRConfig | None = None, *, seed: int = 0
    ) -> None:
        super().__init__(n_users, n_items, n_features, config or BPRConfig(), seed=seed)
        k = self.config.dim
        self.gamma_user = self._normal(n_users, k)
        self.gamma_item = self._normal(n_items, k)
        self.beta_item = nn.Parameter(torch.zeros(n_items))

    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.beta_item[items], self.gamma_item[items]

    def batch_difference(self, batch: TripleBatch) -> torch.Tensor:
        gamma = batch.take("gamma_item", "pos") - batch.take("gamma_item", "neg")
        beta = batch.take("beta_item", "pos") - batch.take("beta_item", "neg")
        return beta + (batch.take("gamma_user", "users") * gamma).sum(dim=1)

    def l2_weights(self) -> dict[str, float]:
        c = self.config
        return {"gamma_user": c.lambda_user, "gamma_item": c.lambda_item, "beta_item": c.lambda_bias}
