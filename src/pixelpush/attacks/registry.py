"""The attack registry and the threat-model registry: ids -> classes, access, labels, sweeps.

Adding an attack is its module, its tests (a contract subclass, see ``tests/contracts``) and one
``ATTACKS.add(...)`` line here; configs, campaigns, results and reports read everything else
from its entry. The same holds for threat models and ``THREAT_MODELS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixelpush.attacks.base import Attack
from pixelpush.attacks.baselines import PopularBlend, PopularSwap
from pixelpush.attacks.blackbox import BBRank, BBScore
from pixelpush.attacks.partial import PartialRankingAttack
from pixelpush.attacks.prior import PriorPartial, PriorProbePartial, PriorProbeRank, PriorProbeScore, PriorRank, PriorScore
from pixelpush.attacks.threat_models import GeneralPopulation, Segment, SpecificUser, ThreatModel
from pixelpush.attacks.whitebox import WhiteBoxAttack
from pixelpush.errors import ConfigError
from pixelpush.platform.api import Access
from pixelpush.registry import Registry

__all__ = ["ATTACKS", "THREAT_MODELS", "AttackEntry", "ThreatModelEntry", "build_attack", "build_threat_model"]


@dataclass(frozen=True)
class AttackEntry:
    """What pixelpush knows about one attack.

    Attributes:
        id: the attack's name (= ``cls.id``).
        cls: the attack class; hyperparameters are its keyword-only ``__init__`` arguments.
        access: the client access level a campaign grants it.
        label: its name in tables and figures.
        black_box: it reads only the attacker's view (campaigns record its estimator diagnostics).
        white_box: it needs the white-box handle.
        popular_image: it needs the most popular same-category item's image (public data).
        sweep: ``(experiment list field, hyperparameter)`` that makes one configuration per value
            (``("perturbations", "perturbations")``: one per d').
    """

    id: str
    cls: type[Attack]
    access: Access
    label: str
    black_box: bool = False
    white_box: bool = False
    popular_image: bool = False
    sweep: tuple[str, str] | None = None


@dataclass(frozen=True)
class ThreatModelEntry:
    """What pixelpush knows about one threat model (``parameters``: experiment field -> init keyword)."""

    id: str
    cls: type[ThreatModel]
    label: str
    parameters: tuple[tuple[str, str], ...] = ()


ATTACKS: Registry[AttackEntry] = Registry("attack")
ATTACKS.add(AttackEntry("wb", WhiteBoxAttack, "score", "WB", white_box=True))
ATTACKS.add(AttackEntry("bb-score", BBScore, "score", "BB-Score", black_box=True, sweep=("perturbations", "perturbations")))
ATTACKS.add(AttackEntry("bb-rank", BBRank, "rank", "BB-Rank", black_box=True, sweep=("perturbations", "perturbations")))
ATTACKS.add(
    AttackEntry("bb-partial", PartialRankingAttack, "partial", "BB-Partial", black_box=True, sweep=("perturbations", "perturbations"))
)
ATTACKS.add(AttackEntry("prior-score", PriorScore, "score", "Prior-Score", black_box=True))
ATTACKS.add(AttackEntry("prior-rank", PriorRank, "rank", "Prior-Rank", black_box=True))
ATTACKS.add(AttackEntry("prior-partial", PriorPartial, "partial", "Prior-Partial", black_box=True))
ATTACKS.add(AttackEntry("prior-probe-score", PriorProbeScore, "score", "PriorProbe-Score", black_box=True))
ATTACKS.add(AttackEntry("prior-probe-rank", PriorProbeRank, "rank", "PriorProbe-Rank", black_box=True))
ATTACKS.add(AttackEntry("prior-probe-partial", PriorProbePartial, "partial", "PriorProbe-Partial", black_box=True))
ATTACKS.add(AttackEntry("baseline-swap", PopularSwap, "rank", "Swap", popular_image=True))
ATTACKS.add(AttackEntry("baseline-blend", PopularBlend, "rank", "Blend", popular_image=True, sweep=("blend_epsilons", "epsilon")))

THREAT_MODELS: Registry[ThreatModelEntry] = Registry("threat model")
THREAT_MODELS.add(ThreatModelEntry("specific-user", SpecificUser, "specific user"))
THREAT_MODELS.add(ThreatModelEntry("segment", Segment, "segment"))
THREAT_MODELS.add(
    ThreatModelEntry(
        "general",
        GeneralPopulation,
        "general population",
        (("n_mock_users", "n_mock"), ("percentile", "percentile"), ("n_eval_users", "n_eval")),
    )
)


def build_attack(name: str, common: dict[str, Any], options: dict[str, Any] | None = None) -> Attack:
    """The attack `name` (an id or ``ID:LABEL``) built from an experiment's settings.

    `common` holds settings shared by an experiment's attacks (steps, epsilon, radius, ...):
    those this attack does not take are ignored. `options` are this attack's own
    hyperparameters: an unknown one, or a bad value anywhere, is a ConfigError naming the attack.
    """
    entry = ATTACKS.get(name)
    known = entry.cls.parameters()
    options = dict(options or {})
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"attack {name!r} has no setting {', '.join(unknown)}; its settings: {', '.join(known)}")
    kwargs = {k: v for k, v in common.items() if k in known} | options
    try:
        return entry.cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"attack {name!r}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"attack {name!r}: bad settings ({err})") from None


def build_threat_model(name: str, settings: dict[str, Any]) -> ThreatModel:
    """The threat model `name` with its settings taken from `settings` by experiment field name."""
    entry = THREAT_MODELS.get(name)
    kwargs = {kw: settings[field] for field, kw in entry.parameters if field in settings}
    try:
        return entry.cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"threat model {name!r}: bad settings ({err})") from None
