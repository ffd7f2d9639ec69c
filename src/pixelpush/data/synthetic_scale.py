"""Synthetic catalogs at the paper's scale (Amazon Clothing: 455,412 items), for growth benchmarks.

No images are needed: items get cached random features shaped like a CNN's (non-negative,
norms in the hundreds), and, for feature-extraction benchmarks, small random uploads made on
demand by an :class:`~pixelpush.data.catalog.ImageStore`. Users, items and interactions keep
Clothing's ratios (Table 1 of the paper: 127,055 users and 1,042,097 interactions for 455,412
items) unless given.

The generative model (vectorised: memory is a few arrays of one entry per interaction):

* each item belongs to one of ``n_clusters`` visual clusters (its category); its latent style is
  the cluster's centre plus noise, and its features ``relu(A z + 1 + noise) · 100 / sqrt(d)``,
  as in :func:`pixelpush.recommenders.synthetic.visual_interactions`;
* item popularity is lognormal (``popularity_sigma``), as in :mod:`pixelpush.data.simulate`;
* each user has ``favourites`` clusters (drawn by the clusters' total popularity) with
  Dirichlet weights; history lengths are the simulator's long-tailed lognormal lengths
  (:func:`pixelpush.data.simulate.history_lengths`), their median solved so the total is the
  target number of interactions;
* every interaction picks one of the user's favourite clusters by weight, then an item of that
  cluster with probability proportional to popularity; repeated picks are redrawn.

Appearance therefore drives choice (through the clusters), popularity is long-tailed, and a
visual model can learn something. Every stream comes from :mod:`pixelpush.random`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from pixelpush.data.catalog import Dataset, ImageStore
from pixelpush.data.simulate import SimulationConfig, history_lengths
from pixelpush.errors import ConfigError, UnknownIdError
from pixelpush.random import numpy_rng

log = logging.getLogger(__name__)

CLOTHING_ITEMS, CLOTHING_USERS, CLOTHING_INTERACTIONS = 455_412, 127_055, 1_042_097
"""Amazon Clothing as the paper used it (Table 1)."""

FORMAT_VERSION = 1
_FEATURE_CHUNK = 16_384  # rows generated per random stream: the features do not depend on memory limits


@dataclass(frozen=True)
class ScaleConfig:
    """Sizes and shape of a synthetic catalog (see the module docstring)."""

    n_items: int = CLOTHING_ITEMS
    """Number of items."""
    n_users: int | None = None
    """Number of users; None: ``n_items`` in Clothing's ratio (127,055 / 455,412)."""
    n_interactions: int | None = None
    """Target number of interactions; None: Clothing's ratio (1,042,097 / 455,412 per item)."""
    n_features: int = 512
    """Feature dimension (SqueezeNet's 512; the paper's ResNet-50 has 2048)."""
    n_clusters: int | None = None
    """Visual clusters (the categories); None: one per 2,000 items, at least 4."""
    latent: int = 16
    """Dimension of the latent style behind the features."""
    favourites: int = 3
    """Clusters each user shops in."""
    popularity_sigma: float = 1.5
    """Log-scale standard deviation of the lognormal item popularity."""
    history_sigma: float = 0.8
    """Log-scale standard deviation of the lognormal history lengths."""
    min_history: int = 5
    """Shortest history (the VBPR protocol evaluates users with at least 5)."""
    max_history: int = 500
    """Longest history."""
    image_size: int = 32
    """Side of the random uploads of :class:`ScaleImages`."""

    def __post_init__(self) -> None:
        ok = {
            "n_items": self.n_items >= 2,
            "n_users": self.n_users is None or self.n_users >= 1,
            "n_interactions": self.n_interactions is None or self.n_interactions >= 1,
            "n_features": self.n_features >= 1,
            "n_clusters": self.n_clusters is None or 1 <= self.n_clusters <= self.n_items,
            "latent": self.latent >= 1,
            "favourites": self.favourites >= 1,
            "popularity_sigma": self.popularity_sigma >= 0,
            "history_sigma": self.history_sigma >= 0,
            "min_history": 1 <= self.min_history <= self.max_history,
            "image_size": self.image_size >= 1,
        }
        bad = [name for name, good in ok.items() if not good]
        if bad:
            raise ConfigError(f"ScaleConfig: invalid {', '.join(bad)} in {self}")

    @property
    def users(self) -> int:
        """Number of users (given, or Clothing's ratio)."""
        return self.n_users if self.n_users is not None else max(1, round(self.n_items * CLOTHING_USERS / CLOTHING_ITEMS))

    @property
    def interactions(self) -> int:
        """Target number of interactions (given, or Clothing's ratio)."""
        if self.n_interactions is not None:
            return self.n_interactions
        return max(1, round(self.n_items * CLOTHING_INTERACTIONS / CLOTHING_ITEMS))

    @property
    def clusters(self) -> int:
        """Number of visual clusters (given, or one per 2,000 items)."""
        return self.n_clusters if self.n_clusters is not None else max(4, self.n_items // 2000)


@dataclass(frozen=True)
class ScaleCatalog:
    """A synthetic catalog: the dataset (random uploads), its features and how they were drawn."""

    dataset: Dataset
    features: np.ndarray
    """``(n_items, n_features)`` float32 (a read-only memory map when cached)."""
    popularity: np.ndarray
    """``(n_items,)`` latent popularity the interactions were drawn with."""
    config: ScaleConfig
    seed: int


class ScaleImages(ImageStore):
    """Small random uploads made on demand: coarse blocks in the item's cluster colour, plus noise."""

    def __init__(self, clusters: np.ndarray, size: int, seed: int) -> None:
        self.clusters, self.size, self.seed = clusters, int(size), int(seed)

    def __len__(self) -> int:
        return len(self.clusters)

    def get(self, item: int) -> np.ndarray:
        if not 0 <= item < len(self.clusters):
            raise UnknownIdError(f"unknown item {item}: the catalog has items 0..{len(self.clusters) - 1}")
        colour = numpy_rng(self.seed, "scale", "cluster-colour", int(self.clusters[item])).uniform(40, 215, 3)
        rng = numpy_rng(self.seed, "scale", "image", int(item))
        blocks = max(1, min(8, self.size))
        coarse = colour + rng.normal(0, 30, size=(blocks, blocks, 3))
        reps = -(-self.size // blocks)
        img = np.kron(coarse, np.ones((reps, reps, 1)))[: self.size, : self.size]
        img = img + rng.normal(0, 6, size=img.shape)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _item_clusters(config: ScaleConfig, seed: int) -> np.ndarray:
    return numpy_rng(seed, "scale", "clusters").integers(config.clusters, size=config.n_items)


def _feature_blocks(config: ScaleConfig, clusters: np.ndarray, seed: int):
    """Feature rows in chunks of ``_FEATURE_CHUNK`` items, each chunk from its own stream."""
    d, k = config.n_features, config.latent
    centres = numpy_rng(seed, "scale", "centres").normal(size=(config.clusters, k))
    mix = numpy_rng(seed, "scale", "mix").normal(size=(k, d)) / np.sqrt(k)
    for chunk, start in enumerate(range(0, config.n_items, _FEATURE_CHUNK)):
        rng = numpy_rng(seed, "scale", "features", chunk)
        rows = clusters[start : start + _FEATURE_CHUNK]
        z = centres[rows] + 0.5 * rng.normal(size=(len(rows), k))
        raw = z @ mix + 1.0 + 0.3 * rng.normal(size=(len(rows), d))
        yield (np.maximum(raw, 0.0) * (100.0 / np.sqrt(d))).astype(np.float32)


def _features(config: ScaleConfig, clusters: np.ndarray, seed: int, cache_dir: Path | None) -> np.ndarray:
    shape = (config.n_items, config.n_features)
    if cache_dir is None:
        return np.concatenate(list(_feature_blocks(config, clusters, seed)))
    from pixelpush.vision.feature_store import open_npy_checked, write_npy_atomic

    key = {"format": FORMAT_VERSION, "seed": int(seed), "n_items": config.n_items, "n_features": config.n_features,
           "clusters": config.clusters, "latent": config.latent}
    digest = hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=8).hexdigest()
    path = Path(cache_dir) / f"features-{config.n_items}x{config.n_features}-{digest}.npy"
    cached = open_npy_checked(path, shape=shape, dtype="float32")
    if cached is not None:
        log.info("synthetic features: reusing %s", path)
        return cached
    log.info("synthetic features: writing %s (%d x %d)", path, *shape)
    write_npy_atomic(path, _feature_blocks(config, clusters, seed), shape, "float32")
    cached = open_npy_checked(path, shape=shape, dtype="float32")
    assert cached is not None, f"{path} was just written"
    return cached


def _lengths(config: ScaleConfig, seed: int) -> np.ndarray:
    """Long-tailed history lengths summing to about the target: the simulator's, median solved."""
    upper = min(config.max_history, config.n_items)
    if config.min_history > upper:
        raise ConfigError(f"ScaleConfig: min_history {config.min_history} exceeds the {config.n_items} items")
    base = SimulationConfig(n_users=config.users, history_sigma=config.history_sigma,
                            min_history=config.min_history, max_history=upper)
    target = config.interactions

    def draw(median: float) -> np.ndarray:  # the same normals for every median: monotone in it
        return history_lengths(replace(base, median_history=median), config.n_items, seed)

    lo, hi = 1e-3, float(upper)
    if draw(lo).sum() >= target:
        return draw(lo)
    if draw(hi).sum() <= target:
        return draw(hi)
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if draw(mid).sum() < target else (lo, mid)
    return draw(hi)


def _interactions(config: ScaleConfig, clusters: np.ndarray, popularity: np.ndarray, seed: int) -> np.ndarray:
    n_users, n_items, n_clusters = config.users, config.n_items, config.clusters
    lengths = _lengths(config, seed)
    cluster_pop = np.bincount(clusters, weights=popularity, minlength=n_clusters)
    rng = numpy_rng(seed, "scale", "users")
    fav = rng.choice(n_clusters, size=(n_users, config.favourites), p=cluster_pop / cluster_pop.sum())
    weights = np.cumsum(rng.dirichlet(np.ones(config.favourites), size=n_users), axis=1)
    # items grouped by cluster, with cumulative popularity: a cluster's items are one contiguous run
    by_cluster = np.argsort(clusters, kind="stable")
    cum = np.cumsum(popularity[by_cluster])
    starts = np.searchsorted(clusters[by_cluster], np.arange(n_clusters), side="left")
    ends = np.searchsorted(clusters[by_cluster], np.arange(n_clusters), side="right")
    below = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)

    users = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    items = np.empty(len(users), dtype=np.int64)
    todo = np.arange(len(users))
    pick_rng = numpy_rng(seed, "scale", "picks")
    for _ in range(8):  # draw, then redraw the slots that repeat an earlier pick of the same user
        u = users[todo]
        k = (pick_rng.random(len(todo))[:, None] > weights[u]).sum(axis=1).clip(max=config.favourites - 1)
        c = fav[u, k]
        r = below[c] + pick_rng.random(len(todo)) * (cum[np.maximum(ends[c] - 1, 0)] - below[c])
        pos = np.clip(np.searchsorted(cum, r, side="right"), starts[c], np.maximum(ends[c] - 1, starts[c]))
        items[todo] = by_cluster[pos]
        keys = users * n_items + items
        _, first = np.unique(keys, return_index=True)
        repeated = np.ones(len(keys), dtype=bool)
        repeated[first] = False
        todo = np.flatnonzero(repeated)
        if len(todo) == 0:
            break
    keep = np.ones(len(users), dtype=bool)
    keep[todo] = False  # still repeated after the redraws (tiny clusters): dropped
    if len(todo):
        log.debug("synthetic interactions: dropped %d repeated picks", len(todo))
    return np.column_stack([users[keep], items[keep]])


