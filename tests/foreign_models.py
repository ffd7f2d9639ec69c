"""Foreign models: an image model and recommenders the attack code has never seen.

A tiny CNN image model, a linear image model, and recommenders with their own scoring and
fold-in rules behind the ``Recommender`` interface (nothing like the project's VBPR/DeepStyle).
Shared by the attack tests' world (``tests/attacks/conftest.py``) and the contract tests.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pixelpush.random import torch_generator
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.image_model import ImageModel


class TinyConvNet(ImageModel):
    """Two random convolutions with tanh and average pooling: a nonlinear, smooth IC."""

    name = "tiny-conv"
    feature_dim = 16

    def __init__(self, seed: int = 0) -> None:
        super().__init__(input_size=32)
        gen = torch_generator(seed, "tiny-conv")
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        with torch.no_grad():
            for conv in (self.c1, self.c2):
                fan_in = conv.weight[0].numel()
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen) * 0.1)
        self.freeze()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 127.5 - 1.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.c2(torch.tanh(self.c1(x)))).mean(dim=(2, 3))


class LinearIC(ImageModel):
    """Pooled pixels through a fixed matrix: features are linear in the upload's pixels."""

    name = "linear-ic"

    def __init__(self, dim: int = 8, seed: int = 0) -> None:
        super().__init__(input_size=32)
        self.feature_dim = dim
        gen = torch_generator(seed, "linear-ic")
        self.proj = nn.Parameter(torch.randn(3 * 8 * 8, dim, generator=gen) / 8.0, requires_grad=False)
        self.freeze()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 255.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 4).flatten(1) @ self.proj


class TanhVisualRec(Recommender):
    """``s(u,i) = b_i + γ_u·γ_i + θ_u·tanh(E f_i)``; fold-in averages the history's item vectors.

    Nonlinear in the features, and nothing like the project's VBPR or DeepStyle.
    """

    def __init__(self, n_items: int, histories: list[np.ndarray], features: torch.Tensor, *, seed: int = 0, k: int = 6) -> None:
        super().__init__()
        gen = torch_generator(seed, "tanh-rec")
        d = features.shape[1]
        self.E = torch.randn(d, k, generator=gen) * 2.0
        self.gamma_i = torch.randn(n_items, 3, generator=gen) * 0.3
        self.bias = torch.randn(n_items, generator=gen) * 0.1
        self._n_items = n_items
        self.theta_u = torch.zeros(0, k)
        self.gamma_u = torch.zeros(0, 3)
        for h in histories:
            self.fold_in(h, features, seed=0)

    @property
    def n_users(self) -> int:
        return int(self.theta_u.shape[0])

    @property
    def n_items(self) -> int:
        return self._n_items

    def visual(self, features: torch.Tensor) -> torch.Tensor:
        return torch.tanh(features @ self.E)

    def score(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        vis = self.theta_u[users] @ self.visual(features).T
        return self.bias[items][None] + self.gamma_u[users] @ self.gamma_i[items].T + vis

    def fold_in(self, history: np.ndarray, features: torch.Tensor, *, seed: int) -> int:  # noqa: ARG002
        h = torch.as_tensor(np.asarray(history, dtype=np.int64))
        with torch.no_grad():
            theta = self.visual(features[h]).mean(0, keepdim=True) * 3.0
            gamma = self.gamma_i[h].mean(0, keepdim=True)
        self.theta_u = torch.cat([self.theta_u, theta])
        self.gamma_u = torch.cat([self.gamma_u, gamma])
        return self.n_users - 1


class LinearVisualRec(TanhVisualRec):
    """``s(u,i) = b_i + γ_u·γ_i + θ_u·(E f_i)``: linear in the features (VBPR-shaped, foreign)."""

    def visual(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.E


class CosineVisualRec(TanhVisualRec):
    """``s(u,i) = b_i + γ_u·γ_i + θ_u·normalize(E f_i)``: visual neighbours are mutual."""

    def visual(self, features: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(features @ self.E, dim=-1)
