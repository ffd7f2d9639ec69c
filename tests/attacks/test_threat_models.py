"""Threat models register the right mock users, pick the right active user and evaluation users."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import attack_context, make_world

from pixelpush.attacks import BlackBoxAttack, GeneralPopulation, Segment, SpecificUser
from pixelpush.errors import ConfigError


def test_specific_user_clones_the_history_and_evaluates_on_the_real_user() -> None:
    world = make_world()
    client = world.platform.client("rank")
    history = world.dataset.histories[7]
    item = int(np.setdiff1d(np.arange(world.dataset.n_items), history)[0])
    target = SpecificUser().prepare(client, item, world.dataset, seed=0, user=7)
    assert target.user >= world.dataset.n_users  # a new, registered user
    np.testing.assert_array_equal(world.platform.history(target.user), history)
    np.testing.assert_array_equal(target.evaluation_users, [7])
    assert target.active_user(client, item) == target.user
    with pytest.raises(ConfigError):
        SpecificUser().prepare(client, int(history[0]), world.dataset, seed=0, user=7)


def test_segment_evaluates_on_the_segment_items_consumers() -> None:
    world = make_world()
    data, client = world.dataset, world.platform.client("rank")
    item = 17
    target = Segment().prepare(client, item, data, seed=3)
    seg = target.info["segment_item"]
    assert seg != item and data.categories[seg] == data.categories[item]
    np.testing.assert_array_equal(world.platform.history(target.user), [seg])
    expected = [u for u, h in enumerate(data.histories) if seg in h and item not in h]
    np.testing.assert_array_equal(target.evaluation_users, expected)
    assert len(expected) > 0
    # seeded: the same seed draws the same segment item
    assert Segment().prepare(client, item, data, seed=3).info["segment_item"] == seg


def test_general_population_activates_the_user_at_the_percentile_best_placed_first() -> None:
    world = make_world()
    data, client = world.dataset, world.platform.client("rank")
    item = 17
    target = GeneralPopulation(n_mock=20, percentile=0.25, n_eval=30).prepare(client, item, data, seed=1)
    assert len(target.mock_users) == 20 and len(set(target.info["mock_items"])) == 20
    assert item not in target.info["mock_items"]
    for u, j in zip(target.mock_users, target.info["mock_items"], strict=True):
        np.testing.assert_array_equal(world.platform.history(int(u)), [j])
    ranks = world.platform.rank(target.mock_users, item)
    order = target.mock_users[np.argsort(ranks, kind="stable")]
    queries = client.queries
    assert target.active_user(client, item) == order[5]  # floor(0.25 * 20): the 6th best placed
    assert client.queries - queries == 20  # ranking the mock users is counted
    assert len(target.evaluation_users) == 30
    assert all(item not in data.histories[u] for u in target.evaluation_users)


def test_general_population_under_score_and_partial_access() -> None:
    world = make_world(visible_fraction=0.05)
    item = 17
    scored = GeneralPopulation(n_mock=12, percentile=0.0).prepare(world.platform.client("score"), item, world.dataset, seed=1)
    scores = [world.platform.scores(int(u), [item])[0] for u in scored.mock_users]
    assert scored.active_user(world.platform.client("score"), item) == scored.mock_users[int(np.argmax(scores))]
    partial = world.platform.client("partial")
    hidden = GeneralPopulation(n_mock=12, percentile=1.0).prepare(partial, item, world.dataset, seed=1)
    full = world.platform.rank(hidden.mock_users, item)
    visible = full <= partial.visible_count
    # the worst: a hidden one (not visible = worst, ties in registration order), else the worst rank
    expected = hidden.mock_users[~visible][-1] if (~visible).any() else hidden.mock_users[np.argmax(full)]
    assert hidden.active_user(partial, item) == expected


def test_attack_follows_the_threat_models_active_user() -> None:
    world = make_world()
    ctx = attack_context(world, "rank")
    ctx.targeting = GeneralPopulation(n_mock=10, percentile=0.25).prepare(ctx.client, ctx.item, world.dataset, seed=0)
    records = list(BlackBoxAttack(oracle="rank", perturbations=4, steps=2).iterate(ctx))
    assert all(r.user in set(ctx.targeting.mock_users.tolist()) for r in records)
