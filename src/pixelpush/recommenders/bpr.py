"""BPR-MF (Rendle et al. 2009): ``s(u, i) = beta_i + gamma_u · gamma_i``; features are ignored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from pixelpush.recommenders.factor import FactorConfig, FactorModel


@dataclass(frozen=True)
class BPRConfig(FactorConfig):
    """BPR's settings: those of :class:`FactorConfig` (BPR has no visual terms)."""


class BPR(FactorModel):
    """Matrix factorisation with item biases; takes features in :meth:`score` and ignores them."""

    kind: ClassVar[str] = "bpr"
    config_class: ClassVar[type[FactorConfig]] = BPRConfig

    def __init__(
        self, n_users: int, n_items: int, n_features: int, config: BPRConfig | None = None, *, seed: int = 0
    ) -> None:
        super().__init__(n_users, n_items, n_features, config or BPRConfig(), seed=seed)
        k = self.config.dim
        self.gamma_user = self._normal(n_users, k)
        self.gamma_item = self._normal(n_items, k)
        self.beta_item = nn.Parameter(torch.zeros(n_items))

    def user_parameters(self) -> list[tuple[nn.Parameter, float]]:
        return [(self.gamma_user, self.config.lambda_user)]

    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.beta_item[items], self.gamma_item[items]

    def item_penalty(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        c = self.config
        both = torch.cat([pos, neg])
        factors = self.gamma_item[both].pow(2).sum(dim=1).sum() * c.lambda_item
        biases = self.beta_item[both].pow(2).sum() * c.lambda_bias
        return (factors + biases) / pos.shape[0]
