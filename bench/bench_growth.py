"""How costs grow with the catalog: N = 10k, 100k and 455k items (Amazon Clothing's size).

Each size runs in its own subprocess (so peak memory does not carry over) on a synthetic catalog
in Clothing's ratios (:mod:`pixelpush.data.synthetic_scale`: 0.279 users and 2.29 interactions
per item, long-tailed, cached random 512-d features), and measures

* **VBPR epoch**: one epoch of the library's training (defaults: batches of 1024, only the rows
  a batch touches updated), the second of two (the first warms up); validation is switched off
  (an exact AUC over 455k items per epoch would dwarf the epoch). Beside it, one step of dense
  Adam over whole tables (``TrainConfig(sparse=False)``), what a step cost before;
* **peak RSS** (``resource.getrusage``: the process's exact high-water mark) after the data,
  after training and at the end; ``/proc/self/statm`` gives the current RSS at the same points;
* **rank query** through the platform's public API, ``Platform(...).client("rank").rank(user,
  item)`` after one upload of the item: a user's first query (builds that user's sorted scores,
  O(N log N), once) and the following ones (binary search, O(log N));
* **BB-Rank step** (d' = 32, specific-user clone registered through the platform) *excluding
  the image model*: the image model is a stand-in, a fixed linear map of 8x8-pooled 32x32
  pixels onto the catalog features' mean and spread (:class:`LinearStandIn`), so its forward
  and backward are cheap; their cost, timed alone the same way, is subtracted and shown. What
  remains is everything else a step does: perturbations, the platform's probe scoring and rank
  look-ups, the least-squares solve, the upload.

It prints a table and each figure's growth from 10k to the largest size, with the exponent
``log(ratio) / log(size ratio)`` (0: constant or logarithmic; 1: linear in N).

    .venv/bin/python bench/bench_growth.py [--sizes 10000 100000 455412] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from fresh_process import each_in_fresh_process

HERE = Path(__file__).resolve().parent


def linear_stand_in(features: torch.Tensor, seed: int):
    """A stand-in image model: ``relu(mean + std * (A · pool8(x/255 - 1/2)) / 0.15)``.

    A fixed random linear map of 8x8-pooled pixels (192 inputs) whose outputs follow the catalog
    features' per-dimension mean and spread, so an upload lands among the catalog's items and a
    perturbation moves its rank; cheap next to everything else a step does.
    """
    from torch import nn

    from pixelpush.random import torch_generator
    from pixelpush.vision.image_model import ImageModel

    class LinearStandIn(ImageModel):
        name = "linear-stand-in"

        def __init__(self) -> None:
            super().__init__(input_size=32)
            self.feature_dim = features.shape[1]
            self.register_buffer("mean", features.mean(dim=0))
            self.register_buffer("spread", features.std(dim=0) / 0.15)  # pooled inputs vary ~0.15
            g = torch_generator(seed, "bench-growth", "stand-in")
            self.register_buffer("mix", torch.randn(3 * 64, self.feature_dim, generator=g) / (3 * 64) ** 0.5)
            self.freeze()

        def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
            return rgb / 255.0 - 0.5

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            pooled = nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)
            return torch.relu(self.mean + self.spread * (pooled @ self.mix))

    return LinearStandIn()


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _rss_mib() -> float:
    import os

    with open("/proc/self/statm") as f:  # Linux: pages; the second field is the resident set
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(n_items: int, args: argparse.Namespace) -> dict:
    """All figures for one catalog size (run in a fresh process)."""
    from pixelpush.attacks import AttackContext, AttackerView, BBRank, SpecificUser
    from pixelpush.data.synthetic_scale import ScaleConfig, synthetic_catalog
    from pixelpush.platform.platform import Platform
    from pixelpush.random import numpy_rng
    from pixelpush.recommenders.split import Split, leave_one_out
    from pixelpush.recommenders.training import BPRStep, TrainConfig, fit
    from pixelpush.recommenders.vbpr import VBPR

    torch.set_num_threads(args.threads)
    out: dict = {"n_items": n_items}
    t0 = time.perf_counter()
    cat = synthetic_catalog(ScaleConfig(n_items=n_items, n_features=args.dim), seed=args.seed, cache_dir=args.cache_dir)
    data = cat.dataset
    feats = torch.from_numpy(np.array(cat.features))  # one private copy in memory
    del cat
    out.update(n_users=data.n_users, n_interactions=len(data.interactions), data_s=time.perf_counter() - t0,
               peak_data_mib=_peak_mib(), rss_data_mib=_rss_mib())

    # -- VBPR training ---------------------------------------------------------------------
    split = leave_one_out(data.interactions, data.n_users, n_items, seed=args.seed)
    empty = np.zeros((0, 2), np.int64)
    train_only = Split(split.train, empty, empty, data.n_users, n_items)  # no validation: epochs only
    model = VBPR(data.n_users, n_items, args.dim, seed=args.seed)
    config = TrainConfig(epochs=2, seed=args.seed, progress=False)
    result = fit(model, feats, train_only, config)
    (_, _, s1), (_, _, s2) = result.history
    steps = math.ceil(len(split.train) / config.batch_size)
    out.update(n_train=len(split.train), epoch1_s=s1, epoch_s=s2 - s1, steps_per_epoch=steps,
               sparse_step_ms=(s2 - s1) / steps * 1e3)
    dense = VBPR(data.n_users, n_items, args.dim, seed=args.seed)
    dense.load_state_dict(model.state_dict())
    step = BPRStep(dense, feats, TrainConfig(sparse=False))
    rng = numpy_rng(args.seed, "bench-growth", "dense")
    times = []
    for k in range(args.dense_steps + 1):
        rows = torch.from_numpy(rng.integers(len(split.train), size=config.batch_size))
        batch = torch.from_numpy(split.train)[rows]
        neg = torch.from_numpy(rng.integers(n_items, size=config.batch_size))
        t = time.perf_counter()
        step(batch[:, 0], batch[:, 1], neg)
        if k:  # the first allocates the moments
            times.append(time.perf_counter() - t)
    del dense, step
    out.update(dense_step_ms=statistics.median(times) * 1e3, peak_train_mib=_peak_mib(), rss_train_mib=_rss_mib())

    # -- platform: one upload, then rank queries -------------------------------------------------
    image_model = linear_stand_in(feats, args.seed)
    histories = data.histories
    platform = Platform(model, data.images, image_model, features=feats, consumed=histories, seed=args.seed)
    client = platform.client("rank")
    rng = numpy_rng(args.seed, "bench-growth", "queries")
    users = rng.choice(np.flatnonzero([len(h) >= 5 for h in histories]), size=args.users, replace=False)
    item = int(rng.integers(n_items))
    while any(item in set(histories[u].tolist()) for u in users):
        item = int(rng.integers(n_items))
    upload = data.images.get(item)
    upload[::2] = 255 - upload[::2]
    t = time.perf_counter()
    client.upload_image(item, upload)
    out["upload_ms"] = (time.perf_counter() - t) * 1e3
    first, again = [], []
    for u in users:
        t = time.perf_counter()
        client.rank(int(u), item)
        first.append(time.perf_counter() - t)
    for _ in range(args.queries):
        for u in users:
            t = time.perf_counter()
            client.rank(int(u), item)
            again.append(time.perf_counter() - t)
    out.update(first_rank_ms=statistics.median(first) * 1e3, rank_us=statistics.median(again) * 1e6)

    # -- one BB-Rank step without the image model ---------------------------------------------
    target = int(users[0])
    t = time.perf_counter()
    view = AttackerView(client, copy.deepcopy(image_model), seed=args.seed, features=platform.memo.reader(),
                        catalog=platform.current_features().numpy())
    targeting = SpecificUser().prepare(view, item, data, seed=args.seed, user=target).targeting
    out["register_ms"] = (time.perf_counter() - t) * 1e3
    ctx = AttackContext(view=view, item=item, image=client.image(item), targeting=targeting)
    d = args.perturbations
    attack = BBRank(perturbations=d, steps=args.warmup + args.repeats)
    steps_iter = attack.iterate(ctx)
    base = ctx.image
    prng = numpy_rng(1, "bench-bare")
    probes = np.clip(base[None].astype(np.int16) + prng.integers(-7, 8, size=(d, *base.shape)), 0, 255).astype(np.uint8)
    weights = torch.from_numpy(prng.normal(size=(1, image_model.feature_dim)).astype(np.float32))

    def bare() -> None:  # the image model's share of a step: d' forwards, one forward with a graph, one VJP
        with torch.inference_mode():
            image_model(torch.from_numpy(probes))
        pixels = torch.from_numpy(base[None].astype(np.float32)).requires_grad_(True)
        torch.autograd.grad(image_model(pixels), pixels, grad_outputs=weights)

    t_step, t_bare, uninformative = [], [], 0
    for k in range(args.warmup + args.repeats):
        t = time.perf_counter()
        record = next(steps_iter)
        t_mid = time.perf_counter()
        bare()
        t_end = time.perf_counter()
        if k >= args.warmup:
            t_bare.append(t_end - t_mid)
            if record.uninformative:
                uninformative += 1
            else:
                t_step.append(t_mid - t)
    step_ms, bare_ms = statistics.median(t_step) * 1e3, statistics.median(t_bare) * 1e3
    out.update(step_ms=step_ms, image_model_ms=bare_ms, step_without_model_ms=step_ms - bare_ms,
               uninformative_steps=uninformative, final_rank=int(platform.rank(targeting.user, item)[0]),
               peak_end_mib=_peak_mib(), rss_end_mib=_rss_mib())
    return out


COLUMNS = [
    ("n_items", "items", "{:,}"), ("n_users", "users", "{:,}"), ("n_interactions", "interactions", "{:,}"),
    ("epoch_s", "VBPR epoch s", "{:.2f}"), ("sparse_step_ms", "step ms", "{:.2f}"),
    ("dense_step_ms", "dense-Adam step ms", "{:.1f}"), ("peak_train_mib", "peak RSS train MiB", "{:,.0f}"),
    ("peak_end_mib", "peak RSS end MiB", "{:,.0f}"), ("first_rank_ms", "1st rank ms", "{:.1f}"),
    ("rank_us", "rank query us", "{:.0f}"), ("register_ms", "register ms", "{:.1f}"),
    ("step_without_model_ms", "BB-Rank step w/o IC ms", "{:.2f}"), ("image_model_ms", "IC ms", "{:.2f}"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 455_412])
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=".cache/synthetic-scale")
    ap.add_argument("--users", type=int, default=20, help="users whose rank queries are timed")
    ap.add_argument("--queries", type=int, default=10, help="timed queries per user after the first")
    ap.add_argument("--perturbations", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--dense-steps", type=int, default=5)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size, print JSON
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.one is not None:
        print(json.dumps(measure(args.one, args)))
        return
    rows = list(each_in_fresh_process(__file__, args.sizes, sys.argv[1:]))
    print()
    print(" | ".join(label for _, label, _ in COLUMNS))
    for r in rows:
        print(" | ".join(fmt.format(r[key]) for key, _, fmt in COLUMNS))
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        size = b["n_items"] / a["n_items"]
        print(f"\ngrowth {a['n_items']:,} -> {b['n_items']:,} items (x{size:.1f} items, "
              f"x{b['n_train'] / a['n_train']:.1f} training pairs); exponent = log(ratio) / log({size:.1f}):")
        for key, label, _ in COLUMNS[3:]:
            ratio = b[key] / a[key]
            print(f"  {label:24s} x{ratio:7.2f}   exponent {math.log(ratio) / math.log(size):5.2f}")


if __name__ == "__main__":
    main()
