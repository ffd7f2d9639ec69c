"""Small foreign models behind the platform's interfaces (never the project's own classes)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pixelpush.data.catalog import ArrayImages
from pixelpush.random import numpy_rng, torch_generator
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.image_model import ImageModel

SIZE = 32  # uploads at the models' input size: no resampling, pixels reach embed() exactly


class CornerModel(ImageModel):
    """Features = the RGB of the top-left pixel: exact small integers, so ties are exact."""

    name = "corner"
    feature_dim = 3

    def __init__(self) -> None:
        super().__init__(input_size=SIZE)
        self.calls: list[int] = []  # batch size of every forward
        self.freeze()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(int(x.shape[0]))
        return x[:, :, 0, 0] * 1.0


class MeanLinearModel(ImageModel):
    """Mean-pooled pixels through a fixed linear layer (differentiable, for white-box checks)."""

    name = "mean-linear"
    feature_dim = 4

    def __init__(self) -> None:
        super().__init__(input_size=SIZE)
        self.proj = nn.Linear(3, 4)
        with torch.no_grad():
            gen = torch_generator(0, "mean-linear")
            self.proj.weight.copy_(torch.randn(4, 3, generator=gen))
            self.proj.bias.zero_()
        self.freeze()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 255.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(dim=(2, 3)))


class BilinearRec(Recommender):
    """``s(u, i) = b_i + U_u · (W^T f_i)``; integer parameters keep scores exact in float32."""

    def __init__(self, n_users: int, n_items: int, d: int, *, seed: int, k: int = 2, span: int = 2) -> None:
        super().__init__()
        g = torch_generator(seed, "bilinear")
        self.U = nn.Parameter(torch.randint(-span, span + 1, (n_users, k), generator=g).float())
        self.W = nn.Parameter(torch.randint(-1, 2, (d, k), generator=g).float())
        self.b = nn.Parameter(torch.randint(0, 3, (n_items,), generator=g).float())
        self.fold_seeds: list[int] = []

    @property
    def n_users(self) -> int:
        return self.U.shape[0]

    @property
    def n_items(self) -> int:
        return self.b.shape[0]

    def score(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.b[items][None, :] + self.U[users] @ (features @ self.W).T

    def fold_in(self, history: np.ndarray, features: torch.Tensor, *, seed: int) -> int:
        self.fold_seeds.append(seed)
        with torch.no_grad():
            direction = torch.sign((features[torch.as_tensor(history)] @ self.W).mean(0))
            noise = torch.randint(-1, 2, direction.shape, generator=torch_generator(seed, "fold")).float()
            self.U = nn.Parameter(torch.cat([self.U.detach(), (direction + noise)[None]]))
        return self.n_users - 1


def corner_images(n: int, seed: int, levels: int = 4) -> np.ndarray:
    """`n` random uploads whose top-left pixel takes one of `levels` values per channel."""
    rng = numpy_rng(seed, "corner-images")
    imgs = rng.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)
    imgs[:, 0, 0, :] = rng.integers(0, levels, (n, 3)) * 8
    return imgs


def corner_upload(rgb: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """An upload with the given top-left pixel."""
    img = numpy_rng(seed, "upload").integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    img[0, 0, :] = rgb
    return img


def histories(n_users: int, n_items: int, seed: int, max_len: int = 4) -> list[np.ndarray]:
    rng = numpy_rng(seed, "histories")
    return [np.sort(rng.choice(n_items, rng.integers(1, max_len + 1), replace=False)) for _ in range(n_users)]


def make_world(n_items: int = 30, n_users: int = 5, seed: int = 0, **platform_kwargs):
    """A platform over a tiny exact catalog; returns (platform, recommender, model)."""
    from pixelpush.platform.platform import Platform

    model = CornerModel()
    images = ArrayImages(corner_images(n_items, seed))
    rec = BilinearRec(n_users, n_items, model.feature_dim, seed=seed)
    platform = Platform(rec, images, model, consumed=histories(n_users, n_items, seed), seed=seed, **platform_kwargs)
    return platform, rec, model


def brute_scores(platform, rec, user: int) -> np.ndarray:
    with torch.no_grad():
        return rec.score(torch.tensor([user]), torch.arange(platform.n_items), platform.current_features())[0].numpy()


def brute_rank(scores: np.ndarray, consumed: np.ndarray, item: int, s: float | None = None) -> int:
    """1 + #{unconsumed j != item with a strictly higher score}; 0 if item is consumed."""
    if item in set(consumed.tolist()):
        return 0
    s = scores[item] if s is None else s
    mask = np.ones(len(scores), bool)
    mask[consumed] = False
    mask[item] = False
    return 1 + int((scores[mask] > s).sum())


def brute_ranking(scores: np.ndarray, consumed: np.ndarray) -> np.ndarray:
    ids = np.setdiff1d(np.arange(len(scores)), consumed)
    return ids[np.lexsort((ids, -scores[ids]))]
