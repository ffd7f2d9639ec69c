"""From per-pair records to the per-configuration summaries of ``results.json``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from pixelpush.evaluation.metrics import HR_KS

GROUP_KEYS: tuple[str, ...] = ("experiment", "recommender", "attack", "threat_model", "perturbations", "blend_epsilon")


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
        "gradient_cosine_mean": _mean_or_none(cos),
        "pixel_gradient_cosine_mean": _mean_or_none(pcos),
        "uninformative_step_rate": (sum(uninformative) / (steps * len(uninformative))) if uninformative else None,
        "rank_before": [r["rank_before"] for r in records],
    }


def summarize_all(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per attack configuration, in a stable order."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[tuple(r.get(k) for k in GROUP_KEYS)].append(r)
    ordered = sorted(groups, key=lambda key: tuple("" if v is None else str(v) for v in key))
    return [summarize(sorted(groups[key], key=lambda r: r["pair"])) for key in ordered]
