"""From per-pair records to the per-configuration summaries of ``results.json``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from pixelpush.evaluation.metrics import HR_KS

GROUP_KEYS: tuple[str, ...] = ("experiment", "recommender", "defense", "attack", "threat_model", "perturbations", "blend_epsilon")
UPLOAD_BUDGETS: tuple[int, ...] = (0, 5, 10, 20, 40, 80, 160, 320, 640, 1280)
"""Per-pair upload budgets at which HR@k is reported (the cost curve; the paper's 20 x 32 = 640)."""
PAPER_BUDGET = 640


def hr_at_budgets(records: list[dict[str, Any]], k: str = "20", budgets: tuple[int, ...] = UPLOAD_BUDGETS) -> list[float]:
    """HR@k when each pair may spend at most b uploads: its hit fraction at the last step within b.

    >>> hr_at_budgets([{"n_eval_users": 1, "uploads_by_step": [0, 9, 18], "hits_by_step": {"20": [0.0, 0.0, 1.0]}}], budgets=(0, 10, 20))
    [0.0, 0.0, 1.0]
    """
    weights = np.array([r["n_eval_users"] for r in records], dtype=np.float64)
    out = []
    for b in budgets:
        values = []
        for r in records:
            spent = np.asarray(r["uploads_by_step"], dtype=np.float64)
            last = int(np.flatnonzero(spent <= b)[-1]) if (spent <= b).any() else 0
            values.append(float(r["hits_by_step"][k][last]))
        out.append(float(weights @ np.asarray(values) / max(weights.sum(), 1.0)))
    return out


def _cosine_by_step(records: list[dict[str, Any]], steps: int) -> list[float | None] | None:
    rows = [r.get("gradient_cosine_by_step") for r in records]
    rows = [row for row in rows if isinstance(row, list) and len(row) == steps]
    if not rows:
        return None
    out = []
    for t in range(steps):
        values = [row[t] for row in rows if row[t] is not None]
        out.append(float(np.mean(values)) if values else None)
    return out


def _weighted_mean_curve(records: list[dict[str, Any]], k: str) -> list[float]:
    weights = np.array([r["n_eval_users"] for r in records], dtype=np.float64)
    curves = np.array([r["hits_by_step"][k] for r in records], dtype=np.float64)
    return (weights @ curves / max(weights.sum(), 1.0)).tolist()


def _mean_or_none(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of one attack configuration's pairs (all with the same group keys)."""
    first = records[0]
    hr_by_step = {str(k): _weighted_mean_curve(records, str(k)) for k in HR_KS}
    reached = [r["uploads_to_top20"] for r in records if r["uploads_to_top20"] is not None]
    cos = [c for r in records for c in (r.get("gradient_cosine") or [])]
    pcos = [c for r in records for c in (r.get("pixel_gradient_cosine") or [])]
    uninformative = [r["uninformative_steps"] for r in records if r.get("uninformative_steps") is not None]
    steps = first["steps"]
    return {
        **{key: first.get(key) for key in GROUP_KEYS},
        "steps": steps,
        "pairs": len(records),
        "eval_users": int(sum(r["n_eval_users"] for r in records)),
        "hr_before": {k: v[0] for k, v in hr_by_step.items()},
        "hr": {k: v[-1] for k, v in hr_by_step.items()},
        "hr_by_step": hr_by_step,
        "ssim_by_step": np.mean([r["ssim_by_step"] for r in records], axis=0).tolist(),
        "uploads_by_step": np.mean([r["uploads_by_step"] for r in records], axis=0).tolist(),
        "uploads_per_pair": float(np.mean([r["uploads"] for r in records])),
        "queries_per_pair": float(np.mean([r["queries"] for r in records])),
        "uploads_to_top20_median": float(np.median(reached)) if reached else None,
        "success_rate_top20": len(reached) / len(records),
        "success_rate_top20_at_640": sum(u <= PAPER_BUDGET for u in reached) / len(records),
        "hr_at_upload_budgets": {"budgets": list(UPLOAD_BUDGETS), "20": hr_at_budgets(records)},
        "gradient_cosine_by_step": _cosine_by_step(records, steps),
        "gradient_cosine_mean": _mean_or_none(cos),
        "pixel_gradient_cosine_mean": _mean_or_none(pcos),
        "uninformative_step_rate": (sum(uninformative) / (steps * len(uninformative))) if uninformative else None,
        "rank_before": [r["rank_before"] for r in records],
        **_detection(records),
    }


def _detection(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Upload monitoring of a configuration: how many pairs it flagged, when, and the HR@20 the
    attack had reached by then (what it keeps if the platform freezes the item at the flag)."""
    monitored = [r for r in records if isinstance(r.get("monitor"), dict)]
    if not monitored:
        return {}
    flags = [r["monitor"]["first_flag"] for r in monitored]
    caught = [f for f in flags if f is not None]
    frozen = []
    for r, flag in zip(monitored, flags, strict=True):
        hits = r["hits_by_step"]["20"]
        if flag is None:
            frozen.append(hits[-1])
            continue
        spent = np.asarray(r["uploads_by_step"])
        last = int(np.flatnonzero(spent < flag)[-1]) if (spent < flag).any() else 0
        frozen.append(hits[last])
    weights = np.array([r["n_eval_users"] for r in monitored], dtype=np.float64)
    return {"detection": {
        "flagged_rate": len(caught) / len(monitored),
        "median_flag_upload": float(np.median(caught)) if caught else None,
        "hr20_if_frozen_at_flag": float(weights @ np.asarray(frozen) / max(weights.sum(), 1.0)),
    }}


def summarize_all(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per attack configuration, in a stable order."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[tuple(r.get(k) for k in GROUP_KEYS)].append(r)
    ordered = sorted(groups, key=lambda key: tuple("" if v is None else str(v) for v in key))
    return [summarize(sorted(groups[key], key=lambda r: r["pair"])) for key in ordered]
