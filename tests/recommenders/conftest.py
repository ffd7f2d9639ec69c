"""Shared synthetic data and models trained once per session (no downloads, no image models)."""

from __future__ import annotations

import pytest
import torch

from pixelpush.recommenders.factor import FactorModel
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import Split, leave_one_out
from pixelpush.recommenders.synthetic import SyntheticData, visual_interactions
from pixelpush.recommenders.training import TrainResult, fit
from rec_helpers import FAST


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """These models are tiny: one intra-op thread avoids OpenMP spin-waits on a shared 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synth() -> SyntheticData:
    return visual_interactions(n_users=300, n_items=400, n_features=64, seed=0)


@pytest.fixture(scope="session")
def synth_split(synth: SyntheticData) -> Split:
    return leave_one_out(synth.interactions, synth.n_users, synth.n_items, seed=0)


@pytest.fixture(scope="session")
def synth_features(synth: SyntheticData) -> torch.Tensor:
    return torch.from_numpy(synth.features)


@pytest.fixture(scope="session")
def trained(synth: SyntheticData, synth_split: Split) -> dict[str, tuple[FactorModel, TrainResult]]:
    """BPR, VBPR and DeepStyle trained on the synthetic set (shared: tests must not mutate them).

    Session fixtures are set up before the module's one-thread fixture: set it here too.
    """
    out = {}
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for kind in ("bpr", "vbpr", "deepstyle"):
            model = build_model(kind, synth.n_users, synth.n_items, synth.features.shape[1], categories=synth.categories)
            out[kind] = (model, fit(model, synth.features, synth_split, FAST))
    finally:
        torch.set_num_threads(before)
    return out
