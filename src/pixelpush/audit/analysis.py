"""From an audit's unit records to ``audit.json``: exposure per threat model and access level, by
item popularity decile and category, uploads needed to reach the top 20, SSIM, the most exposed
items, and a verdict with what to do.

Everything here is a pure function of the records (``pairs.jsonl``), the catalog's item facts
(popularity, categories, labels) and the models' figures, so a resumed audit's ``audit.json``
equals an uninterrupted one's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS
from pixelpush.audit.config import ACCESS_ORDER
from pixelpush.evaluation.aggregate import summarize

__all__ = ["ItemFacts", "access_label", "analyse", "attack_access", "attack_rows", "popularity_deciles"]

UPLOAD_CAPS: tuple[int, ...] = (10, 20, 50, 100, 200, 640)
"""Per-item upload caps at which the audit reports how many successful pushes would have been stopped."""
HIGH, MODERATE = 0.30, 0.05
"""Risk levels: the best black-box HR@20 gain against one chosen user at least this much."""


@dataclass(frozen=True)
class ItemFacts:
    """What the audit reads about the catalog's items."""

    popularity: np.ndarray
    """Users who consumed each item ``(n_items,)``."""
    categories: np.ndarray
    """Category index of each item ``(n_items,)``."""
    category_names: tuple[str, ...]
    labels: tuple[str, ...] = ()
    """The items' own ids or names (the dataset's ``item_labels``), if any."""

    def label(self, item: int) -> str:
        """The item's name in the report: its label, else its pixelpush id."""
        return str(self.labels[item]) if item < len(self.labels) else str(item)


def attack_access(attack: str) -> str:
    """The access level an attack needs: ``white-box``, ``score``, ``rank`` or ``partial``."""
    entry = ATTACKS.get(attack)
    return "white-box" if entry.white_box else entry.access


def access_label(access: str, visible_fraction: float) -> str:
    """Plain words for an access level.

    >>> access_label("partial", 0.01)
    'the top 1% of rankings'
    """
    return {
        "white-box": "white-box (the model itself)",
        "score": "scores",
        "rank": "full rankings",
        "partial": f"the top {visible_fraction:.0%} of rankings",
    }[access]


