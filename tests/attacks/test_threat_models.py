"""Threat models register the right mock users, pick the right active user and evaluation users."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import attack_context, attack_view, make_world

from pixelpush.attacks import BlackBoxAttack, GeneralPopulation, Segment, SpecificUser
from pixelpush.errors import ConfigError


def test_specific_user_clones_the_history_and_evaluates_on_the_real_user() -> None:
    world = make_world()
    view = attack_view(world, "rank")
    history = world.dataset.histories[7]
    item = int(np.setdiff1d(np.arange(world.dataset.n_items), history)[0])
    prep = SpecificUser().prepare(view, item, world.dataset, seed=0, user=7)
    clone = prep.targeting.user
    assert clone >= world.dataset.n_users  # a new, registered user
    np.testing.assert_array_equal(world.platform.history(clone), history)
    np.testing.assert_array_equal(view.history(clone), history)  # the attacker knows what it registered
    np.testing.assert_array_equal(prep.evaluation_users, [7])
    assert not hasattr(prep.targeting, "evaluation_users")  # the attack's part holds no real user
    assert prep.targeting.active_user(view, item) == clone
    with pytest.raises(ConfigError):
        SpecificUser().prepare(view, int(history[0]), world.dataset, seed=0, user=7)


def test_segment_evaluates_on_the_segment_items_consumers() -> None:
    world = make_world()
    data, view = world.dataset, attack_view(world, "rank")
    item = 17
    prep = Segment().prepare(view, item, data, seed=3)
    seg = prep.info["segment_item"]
    assert seg != item and data.categories[seg] == data.categories[item]
    np.testing.assert_array_equal(world.platform.history(prep.targeting.user), [seg])
    expected = [u for u, h in enumerate(data.histories) if seg in h and item not in h]
    np.testing.assert_array_equal(prep.evaluation_users, expected)
    assert len(expected) > 0
    # seeded: the same seed draws the same segment item
    assert Segment().prepare(view, item, data, seed=3).info["segment_item"] == seg


def test_general_population_activates_the_user_at_the_percentile_best_placed_first() -> None:
    world = make_world()
    data, view = world.dataset, attack_view(world, "rank")
    item = 17
    prep = GeneralPopulation(n_mock=20, percentile=0.25, n_eval=30).prepare(view, item, data, seed=1)
    target, mocks = prep.targeting, np.asarray(prep.targeting.mock_users)
    assert len(mocks) == 20 and len(set(prep.info["mock_items"])) == 20
    assert item not in prep.info["mock_items"]
    for u, j in zip(mocks, prep.info["mock_items"], strict=True):
        np.testing.assert_array_equal(world.platform.history(int(u)), [j])
    ranks = world.platform.rank(mocks, item)
    order = mocks[np.argsort(ranks, kind="stable")]
    queries = view.client.queries
    assert target.active_user(view, item) == order[5]  # floor(0.25 * 20): the 6th best placed
    assert view.client.queries - queries == 20  # ranking the mock users is counted
    assert len(prep.evaluation_users) == 30
    assert all(item not in data.histories[u] for u in prep.evaluation_users)


def test_general_population_under_score_and_partial_access() -> None:
    world = make_world(visible_fraction=0.05)
    item = 17
    scored_view = attack_view(world, "score")
    scored = GeneralPopulation(n_mock=12, percentile=0.0).prepare(scored_view, item, world.dataset, seed=1).targeting
    scores = [world.platform.scores(int(u), [item])[0] for u in scored.mock_users]
    assert scored.active_user(scored_view, item) == scored.mock_users[int(np.argmax(scores))]
    partial = attack_view(world, "partial")
    hidden = GeneralPopulation(n_mock=12, percentile=1.0).prepare(partial, item, world.dataset, seed=1).targeting
    mocks = np.asarray(hidden.mock_users)
    full = world.platform.rank(mocks, item)
    visible = full <= partial.client.visible_count
    # the worst: a hidden one (not visible = worst, ties in registration order), else the worst rank
    expected = mocks[~visible][-1] if (~visible).any() else mocks[np.argmax(full)]
    assert hidden.active_user(partial, item) == expected


def test_attack_follows_the_threat_models_active_user() -> None:
    world = make_world()
    ctx = attack_context(world, "rank")
    ctx.targeting = GeneralPopulation(n_mock=10, percentile=0.25).prepare(ctx.view, ctx.item, world.dataset, seed=0).targeting
    records = list(BlackBoxAttack(oracle="rank", perturbations=4, steps=2).iterate(ctx))
    assert all(r.user in set(ctx.targeting.mock_users) for r in records)
