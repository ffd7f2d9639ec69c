"""Ray beside the local engine, side by side in one run: a small campaign, and feature extraction.

* campaign: the tiny campaign of the tests (35 units on the embedded catalog at 32 px), its
  first run on ``local`` (1 process; this run also extracts the features and trains the models,
  so only its attack phase compares), then, with those models, on ``local`` (2 processes) and
  ``ray`` (2 workers on a private local instance, started once before the timing). Prints the
  attack phase's wall time (``timings.json``: work plus each engine's worker start-up), the
  ratios to one local process, and whether every results.json is byte for byte the same.
* features: `--n` synthetic images through ``extract_features`` (this process, 2 torch threads)
  and ``extract_features_ray`` (2 Ray Data actors of 1 thread each), both into fresh caches.
  Prints images/s, the ratio, and whether the features are equal.

Needs the scale extra. Usage::

    python bench/bench_ray_engine.py [--n 3000] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pixelpush.data.catalog import ArrayImages
from pixelpush.evaluation.campaign import run_campaign
from pixelpush.evaluation.config import parse_config
from pixelpush.random import numpy_rng
from pixelpush.vision.features import extract_features
from pixelpush.vision.features_ray import extract_features_ray
from pixelpush.vision.models import load_image_model

CAMPAIGN = {
    "seed": 3,
    "visible_fraction": 0.1,
    "dataset": {"name": "fashion", "options": {"upload_size": 32}},
    "image_model": {"input_size": 32},
    "training": {"models": ["bpr", "vbpr"], "epochs": 2},
    "experiments": [
        {"name": "table", "recommenders": ["vbpr"], "attacks": ["wb", "bb-score", "bb-rank", "bb-partial"],
         "perturbations": [4, 8], "steps": 3, "pairs": 3, "images_saved": 1},
        {"name": "population", "recommenders": ["vbpr"], "attacks": ["bb-rank", "bb-partial"],
         "threat_models": ["segment", "general"], "perturbations": [8], "steps": 3, "pairs": 2,
         "n_mock_users": 10, "n_eval_users": 30, "images_saved": 0},
        {"name": "baselines", "recommenders": ["vbpr"], "attacks": ["baseline-swap", "baseline-blend"],
         "blend_epsilons": [0.05, 0.1], "steps": 1, "pairs": 2, "images_saved": 0},
    ],
}


def bench_campaign(root: Path) -> None:
    config = parse_config({**CAMPAIGN, "cache_dir": str(root / "cache")})
    warm = root / "warm"
    t0 = time.perf_counter()
    run_campaign(config, warm, progress=False)  # features and models, made once; its attacks ran on local x1
    runs = {"local x1": (json.loads((warm / "timings.json").read_text())["attacks"], time.perf_counter() - t0,
                         (warm / "results.json").read_bytes())}
    for label, engine, workers in [("local x2", "local", 2), ("ray x2", "ray", 2)]:
        out = root / label.replace(" ", "-")
        out.mkdir()
        shutil.copytree(warm / "models", out / "models")
        t0 = time.perf_counter()
        run_campaign(config, out, engine=engine, workers=workers, progress=False)
        total = time.perf_counter() - t0
        attacks = json.loads((out / "timings.json").read_text())["attacks"]
        runs[label] = (attacks, total, (out / "results.json").read_bytes())
    base = runs["local x1"][0]
    units = sum(1 for _ in (warm / "pairs.jsonl").open())
    print(f"campaign: {units} units; attack phase wall time (and whole run_campaign)")
    for label, (attacks, total, _) in runs.items():
        print(f"  {label:9s} {attacks:7.2f} s  ({total:6.2f} s)  ratio to local x1: {attacks / base:.2f}")
    same = len({r[2] for r in runs.values()}) == 1
    print(f"  results.json identical on every engine: {same}")


def bench_features(root: Path, n: int) -> None:
    images = ArrayImages(numpy_rng(0, "bench-ray").integers(0, 256, (n, 32, 32, 3), dtype=np.uint8))
    model = load_image_model("squeezenet1_1", weights=None, input_size=32)
    t0 = time.perf_counter()
    local = np.array(extract_features(model, images, cache_dir=root / "local", chunk_size=256, progress=False))
    t_local = time.perf_counter() - t0
    t0 = time.perf_counter()
    ray = np.array(extract_features_ray(model, images, cache_dir=root / "ray", chunk_size=256, workers=2, progress=False))
    t_ray = time.perf_counter() - t0
    diff = float(np.abs(ray - local).max() / np.abs(local).max())
    print(f"features: {n} images, squeezenet1_1 at 32 px, cold caches of 256-item chunks")
    print(f"  local ({torch.get_num_threads()} torch threads)  {n / t_local:8.0f} img/s  ({t_local:.2f} s)")
    print(f"  ray (2 Data actors x 1 thread) {n / t_ray:8.0f} img/s  ({t_ray:.2f} s)  ratio ray/local time: {t_ray / t_local:.2f}")
    print(f"  features equal: {bool(np.array_equal(ray, local))} (max diff / max |f| = {diff:.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="synthetic images for the feature bench")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance and torch threads")
    args = parser.parse_args()
    import ray

    torch.set_num_threads(args.cpus)
    t0 = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, object_store_memory=256 * 2**20, logging_level="WARNING")
    print(f"ray {ray.__version__}: local instance of {args.cpus} CPUs started in {time.perf_counter() - t0:.1f} s (not timed below)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench_campaign(Path(tmp) / "campaign")
            bench_features(Path(tmp) / "features", args.n)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
