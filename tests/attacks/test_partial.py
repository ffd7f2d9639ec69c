"""BB-Partial: only the top of each list is visible; surrogate users when the item is hidden.

Rank thresholds are asserted against random sign steps on the same worlds and seeds: under the
null hypothesis that the attack is no better than random, it beats them on a seed with
probability at most 1/2 (ties count as losses), so beating them on >= 8 of 10 seeds has
probability <= P(Binomial(10, 1/2) >= 8) = 56/1024 < 0.055.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import N_ITEMS, CosineVisualRec, RandomSignAttack, attack_view, make_world, true_rank

from pixelpush.attacks import AttackContext, PartialRankingAttack, SpecificUser
from pixelpush.attacks.view import AttackerView

SEEDS = range(10)
WINS_NEEDED = 8


class CutCheckingClient:
    """Wraps a partial client; fails the test if any answer reveals a rank beyond the cut."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.access, self.n_items, self.visible_count = inner.access, inner.n_items, inner.visible_count
        self.seen: list[int] = []

    uploads = property(lambda self: self._inner.uploads)
    queries = property(lambda self: self._inner.queries)

    def _check(self, ranks: np.ndarray) -> np.ndarray:
        flat = np.asarray(ranks).reshape(-1)
        assert ((flat >= 0) & (flat <= self.visible_count)).all(), flat
        self.seen.extend(int(r) for r in flat)
        return ranks

    def rank(self, users, item):
        return self._check(self._inner.rank(users, item))

    def probe_ranks(self, users, item, images):
        return self._check(self._inner.probe_ranks(users, item, images))

    def ranking(self, user):
        out = self._inner.ranking(user)
        assert len(out) <= self.visible_count
        return out

    def image(self, item):
        return self._inner.image(item)

    def upload_image(self, item, image):
        return self._inner.upload_image(item, image)

    def register_user(self, history):
        return self._inner.register_user(history)

    def scores(self, user, items):  # pragma: no cover - the attack must never call it
        raise AssertionError("BB-Partial read scores")

    probe_scores = scores


def _partial_ctx(world, user: int, position: int, *, seed: int = 0) -> AttackContext:
    """The clone of real `user`; the pushed item sits at 0-based `position` of the clone's list."""
    base = attack_view(world, "partial", seed=seed)
    view = AttackerView(CutCheckingClient(base.client), base.image_model, seed=seed, features=world.platform.memo.reader())
    probe = int(np.setdiff1d(np.arange(N_ITEMS), world.dataset.histories[user])[0])
    prep = SpecificUser().prepare(view, probe, world.dataset, seed=seed, user=user)
    item = int(world.platform.ranking(prep.targeting.user)[position])
    return AttackContext(view=view, item=item, image=world.platform.current_image(item), targeting=prep.targeting)


def _final_ranks(attack_factory, position: int, steps: int) -> list[tuple[int, int, int]]:
    """Per seed: (rank before, rank after the attack, rank after random sign steps)."""
    out = []
    for seed in SEEDS:
        finals = []
        for make in (attack_factory, lambda: RandomSignAttack(steps=steps)):
            world = make_world(seed=seed, visible_fraction=0.1, rec_cls=CosineVisualRec)  # 20 of 200 visible
            ctx = _partial_ctx(world, user=3, position=position, seed=seed)
            user = ctx.targeting.user
            before = true_rank(world, user, ctx.item)
            make().run(ctx)
            finals.append(true_rank(world, user, ctx.item))
            assert max(ctx.client.seen, default=0) <= ctx.client.visible_count
        out.append((before, *finals))
    return out


def test_direct_phase_beats_random_sign_steps_on_visible_items() -> None:
    ranks = _final_ranks(lambda: PartialRankingAttack(perturbations=8, radius=15, steps=12), position=15, steps=12)
    wins = sum(after < random for _, after, random in ranks)
    assert all(before == 16 for before, _, _ in ranks)
    assert wins >= WINS_NEEDED, ranks


def test_surrogate_users_beat_random_sign_steps_on_hidden_items() -> None:
    ranks = _final_ranks(lambda: PartialRankingAttack(perturbations=16, radius=15, steps=20), position=30, steps=20)
    wins = sum(after < random for _, after, random in ranks)
    assert all(before == 31 for before, _, _ in ranks)  # hidden: 20 visible
    assert wins >= WINS_NEEDED, ranks


def test_surrogates_are_registered_through_the_view_and_cost_d_plus_one_uploads_per_step() -> None:
    world = make_world(visible_fraction=0.1, rec_cls=CosineVisualRec)
    ctx = _partial_ctx(world, user=3, position=30)
    user, history = ctx.targeting.user, ctx.view.history(ctx.targeting.user)
    registered = world.platform.registrations
    records = list(PartialRankingAttack(perturbations=16, radius=15, steps=12).iterate(ctx))
    surrogate = [r for r in records if r.info["phase"] == "surrogate"]
    assert surrogate, [r.info["phase"] for r in records]
    for r in surrogate:  # one upload of a candidate answers for u' and u(i') alike: the paper's d' + 1
        assert r.step_uploads == 16 + int(r.uploaded)
    sur = surrogate[0]
    np.testing.assert_array_equal(world.platform.history(sur.attacked_user), np.union1d(history, [sur.info["i_prime"]]))
    np.testing.assert_array_equal(ctx.view.history(sur.attacked_user), np.union1d(history, [sur.info["i_prime"]]))
    assert world.platform.registrations - registered >= 3  # u(i), then u(i') and u' per candidate
    assert set(ctx.view.users) >= {user, sur.attacked_user}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_combined_delta_s_follows_the_papers_formula(monkeypatch, seed: int) -> None:
    """Δs_u = ((n+1)·Δs_u' − Δs_u(i'))/n with n = |history(u)|, on the same perturbations, in a
    step where Δs_u(i') is not zero (so dropping or flipping the correction would be caught)."""
    world = make_world(seed=seed, visible_fraction=0.3, rec_cls=CosineVisualRec)  # 60 visible: i sits below
    ctx = _partial_ctx(world, user=3, position=80, seed=seed)  # the top of u(i')'s list, where it moves
    attack = PartialRankingAttack(perturbations=16, radius=15, steps=12)
    probes: list[np.ndarray] = []
    solved: list[np.ndarray] = []
    probe, estimate = attack.probe, attack.estimate

    def spy_probe(client, users, item, batch):
        ds, info = probe(client, users, item, batch)
        probes.append(np.asarray(ds))
        return ds, info

    def spy_estimate(state, delta_f, delta_s, info, attacked=None):
        solved.append(np.asarray(delta_s))
        return estimate(state, delta_f, delta_s, info, attacked)

    monkeypatch.setattr(attack, "probe", spy_probe)
    monkeypatch.setattr(attack, "estimate", spy_estimate)
    n = len(ctx.view.history(ctx.targeting.user))
    checked = 0
    for record in attack.iterate(ctx):
        if record.info["phase"] != "surrogate":
            continue
        both = probes[-1]
        assert both.shape == (2, 16)  # u' and u(i') probed with one batch
        ds_prime, ds_i_prime = both
        np.testing.assert_allclose(solved[-1], ((n + 1) * ds_prime - ds_i_prime) / n)
        checked += bool(np.any(ds_i_prime != 0))
    assert checked > 0, "no surrogate step with a non-zero Δs_u(i'): the scenario does not test the correction"
