"""A user's own model, written from docs/model-interface.md only: an item tower (an MLP over the
normalised image features plus a free item embedding) against one vector per user, trained with
the BPR loss on the campaign's split. Nonlinear in the features, unlike VBPR.

Named in audit.toml as ``[models.mlp-tower] factory = "mlp_tower:build"``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.scaling import FeatureNormaliser


class MLPTower(Recommender):
    """s(u, i) = b(f_i) + c_i + p_u · (MLP(f_i) + e_i), f_i normalised first."""

    def __init__(self, features: np.ndarray, n_users: int, *, dim: int = 16, hidden: int = 64, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        d = features.shape[1]
        self.norm = FeatureNormaliser.fit(features)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        with torch.no_grad():
            for layer in (self.mlp[0], self.mlp[2]):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) / layer.weight.shape[1] ** 0.5)
                layer.bias.zero_()
        self.visual_bias = nn.Linear(d, 1)
        self.item_embedding = nn.Parameter(torch.randn(features.shape[0], dim, generator=gen) * 0.01)
        self.item_bias = nn.Parameter(torch.zeros(features.shape[0]))
        self.users = nn.Parameter(torch.randn(n_users, dim, generator=gen) * 0.1)
        self.l2 = 1e-3

    @property
    def n_users(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_bias.shape[0])

    def item_side(self, items: torch.Tensor, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.norm(features)
        return self.visual_bias(x)[:, 0] + self.item_bias[items], self.mlp(x) + self.item_embedding[items]

    def score(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        bias, vectors = self.item_side(items, features)
        return bias[None, :] + self.users[users] @ vectors.T

    def fold_in(self, history: np.ndarray, features: torch.Tensor, *, seed: int) -> int:
        """A new user's vector: 60 Adam steps on the BPR loss of the history against sampled
        negatives, item side fixed; deterministic for the seed."""
        rng = np.random.default_rng(seed)
        negatives = np.setdiff1d(np.arange(self.n_items), history)
        negatives = rng.choice(negatives, size=min(512, len(negatives)), replace=False)
        with torch.no_grad():
            items = torch.arange(self.n_items)
            bias, vectors = self.item_side(items, features)
        pos, neg = torch.as_tensor(history), torch.as_tensor(negatives)
        user = torch.zeros(vectors.shape[1], requires_grad=True)
        opt = torch.optim.Adam([user], lr=0.05)
        for _ in range(60):
            s_pos = bias[pos] + vectors[pos] @ user
            s_neg = bias[neg] + vectors[neg] @ user
            loss = -torch.nn.functional.logsigmoid(s_pos[:, None] - s_neg[None, :]).mean() + self.l2 * user.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            self.users.data = torch.cat([self.users.data, user.detach()[None]])
        return self.n_users - 1


def build(context, dim: int = 16, hidden: int = 64, epochs: int = 8, lr: float = 0.01, batch: int = 2048) -> MLPTower:
    """Factory: train an MLPTower on the campaign's training split with the BPR loss."""
    model = MLPTower(context.features, context.dataset.n_users, dim=dim, hidden=hidden, seed=context.seed % 2**31)
    features = torch.from_numpy(context.features)
    train = torch.from_numpy(context.split.train)
    gen = torch.Generator().manual_seed(context.seed % 2**31)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=gen)
        for start in range(0, len(train), batch):
            rows = train[order[start : start + batch]]
            users, pos = rows[:, 0], rows[:, 1]
            neg = torch.randint(0, model.n_items, (len(rows),), generator=gen)
            both = torch.cat([pos, neg])
            bias, vectors = model.item_side(both, features[both])
            s = bias + (model.users[torch.cat([users, users])] * vectors).sum(1)
            loss = -torch.nn.functional.logsigmoid(s[: len(rows)] - s[len(rows) :]).mean()
            loss = loss + model.l2 * (model.users[users].pow(2).sum(1).mean() + vectors.pow(2).sum(1).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
