"""Records with known answers for the audit's analysis tests (the fields pairs.jsonl holds)."""

from __future__ import annotations

import numpy as np


def record(attack, pair, item, hits, *, model="m", threat="specific-user", uploads_per_step=10, ranks=None, ssim_end=0.9, defense=None):
    """One pairs.jsonl record with HR@10/HR@20 `hits` per step (HR@1 zero), under `defense` (None: no defense)."""
    steps = len(hits) - 1
    uploads = [t * uploads_per_step for t in range(steps + 1)]
    first = next((t for t, v in enumerate(hits) if v > hits[0]), None)
    return {
        **({"defense": defense} if defense else {}),
        "unit": f"e/{model}{'@' + defense if defense else ''}/{attack}/{threat}/d4/{pair:04d}", "recommender": model, "attack": attack, "threat_model": threat,
        "pair": pair, "item": item, "n_eval_users": 1, "steps": steps,
        "hits_by_step": {"1": [0.0] * (steps + 1), "10": hits, "20": hits},
        "rank_by_step": ranks or [100.0 - 10 * t for t in range(steps + 1)], "rank_before": 100.0, "perturbations": 4, "blend_epsilon": None, "experiment": "e",
        "ssim_by_step": list(np.linspace(1.0, ssim_end, steps + 1)), "uploads_by_step": uploads, "uploads": uploads[-1],
        "queries": uploads[-1], "uploads_to_top20": uploads[first] if first is not None else None,
        "gradient_cosine": None, "pixel_gradient_cosine": None, "uninformative_steps": None, "stopped": "completed",
        "images": None,
    }
