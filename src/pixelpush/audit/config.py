"""An audit's configuration: a campaign config whose ``[audit]`` table replaces ``[[experiments]]``.

The ``[audit]`` table names the audited models and the size of the battery; :func:`battery`
turns it into the campaign's experiments: for every threat model and audited model, every
attack of the standard battery the model allows (the white-box attack only where the model
gives gradients; score attacks only where it shows scores), under no defense and under each
defense the table names. Everything else (dataset, image model, ``[models.NAME]``,
``[defenses.NAME]``, training, seed, visible fraction) is the campaign config's, so an audit is
a campaign: keyed, resumable and locked like one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pixelpush.errors import ConfigError
from pixelpush.evaluation.config import CampaignConfig, _problem, parse_config, read_toml, resolve_paths

__all__ = ["AuditConfig", "AuditSettings", "STANDARD_ATTACKS", "battery", "knows_defense", "load_any_config", "load_audit_config"]

STANDARD_ATTACKS: tuple[str, ...] = ("wb", "bb-score", "bb-rank", "bb-partial", "prior-score", "prior-rank", "prior-partial")
"""The standard battery: the paper's four attacks and the query-efficient prior attacks."""

ACCESS_ORDER: tuple[str, ...] = ("white-box", "score", "rank", "partial")
"""Access levels from the most to the least an attacker sees."""

Access = Literal["score", "rank", "partial"]


class AuditSettings(BaseModel):
    """The ``[audit]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)

    models: list[str] = Field(min_length=1)
    """The audited models: ``[models.NAME]`` tables, registry models (``vbpr``, ``cornac-vbpr``)."""
    threat_models: list[str] = ["specific-user", "segment", "general"]
    """Whom the seller targets: one chosen user, a segment of an item's category, everyone."""
    attacks: list[str] = list(STANDARD_ATTACKS)
    """The battery (registry ids); each model runs those its access and gradients allow."""
    access: dict[str, Access] = Field(default_factory=dict)
    """Per model, the most its service shows (``score``: scores and rankings; ``rank``: rankings;
    ``partial``: the top of rankings). Default ``score``; attacks needing more are not run."""
    pairs: int = Field(30, ge=1)
    """Pairs (pushed item, target) per attack configuration, the same pairs for every model."""
    steps: int = Field(20, ge=1, le=1000)
    """Attack steps per pair (one upload of the doctored image each, plus the probes)."""
    perturbations: int = Field(32, ge=1)
    """d': probes per step of the paper's black-box attacks."""
    n_mock_users: int = Field(200, ge=1)
    """General population: the attacker's single-item accounts."""
    n_eval_users: int = Field(1000, ge=1)
    """General population: the real users exposure is measured on."""
    images_saved: int = Field(3, ge=0)
    """Pairs per attack configuration whose before/after uploads are kept as PNG."""
    top_items: int = Field(10, ge=1, le=100)
    """Rows of the most-exposed-items table."""
    defenses: list[str] = Field(default_factory=list)
    """The config's ``[defenses.NAME]`` tables to run the battery under, beside no defense (empty: none)."""
    attack_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per attack of `attacks`, its settings (``{"wb:bpda" = {knows_defense = true}}``): variants
    ``ID:LABEL`` need theirs; one with ``knows_defense = true`` is adaptive and runs only under
    the defenses with an ingest pipeline (the one thing it can know)."""

    @field_validator("models", "threat_models", "attacks", "defenses")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"an entry is listed twice in {v}")
        return v


class AuditConfig(BaseModel):
    """The audit's settings and the campaign they make."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    audit: AuditSettings
    campaign: CampaignConfig


def _attack_access(attack: str) -> str:
    from pixelpush.attacks.registry import ATTACKS

    entry = ATTACKS.get(attack)
    return "white-box" if entry.white_box else entry.access


def knows_defense(settings: AuditSettings, attack: str) -> bool:
    """Whether `attack` is adaptive: its options say ``knows_defense = true``."""
    return settings.attack_options.get(attack, {}).get("knows_defense") is True


