"""BB-Partial: only the top of each list is visible; surrogate users when the item is hidden."""

from __future__ import annotations

import dataclasses

import numpy as np
from conftest import CosineVisualRec, attack_context, make_world, true_rank

from pixelpush.attacks import PartialRankingAttack


class CutCheckingClient:
    """Wraps a partial client; fails the test if any answer reveals a rank beyond the cut."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.access, self.n_items, self.visible_count = inner.access, inner.n_items, inner.visible_count
        self.seen: list[int] = []

    uploads = property(lambda self: self._inner.uploads)
    queries = property(lambda self: self._inner.queries)

    def _check(self, ranks: np.ndarray) -> np.ndarray:
        ranks = np.asarray(ranks).reshape(-1)
        assert ((ranks >= 0) & (ranks <= self.visible_count)).all(), ranks
        self.seen.extend(int(r) for r in ranks)
        return ranks

    def rank(self, users, item):
        return self._check(self._inner.rank(users, item))

    def probe_ranks(self, user, item, images):
        return self._check(self._inner.probe_ranks(user, item, images))

    def ranking(self, user):
        out = self._inner.ranking(user)
        assert len(out) <= self.visible_count
        return out

    def upload_image(self, item, image):
        return self._inner.upload_image(item, image)

    def register_user(self, history):
        return self._inner.register_user(history)

    def scores(self, user, items):  # pragma: no cover - the attack must never call it
        raise AssertionError("BB-Partial read scores")

    probe_scores = scores


def _partial_ctx(world, user: int, position: int):
    ctx = attack_context(world, "partial", user=user)
    ranking = world.platform.ranking(ctx.targeting.user)
    item = int(ranking[position])
    ctx = dataclasses.replace(ctx, item=item, image=world.platform.current_image(item))
    ctx.client = CutCheckingClient(ctx.client)
    return ctx


def test_direct_phase_lifts_a_visible_item_and_never_sees_beyond_the_cut() -> None:
    world = make_world(visible_fraction=0.05, rec_cls=CosineVisualRec)
    ctx = _partial_ctx(world, user=3, position=8)  # rank 9 of 10 visible
    user = ctx.targeting.user
    before = true_rank(world, user, ctx.item)
    records = list(PartialRankingAttack(perturbations=8, steps=6).iterate(ctx))
    assert before == 9 and true_rank(world, user, ctx.item) <= 3
    assert {r.info["phase"] for r in records} == {"direct"}
    assert ctx.client.seen and max(ctx.client.seen) <= ctx.client.visible_count


def test_surrogate_users_lift_a_hidden_item() -> None:
    world = make_world(visible_fraction=0.05, rec_cls=CosineVisualRec)
    ctx = _partial_ctx(world, user=3, position=30)  # rank 31: hidden (10 visible)
    user, history = ctx.targeting.user, ctx.targeting.history(ctx.targeting.user)
    registered = world.platform.registrations
    before = true_rank(world, user, ctx.item)
    records = list(PartialRankingAttack(perturbations=16, steps=12).iterate(ctx))
    after = true_rank(world, user, ctx.item)
    phases = [r.info["phase"] for r in records]
    assert before == 31 and after < 20, (before, after, phases)
    assert "surrogate" in phases
    # The mock users were registered through the client: u(i), then u(i') and u' per candidate.
    sur = next(r for r in records if r.info["phase"] == "surrogate")
    i_prime = sur.info["i_prime"]
    np.testing.assert_array_equal(world.platform.history(sur.attacked_user), np.union1d(history, [i_prime]))
    assert world.platform.registrations - registered >= 3
    assert max(ctx.client.seen) <= ctx.client.visible_count


def test_combined_delta_s_follows_the_papers_formula(monkeypatch) -> None:
    """Δs_u = ((n+1)·Δs_u' − Δs_u(i'))/n with n = |history(u)|, on the same perturbations."""
    world = make_world(visible_fraction=0.05, rec_cls=CosineVisualRec)
    ctx = _partial_ctx(world, user=3, position=30)
    attack = PartialRankingAttack(perturbations=16, steps=12)
    seen: list[tuple[int, np.ndarray]] = []
    solved: list[tuple[np.ndarray, list[tuple[int, np.ndarray]]]] = []
    probe, estimate = attack.probe, attack.estimate

    def spy_probe(client, user, item, batch):
        ds, info = probe(client, user, item, batch)
        seen.append((user, ds))
        return ds, info

    def spy_estimate(state, delta_f, delta_s, info, attacked=None):
        solved.append((np.asarray(delta_s), seen[-2:]))
        return estimate(state, delta_f, delta_s, info, attacked)

    monkeypatch.setattr(attack, "probe", spy_probe)
    monkeypatch.setattr(attack, "estimate", spy_estimate)
    for record in attack.iterate(ctx):
        if record.info["phase"] == "surrogate":
            break
    else:
        raise AssertionError("no surrogate step")
    n = len(ctx.targeting.history(ctx.targeting.user))
    delta_s, ((u_prime, ds_prime), (u_i_prime, ds_i_prime)) = solved[-1]
    assert u_prime == record.attacked_user and u_i_prime != u_prime
    np.testing.assert_allclose(delta_s, ((n + 1) * ds_prime - ds_i_prime) / n)
