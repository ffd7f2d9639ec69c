"""Validation and test AUC of BPR, VBPR and DeepStyle trained with the defaults, at several seeds.

Seeds are derived as a campaign derives them (``derive_seed(seed, "split")`` for the split,
``derive_seed(seed, "train", kind)`` for the model), so seed 0 gives the demo's models. Prints
per model and seed: best validation AUC, test AUC, epochs (best / run) and optimisation seconds.
Use it before and after a change to the training defaults.

    .venv/bin/python bench/bench_training_quality.py --seeds 0 1 2 [--set lr=0.02 batch_size=1024]
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import fields

import numpy as np
import torch

from pixelpush.random import derive_seed
from pixelpush.recommenders.evaluation import auc
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import leave_one_out
from pixelpush.recommenders.training import TrainConfig, fit


def _parse_overrides(items: list[str]) -> dict[str, object]:
    defaults = TrainConfig()
    out: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in {f.name for f in fields(TrainConfig)}:
            raise SystemExit(f"unknown TrainConfig field {key!r}")
        kind = type(getattr(defaults, key))
        if value.lower() == "none":
            out[key] = None
        elif kind is bool:
            out[key] = value.lower() in ("1", "true", "yes")
        else:
            out[key] = float(value) if kind is type(None) else kind(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="fashion")
    ap.add_argument("--cache-dir", default=".cache/features")
    ap.add_argument("--models", nargs="+", default=["bpr", "vbpr", "deepstyle"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="TrainConfig overrides")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    from bench_vbpr_vs_cornac import load  # the same data and features as the Cornac benchmark

    pairs, raw, n_users, n_items = load(args.dataset, args.cache_dir)
    data = None
    if "deepstyle" in args.models:
        from pixelpush.data.registry import load_dataset

        data = load_dataset(args.dataset)
    overrides = _parse_overrides(args.set)
    feats = torch.from_numpy(raw)
    print(f"dataset {args.dataset}; TrainConfig overrides {overrides or 'none'}; {args.threads} thread(s)")
    print(f"{'model':10s} {'seed':>4s} {'val AUC':>8s} {'test AUC':>8s} {'best/run':>9s} {'opt s':>7s}")
    table: dict[str, list[float]] = {}
    for kind in args.models:
        for seed in args.seeds:
            split = leave_one_out(pairs, n_users, n_items, seed=derive_seed(seed, "split"))
            train_seed = derive_seed(seed, "train", kind)
            cats = data.categories if data is not None else None
            model = build_model(kind, n_users, n_items, raw.shape[1], categories=cats, seed=train_seed)
            result = fit(model, feats, split, TrainConfig(seed=train_seed, progress=False, **overrides))
            test = auc(model, feats, split.test, split.all_positives)
            table.setdefault(kind, []).append(test)
            print(f"{kind:10s} {seed:4d} {result.val_auc:8.4f} {test:8.4f} {result.best_epoch:4d}/{result.epochs:<4d} "
                  f"{result.history[-1][2]:7.2f}", flush=True)
    for kind, tests in table.items():
        print(f"{kind:10s} mean test AUC {np.mean(tests):.4f} over seeds {args.seeds}")


if __name__ == "__main__":
    main()
