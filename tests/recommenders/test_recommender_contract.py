"""Every recommender passes the same contract: the project's three, and foreign ones the code never saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from contracts.recommenders import ContractData, RecommenderContract, contract_data
from foreign_models import CosineVisualRec, TanhVisualRec

from pixelpush.recommenders.contract import check_recommender
from pixelpush.recommenders.registry import RECOMMENDERS, build_model


def _project(kind: str, data: ContractData):
    model = build_model(kind, data.n_users, data.n_items, data.features.shape[1], categories=data.categories, seed=0)
    model.fit_normalisation(data.features)
    return model.eval()


class TestBPR(RecommenderContract):
    visual = False

    def make(self, data):
        return _project("bpr", data)


class TestVBPR(RecommenderContract):
    def make(self, data):
        return _project("vbpr", data)


class TestDeepStyle(RecommenderContract):
    def make(self, data):
        return _project("deepstyle", data)


class _OwnScale:
    """Foreign models read raw image-model features; these divide by their own scale first
    (a tanh of raw SqueezeNet-sized features saturates: its gradient is exactly zero)."""

    scale = 200.0

    def visual(self, features):
        return super().visual(features / self.scale)


class ScaledTanh(_OwnScale, TanhVisualRec):
    pass


class ScaledCosine(_OwnScale, CosineVisualRec):
    pass


class TestForeignTanhModel(RecommenderContract):
    def make(self, data):
        return ScaledTanh(data.n_items, data.histories, data.features)


class TestForeignCosineModel(RecommenderContract):
    def make(self, data):
        return ScaledCosine(data.n_items, data.histories, data.features)


def test_a_model_that_saturates_on_raw_features_is_caught() -> None:
    data = contract_data()
    problems = check_recommender(TanhVisualRec(data.n_items, data.histories, data.features), data.features, data.histories)
    assert {p.check for p in problems} == {"differentiable", "moves under realistic changes"}, problems


class _NearlySaturated(TanhVisualRec):
    """tanh of uncentred non-negative features through a positive E: every unit sits around 8, in
    tanh's flat region (as raw features' large mean does to a nonlinear model). The gradient is tiny
    but not zero, and a large feature change still moves the scores; only realistic changes show that
    no upload can."""

    def visual(self, features):
        return torch.tanh(features @ self.E.abs() / 250.0)


def test_a_nearly_saturated_model_passes_the_gradient_check_but_not_the_realistic_one() -> None:
    data = contract_data()
    model = _NearlySaturated(data.n_items, data.histories, data.features)
    problems = {p.check: p.problem for p in check_recommender(model, data.features, data.histories)}
    assert set(problems) == {"moves under realistic changes"}, problems
    assert "FeatureNormaliser" in problems["moves under realistic changes"]
    unsaturated = ScaledTanh(data.n_items, data.histories, data.features)
    assert check_recommender(unsaturated, data.features, data.histories) == []


def _cornac(kind: str, data: ContractData):
    from pixelpush.data.catalog import ArrayImages, Dataset
    from pixelpush.integrations.cornac import train_amr, train_vbpr
    from pixelpush.integrations.factory import ModelContext
    from pixelpush.recommenders.split import campaign_split

    pairs = np.array([[u, i] for u, h in enumerate(data.histories) for i in h], dtype=np.int64)
    dataset = Dataset("contract", ArrayImages(np.zeros((data.n_items, 4, 4, 3), np.uint8)), data.categories, ("a", "b", "c", "d"), pairs, data.n_users)
    context = ModelContext("cornac", dataset, data.features.numpy(), campaign_split(pairs, data.n_users, data.n_items, seed=0), 0, "contract-ic")
    return {"vbpr": train_vbpr, "amr": train_amr}[kind](context, n_epochs=2)


class TestCornacVBPR(RecommenderContract):
    def make(self, data):
        return _cornac("vbpr", data)


class TestCornacAMR(RecommenderContract):
    def make(self, data):
        return _cornac("amr", data)


def test_every_registered_recommender_has_a_contract_test() -> None:
    tested = {cls.__name__.removeprefix("Test").lower() for cls in RecommenderContract.__subclasses__()}
    assert {e.id.replace("-", "") for e in RECOMMENDERS} <= tested


class _Broken(TanhVisualRec):
    """A foreign model with one defect switched on (to show each check can fail)."""

    defect = ""

    def score(self, users, items, features):
        if self.defect == "ignores features":
            features = features.detach() * 0 + 1
        return super().score(users, items, features)

    def fold_in(self, history, features, *, seed):
        if self.defect == "wrong fold-in id":
            super().fold_in(history, features, seed=seed)
            return 0
        if self.defect == "random fold-in":
            history = np.random.default_rng().choice(self.n_items, size=3, replace=False)
        return super().fold_in(history, features, seed=seed)


@pytest.mark.parametrize(
    ("defect", "check"),
    [("ignores features", "scores follow features"), ("wrong fold-in id", "fold-in"), ("random fold-in", "fold-in deterministic")],
)
def test_the_contract_names_a_broken_models_defect(defect: str, check: str) -> None:
    data = contract_data()
    model = _Broken(data.n_items, data.histories, data.features)
    model.visual = lambda features: TanhVisualRec.visual(model, features / 200.0)
    model.defect = defect
    problems = check_recommender(model, data.features, data.histories)
    assert check in {p.check for p in problems}, problems
