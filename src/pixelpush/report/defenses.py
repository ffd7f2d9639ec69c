"""The report's defenses section: what each defense costs, what each attack keeps through it, and
what the upload monitor catches (from ``results.json`` alone; absent when the run had no defense).

- **Cost**: per defense and attacked model, the clean test AUC and its change against the
  undefended model; for reveal limits, the genuine new users' HR@20 without and with the limit.
- **Defense x attack**: HR@20 of every attack configuration run under a defense beside the same
  configuration undefended (``none``, or the passive ``monitor``, which changes nothing the
  attack sees), uploads per pair and SSIM. An adaptive attack (one that knows the defense) is
  compared with the undefended run of the paper's attack it adapts when it has no undefended run
  of its own, which is what "the adaptive attack wins back" means.
- **Upload monitor**: per monitored attack configuration, the share of campaigns the configured
  rule flags and the HR@20 the attack had reached by the flag; then, over every rule tried, the
  best true-positive rate at a false-positive rate of at most 1% on benign re-uploads.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pixelpush.registry import split_variant
from pixelpush.report.page import html_table, number_text
from pixelpush.report.tables import attack_label, recommender_label, sorted_attacks

__all__ = ["FPR_BUDGET", "PASSIVE", "defenses_html", "undefended_match"]

FPR_BUDGET = 0.01
"""The false-positive rate on benign re-uploads the monitor summary is read at."""

PASSIVE = frozenset({"none", "monitor"})
"""Defenses that change nothing an attack sees (the monitor only records the uploads)."""


def _f(value: Any, fmt: str = "{:.3f}") -> str:
    return number_text(value, fmt)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _hr20(entry: dict[str, Any]) -> float | None:
    hr = entry.get("hr")
    return hr.get("20") if isinstance(hr, dict) else None


def _defense_of(entry: dict[str, Any]) -> str:
    return str(entry.get("defense") or "none")


def _key(entry: dict[str, Any], attack: str) -> tuple[Any, ...]:
    return (entry.get("recommender"), attack, entry.get("threat_model"), int(entry.get("perturbations") or 0), entry.get("steps"))


def undefended_match(entry: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The undefended run of `entry`'s configuration (same experiment first), or of the paper's
    attack it adapts (the attack id without its variant label)."""
    passive = [e for e in entries if _defense_of(e) in PASSIVE]
    for attack in (str(entry.get("attack")), split_variant(str(entry.get("attack")))[0]):
        same = [e for e in passive if _key(e, str(e.get("attack"))) == _key(entry, attack)]
        if same:
            return next((e for e in same if e.get("experiment") == entry.get("experiment")), same[0])
    return None


def _describe(name: str, results: dict[str, Any]) -> str:
    if name == "none":
        return "no defense: the baseline the changes are measured against"
    table = (results.get("config") or {}).get("defenses", {}).get(name)
    try:
        from pixelpush.defenses import build_defense
        from pixelpush.defenses.describe import describe_defense

        return describe_defense(build_defense(name, table))
    except Exception:  # a report renders from its folder alone: fall back to the settings as recorded
        return json.dumps(results["defenses"][name].get("components", {}), sort_keys=True)


def _cost_table(results: dict[str, Any]) -> str:
    rows = []
    for name, entry in results["defenses"].items():
        for model, m in (entry.get("models") or {}).items():
            users = (entry.get("new_users") or {}).get(model)
            new_users = (f"{_f(users['undefended'].get('hr20'))} → {_f(users['defended'].get('hr20'))}"
                         if isinstance(users, dict) else "-")
            rows.append([_e(name), _e(_describe(name, results)), _e(recommender_label(model)), _f(m.get("auc"), "{:.4f}"),
                         _f(m.get("auc_change"), "{:+.4f}"), new_users])
    headers = ["defense", "what it does", "model", "test AUC", "AUC change", "new users' HR@20 (without → with)"]
    return html_table(headers, rows, numeric_from=3, table_id="defense-cost")


