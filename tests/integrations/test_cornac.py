"""The Cornac adapters: equal to Cornac's own ``score()`` on unmodified items, yet following the
current features (Cornac's cache does not), with Cornac's re-indexed ids mapped back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.integrations.cornac import fit_cornac, from_cornac
from pixelpush.integrations.factory import ModelContext
from pixelpush.recommenders.contract import check_recommender
from pixelpush.recommenders.split import campaign_split

N_USERS, N_ITEMS, DIM = 50, 90, 12
COLD_ITEMS = (87, 88, 89)  # nobody consumed them: Cornac never sees them


@pytest.fixture(scope="module")
def context() -> ModelContext:
    rng = np.random.default_rng(4)
    features = (np.abs(rng.normal(2.0, 1.0, (N_ITEMS, DIM))) * 60).astype(np.float32)  # raw-IC-like scale
    pairs = np.unique(np.stack([rng.integers(0, N_USERS, 1400), rng.integers(0, N_ITEMS - 3, 1400)], 1), axis=0)
    dataset = Dataset("cornac-test", ArrayImages(np.zeros((N_ITEMS, 4, 4, 3), np.uint8)), np.zeros(N_ITEMS, np.int64), ("all",), pairs, N_USERS)
    return ModelContext("cornac", dataset, features, campaign_split(pairs, N_USERS, N_ITEMS, seed=0), 5, "test-ic")


@pytest.fixture(scope="module", params=["VBPR", "AMR"])
def fitted(request, context):
    fit = fit_cornac(request.param, context, n_epochs=3)
    return fit, fit.adapter(context.features, context.dataset.histories)


def _ours(model, features):
    with torch.inference_mode():
        return model.score(torch.arange(model.n_users), torch.arange(N_ITEMS), torch.as_tensor(features)).numpy()


def test_scores_equal_cornacs_own_on_unmodified_items(fitted, context) -> None:
    fit, model = fitted
    assert not np.array_equal(model.ids.items, np.arange(N_ITEMS)), "string ids: Cornac re-indexed the items"
    known = model.ids.known_items()
    assert set(np.setdiff1d(np.arange(N_ITEMS), known)) == set(COLD_ITEMS)
    ours = _ours(model, context.features)
    for user in range(N_USERS):
        theirs = fit.model.score(int(model.ids.users[user]))
        np.testing.assert_allclose(ours[user, known], theirs[model.ids.items[known]], rtol=1e-5, atol=1e-5)


def test_scores_follow_the_current_features_where_cornacs_cache_does_not(fitted, context) -> None:
    fit, model = fitted
    item = int(model.ids.known_items()[0])
    changed = context.features.copy()
    changed[item] = changed[item] * 1.3 + 25.0
    before, after = _ours(model, context.features), _ours(model, changed)
    assert not np.allclose(before[:, item], after[:, item])
    others = np.setdiff1d(np.arange(N_ITEMS), [item])
    np.testing.assert_array_equal(before[:, others], after[:, others])
    # Cornac scores from Fᵀ E cached at fit time: an upload would not move it.
    cornac_user = int(model.ids.users[0])
    assert fit.model.score(cornac_user)[model.ids.items[item]] == pytest.approx(before[0, item], abs=1e-5)


def test_the_adapter_keeps_the_recommender_contract(fitted, context) -> None:
    _, model = fitted
    assert check_recommender(model, context.features, context.dataset.histories) == []


def test_a_user_cornac_never_saw_is_folded_in_from_the_history(context) -> None:
    fit = fit_cornac("VBPR", context, n_epochs=2)
    user_ids = list(fit.user_ids)
    user_ids[7] = "not-in-cornac"
    model = from_cornac(
        fit.model, fit.train_set, user_ids=user_ids, item_ids=fit.item_ids, features=context.features,
        histories=context.dataset.histories, normaliser=fit.normaliser,
    )
    assert model.ids.users[7] == -1 and model.n_users == N_USERS
    clone = fit.adapter(context.features, context.dataset.histories)
    uid = clone.fold_in(context.dataset.histories[7], torch.from_numpy(context.features), seed=7)
    np.testing.assert_allclose(_ours(model, context.features)[7], _ours(clone, context.features)[uid], rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="unknown to Cornac"):
        from_cornac(fit.model, fit.train_set, user_ids=user_ids, item_ids=fit.item_ids, features=context.features)
