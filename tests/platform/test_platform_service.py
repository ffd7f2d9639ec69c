"""The platform's contract: access levels, counting, budgets, probes, fold-in, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from platform_fakes import (
    BilinearRec,
    CornerModel,
    MeanLinearModel,
    brute_rank,
    brute_scores,
    corner_images,
    corner_upload,
    histories,
    make_world,
)

from pixelpush.data.catalog import ArrayImages
from pixelpush.errors import (
    BudgetExceededError,
    ConfigError,
    DataError,
    ImageDecodeError,
    PixelpushError,
    UnknownIdError,
)
from pixelpush.platform.api import PlatformClient
from pixelpush.platform.budget import Budget
from pixelpush.platform.platform import Platform
from pixelpush.platform.validation import AccessDeniedError, InvalidRequestError
from pixelpush.random import derive_seed


def test_clients_implement_the_protocol_and_share_counters() -> None:
    platform, _, _ = make_world()
    a, b = platform.client("score"), platform.client("partial")
    assert isinstance(a, PlatformClient) and isinstance(b, PlatformClient)
    a.upload_image(3, corner_upload((8, 8, 8)))
    b.rank(0, 3)
    assert (a.uploads, a.queries) == (1, 1) == (b.uploads, b.queries) == (platform.uploads, platform.queries)
    a.rank(np.arange(4), 3)  # one query per user
    a.ranking(1)
    a.scores(1, [0, 1, 2])
    assert platform.queries == 1 + 4 + 1 + 1
    platform.reset_counters()
    assert (b.uploads, b.queries) == (0, 0)
    with pytest.raises(ConfigError):
        platform.client("everything")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("access", "call"),
    [
        ("rank", lambda c, img: c.scores(0, [1])),
        ("rank", lambda c, img: c.probe_scores(0, 1, img)),
        ("partial", lambda c, img: c.scores(0, [1])),
        ("partial", lambda c, img: c.probe_scores(0, 1, img)),
    ],
)
def test_access_levels_refuse_scores(access, call) -> None:
    platform, _, _ = make_world()
    client = platform.client(access)
    with pytest.raises(AccessDeniedError) as err:
        call(client, corner_images(2, 1))
    assert isinstance(err.value, PixelpushError)
    assert (platform.uploads, platform.queries) == (0, 0)


def test_consumed_items_are_excluded_and_ranks_are_one_based() -> None:
    platform, rec, _ = make_world(n_items=25, n_users=4, seed=3)
    client = platform.client("score")
    for u in range(platform.n_users):
        history = platform.history(u)
        ranking = client.ranking(u)
        assert len(ranking) == platform.n_items - len(history)
        assert not set(ranking.tolist()) & set(history.tolist())
        assert client.rank(u, int(ranking[0]))[0] == 1
        assert client.rank(u, int(history[0]))[0] == 0  # a consumed item has no rank
        ranks = np.array([client.rank(u, int(i))[0] for i in ranking])
        assert ranks.min() == 1 and np.all(np.diff(ranks) >= 0)  # ties share the optimistic rank


def test_index_is_built_once_per_user_while_one_item_is_pushed() -> None:
    platform, rec, _ = make_world(n_items=40, seed=5)
    client = platform.client("rank")
    for step in range(6):
        client.upload_image(7, corner_upload((8 * (step % 4), 0, 8), seed=step))
        for u in range(platform.n_users):
            expected = brute_rank(brute_scores(platform, rec, u), platform.history(u), 7)
            assert client.rank(u, 7)[0] == expected
    assert platform.index.builds == platform.n_users


def test_budget_refuses_the_first_call_past_it_and_counts_nothing() -> None:
    platform, _, _ = make_world(budget=Budget(max_uploads=3, max_queries=4))
    client = platform.client("score")
    client.upload_image(0, corner_upload((8, 0, 0)))
    client.probe_scores(0, 1, corner_images(2, 7))  # 2 uploads + 2 queries: now 3 and 2
    with pytest.raises(BudgetExceededError):
        client.upload_image(0, corner_upload((16, 0, 0)))
    with pytest.raises(BudgetExceededError):
        client.probe_ranks(0, 1, corner_images(1, 8))
    assert (client.uploads, client.queries) == (3, 2)
    assert platform.current_image(0)[0, 0].tolist() == [8, 0, 0]  # the refused upload changed nothing
    client.rank(np.arange(2), 4)  # exactly reaches 4 queries
    with pytest.raises(BudgetExceededError):
        client.ranking(0)
    assert client.queries == 4
    platform.reset_counters()
    client.ranking(0)
    assert client.queries == 1


def test_probe_counts_b_and_leaves_the_item_unchanged() -> None:
    platform, rec, model = make_world(n_items=30, seed=2)
    client = platform.client("score")
    before_img, before_feats = platform.current_image(4), platform.current_features()
    batch = np.stack([corner_upload((8 * k, 16, 0), seed=k) for k in range(4)])
    model.calls.clear()
    scores = client.probe_scores(1, 4, batch)
    assert model.calls == [4]  # one batched forward for all candidates
    assert (client.uploads, client.queries) == (4, 4)
    np.testing.assert_array_equal(platform.current_image(4), before_img)
    assert torch.equal(platform.current_features(), before_feats)
    # each probed score is what an actual upload of that candidate yields
    for k in range(4):
        client.upload_image(4, batch[k])
        assert client.scores(1, [4])[0] == scores[k]
    assert model.calls == [4]  # the uploads were served from the memo


def test_register_user_folds_in_and_excludes_the_history() -> None:
    platform, rec, _ = make_world(n_items=20, n_users=3, seed=4)
    client = platform.client("partial")
    uid = client.register_user([5, 2, 5])
    assert uid == 3 == platform.n_users - 1 == rec.n_users - 1
    assert rec.fold_seeds == [derive_seed(platform.seed, "fold-in", 3)]
    assert platform.history(uid).tolist() == [2, 5]
    assert client.rank(uid, 5)[0] == 0
    full = platform.client("score").ranking(uid)
    assert 2 not in full and 5 not in full and len(full) == 18
    with pytest.raises(UnknownIdError, match="99"):
        client.register_user([1, 99])
    with pytest.raises(InvalidRequestError, match="empty"):
        client.register_user([])
    with pytest.raises(UnknownIdError, match="user 4"):
        client.rank(4, 1)
    assert platform.n_users == 4


def test_a_history_change_invalidates_the_users_entry() -> None:
    platform, rec, _ = make_world(n_items=20, seed=6)
    client = platform.client("score")
    top = int(client.ranking(0)[0])
    second = int(client.ranking(0)[1])
    platform.add_consumed(0, [top])
    assert client.rank(0, top)[0] == 0
    assert top not in client.ranking(0)
    assert client.rank(0, second)[0] == brute_rank(brute_scores(platform, rec, 0), platform.history(0), second)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((32, 32, 3), np.float32),
        np.full((32, 32, 3), np.nan),
        np.zeros((32, 32), np.uint8),
        np.zeros((32, 32, 4), np.uint8),
        np.zeros((0, 32, 3), np.uint8),
        [[0, 0, 0]],
    ],
)
def test_bad_uploads_raise_image_decode_error_naming_the_item(bad) -> None:
    platform, _, _ = make_world()
    client = platform.client("score")
    with pytest.raises(ImageDecodeError, match="item 5"):
        client.upload_image(5, bad)
    with pytest.raises(ImageDecodeError, match="item 5"):
        client.probe_ranks(0, 5, np.asarray(bad)[None] if isinstance(bad, np.ndarray) else bad)
    assert (platform.uploads, platform.queries) == (0, 0)


def test_unknown_ids_are_named() -> None:
    platform, _, _ = make_world(n_items=10)
    client = platform.client("score")
    with pytest.raises(UnknownIdError, match="item 10"):
        client.upload_image(10, corner_upload((0, 0, 0)))
    with pytest.raises(UnknownIdError, match="item -1"):
        client.scores(0, [1, -1])
    with pytest.raises(UnknownIdError, match="user 77"):
        client.ranking(77)


def test_construction_validates_features_and_computes_them_when_missing() -> None:
    model = CornerModel()
    imgs = corner_images(12, 0)
    rec = BilinearRec(2, 12, 3, seed=0)
    hist = histories(2, 12, 0)
    platform = Platform(rec, ArrayImages(imgs), model, consumed=hist)
    np.testing.assert_array_equal(platform.current_features().numpy(), imgs[:, 0, 0, :].astype(np.float32))
    bad = imgs[:, 0, 0, :].astype(np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="item 3"):
        Platform(rec, ArrayImages(imgs), model, consumed=hist, features=bad)
    with pytest.raises(DataError):
        Platform(rec, ArrayImages(imgs), model, consumed=hist[:1])
    with pytest.raises(ConfigError):
        Platform(rec, ArrayImages(imgs), model, consumed=hist, visible_fraction=0.0)


def test_a_float_recommender_and_image_model_work_unchanged() -> None:
    """A non-integer foreign pair: upload changes scores at once; probes match uploads."""
    model = MeanLinearModel()
    imgs = corner_images(50, 9)
    rec = BilinearRec(4, 50, model.feature_dim, seed=9, k=3)
    platform = Platform(rec, ArrayImages(imgs), model, consumed=histories(4, 50, 9), visible_fraction=0.1)
    client = platform.client("score")
    assert platform.visible_count == 5
    bright = np.full((32, 32, 3), 255, np.uint8)
    probe = client.probe_scores(2, 11, bright[None])
    client.upload_image(11, bright)
    np.testing.assert_allclose(client.scores(2, [11]), probe, rtol=1e-6)
    scores = brute_scores(platform, rec, 2)
    assert client.rank(2, 11)[0] == brute_rank(scores, platform.history(2), 11)
