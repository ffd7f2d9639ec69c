"""Leave-one-out split and AUC: properties and known answers against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.errors import ConfigError, DataError
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.evaluation import auc, cold_pairs, top_k_overlap, visual_gain
from pixelpush.recommenders.split import leave_one_out


class FixedScores(Recommender):
    """A foreign recommender with a fixed score table (features ignored)."""

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)

    @property
    def n_users(self) -> int:
        return self.table.shape[0]

    @property
    def n_items(self) -> int:
        return self.table.shape[1]

    def score(self, users, items, features):
        return self.table[users][:, items]

    def fold_in(self, history, features, *, seed):
        raise NotImplementedError


def test_split_properties() -> None:
    rng = np.random.default_rng(0)
    pairs = np.unique(np.c_[rng.integers(0, 50, 600), rng.integers(0, 80, 600)], axis=0)
    s = leave_one_out(pairs, 50, 80, seed=3)
    counts = np.bincount(pairs[:, 0], minlength=50)
    evaluated = np.nonzero(counts >= 5)[0]
    assert sorted(s.val[:, 0].tolist()) == evaluated.tolist() == sorted(s.test[:, 0].tolist())
    assert (s.val[:, 1] != s.test[:, 1]).all()
    joined = np.concatenate([s.train, s.val, s.test])
    assert len(np.unique(joined, axis=0)) == len(pairs) == len(joined)
    # train-only users keep every interaction
    short = np.nonzero((counts > 0) & (counts < 5))[0]
    assert len(short) > 0
    for u in short:
        assert (s.train[:, 0] == u).sum() == counts[u]
    again = leave_one_out(pairs[::-1], 50, 80, seed=3)
    assert np.array_equal(again.test, s.test) and np.array_equal(again.val, s.val)
    assert not np.array_equal(leave_one_out(pairs, 50, 80, seed=4).test, s.test)
    with pytest.raises(ConfigError):
        leave_one_out(pairs, 50, 80, seed=0, min_positives=2)
    with pytest.raises(DataError):
        leave_one_out(pairs, 10, 80, seed=0)


def test_auc_known_answer_with_ties_and_exclusions() -> None:
    # user 0: held-out item 1 (score 5); item 0 consumed (excluded); negatives 2,3,4 = 1, 5, 9
    table = np.array([[100.0, 5.0, 1.0, 5.0, 9.0]])
    m = FixedScores(table)
    got = auc(m, torch.zeros(5, 1), np.array([[0, 1]]), np.array([[0, 0], [0, 1]]))
    assert got == pytest.approx((1 + 0.5 + 0) / 3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auc_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 6, size=(30, 40)).astype(float)  # many ties
    pairs = np.unique(np.c_[rng.integers(0, 30, 200), rng.integers(0, 40, 200)], axis=0)
    # users held out once, some twice; the exclusions list some positives twice
    held = np.array([p for u in np.unique(pairs[:, 0]) for p in pairs[pairs[:, 0] == u][: 1 + u % 2]])
    exclude = np.concatenate([pairs, pairs[::3]])
    want = []
    for u, i in held:
        consumed = set(pairs[pairs[:, 0] == u, 1].tolist())
        negs = [j for j in range(40) if j not in consumed]
        want.append(np.mean([1.0 if table[u, i] > table[u, j] else 0.5 if table[u, i] == table[u, j] else 0.0 for j in negs]))
    got = auc(FixedScores(table), torch.zeros(40, 1), held, exclude, chunk=7)
    assert got == pytest.approx(float(np.mean(want)), abs=1e-12)


def test_small_helpers() -> None:
    assert visual_gain(0.8, 0.8) == 0.0
    assert visual_gain(0.88, 0.8) == pytest.approx(0.1)
    pop = np.array([0, 10, 2])
    assert cold_pairs(np.array([[0, 0], [1, 1], [2, 2]]), pop, max_count=2).tolist() == [[0, 0], [2, 2]]
    assert top_k_overlap(np.arange(20), np.arange(10, 30)) == 0.5
    assert np.isnan(auc(FixedScores(np.zeros((1, 2))), torch.zeros(2, 1), np.zeros((0, 2)), np.zeros((0, 2))))


def _scored_model(kind: str, *, seed: int):
    """A factor model of 20 users x 60 items (8-d features) with non-trivial parameters, and its features."""
    from pixelpush.recommenders.registry import build_model

    model = build_model(kind, 20, 60, 8, seed=seed, categories=np.arange(60) % 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.3)
    features = torch.rand(60, 8, generator=torch.Generator().manual_seed(seed + 3)) * 4
    model.fit_normalisation(features)
    return model, features


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
def test_a_factor_models_catalog_scorer_gives_its_scores_exactly(kind: str) -> None:
    """AUC and the platform's rankings score through it: the item side computed once changes no bit."""
    from pixelpush.errors import UnknownIdError

    model, features = _scored_model(kind, seed=2)
    users = torch.tensor([0, 7, 7, 19])
    scorer = model.catalog_scorer(features)
    assert torch.equal(scorer(users), model.score(users, torch.arange(60), features))
    with pytest.raises(UnknownIdError, match="user 20"):
        scorer(torch.tensor([20]))
    with pytest.raises(DataError):
        model.catalog_scorer(features[:10])


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
def test_a_catalog_of_many_row_blocks_is_scored_as_score_scores_it(kind: str, monkeypatch) -> None:
    """Past 65,536 items the catalog scorer works block by block: every item keeps its own
    terms (its id, its category, its features), and a NaN is named by its catalog id."""
    from pixelpush.recommenders import scaling

    monkeypatch.setattr(scaling, "_CHUNK_ROWS", 7)  # 60 items: 9 blocks, the last one short
    model, features = _scored_model(kind, seed=3)
    users = torch.tensor([0, 5, 19])
    want = model.score(users, torch.arange(60), features)
    torch.testing.assert_close(model.catalog_scorer(features)(users), want, rtol=1e-6, atol=1e-6)
    features[45, 2] = float("nan")
    with pytest.raises(DataError, match="item 45"):
        model.catalog_scorer(features)
