"""Helpers for the recommender tests (imported by name: tests/ folders are not packages)."""

from __future__ import annotations

import numpy as np
import torch

from pixelpush.recommenders.factor import FactorModel
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.training import TrainConfig

FAST = TrainConfig(epochs=60, batch_size=256, lr=0.01, patience=4, progress=False)
"""Training settings for the shared synthetic models: small batches, short patience."""


def clone_model(model: FactorModel) -> FactorModel:
    """An independent copy (for tests that fold in users)."""
    copy = build_model(model.kind, model.n_users, model.n_items, model.n_features, config=model.config,
                       **model.extra_state())
    copy.load_state_dict(model.state_dict())
    return copy.eval()


def all_scores(model: FactorModel, users: list[int] | np.ndarray, features: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model.score(torch.as_tensor(np.asarray(users)), torch.arange(model.n_items), features).numpy()
