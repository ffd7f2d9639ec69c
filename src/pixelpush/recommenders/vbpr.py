"""VBPR (He & McAuley, AAAI'16): ``s(u, i) = beta_i + gamma_u·gamma_i + theta_u·(Eᵀ f_i) + beta'·f_i``.

``f_i`` is the item's raw feature divided by the model's global feature scale. ``Eᵀ f_i`` is
computed from the features passed to each call, never cached, so an upload changes the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from pixelpush.errors import ConfigError
from pixelpush.recommenders.factor import FactorConfig, FactorModel, TripleBatch


@dataclass(frozen=True)
class VBPRConfig(FactorConfig):
    """VBPR's settings."""

    visual_dim: int = 10
    """Length of the visual factors theta_u and Eᵀ f_i."""
    lambda_visual: float = 0.01
    """L2 weight on the visual projection E and the visual bias beta', once per minibatch."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.visual_dim < 1:
            raise ConfigError(f"VBPRConfig.visual_dim must be at least 1, got {self.visual_dim}")


class VBPR(FactorModel):
    """Visual BPR; per-user parameters are ``gamma_u`` then ``theta_u``."""

    kind: ClassVar[str] = "vbpr"
    config_class: ClassVar[type[FactorConfig]] = VBPRConfig
    config: VBPRConfig
    user_tables: ClassVar[tuple[str, ...]] = ("gamma_user", "theta_user")
    item_tables: ClassVar[tuple[str, ...]] = ("gamma_item", "beta_item")

    def __init__(
        self, n_users: int, n_items: int, n_features: int, config: VBPRConfig | None = None, *, seed: int = 0
    ) -> None:
        super().__init__(n_users, n_items, n_features, config or VBPRConfig(), seed=seed)
        c = self.config
        self.gamma_user = self._normal(n_users, c.dim)
        self.theta_user = self._normal(n_users, c.visual_dim)
        self.gamma_item = self._normal(n_items, c.dim)
        self.beta_item = nn.Parameter(torch.zeros(n_items))
        self.embedding = self._normal(n_features, c.visual_dim)
        self.beta_visual = nn.Parameter(torch.zeros(n_features))

    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bias = self.beta_item[items] + scaled @ self.beta_visual
        return bias, torch.cat([self.gamma_item[items], scaled @ self.embedding], dim=1)

    def batch_difference(self, batch: TripleBatch) -> torch.Tensor:
        """``s(u, i) - s(u, j)``; the visual terms are linear in f, so they need only ``(f_i - f_j) @ [E, β']``."""
        weight = torch.cat([self.embedding, self.beta_visual.unsqueeze(1)], dim=1)
        visual = batch.projected_difference(weight) / self.feature_scale
        gamma = batch.take("gamma_item", "pos") - batch.take("gamma_item", "neg")
        beta = batch.take("beta_item", "pos") - batch.take("beta_item", "neg")
        return (
            beta + visual[:, -1]
            + (batch.take("gamma_user", "users") * gamma).sum(dim=1)
            + (batch.take("theta_user", "users") * visual[:, :-1]).sum(dim=1)
        )

    def l2_weights(self) -> dict[str, float]:
        c = self.config
        return {
            "gamma_user": c.lambda_user, "theta_user": c.lambda_user,
            "gamma_item": c.lambda_item, "beta_item": c.lambda_bias,
            "embedding": c.lambda_visual, "beta_visual": c.lambda_visual,
        }