def _attack_table(results: dict[str, Any]) -> str:
    entries = sorted_attacks(results)
    rows = []
    for e in entries:
        if _defense_of(e) in PASSIVE:
            continue
        base = undefended_match(e, entries)
        hr, before = _hr20(e), _hr20(base) if base else None
        change = hr - before if isinstance(hr, int | float) and isinstance(before, int | float) else None
        ssim = e.get("ssim_by_step")
        against = f" ({attack_label(str(base['attack']))})" if base and base.get("attack") != e.get("attack") else ""
        rows.append([_e(recommender_label(str(e.get("recommender")))), _e(_defense_of(e)), _e(attack_label(str(e.get("attack")))),
                     _e(e.get("threat_model")), _e(e.get("pairs", "-")), _f(hr), _f(before) + _e(against), _f(change, "{:+.3f}"),
                     _f(e.get("uploads_per_pair"), "{:.1f}"), _f(ssim[-1] if isinstance(ssim, list) and ssim else None)])
    if not rows:
        return ""
    headers = ["model", "defense", "attack", "threat model", "pairs", "HR@20", "HR@20 undefended", "change", "uploads/pair", "SSIM@T"]
    return html_table(headers, rows, numeric_from=4, table_id="defense-attacks")


def best_tpr(curves: list[dict[str, Any]], key: tuple[Any, ...], budget: float = FPR_BUDGET) -> dict[str, Any] | None:
    """The rule (hash distance, near duplicates) with the highest TPR whose benign FPR is at most
    `budget`, for the attack configuration `key` = (experiment, recommender, defense, attack, d')."""
    points = [c for c in curves if (c["experiment"], c["recommender"], c["defense"], c["attack"], c["perturbations"]) == key
              and c["fpr"] <= budget]
    return max(points, key=lambda c: (c["tpr"], -c["fpr"]), default=None)


def _monitor_table(results: dict[str, Any]) -> str:
    detection = results.get("detection")
    monitored = [e for e in sorted_attacks(results) if isinstance(e.get("detection"), dict) and e["detection"]]
    if not monitored:
        return ""
    curves = detection.get("curves", []) if isinstance(detection, dict) else []
    rows = []
    for e in monitored:
        d = e["detection"]
        key = (e.get("experiment"), e.get("recommender"), str(e.get("defense")), e.get("attack"), int(e.get("perturbations") or 0))
        best = best_tpr(curves, key)
        rule = (f"{_f(best['tpr'])} (FPR {_f(best['fpr'])}; hash distance ≤ {best['hash_distance']}, "
                f"{best['near_duplicates']} near-duplicates)" if best else "no rule reaches it")
        rows.append([_e(recommender_label(str(e.get("recommender")))), _e(attack_label(str(e.get("attack")))), _e(e.get("pairs", "-")),
                     _f(d.get("flagged_rate")), _f(d.get("median_flag_upload"), "{:.0f}"), _f(_hr20(e)),
                     _f(d.get("hr20_if_frozen_at_flag")), _e(rule)])
    headers = ["model", "attack", "pairs", "flagged (configured rule)", "median upload at flag", "HR@20",
               "HR@20 if frozen at flag", f"best TPR at FPR ≤ {FPR_BUDGET:g} on benign re-uploads"]
    sellers = detection.get("benign_sellers", "?") if isinstance(detection, dict) else "?"
    uploads = detection.get("benign_uploads") if isinstance(detection, dict) else None
    caveat = (f" Each honest seller uploads {uploads} times, so a rule that needs more than {uploads} near-duplicates "
              "cannot flag one: its false-positive rate of 0 says nothing about sellers who re-upload more often."
              if isinstance(uploads, int) else "")
    intro = ("<p>The monitor records every upload and blocks nothing; a campaign is flagged when enough of an item's "
             "recent uploads are near-duplicates (within a perceptual-hash distance) of its earlier ones or of the "
             f"original photo. Benign streams: {html.escape(str(sellers))} honest sellers each uploading photos of other "
             "items of the same category in turn, and as many each uploading one photo again, edited once more each "
             f"time (a touch-up).{html.escape(caveat)}</p>")
    return intro + html_table(headers, rows, numeric_from=2, table_id="monitor")


def defenses_html(results: dict[str, Any]) -> str:
    """The report's "Defenses" section (empty string when the run had none)."""
    if not isinstance(results.get("defenses"), dict) or not results["defenses"]:
        return ""
    parts = [
        "<h2>Defenses</h2>",
        "<p>Each defense that changes training or the images trains its own model from the same seed; its cost is "
        "the clean test AUC change against the undefended model. A defense counts only against an attack that knows "
        "it: rows named with <i>bpda</i>, <i>eot</i>, <i>adaptive</i> or <i>knows</i> are attacks told the "
        "defense.</p>",
        "<h3>What each defense costs</h3>", _cost_table(results),
    ]
    attacks = _attack_table(results)
    if attacks:
        parts += ["<h3>What each attack keeps through it</h3>", attacks]
    monitor = _monitor_table(results)
    if monitor:
        parts += ["<h3>Upload monitor</h3>", monitor]
    return "\n".join(parts)