def synthetic_catalog(
    config: ScaleConfig | None = None, *, seed: int = 0, cache_dir: str | Path | None = None
) -> ScaleCatalog:
    """Draw a synthetic catalog; features are cached under `cache_dir` when given.

    >>> cat = synthetic_catalog(ScaleConfig(n_items=2000, n_features=8), seed=1)
    >>> cat.dataset.n_users, cat.features.shape, len(cat.dataset.interactions) > 4000
    (558, (2000, 8), True)
    """
    config = config or ScaleConfig()
    dataset, clusters, popularity = _dataset(config, seed)
    features = _features(config, clusters, seed, Path(cache_dir) if cache_dir is not None else None)
    return ScaleCatalog(dataset, features, popularity, config, int(seed))


def _dataset(config: ScaleConfig, seed: int) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The catalog without its features, with the items' clusters and latent popularity."""
    clusters = _item_clusters(config, seed)
    popularity = numpy_rng(seed, "scale", "popularity").lognormal(0.0, config.popularity_sigma, config.n_items)
    interactions = _interactions(config, clusters, popularity, seed)
    dataset = Dataset(
        name=f"synthetic-scale-{config.n_items}",
        images=ScaleImages(clusters, config.image_size, seed),
        categories=clusters,
        category_names=tuple(f"cluster-{c}" for c in range(config.clusters)),
        interactions=interactions,
        n_users=config.users,
        description=f"synthetic catalog at Clothing's ratios: {json.dumps(asdict(config))}, seed {seed}",
    )
    return dataset, clusters, popularity


def load_synthetic_scale(
    *,
    name: str = "synthetic-scale",
    n_items: int = CLOTHING_ITEMS,
    n_users: int | None = None,
    n_interactions: int | None = None,
    image_size: int = 32,
    seed: int = 0,
) -> Dataset:
    """The dataset ``synthetic-scale`` of the registry: :func:`synthetic_catalog`'s users, items,
    interactions and random uploads (a campaign extracts its features from the uploads with its
    image model, like any dataset's; the cached random features stay with :func:`synthetic_catalog`).

    The same options and seed give the same catalog in every process, so a campaign's workers
    load it by name.

    >>> data = load_synthetic_scale(n_items=2000, seed=1)
    >>> data.n_users, data.n_items, data.images.get(0).shape
    (558, 2000, (32, 32, 3))
    """
    del name  # the registry passes it; the dataset is named by its size
    config = ScaleConfig(n_items=n_items, n_users=n_users, n_interactions=n_interactions, image_size=image_size)
    return _dataset(config, seed)[0]
