"""Every registered attack passes the same contract on a world it has never seen."""

from __future__ import annotations

from conftest import make_world
from contracts.attacks import AttackContract

from pixelpush.attacks import ATTACKS, BBRank, BBScore, PartialRankingAttack, PopularBlend, PopularSwap, WhiteBoxAttack
from pixelpush.attacks.prior import PriorPartial, PriorProbePartial, PriorProbeRank, PriorProbeScore, PriorRank, PriorScore


class _World:
    def world(self, **kwargs):
        return make_world(**kwargs)


class TestWB(_World, AttackContract):
    def make(self, steps):
        return WhiteBoxAttack(steps=steps)


class TestBBScore(_World, AttackContract):
    def make(self, steps):
        return BBScore(perturbations=4, steps=steps)


class TestBBRank(_World, AttackContract):
    def make(self, steps):
        return BBRank(perturbations=4, steps=steps)


class TestBBPartial(_World, AttackContract):
    def make(self, steps):
        return PartialRankingAttack(perturbations=4, steps=steps)


class TestPriorScore(_World, AttackContract):
    def make(self, steps):
        return PriorScore(steps=steps)


class TestPriorRank(_World, AttackContract):
    def make(self, steps):
        return PriorRank(steps=steps, stop_rank=1)


class TestPriorPartial(_World, AttackContract):
    def make(self, steps):
        return PriorPartial(steps=steps)


class TestPriorProbeScore(_World, AttackContract):
    def make(self, steps):
        return PriorProbeScore(perturbations=4, steps=steps)


class TestPriorProbeRank(_World, AttackContract):
    def make(self, steps):
        return PriorProbeRank(perturbations=4, probe_when="stalled", steps=steps)


class TestPriorProbePartial(_World, AttackContract):
    def make(self, steps):
        return PriorProbePartial(perturbations=4, block=2, steps=steps)


class TestBaselineSwap(_World, AttackContract):
    def make(self, steps):
        return PopularSwap(steps=steps)


class TestBaselineBlend(_World, AttackContract):
    def make(self, steps):
        return PopularBlend(epsilon=0.05, steps=steps)


def test_every_registered_attack_has_a_contract_test() -> None:
    """A new attack's contract subclass goes in this module, next to the others."""
    tested = {type(contract().make(1)).id for contract in AttackContract.__subclasses__()}
    assert {e.id for e in ATTACKS} <= tested
