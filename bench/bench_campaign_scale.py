"""Campaign throughput at 10k, 100k and 455k items: one process, then 1 and 2 Ray workers.

For each catalog size, in its own process (so memory does not carry over), a campaign on the
registry's ``synthetic-scale`` dataset (Clothing's ratios of users and interactions to items,
:mod:`pixelpush.data.synthetic_scale`): BPR and VBPR trained for `--epochs` (validation and
test AUC on a seeded sample of `--eval-pairs` held-out pairs: an exact AUC at 455k items is
5.8e10 scores), then BB-Rank (d' = `--perturbations`, `--steps` steps) on `--pairs`
specific-user pairs, run three times with the same models:

* ``local x1``: the local engine in this process (this run also trains the models);
* ``ray x1`` and ``ray x2``: the Ray engine with 1 and 2 workers on a private local instance
  (started before the timing; its start-up is shown apart).

It prints each run's attack phase (``timings.json``: the units plus each engine's worker
start-up, which includes loading the dataset by name and unpickling the models in every
worker), units per second, the ratio of ray x1 to ray x2 time, and whether the three
results.json are byte for byte the same.

The catalog features are the generator's cached random features (extracting 455k uploads
would dominate everything else; ``bench_feature_memory.py`` measures that); the image model is
SqueezeNet 1.1 at the uploads' 32 px, so an attack's uploads get real image-model features and
each step pays its real forward and backward. Needs the ``scale`` extra.

    PYTHONPATH=src .venv/bin/python bench/bench_campaign_scale.py [--sizes 10000 100000 455412] [--huge-pages on|off]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fresh_process import each_in_fresh_process

from pixelpush.huge_pages import VARIABLE as HUGE_PAGES, request_huge_pages


def campaign_config(n_items: int, args: argparse.Namespace, cache_dir: Path) -> dict:
    train = {"eval_pairs": args.eval_pairs}
    return {
        "seed": args.seed,
        "dataset": {"name": "synthetic-scale", "options": {"n_items": n_items, "seed": args.seed}},
        "image_model": {"name": "squeezenet1_1", "input_size": 32},
        "training": {"models": ["bpr", "vbpr"], "epochs": args.epochs, "options": {"bpr": train, "vbpr": train}},
        "experiments": [{
            "name": "scale", "recommenders": ["vbpr"], "attacks": ["bb-rank"], "perturbations": [args.perturbations],
            "steps": args.steps, "pairs": args.pairs, "images_saved": 0,
        }],
        "cache_dir": str(cache_dir),
    }


def measure(n_items: int, args: argparse.Namespace) -> dict:
    """The three runs at one size (in a fresh process)."""
    import torch

    from pixelpush.data.synthetic_scale import ScaleConfig, synthetic_catalog
    from pixelpush.evaluation.campaign import run_campaign
    from pixelpush.evaluation.config import parse_config
    from pixelpush.evaluation.engines.ray_engine import RayEngine
    from pixelpush.evaluation.keys import array_digest
    from pixelpush.evaluation.preparation import CampaignInputs
    from pixelpush.vision.models import load_image_model

    torch.set_num_threads(1)
    out: dict = {"n_items": n_items}
    root = Path(tempfile.mkdtemp(prefix=f"bench-campaign-{n_items}-"))
    try:
        config = parse_config(campaign_config(n_items, args, root / "cache"))
        t0 = time.perf_counter()
        catalog = synthetic_catalog(ScaleConfig(n_items=n_items), seed=args.seed, cache_dir=args.cache_dir)
        features = np.array(catalog.features, dtype=np.float32)
        image_model = load_image_model("squeezenet1_1", input_size=32, seed=args.seed)
        inputs = CampaignInputs(catalog.dataset, image_model, features, array_digest(features), {})
        out.update(n_users=catalog.dataset.n_users, n_interactions=len(catalog.dataset.interactions),
                   data_s=time.perf_counter() - t0)
        del catalog
        runs: dict[str, dict] = {}
        first = root / "local-x1"
        t0 = time.perf_counter()
        run_campaign(config, first, engine="local", workers=1, progress=False, inputs=inputs)
        timings = json.loads((first / "timings.json").read_text())
        runs["local x1"] = {"attacks_s": timings["attacks"], "train_s": timings.get("train")}
        results = {"local x1": (first / "results.json").read_bytes()}
        out["first_run_s"] = time.perf_counter() - t0
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING",
                 object_store_memory=args.object_store_mib * 2**20)
        out["ray_start_s"] = time.perf_counter() - t0
        try:
            for workers in (1, 2):
                label = f"ray x{workers}"
                run = root / label.replace(" ", "-")
                run.mkdir()
                shutil.copytree(first / "models", run / "models")
                run_campaign(config, run, engine=RayEngine(workers=workers), progress=False, inputs=inputs)
                runs[label] = {"attacks_s": json.loads((run / "timings.json").read_text())["attacks"]}
                results[label] = (run / "results.json").read_bytes()
        finally:
            ray.shutdown()
        for label, r in runs.items():
            records = [json.loads(line) for line in (root / label.replace(" ", "-") / "pairs.jsonl").open()]
            seconds = sorted(rec["seconds"] for rec in records)
            r |= {"units_per_s": len(records) / r["attacks_s"], "unit_s_sum": sum(seconds),
                  "unit_s_median": seconds[len(seconds) // 2]}
        records = [json.loads(line) for line in (first / "pairs.jsonl").open()]
        out.update(units=len(records), runs=runs, same_results=len(set(results.values())) == 1,
                   speedup_2_over_1=runs["ray x1"]["attacks_s"] / runs["ray x2"]["attacks_s"],
                   ranks=[(rec["rank_before"], rec["rank_by_step"][-1]) for rec in records],
                   uploads=sum(rec["uploads"] for rec in records), queries=sum(rec["queries"] for rec in records),
                   peak_driver_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 455_412])
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--perturbations", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--eval-pairs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--object-store-mib", type=int, default=3072, help="room for the 455k catalog's features (0.9 GiB)")
    ap.add_argument("--cache-dir", default=".cache/synthetic-scale")
    ap.add_argument("--huge-pages", choices=("on", "off"), default="on",
                    help="on: torch's large tensors on transparent huge pages, as the command line does (pixelpush.huge_pages)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size, print JSON
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.one is not None:
        print(json.dumps(measure(args.one, args)))
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if args.huge_pages == "on":
        request_huge_pages()  # the sizes' fresh processes, and their Ray instance, inherit it
    else:
        os.environ[HUGE_PAGES] = "0"
    print(f"{HUGE_PAGES}={os.environ[HUGE_PAGES]}", flush=True)
    rows = list(each_in_fresh_process(__file__, args.sizes, sys.argv[1:]))
    print()
    labels = ("local x1", "ray x1", "ray x2")
    print("items | users | interactions | units | unit s (median) | attack phase s: local x1 | ray x1 | ray x2 "
          "| units/s: local x1 | ray x1 | ray x2 | ray x1 / ray x2 time | results identical")
    for r in rows:
        runs = r["runs"]
        print(" | ".join([
            f"{r['n_items']:,}", f"{r['n_users']:,}", f"{r['n_interactions']:,}", str(r["units"]),
            f"{runs['local x1']['unit_s_median']:.2f}",
            *(f"{runs[k]['attacks_s']:.1f}" for k in labels),
            *(f"{runs[k]['units_per_s']:.3f}" for k in labels),
            f"{r['speedup_2_over_1']:.2f}", str(r["same_results"]),
        ]))
    print("\nattack phase = the units plus each engine's start-up (Ray: actors that load the dataset by name "
          "and unpickle the models and features); unit s = one unit's own compute, from its record")


if __name__ == "__main__":
    main()
