"""The ``defenses`` section of ``audit.json``: what each defense changes, per audited model.

Per defense: what it does in plain words, and per model the defended model's clean test AUC and
its change against the undefended one (as ``results.json`` keeps them, ``defenses.NAME.models``),
the strongest attack under the defense per threat model and access level beside the undefended
strongest on the same pairs (HR@k, success, uploads), every attack's row, whether the defense
stops, reduces or does not stop the attacks tried, and which rows knew the defense (adaptive).

A pure function of the records and the campaign's figures, like :mod:`pixelpush.audit.analysis`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS
from pixelpush.audit.analysis import MODERATE, access_label, attack_rows
from pixelpush.defenses.describe import describe_defense
from pixelpush.defenses.registry import DEFENSES, Defense

__all__ = ["analyse_defenses", "defense_effect"]

_COMPARED = ("attack", "attack_label", "hr_before", "hr", "success_rate", "uploads_per_pair", "uploads_to_top20_median")


def _lift(row: dict[str, Any]) -> float:
    return float(row["hr"]["20"] - row["hr_before"]["20"])


def defense_effect(lift_undefended: float, lift_defended: float) -> str:
    """``stops``, ``reduces``, ``does not stop`` the attacks tried, or ``untested`` (they did not push
    the undefended model), from the strongest attack's HR@20 lift without and with the defense.

    A lift under 0.05 (the audit's "moderate" level) counts as none; a reduction must be at least that.

    >>> defense_effect(0.6, 0.0), defense_effect(0.6, 0.3), defense_effect(0.6, 0.58), defense_effect(0.02, 0.0)
    ('stops', 'reduces', 'does not stop', 'untested')
    """
    if lift_undefended < MODERATE:
        return "untested"
    if lift_defended < MODERATE:
        return "stops"
    return "reduces" if lift_defended <= lift_undefended - MODERATE else "does not stop"


def _cost(defense: Defense, entry: dict[str, Any], strongest: dict[str, Any] | None) -> str:
    parts = []
    if entry["auc"] is None:
        parts.append("its accuracy cost is not measured (the model's AUC is unknown)")
    elif not defense.affects_model:
        parts.append(f"no accuracy cost: the model is the same (AUC {entry['auc']:.4f}), the defense acts on the service")
    else:
        parts.append(f"accuracy: AUC {entry['auc']:.4f}, {entry['auc_change']:+.4f} against the undefended model")
    users = entry.get("new_users")
    if users:
        parts.append(f"genuine new accounts find their next item in the top 20 {users['defended']['hr20']:.0%} of the time "
                     f"under it, {users['undefended']['hr20']:.0%} without it")
    detection = (strongest or {}).get("detection")
    if detection:
        at = detection["median_flag_upload"]
        parts.append(f"it flagged {detection['flagged_rate']:.0%} of the items the strongest attack pushed"
                     + (f" (median at upload {at:.0f})" if at is not None else ""))
    return "; ".join(parts)


def _summary(name: str, defense: Defense, label: str, entry: dict[str, Any], undefended: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(effect, one sentence of what it means, the caveat on adaptive attacks)."""
    rows = entry["exposure"]
    strongest = max(rows, key=_lift, default=None)
    before = max(undefended, key=_lift, default=None)
    effect = defense_effect(_lift(before) if before else 0.0, _lift(strongest) if strongest else 0.0)
    cost = _cost(defense, entry, strongest)
    if strongest is None or before is None:
        sentence = f"No attack ran against {label} under {name}; {cost}."
    elif effect == "untested":
        sentence = (f"Without {name} the attacks tried barely moved {label} (the strongest added only {_lift(before):.0%} "
                    f"to the share of targeted items in the top 20), so this audit cannot tell what the defense stops; {cost}.")
    else:
        sentence = (
            f"{name} {effect} the attacks tried on {label}: the strongest attack under it, {ATTACKS.label(strongest['attack'])} "
            f"on the {THREAT_MODELS.label(strongest['threat_model'])} threat model, put {strongest['hr']['20']:.0%} of the "
            f"targeted items into the top 20 ({strongest['hr_before']['20']:.0%} before the attack), against "
            f"{before['hr']['20']:.0%} without the defense ({ATTACKS.label(before['attack'])}, on the same items); {cost}."
        )
    adaptive = [r for r in entry["attacks"] if r["adaptive"]]
    if adaptive:
        best = max(adaptive, key=_lift)
        caveat = (f"Adaptive rows, attacks that knew {name}: {', '.join(sorted({ATTACKS.label(r['attack']) for r in adaptive}))}; "
                  f"the strongest of them put {best['hr']['20']:.0%} of the targeted items into the top 20. "
                  "The other attacks did not know it.")
    elif any(DEFENSES.get(c).stage == "training" for c, _ in defense.components):
        caveat = (f"Every attack ran against the defended model itself (the white-box one on its own gradients), but none was "
                  f"built to get around {name}: an attacker who adapts to it may do better.")
    else:
        caveat = (f"No attack tried knew {name}: it counts only against attackers who ignore it, and one who adapts to it "
                  "may get through.")
    return effect, sentence, caveat


def analyse_defenses(
    records: Sequence[dict[str, Any]],
    defenses: Sequence[Defense],
    *,
    figures: dict[str, Any],
    models: dict[str, dict[str, Any]],
    adaptive: Collection[str] = (),
    visible_fraction: float = 0.01,
) -> dict[str, Any]:
    """The ``defenses`` section of ``audit.json``.

    `records`: the audit's records, every defense's (``defense`` absent: none); `figures`:
    ``results.json``'s ``defenses`` (AUC per defense and model, new users under reveal limits);
    `models`: ``audit.json``'s ``models`` (label, undefended AUC); `adaptive`: the attacks with
    ``knows_defense = true`` (adaptive where the defense has an ingest pipeline to know).
    """
    plain = [r for r in records if r.get("defense", "none") == "none"]
    undefended_attacks, undefended_best = attack_rows(plain)
    same_attack = {(r["model"], r["threat_model"], r["attack"]): r for r in undefended_attacks}
    same_level = {(r["model"], r["threat_model"], r["access"]): r for r in undefended_best}
    out: dict[str, Any] = {}
    for defense in defenses:
        entry: dict[str, Any] = {
            "label": " + ".join(DEFENSES.get(c).label for c, _ in defense.components),
            "what": describe_defense(defense),
            "stages": [DEFENSES.get(c).stage for c, _ in defense.components],
            "components": defense.config(),
            "models": {},
        }
        for model, facts in models.items():
            mine = [r for r in records if r.get("defense") == defense.name and r["recommender"] == model]
            if not mine:
                continue
            rows, best = attack_rows(mine)
            for row in rows:
                row["adaptive"] = row["attack"] in adaptive and bool(defense.pipeline)
                twin = same_attack.get((model, row["threat_model"], row["attack"]))
                row["hr_undefended"] = twin["hr"] if twin else None
            known = {(r["threat_model"], r["attack"]): r["adaptive"] for r in rows}
            exposure = []
            for row in best:
                twin = same_level.get((model, row["threat_model"], row["access"]))
                exposure.append({
                    "threat_model": row["threat_model"], "access": row["access"],
                    "access_label": access_label(row["access"], visible_fraction),
                    **{k: row[k] for k in _COMPARED},
                    "adaptive": known[(row["threat_model"], row["attack"])],
                    "pairs": row["pairs"], "ssim_final": row["ssim_final"],
                    **({"detection": row["detection"]} if "detection" in row else {}),
                    "undefended": {k: twin[k] for k in _COMPARED} if twin else None,
                })
            figure = figures.get(defense.name, {}).get("models", {}).get(model, {})
            auc = figure.get("auc")
            result: dict[str, Any] = {
                "auc": auc,
                "auc_undefended": facts.get("auc"),
                "auc_change": figure.get("auc_change") if auc is not None else None,
                "exposure": exposure,
                "attacks": rows,
            }
            users = figures.get(defense.name, {}).get("new_users", {}).get(model)
            if users:
                result["new_users"] = users
            undefended = [r for r in undefended_best if r["model"] == model
                          and (r["threat_model"], r["access"]) in {(x["threat_model"], x["access"]) for x in exposure}]
            result["effect"], result["summary"], result["caveat"] = _summary(
                defense.name, defense, facts.get("label", model), result, undefended)
            entry["models"][model] = result
        out[defense.name] = entry
    return out