def popularity_deciles(popularity: np.ndarray) -> np.ndarray:
    """Decile 1 (least consumed) .. 10 (most) of every item, by popularity rank (ties by id).

    >>> popularity_deciles(np.array([5, 0, 9, 1, 3, 7, 2, 8, 6, 4])).tolist()
    [6, 1, 10, 2, 4, 8, 3, 9, 7, 5]
    """
    order = np.argsort(np.asarray(popularity), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return 1 + (10 * ranks) // max(len(order), 1)


def _weighted(records: Sequence[dict[str, Any]], value: Callable[[dict[str, Any]], float]) -> float | None:
    weights = np.array([r["n_eval_users"] for r in records], dtype=np.float64)
    if not len(records) or weights.sum() <= 0:
        return None
    return float(weights @ np.array([value(r) for r in records], dtype=np.float64) / weights.sum())


def _after(r: dict[str, Any]) -> float:
    return float(r["hits_by_step"]["20"][-1])


def _before(r: dict[str, Any]) -> float:
    return float(r["hits_by_step"]["20"][0])


def _first_gain_step(r: dict[str, Any]) -> int | None:
    hits = r["hits_by_step"]["20"]
    return next((t for t, v in enumerate(hits) if v > hits[0]), None)


def _quantiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    v = np.asarray(values, dtype=np.float64)
    return {name: float(np.quantile(v, q)) for name, q in (("min", 0), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("max", 1))}


def _groups(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        out[(r["recommender"], r["threat_model"], r["attack"])].append(r)
    return {k: sorted(v, key=lambda r: r["pair"]) for k, v in out.items()}


def _attack_rows(groups: dict[tuple[str, str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for (model, threat, attack), recs in groups.items():
        s = summarize(recs)
        reached_ssim = [r["ssim_by_step"][t] for r in recs if (t := _first_gain_step(r)) is not None]
        before = [r["rank_by_step"][0] for r in recs if np.isfinite(r["rank_by_step"][0])]
        after = [r["rank_by_step"][-1] for r in recs if np.isfinite(r["rank_by_step"][-1])]
        rows.append({
            "model": model,
            "threat_model": threat,
            "attack": attack,
            "attack_label": ATTACKS.label(attack),
            "access": attack_access(attack),
            "pairs": s["pairs"],
            "eval_users": s["eval_users"],
            "hr_before": s["hr_before"],
            "hr": s["hr"],
            "success_rate": s["success_rate_top20"],
            "uploads_per_pair": s["uploads_per_pair"],
            "queries_per_pair": s["queries_per_pair"],
            "uploads_to_top20_median": s["uploads_to_top20_median"],
            "ssim_final": float(s["ssim_by_step"][-1]),
            "ssim_final_min": float(min(r["ssim_by_step"][-1] for r in recs)),
            "ssim_at_top20_median": float(np.median(reached_ssim)) if reached_ssim else None,
            "rank_before_median": float(np.median(before)) if before else None,
            "rank_after_median": float(np.median(after)) if after else None,
            "stopped_by_budget": sum(r.get("stopped") == "budget" for r in recs),
            **({"detection": s["detection"]} if "detection" in s else {}),
        })
    return _ordered(rows)


def attack_rows(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every attack configuration's row, and the best attack per model, threat model and access level.

    The records must share a defense (their rows are keyed by model, threat model and attack)."""
    rows = _attack_rows(_groups(records))
    return rows, _best(rows)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    threats, attacks = list(THREAT_MODELS.ids()), list(ATTACKS.ids())

    def key(row: dict[str, Any]) -> tuple:
        return (
            row["model"],
            threats.index(row["threat_model"]) if row["threat_model"] in threats else len(threats),
            ACCESS_ORDER.index(row["access"]),
            attacks.index(row["attack"].partition(":")[0]) if row.get("attack", "").partition(":")[0] in attacks else 0,
        )

    return sorted(rows, key=key)


def _best(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, threat model, access level) the attack with the highest HR@20 (then fewest uploads)."""
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["model"], row["threat_model"], row["access"])
        cost = row["uploads_to_top20_median"] if row["uploads_to_top20_median"] is not None else float("inf")
        rank = (row["hr"]["20"] - row["hr_before"]["20"], -cost)
        held = best.get(key)
        if held is None or rank > held["_rank"]:
            best[key] = {**row, "_rank": rank}
    return _ordered([{k: v for k, v in row.items() if k != "_rank"} | {"best_attack": row["attack"]} for row in best.values()])


def _breakdown(
    groups: dict[tuple[str, str, str], list[dict[str, Any]]],
    exposure: list[dict[str, Any]],
    bucket: Callable[[int], Any],
    buckets: Sequence[Any],
) -> list[dict[str, Any]]:
    out = []
    for row in exposure:
        recs = groups[(row["model"], row["threat_model"], row["best_attack"])]
        cells = []
        for b in buckets:
            inside = [r for r in recs if bucket(int(r["item"])) == b]
            cells.append({
                "bucket": b,
                "pairs": len(inside),
                "hr20": _weighted(inside, _after),
                "hr20_before": _weighted(inside, _before),
                "success_rate": (sum(r["uploads_to_top20"] is not None for r in inside) / len(inside)) if inside else None,
            })
        out.append({"model": row["model"], "threat_model": row["threat_model"], "access": row["access"],
                     "attack": row["best_attack"], "buckets": cells})
    return out


def _uploads(groups: dict[tuple[str, str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for (model, threat, attack), recs in groups.items():
        values = sorted(int(r["uploads_to_top20"]) for r in recs if r["uploads_to_top20"] is not None)
        out.append({
            "model": model, "threat_model": threat, "attack": attack, "access": attack_access(attack),
            "pairs": len(recs), "reached": len(values), "values": values, "quantiles": _quantiles(values),
            "reached_within": {str(cap): sum(v <= cap for v in values) / len(recs) for cap in UPLOAD_CAPS},
        })
    return _ordered(out)


def _most_exposed(records: Sequence[dict[str, Any]], items: ItemFacts, deciles: np.ndarray, n: int) -> list[dict[str, Any]]:
    """Pushes that reached the top 20, fewest uploads first (then the largest rank gain), one per model and item."""

    def gain(r: dict[str, Any]) -> float:
        before, after = r["rank_by_step"][0], r["rank_by_step"][-1]
        return (before - after) / before if before and np.isfinite(before) and np.isfinite(after) else 0.0

    ordered = sorted(
        (r for r in records if attack_access(r["attack"]) != "white-box"),
        key=lambda r: (r["uploads_to_top20"] is None, r["uploads_to_top20"] or 0, -gain(r), r["unit"]),
    )
    seen, out = set(), []
    for r in ordered:
        item = int(r["item"])
        if (r["recommender"], item) in seen:
            continue
        seen.add((r["recommender"], item))
        out.append({
            "model": r["recommender"], "item": item, "label": items.label(item),
            "category": items.category_names[int(items.categories[item])],
            "popularity": int(items.popularity[item]), "popularity_decile": int(deciles[item]),
            "threat_model": r["threat_model"], "attack": r["attack"], "access": attack_access(r["attack"]),
            "rank_before": r["rank_by_step"][0], "rank_after": r["rank_by_step"][-1],
            "hr20_before": _before(r), "hr20_after": _after(r),
            "uploads_to_top20": r["uploads_to_top20"], "ssim": float(r["ssim_by_step"][-1]),
            "images": r.get("images"),
        })
        if len(out) == n:
            break
    return out


def _verdict(exposure: list[dict[str, Any]], uploads: list[dict[str, Any]], models: dict[str, dict[str, Any]], visible: float) -> dict[str, Any]:
    """Per model: the risk level, a headline, findings and what to do, from the exposure table."""
    out = {}
    for model in dict.fromkeys(r["model"] for r in exposure):
        rows = [r for r in exposure if r["model"] == model]
        black = [r for r in rows if r["access"] != "white-box"]
        target = [r for r in black if r["threat_model"] == "specific-user"] or black
        # the largest lift; on a tie the attacker who sees less (the more realistic threat)
        top = max(target, key=lambda r: (r["hr"]["20"] - r["hr_before"]["20"], ACCESS_ORDER.index(r["access"])), default=None)
        findings, actions = [], []
        if top is None:
            out[model] = {"risk": "unknown", "headline": "No black-box attack ran against this model.", "findings": [], "actions": []}
            continue
        lift = top["hr"]["20"] - top["hr_before"]["20"]
        risk = "high" if lift >= HIGH else "moderate" if lift >= MODERATE else "low"
        who = THREAT_MODELS.label(top["threat_model"])
        if lift <= 0:
            headline = (
                f"No black-box attack raised the targeted items' top-20 hit ratio ({who} threat model, "
                f"{top['pairs']} items, {top['hr_before']['20']:.0%} before the attack); see the ranks gained below before "
                "concluding: a longer attack (more steps) may still get there."
            )
        else:
            headline = (
                f"Seeing only {access_label(top['access'], visible)}, an attacker who uploads doctored product photos "
                f"put {top['hr']['20']:.0%} of the targeted items into the top 20 ({who} threat model; "
                f"{top['hr_before']['20']:.0%} before the attack)"
            )
            if top["uploads_to_top20_median"] is not None:
                headline += f", with a median of {top['uploads_to_top20_median']:.0f} uploads per item"
            headline += f"; the doctored images kept an SSIM of {top['ssim_final']:.2f} to the originals."
        for access in ACCESS_ORDER:
            level = [r for r in rows if r["access"] == access and r["threat_model"] == top["threat_model"]]
            if level:
                r = level[0]
                findings.append(
                    f"With {access_label(access, visible)} ({ATTACKS.label(r['best_attack'])}): HR@20 {r['hr_before']['20']:.2f} -> "
                    f"{r['hr']['20']:.2f}, {r['success_rate']:.0%} of pairs rose into the top 20."
                )
        by_access = {r["access"]: r["hr"]["20"] for r in black if r["threat_model"] == top["threat_model"]}
        if "score" in by_access and "rank" in by_access and by_access["score"] > by_access["rank"] + 0.05:
            actions.append("Do not show scores: the attacks that read them went further than those that read only rankings.")
        if "partial" in by_access and "rank" in by_access and by_access["rank"] > by_access["partial"] + 0.05:
            actions.append(
                f"Show less of each ranking: with only the top {visible:.0%} visible the push went "
                f"{by_access['rank'] - by_access['partial']:.0%} less far than with full rankings."
            )
        row = next((u for u in uploads if u["model"] == model and u["threat_model"] == top["threat_model"] and u["attack"] == top["best_attack"]), None)
        if row and row["reached"]:
            for cap in UPLOAD_CAPS:
                share = row["reached_within"][str(cap)]
                if share < 0.5 * row["reached"] / row["pairs"]:
                    actions.append(
                        f"Limit re-uploads of one item's image: a cap of {cap} uploads would have left {share:.0%} of the pairs "
                        f"reaching the top 20 instead of {row['reached'] / row['pairs']:.0%} (this attack's pushes need many near-identical uploads; "
                        "detecting bursts of them is a cheaper signal still)."
                    )
                    break
        gain = models.get(model, {}).get("visual_gain")
        if risk != "low":
            actions.append(_defense_advice(gain))
            actions.append("Re-run this audit after any change: it is resumable, and keyed, so only what changed runs again.")
        else:
            actions.append("Keep the audit in your release checks: exposure depends on how much the model weighs appearance, which retraining can change.")
        out[model] = {"risk": risk, "headline": headline, "findings": findings, "actions": actions}
    return out


LITTLE_VISUAL_GAIN = 0.02
"""A visual gain in AUC below which appearance barely pays, so weakening it costs little."""


def _defense_advice(gain: Any) -> str:
    """What the measured defenses (docs/defenses.md) suggest for a model with this visual gain."""
    if isinstance(gain, float) and gain < LITTLE_VISUAL_GAIN:
        return (f"Make appearance weigh less: it adds {gain:+.1%} to this model's AUC, so a stronger penalty on its "
                "visual terms should cut exposure at little accuracy cost (on pixelpush's fashion-dense catalog, where "
                "images add nothing, that penalty took the white-box push from 0.85 to 0.05 at equal accuracy).")
    shown = f" (here {gain:+.1%})" if isinstance(gain, float) else ""
    return ("Re-encode uploads (JPEG, resizing) before the model sees them: on pixelpush's default catalog that cost no "
            "accuracy and took the black-box pushes from 0.47-0.87 to 0.00-0.13, though an attacker who knows the model "
            "and the pipeline still pushed 0.77-0.93 (docs/defenses.md). Weakening appearance instead (a visual penalty, "
            f"adversarial training) stopped the pushes there only by giving up most of what the images add to accuracy{shown}. "
            "Measure the defense you choose with this audit's [audit] defenses.")


def analyse(
    records: Sequence[dict[str, Any]],
    items: ItemFacts,
    models: dict[str, dict[str, Any]],
    *,
    visible_fraction: float,
    top_items: int = 10,
) -> dict[str, Any]:
    """The analytical part of ``audit.json`` (see ``docs/audit.md``) from the audit's records."""
    groups = _groups(records)
    attacks, exposure = attack_rows(records)
    deciles = popularity_deciles(items.popularity)
    by_popularity = _breakdown(groups, exposure, lambda i: int(deciles[i]), list(range(1, 11)))
    names = list(items.category_names)
    by_category = _breakdown(groups, exposure, lambda i: names[int(items.categories[i])], names)
    uploads = _uploads(groups)
    decile_ranges = []
    for d in range(1, 11):
        pop = items.popularity[deciles == d]
        decile_ranges.append({"decile": d, "min": int(pop.min()) if len(pop) else None, "max": int(pop.max()) if len(pop) else None})
    return {
        "exposure": exposure,
        "attacks": attacks,
        "by_popularity": {"deciles": decile_ranges, "rows": by_popularity},
        "by_category": {"categories": names, "rows": by_category},
        "uploads_to_top20": {"caps": list(UPLOAD_CAPS), "rows": uploads},
        "most_exposed": _most_exposed(records, items, deciles, top_items),
        "verdict": _verdict(exposure, uploads, models, visible_fraction),
    }