def battery(settings: AuditSettings, campaign_raw: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The experiments of the audit (as config tables) and the attacks skipped per model, with why.

    With `settings.defenses`, each plain experiment (one per model and threat model) runs under
    ``["none", *defenses]`` rather than a separate experiment per defense: the defended and the
    undefended figures then come from the same attacks on the same pairs, and the undefended
    units keep their ids and keys, so adding defenses to a finished audit reruns none of its
    work. The cost is the battery's times ``1 + len(defenses)``. Adaptive attacks
    (``knows_defense = true``) run in an experiment of their own, ``...-adaptive``, under the
    defenses with an ingest pipeline only: without a pipeline there is nothing for them to know,
    and they would repeat the plain attack.
    """
    probe = parse_config({k: v for k, v in campaign_raw.items() if k != "experiments"}, source="audit config")
    with_pipeline = [d for d in settings.defenses if probe.defense(d).pipeline]
    experiments, skipped = [], []
    for model in settings.models:
        entry = probe.model_entry(model)
        shows = settings.access.get(model, "score")
        allowed = []
        for attack in settings.attacks:
            level = _attack_access(attack)
            if level == "white-box" and not entry.gradients:
                skipped.append({"model": model, "attack": attack, "why": "the model gives no gradients (a service, or gradients = false)"})
            elif level != "white-box" and ACCESS_ORDER.index(level) < ACCESS_ORDER.index(shows):
                skipped.append({"model": model, "attack": attack, "why": f"needs {level} access; the service shows {shows}"})
            elif knows_defense(settings, attack) and not with_pipeline:
                skipped.append({"model": model, "attack": attack,
                                "why": f"it knows the defense's ingest pipeline, and none of {settings.defenses} has one"})
            else:
                allowed.append(attack)
        if not allowed:
            raise ConfigError(f"audit: no attack of {settings.attacks} can run against {model!r}")
        if probe.model_spec(model) is not None:
            retrained = [d for d in settings.defenses if probe.defense(d).affects_model]
            if retrained:
                raise ConfigError(
                    f"audit.defenses: {retrained} change the model's training or features, but {model!r} is a loaded model "
                    "or a service that pixelpush cannot retrain (use reveal-limit or upload-monitor defenses against it)"
                )
        plain = [a for a in allowed if not knows_defense(settings, a)]
        adaptive = [a for a in allowed if knows_defense(settings, a)]
        for threat in settings.threat_models:
            common = {
                "recommenders": [model],
                "threat_models": [threat],
                "perturbations": [settings.perturbations],
                "steps": settings.steps,
                "pairs": settings.pairs,
                "n_mock_users": settings.n_mock_users,
                "n_eval_users": settings.n_eval_users,
                "images_saved": settings.images_saved,
            }
            stem = f"audit-{threat}-{model.replace(':', '.')}"
            for name, attacks, defenses in ((stem, plain, ["none", *settings.defenses]), (f"{stem}-adaptive", adaptive, with_pipeline)):
                if not attacks:
                    continue
                options = {a: settings.attack_options[a] for a in attacks if a in settings.attack_options}
                experiments.append({
                    "name": name, "attacks": attacks, **common,
                    **({"attack_options": options} if options else {}),
                    **({"defenses": defenses} if defenses != ["none"] else {}),
                })
    return experiments, skipped


def _check_defenses_and_options(settings: AuditSettings, rest: dict[str, Any], source: str) -> None:
    """The fields of ``[audit]`` that name other tables: errors name the field."""
    defined = rest.get("defenses") if isinstance(rest.get("defenses"), dict) else {}
    unknown = [d for d in settings.defenses if d not in defined]
    if unknown:
        known = ", ".join(defined) or "none: the config has no [defenses.NAME] table"
        hint = " ('none' is always run: list only defenses)" if "none" in unknown else ""
        raise ConfigError(f"{source}: audit.defenses: {unknown} are not defined in [defenses] (defined: {known}){hint}")
    stray = sorted(set(settings.attack_options) - set(settings.attacks))
    if stray:
        raise ConfigError(f"{source}: audit.attack_options: {stray} are not in audit.attacks {settings.attacks}")
    missing = [a for a in settings.attacks if ":" in a and a not in settings.attack_options]
    if missing:
        raise ConfigError(f"{source}: audit.attacks: the variants {missing} need their settings in audit.attack_options")
    adaptive = [a for a in settings.attacks if knows_defense(settings, a)]
    if adaptive and not settings.defenses:
        raise ConfigError(f"{source}: audit.attack_options: {adaptive} know the defense (knows_defense = true), "
                          "but audit.defenses is empty: name the defenses they attack through")


def parse_audit_config(raw: dict[str, Any], *, source: str = "audit config") -> tuple[AuditConfig, list[dict[str, str]]]:
    """Validate an audit config dict; returns the config and the skipped attacks."""
    if not isinstance(raw.get("audit"), dict):
        raise ConfigError(f"{source}: an audit config needs an [audit] table (models = [...])")
    if "experiments" in raw:
        raise ConfigError(f"{source}: an audit config makes its own experiments: remove [[experiments]]")
    try:
        settings = AuditSettings.model_validate(raw["audit"])
    except ValidationError as err:
        raise ConfigError(f"{source}: " + "; ".join("audit." + _problem(e) for e in err.errors())) from None
    rest = {k: v for k, v in raw.items() if k != "audit"}
    _check_defenses_and_options(settings, rest, source)
    experiments, skipped = battery(settings, rest)
    campaign = parse_config({**rest, "experiments": experiments}, source=source)
    return AuditConfig(audit=settings, campaign=campaign), skipped


def load_audit_config(path: str | Path) -> tuple[AuditConfig, list[dict[str, str]]]:
    """Read and validate an audit config file (relative paths are taken from its folder)."""
    path = Path(path)
    return parse_audit_config(resolve_paths(read_toml(path), path.parent), source=str(path))


def load_any_config(path: str | Path) -> CampaignConfig:
    """The campaign of a config file: an audit config's (``[audit]``) or a campaign config itself."""
    path = Path(path)
    raw = read_toml(path)
    if isinstance(raw.get("audit"), dict):
        return parse_audit_config(resolve_paths(raw, path.parent), source=str(path))[0].campaign
    return parse_config(resolve_paths(raw, path.parent), source=str(path))
