"""Synthetic interactions driven by item appearance (tests, benchmarks, demos without images)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpush.random import numpy_rng


@dataclass(frozen=True)
class SyntheticData:
    """Interactions, raw non-negative features (norms in the hundreds, like SqueezeNet's), categories."""

    interactions: np.ndarray
    features: np.ndarray
    categories: np.ndarray
    n_users: int
    n_items: int


def visual_interactions(
    n_users: int = 300,
    n_items: int = 400,
    n_features: int = 64,
    *,
    latent: int = 4,
    history: tuple[int, int] = (5, 20),
    temperature: float = 0.5,
    n_categories: int = 4,
    seed: int = 0,
) -> SyntheticData:
    """Users pick items by a softmax of ``w_u · z_i / temperature`` plus a popularity term.

    ``z_i`` is a latent style read off the item's features (``f_i = relu(A z_i + c + noise)``
    times 100), so a visual model can score items nobody consumed while BPR cannot.
    The category of an item is the sign pattern of its first two style coordinates.
    """
    rng = numpy_rng(seed, "synthetic", "visual")
    z = rng.normal(size=(n_items, latent))
    mix = rng.normal(size=(latent, n_features)) / np.sqrt(latent)
    raw = z @ mix + 1.0 + 0.3 * rng.normal(size=(n_items, n_features))
    features = (np.maximum(raw, 0.0) * 100.0 / np.sqrt(n_features)).astype(np.float32)
    popularity = rng.normal(scale=0.5, size=n_items)
    prefs = rng.normal(size=(n_users, latent))
    logits = prefs @ z.T / temperature + popularity[None, :]
    pairs = []
    for u in range(n_users):
        n = int(rng.integers(history[0], history[1] + 1))
        p = np.exp(logits[u] - logits[u].max())
        items = rng.choice(n_items, size=min(n, n_items), replace=False, p=p / p.sum())
        pairs.extend((u, int(i)) for i in items)
    categories = ((z[:, 0] > 0).astype(np.int64) * 2 + (z[:, 1] > 0)) % max(1, n_categories)
    return SyntheticData(np.array(pairs, dtype=np.int64), features, categories, n_users, n_items)
