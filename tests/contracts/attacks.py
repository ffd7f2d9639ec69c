"""The attack contract harness: subclass, say how to build the attack, done.

    class TestMyAttack(AttackContract):
        def make(self, steps): return MyAttack(steps=steps)

The world (the real platform over models the attack code never saw) comes from the attack
tests' ``make_world``; the harness runs the attack at the access level its registry entry
grants and checks what every attack must do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from pixelpush.attacks import ATTACKS, Attack, AttackContext, AttackerView, SpecificUser
from pixelpush.platform.budget import Budget

SCORE_ONLY = {"scores", "probe_scores"}


class RecordingClient:
    """Forwards to a real client, records every operation, and refuses what the access level forbids."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.ops = inner, []
        self.access, self.n_items, self.visible_count = inner.access, inner.n_items, inner.visible_count

    uploads = property(lambda self: self._inner.uploads)
    queries = property(lambda self: self._inner.queries)

    def __getattr__(self, op: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if op in SCORE_ONLY and self.access != "score":
                raise AssertionError(f"{op} called at {self.access!r} access")
            self.ops.append(op)
            return getattr(self._inner, op)(*args)

        return call


class AttackContract:
    """Base class of an attack's contract tests; subclasses implement :meth:`make` and :meth:`world`."""

    def make(self, steps: int) -> Attack:
        raise NotImplementedError

    def world(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def context(self, world: Any, attack: Attack, *, seed: int = 0, record: bool = False) -> AttackContext:
        entry = ATTACKS.get(type(attack).id)
        client = world.platform.client(entry.access)
        if record:
            client = RecordingClient(client)
        view = AttackerView(client, copy.deepcopy(world.model), seed=seed, features=world.platform.memo.reader())
        item_for = int(np.setdiff1d(np.arange(world.dataset.n_items), world.dataset.histories[3])[0])
        prep = SpecificUser().prepare(view, item_for, world.dataset, seed=seed, user=3)
        ranking = world.platform.ranking(prep.targeting.user)
        item = int(ranking[len(ranking) // 10])  # well placed: partial access sees it at 10% visibility
        popular = world.platform.current_image(int(ranking[0])) if entry.popular_image else None
        return AttackContext(
            view=view, item=item, image=world.platform.current_image(item), targeting=prep.targeting,
            white_box=world.platform.white_box() if entry.white_box else None, popular_image=popular,
        )

    # -- the contract -----------------------------------------------------------------------------
    def test_is_registered_under_its_id(self) -> None:
        attack = self.make(2)
        assert ATTACKS.get(type(attack).id).cls is type(attack)

    def test_repr_shows_every_hyperparameter(self) -> None:
        attack = self.make(2)
        assert set(attack.config()) == set(type(attack).parameters())
        for name in attack.config():
            assert f"{name}=" in repr(attack)

    def test_runs_within_budget_and_counts_what_it_spends(self) -> None:
        world, attack = self.world(visible_fraction=0.1), self.make(3)
        ctx = self.context(world, attack, record=True)
        before = (world.platform.uploads, world.platform.queries)
        records = list(attack.iterate(ctx))
        assert [r.step for r in records] == [1, 2, 3]
        assert sum(r.step_uploads for r in records) == world.platform.uploads - before[0]
        assert sum(r.step_queries for r in records) == world.platform.queries - before[1]
        assert set(ctx.client.ops) <= {"image", "upload_image", "register_user", "scores", "rank", "ranking", "probe_scores", "probe_ranks"}
        np.testing.assert_array_equal(world.platform.current_image(ctx.item), records[-1].image)  # what it says it uploaded

    def test_deterministic_for_a_seed(self) -> None:
        runs = []
        for _ in range(2):
            world, attack = self.world(visible_fraction=0.1), self.make(2)
            runs.append([r.image for r in attack.iterate(self.context(world, attack, seed=4))])
        for a, b in zip(*runs, strict=True):
            np.testing.assert_array_equal(a, b)

    def test_a_budget_refusal_stops_it_cleanly(self) -> None:
        world, attack = self.world(visible_fraction=0.1, budget=Budget(max_uploads=3)), self.make(20)
        result = attack.run(self.context(world, attack))
        assert result.stopped in ("budget", "completed") and world.platform.uploads <= 3
        assert result.stopped == "budget" or result.uploads <= 3
