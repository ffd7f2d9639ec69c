"""Every recommender passes the same contract: the project's three, and foreign ones the code never saw."""

from __future__ import annotations

import numpy as np
import pytest
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
    assert {p.check for p in problems} == {"differentiable"}, problems


def test_every_registered_recommender_has_a_contract_test() -> None:
    tested = {cls.__name__.removeprefix("Test").lower() for cls in RecommenderContract.__subclasses__()}
    assert {e.id for e in RECOMMENDERS} <= tested


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
