"""The recommender contract harness (LensKit style): subclass, say how to build the model, done.

    class TestMyModel(RecommenderContract):
        visual = True
        def make(self, data): return MyModel(...)

Every check of :mod:`pixelpush.recommenders.contract` becomes one test, and the model is also run
behind the real platform (registration, ranks against brute force).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from pixelpush.data.catalog import ArrayImages
from pixelpush.platform.platform import Platform
from pixelpush.random import numpy_rng
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.contract import CHECKS
from pixelpush.vision.image_model import ImageModel


@dataclass(frozen=True)
class ContractData:
    """A small catalog for contract checks: features, categories and user histories."""

    features: torch.Tensor
    categories: np.ndarray
    histories: list[np.ndarray]

    @property
    def n_users(self) -> int:
        return len(self.histories)

    @property
    def n_items(self) -> int:
        return int(self.features.shape[0])


def contract_data(seed: int = 0, n_users: int = 30, n_items: int = 80, dim: int = 12) -> ContractData:
    rng = numpy_rng(seed, "contract-data")
    features = torch.from_numpy(np.abs(rng.normal(2.0, 1.0, size=(n_items, dim))).astype(np.float32) * 50)  # raw-IC-like scale
    histories = [np.sort(rng.choice(n_items, size=int(rng.integers(3, 9)), replace=False)) for _ in range(n_users)]
    return ContractData(features, rng.integers(0, 4, size=n_items), histories)


class _CornerIC(ImageModel):
    """Features are the first `dim` pixel values: a platform needs an image model object."""

    name = "contract-ic"

    def __init__(self, dim: int) -> None:
        super().__init__(input_size=32)
        self.feature_dim = dim

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : self.feature_dim]


class RecommenderContract:
    """Base class of a recommender's contract tests (set `visual`, implement :meth:`make`)."""

    visual: bool = True

    def make(self, data: ContractData) -> Recommender:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> ContractData:
        return contract_data()

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, data: ContractData) -> Recommender:
        return cls().make(data)

    @pytest.mark.parametrize("check", list(CHECKS))
    def test_contract(self, check: str, model: Recommender, data: ContractData) -> None:
        CHECKS[check](model, data.features, data.histories, visual=self.visual)

    def test_behind_the_platform_ranks_equal_brute_force(self, model: Recommender, data: ContractData) -> None:
        import copy

        rec = copy.deepcopy(model)
        images = ArrayImages(np.zeros((data.n_items, 32, 32, 3), np.uint8))
        platform = Platform(rec, images, _CornerIC(data.features.shape[1]), features=data.features.numpy(), consumed=data.histories)
        client = platform.client("rank")
        user = client.register_user(data.histories[2])
        item = int(np.setdiff1d(np.arange(data.n_items), data.histories[2])[0])
        with torch.inference_mode():
            row = rec.score(torch.tensor([user]), torch.arange(data.n_items), data.features)[0].numpy()
        higher = row > row[item]
        higher[data.histories[2]] = False
        assert int(client.rank(user, item)[0]) == 1 + int(higher.sum())
