"""A small synthetic but schema-correct run folder (docs/results-schema.md) for the report tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

STEPS = 10
N_ITEMS = 3000
PAIRS_PER_CONFIG = 8

# (recommender, attack, threat_model, perturbations, strength)
SPECIFIC = [
    (rec, attack, "specific-user", d, strength)
    for rec in ("vbpr", "deepstyle")
    for attack, d, strength in (
        ("wb", 0, 0.9),
        ("bb-score", 32, 0.6),
        ("bb-rank", 16, 0.4),
        ("bb-rank", 32, 0.55),
        ("bb-rank", 64, 0.7),
        ("bb-partial", 32, 0.25),
        ("baseline-swap", 0, 0.02),
    )
]
POPULATION = [
    ("vbpr", attack, threat, 32, strength)
    for threat, scale in (("segment", 0.2), ("general", 0.06))
    for attack, strength in (("bb-rank", scale), ("bb-partial", scale / 3))
]


def _pair(rng: np.random.Generator, config: tuple[str, str, str, int, float], index: int) -> dict[str, Any]:
    rec, attack, threat, d, strength = config
    specific = threat == "specific-user"
    rank_before = float([40, 300, 800, 2200][index % 4] + rng.integers(0, 30))
    relevance = 1.0 - index % 4 / 5  # better-ranked items are pushed faster (paper Fig. 4)
    progress = np.minimum(1.0, np.arange(STEPS + 1) / STEPS * relevance * 1.3)
    n_eval = 1 if specific else int(rng.integers(50, 200))
    if specific:  # one target user: the rank moves log-linearly from rank_before towards 1
        push = strength * progress / rng.uniform(0.05, 0.7)
        ranks = [
            float(rank_before ** (1 - x) * 20**x if x <= 1 else max(20 ** (1 - (x - 1) / 0.5), 1.0)) for x in push
        ]
        hits = {k: [float(r <= cut) for r in ranks] for k, cut in (("1", 1.5), ("10", 10), ("20", 20))}
    else:  # fractions of the evaluation users
        frac = [0.0] + [float(strength * progress[t] * rng.uniform(0.7, 1.0)) for t in range(1, STEPS + 1)]
        frac = [round(float(v), 4) for v in np.maximum.accumulate(frac)]
        hits = {"20": frac, "10": [v * 0.9 for v in frac], "1": [v * 0.7 for v in frac]}
        ranks = [float(rank_before * (1 - 0.9 * v) + 1) for v in frac]
    hits20 = hits["20"]
    per_step = 1 if attack in ("wb",) or attack.startswith("baseline") else d + 1
    uploads_by_step = [t * per_step for t in range(STEPS + 1)]
    black_box = attack.startswith("bb-")
    unit = f"{rec}/{attack}/{threat}/d{d}/{index}"
    ssim = [1.0] + [float(1 - 0.0035 * t * (1 + d / 256)) for t in range(1, STEPS + 1)]
    first = next((t for t, h in enumerate(hits20) if h > hits20[0]), None)
    return {
        "unit": unit, "recommender": rec, "attack": attack, "threat_model": threat, "perturbations": d,
        "steps": STEPS, "pair": index, "item": int(rng.integers(0, N_ITEMS)),
        "target_user": int(rng.integers(0, 2000)) if specific else None,
        "segment_item": int(rng.integers(0, N_ITEMS)) if threat == "segment" else None,
        "n_eval_users": n_eval, "rank_before": rank_before,
        "hits_by_step": hits, "rank_by_step": ranks, "ssim_by_step": ssim,
        "uploads": uploads_by_step[-1], "queries": uploads_by_step[-1],
        "uploads_by_step": uploads_by_step,
        "uploads_to_top20": uploads_by_step[first] if first is not None else None,
        "gradient_cosine": [float(rng.uniform(0.1, 0.4)) for _ in range(STEPS)] if black_box else None,
        "pixel_gradient_cosine": [float(rng.uniform(0.2, 0.6)) for _ in range(STEPS)] if black_box else None,
        "uninformative_steps": int(rng.integers(0, 2)) if black_box else None,
        "images": None, "seconds": 0.5,
    }


def _aggregate(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    first = pairs[0]
    w = np.array([p["n_eval_users"] for p in pairs], dtype=float)

    def hr_curve(k: str) -> list[float]:
        arr = np.array([p["hits_by_step"][k] for p in pairs])
        return [float(v) for v in (arr * w[:, None]).sum(0) / w.sum()]

    curves = {k: hr_curve(k) for k in ("1", "10", "20")}
    to_top = [p["uploads_to_top20"] for p in pairs if p["uploads_to_top20"] is not None]
    black_box = first["attack"].startswith("bb-")
    return {
        "recommender": first["recommender"], "attack": first["attack"], "threat_model": first["threat_model"],
        "perturbations": first["perturbations"], "steps": STEPS, "pairs": len(pairs),
        "hr_before": {k: c[0] for k, c in curves.items()},
        "hr": {k: c[-1] for k, c in curves.items()},
        "hr_by_step": curves,
        "ssim_by_step": [float(v) for v in np.mean([p["ssim_by_step"] for p in pairs], axis=0)],
        "uploads_per_pair": float(np.mean([p["uploads"] for p in pairs])),
        "queries_per_pair": float(np.mean([p["queries"] for p in pairs])),
        "uploads_to_top20_median": float(np.median(to_top)) if to_top else None,
        "success_rate_top20": len(to_top) / len(pairs),
        "gradient_cosine_mean": float(np.mean([p["gradient_cosine"] for p in pairs])) if black_box else None,
        "pixel_gradient_cosine_mean": float(np.mean([p["pixel_gradient_cosine"] for p in pairs]))
        if black_box else None,
        "uninformative_step_rate": float(np.mean([p["uninformative_steps"] for p in pairs])) / STEPS
        if black_box else None,
        "rank_before": [p["rank_before"] for p in pairs],
        "extra": {},
    }


def _write_images(run_dir: Path, pair: dict[str, Any], rng: np.random.Generator) -> None:
    size = 64
    yy, xx = np.mgrid[0:size, 0:size]
    original = np.full((size, size, 3), 255, dtype=np.uint8)
    shirt = (np.abs(xx - size / 2) < 18) & (yy > 10) & (yy < 58)
    original[shirt] = (40, 90, 170)
    noise = rng.integers(-6, 7, size=(size, size, 3))
    attacked = np.clip(original.astype(int) + noise, 0, 255).astype(np.uint8)
    img_dir = run_dir / "images"
    img_dir.mkdir(exist_ok=True)
    stem = pair["unit"].replace("/", "_")
    Image.fromarray(original).save(img_dir / f"{stem}_original.png")
    Image.fromarray(attacked).save(img_dir / f"{stem}_attacked.png")
    pair["images"] = {"original": f"images/{stem}_original.png", "attacked": f"images/{stem}_attacked.png"}


def write_recorded_run(run_dir: Path, *, population: bool = True, images: bool = True, seed: int = 0) -> Path:
    """Write ``results.json``, ``pairs.jsonl`` and (if `images`) two PNG uploads into `run_dir`.

    `population=False` leaves out the segment and general-population runs.
    """
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    configs = SPECIFIC + (POPULATION if population else [])
    all_pairs, attacks = [], []
    for config in configs:
        pairs = [_pair(rng, config, i) for i in range(PAIRS_PER_CONFIG)]
        attacks.append(_aggregate(pairs))
        all_pairs.extend(pairs)
    if images:
        example = next(p for p in all_pairs if p["attack"] == "bb-rank" and p["perturbations"] == 32)
        _write_images(run_dir, example, rng)
    with (run_dir / "pairs.jsonl").open("w", encoding="utf-8") as fh:
        for pair in all_pairs:
            fh.write(json.dumps(pair) + "\n")
    config = {
        "dataset": {"name": "fashion", "users": 2000, "items": N_ITEMS},
        "attack": {"steps": STEPS, "epsilon": 1.0, "perturbations": [16, 32, 64]},
        "seed": seed,
    }
    results = {
        "dataset": {"name": "fashion", "n_users": 2000, "n_items": N_ITEMS, "n_interactions": 60000,
                    "n_categories": 10, "image_shape": [64, 64, 3]},
        "image_model": {"name": "squeezenet1_1", "identity": "synthetic", "feature_dim": 512, "input_size": 112},
        "recommenders": {"bpr": {"auc": 0.79, "visual_gain": None}, "vbpr": {"auc": 0.85, "visual_gain": 0.06},
                         "deepstyle": {"auc": 0.84, "visual_gain": 0.05}},
        "attacks": attacks,
        "config": config,
        "seed": seed,
        "versions": {"pixelpush": "0.1.0", "python": "3.11.7", "torch": "2.13.0", "numpy": "2.4.6"},
        "timings": {"data": 1.0, "features": 10.0, "train": 30.0, "attacks": 300.0},
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return run_dir
