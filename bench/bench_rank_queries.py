"""Rank queries per second: the platform's O(log N) index vs a full argsort over the catalog.

A synthetic catalog (random features, a linear visually-aware recommender, a tiny image model),
one item pushed by an upload so its score has changed; then the same rank queries answered

  * by the platform (``client.rank``: score the item for the user, binary search, corrections),
  * by a baseline that scores the whole catalog for the user and argsorts it,

side by side, checking they agree. Also the algorithmic core alone: index lookup given the
score vs ``argsort`` of a precomputed score vector.

    .venv/bin/python bench/bench_rank_queries.py --items 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from pixelpush.data.catalog import ImageStore
from pixelpush.platform.platform import Platform
from pixelpush.random import numpy_rng, torch_generator
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.image_model import ImageModel

SIZE = 32


class LazyImages(ImageStore):
    """Deterministic random uploads generated on demand (a 100k catalog never sits in memory)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed

    def __len__(self) -> int:
        return self.n

    def get(self, item: int) -> np.ndarray:
        return numpy_rng(self.seed, "image", item).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


class PoolLinear(ImageModel):
    name = "pool-linear"

    def __init__(self, dim: int) -> None:
        super().__init__(input_size=SIZE)
        self.feature_dim = dim
        self.proj = nn.Linear(3 * 16, dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(dim, 3 * 16, generator=torch_generator(0, "pool-linear")) / 7.0)
            self.proj.bias.zero_()
        self.freeze()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 255.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(nn.functional.adaptive_avg_pool2d(x, 4).flatten(1))


class LinearVisualRec(Recommender):
    """``s(u, i) = b_i + θ_u · (E^T f_i)`` (VBPR's visual part plus an item bias)."""

    def __init__(self, n_users: int, n_items: int, dim: int, k: int, seed: int) -> None:
        super().__init__()
        g = torch_generator(seed, "rec")
        self.theta = torch.randn(n_users, k, generator=g)
        self.E = torch.randn(dim, k, generator=g) / dim**0.5
        self.b = torch.randn(n_items, generator=g) * 0.1

    @property
    def n_users(self) -> int:
        return self.theta.shape[0]

    @property
    def n_items(self) -> int:
        return self.b.shape[0]

    def score(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.b[items][None, :] + self.theta[users] @ (features @ self.E).T

    def fold_in(self, history: np.ndarray, features: torch.Tensor, *, seed: int) -> int:
        self.theta = torch.cat([self.theta, (features[torch.as_tensor(history)] @ self.E).mean(0, keepdim=True)])
        return self.n_users - 1


def _per_second(fn, n: int) -> tuple[float, list]:
    out = [fn(q) for q in range(min(n, 20))]  # warm-up
    t0 = time.perf_counter()
    out = [fn(q) for q in range(n)]
    return n / (time.perf_counter() - t0), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--baseline-queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    rng = numpy_rng(args.seed, "bench")
    n, users = args.items, args.users
    feats = rng.standard_normal((n, args.dim), dtype=np.float32)
    consumed = [np.sort(rng.choice(n, 20, replace=False)) for _ in range(users)]
    rec = LinearVisualRec(users, n, args.dim, k=16, seed=args.seed)
    model = PoolLinear(args.dim)
    platform = Platform(rec, LazyImages(n, args.seed), model, features=feats, consumed=consumed, seed=args.seed)
    client = platform.client("rank")
    item = int(rng.integers(n))
    before = client.rank(np.arange(users), item)
    t0 = time.perf_counter()
    client.upload_image(item, np.full((SIZE, SIZE, 3), 200, np.uint8))
    upload_s = time.perf_counter() - t0
    after = client.rank(np.arange(users), item)
    print(f"catalog {n:,} items, d={args.dim}, {users} users; pushed item {item}: "
          f"ranks before {before[:5].tolist()}..., after upload {after[:5].tolist()}...")
    print(f"upload {upload_s * 1e3:.2f} ms; index entries built {platform.index.builds} "
          f"(one per user, at the first query)")

    def platform_query(q: int) -> int:
        return int(client.rank(q % users, item)[0])

    def baseline_query(q: int) -> int:
        u = q % users
        s = platform.score_rows(np.asarray([u]))[0].copy()
        s[consumed[u]] = -np.inf
        ranked = -s[np.argsort(-s, kind="stable")]  # negated scores, best first
        # optimistic ties: 1 + #strictly higher = first position holding the item's score
        return int(np.searchsorted(ranked, -s[item], side="left")) + 1

    qps_platform, got = _per_second(platform_query, args.queries)
    qps_base, ref = _per_second(baseline_query, args.baseline_queries)
    assert got[: len(ref)] == ref, "index and argsort baseline disagree"

    # the algorithmic core: given the item's score, index lookup vs argsort of a score vector
    scores_u = [platform.score_rows(np.asarray([u]))[0] for u in range(users)]
    s_item = [float(s[item]) for s in scores_u]

    def core_index(q: int) -> int:
        u = q % users
        return int(platform.index.ranks(u, item, np.asarray([s_item[u]], np.float32))[0])

    def core_argsort(q: int) -> int:
        u = q % users
        order = np.argsort(-scores_u[u])
        mask = np.ones(n, bool)
        mask[consumed[u]] = False
        ranked = order[mask[order]]
        return int(np.flatnonzero(ranked == item)[0]) + 1

    qps_core_idx, _ = _per_second(core_index, args.queries)
    qps_core_sort, _ = _per_second(core_argsort, args.baseline_queries)

    print(f"{'':34s}{'queries/s':>12s}")
    print(f"{'platform client.rank (index)':34s}{qps_platform:12,.0f}")
    print(f"{'baseline: score catalog + argsort':34s}{qps_base:12,.0f}")
    print(f"{'ratio':34s}{qps_platform / qps_base:12,.1f}x")
    print(f"{'core: index lookup given score':34s}{qps_core_idx:12,.0f}")
    print(f"{'core: argsort of score vector':34s}{qps_core_sort:12,.0f}")
    print(f"{'ratio':34s}{qps_core_idx / qps_core_sort:12,.1f}x")


if __name__ == "__main__":
    main()
