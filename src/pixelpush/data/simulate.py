"""A seeded generative model of shoppers in which an item's appearance genuinely drives choice.

The embedded ``fashion`` catalog has real product images but no real shoppers, so its
interactions come from this model. Every quantity is drawn from ``pixelpush.random`` streams
keyed by purpose, so one seed reproduces the same interactions bit for bit.

The model, for items ``i`` with images ``x_i`` and categories ``c(i)``, and users ``u``:

* **style** ``z_i`` (``style_dims``): by default the leading principal components of the
  item's normalised pixels (each image scaled to unit mean intensity, then centred), each
  component standardised to unit variance over the catalog (the ``fashion-dense`` catalog).
  A caller may pass its own standardised style instead, e.g. a projection of an image model's
  activations (:mod:`pixelpush.data.appearance`, the default ``fashion`` catalog). Style
  therefore is *appearance*: shape, silhouette, brightness pattern, partly shared across
  categories.
* **taste** ``t_u ~ N(0, I / style_dims)``, so that ``t_u · z_i`` has about unit variance
  over items for a typical user.
* **category preference** ``π_u ~ Dirichlet(category_concentration · 1)``.
* **popularity** ``q_i ~ LogNormal(0, popularity_sigma)`` (long-tailed).
* **history length** ``L_u = clip(round(LogNormal(log median_history, history_sigma)),
  min_history, max_history)`` (long-tailed: most users buy a few items, a few buy hundreds).
* the user's ``L_u`` items are drawn **without replacement** with probability proportional to
  ``exp(alpha · t_u·z_i + log π_u[c(i)] + beta · log q_i)`` (sequentially renormalised;
  implemented exactly with the Gumbel-top-k trick).

``alpha`` sets how much appearance matters: at the default, one standard deviation of
``t_u·z_i`` changes an item's odds by a factor of about 2.7 — comparable to, not larger than,
the spread due to popularity and far below that due to category preference, which is what one
would expect in a real shop. ``alpha = 0`` gives a pure popularity × category world.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from pixelpush.errors import ConfigError, DataError
from pixelpush.random import numpy_rng
from pixelpush.threads import torch_threads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of the shopper model (see the module docstring for the equations)."""

    n_users: int = 2000
    """Number of simulated users."""

    style_dims: int = 12
    """Principal components of the pixels that make up an item's visual style vector."""

    alpha: float = 1.0
    """Weight of appearance (taste · style) in the choice logit; 0 makes appearance irrelevant."""

    beta: float = 1.0
    """Exponent on popularity: the logit gets ``beta · log popularity``."""

    popularity_sigma: float = 1.0
    """Log-scale standard deviation of the lognormal item popularity (larger: longer tail)."""

    category_concentration: float = 0.5
    """Symmetric Dirichlet concentration of users' category preferences (smaller: pickier)."""

    median_history: float = 17.0
    """Median number of items per user before clipping."""

    history_sigma: float = 0.85
    """Log-scale standard deviation of the lognormal history length (the tail's weight)."""

    min_history: int = 5
    """Smallest history a user can have."""

    max_history: int = 400
    """Largest history a user can have (also capped at the catalog size)."""

    def __post_init__(self) -> None:
        checks = {
            "n_users": self.n_users >= 1,
            "style_dims": self.style_dims >= 1,
            "alpha": self.alpha >= 0,
            "beta": self.beta >= 0,
            "popularity_sigma": self.popularity_sigma >= 0,
            "category_concentration": self.category_concentration > 0,
            "median_history": self.median_history > 0,
            "history_sigma": self.history_sigma >= 0,
            "min_history": self.min_history >= 1,
            "max_history": self.max_history >= self.min_history,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"SimulationConfig: invalid {', '.join(bad)} in {self}")


@dataclass(frozen=True)
class Simulation:
    """The drawn world: latent factors and the interactions they produced."""

    config: SimulationConfig
    seed: int
    style: np.ndarray = field(repr=False)
    """``(N, style_dims)`` standardised style vectors of the items."""
    taste: np.ndarray = field(repr=False)
    """``(U, style_dims)`` users' taste vectors."""
    category_pref: np.ndarray = field(repr=False)
    """``(U, C)`` users' category preferences (rows sum to 1)."""
    popularity: np.ndarray = field(repr=False)
    """``(N,)`` items' latent popularity."""
    categories: np.ndarray = field(repr=False)
    """``(N,)`` item categories the simulation used."""
    interactions: np.ndarray = field(repr=False)
    """``(M, 2)`` int32 unique ``(user, item)`` pairs, sorted by user then draw order."""

    def logits(self, users: np.ndarray | None = None, *, alpha: float | None = None) -> np.ndarray:
        """Choice logits ``(len(users), N)``; `alpha` overrides the appearance weight."""
        users = np.arange(len(self.taste)) if users is None else np.asarray(users)
        return choice_logits(
            self.style,
            self.taste[users],
            self.category_pref[users],
            self.categories,
            self.popularity,
            alpha=self.config.alpha if alpha is None else alpha,
            beta=self.config.beta,
        )

    def metadata(self) -> dict:
        """JSON-ready description of how the interactions were generated."""
        return {"model": "pixelpush.data.simulate", "seed": int(self.seed), "config": asdict(self.config)}


def visual_style(images: np.ndarray, dims: int) -> np.ndarray:
    """Standardised principal components of normalised pixels: ``(N, H, W)`` → ``(N, dims)``.

    Each image is divided by its mean intensity (so style is pattern, not exposure), pixels are
    centred over the catalog, and the top `dims` components are scaled to unit variance.
    Component signs are fixed (largest loading positive) so the result is deterministic.
    """
    if images.ndim != 3 or len(images) < 2:
        raise DataError(f"visual_style: expected (N, H, W) images with N >= 2, got {images.shape}")
    if dims > min(len(images) - 1, images.shape[1] * images.shape[2]):
        raise ConfigError(f"visual_style: {dims} dims is too many for {len(images)} images of {images.shape[1:]}")
    # Eigenvectors of the (pixels × pixels) scatter matrix: far cheaper than an SVD of x. Solved
    # in torch, not NumPy, so that OpenBLAS's spinning worker threads never fight torch's, and on
    # one thread: the problem is small, and on a busy machine extra threads made it 10x slower.
    with torch_threads(1):
        x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float64))
        x /= x.mean(dim=1, keepdim=True).clamp(min=1.0)
        x -= x.mean(dim=0)
        _, vecs = torch.linalg.eigh(x.T @ x)
        comps = vecs.flip(1)[:, :dims].T
        signs = torch.sign(comps[torch.arange(dims), comps.abs().argmax(dim=1)])
        z = (x @ (comps * signs[:, None]).T).numpy()
    return z / z.std(axis=0)


def choice_logits(
    style: np.ndarray,
    taste: np.ndarray,
    category_pref: np.ndarray,
    categories: np.ndarray,
    popularity: np.ndarray,
    *,
    alpha: float,
    beta: float,
) -> np.ndarray:
    """``alpha · taste·style + log category_pref[c(i)] + beta · log popularity`` per (user, item)."""
    return alpha * (taste @ style.T) + np.log(category_pref[:, categories]) + beta * np.log(popularity)[None, :]


def history_lengths(config: SimulationConfig, n_items: int, seed: int) -> np.ndarray:
    """Long-tailed history lengths ``(n_users,)``, clipped to ``[min_history, max_history]``."""
    rng = numpy_rng(seed, "simulate", "history-length")
    raw = rng.lognormal(np.log(config.median_history), config.history_sigma, size=config.n_users)
    upper = min(config.max_history, n_items)
    if config.min_history > upper:
        raise ConfigError(f"SimulationConfig: min_history {config.min_history} exceeds the {n_items} items")
    return np.clip(np.rint(raw), config.min_history, upper).astype(np.int64)


def simulate(
    images: np.ndarray,
    categories: np.ndarray,
    n_categories: int,
    config: SimulationConfig = SimulationConfig(),
    *,
    seed: int = 0,
    style: np.ndarray | None = None,
) -> Simulation:
    """Draw users and their interactions over items with grayscale `images` ``(N, H, W)``.

    `style` ``(N, style_dims)`` replaces the pixels' principal components as the items' style
    (it should be standardised: zero mean, unit variance per column, over the items).

    >>> imgs = numpy_rng(0, "doc").integers(0, 256, size=(40, 8, 8), dtype=np.uint8)
    >>> sim = simulate(imgs, np.arange(40) % 4, 4, SimulationConfig(n_users=10, style_dims=3), seed=1)
    >>> sim.interactions.shape[1], int(sim.interactions[:, 0].max())
    (2, 9)
    """
    categories = np.asarray(categories, dtype=np.int64)
    if categories.shape != (len(images),):
        raise DataError(f"simulate: {categories.shape} categories for {len(images)} images")
    if categories.min() < 0 or categories.max() >= n_categories:
        raise DataError(f"simulate: category ids outside 0..{n_categories - 1}")
    n_items = len(images)
    if style is None:
        style = visual_style(images, config.style_dims)
    else:
        style = np.asarray(style, dtype=np.float64)
        if style.shape != (n_items, config.style_dims) or not np.isfinite(style).all():
            raise DataError(f"simulate: style must be finite and ({n_items}, {config.style_dims}), got {style.shape}")
    taste = numpy_rng(seed, "simulate", "taste").normal(0.0, 1.0 / np.sqrt(config.style_dims), (config.n_users, config.style_dims))
    pref = numpy_rng(seed, "simulate", "category-pref").dirichlet(np.full(n_categories, config.category_concentration), config.n_users)
    pref = np.maximum(pref, 1e-12)  # tiny concentrations can underflow to exact zeros
    pref /= pref.sum(axis=1, keepdims=True)
    popularity = numpy_rng(seed, "simulate", "popularity").lognormal(0.0, config.popularity_sigma, n_items)
    lengths = history_lengths(config, n_items, seed)

    gumbel_rng = numpy_rng(seed, "simulate", "choices")
    rows: list[np.ndarray] = []
    chunk = 256
    for start in range(0, config.n_users, chunk):
        users = np.arange(start, min(start + chunk, config.n_users))
        logits = choice_logits(style, taste[users], pref[users], categories, popularity, alpha=config.alpha, beta=config.beta)
        # Gumbel-top-k: the top L of logits + Gumbel noise is a draw of L items without replacement.
        keys = -(logits + gumbel_rng.gumbel(size=logits.shape))
        k = int(lengths[users].max())
        top = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_items else np.tile(np.arange(n_items), (len(users), 1))
        order = np.take_along_axis(top, np.argsort(np.take_along_axis(keys, top, axis=1), axis=1, kind="stable"), axis=1)
        for row, u in enumerate(users):
            chosen = order[row, : lengths[u]]
            rows.append(np.column_stack([np.full(len(chosen), u), chosen]))
    interactions = np.concatenate(rows).astype(np.int32)
    log.debug("simulated %d interactions for %d users over %d items", len(interactions), config.n_users, n_items)
    return Simulation(
        config=config,
        seed=seed,
        style=style,
        taste=taste,
        category_pref=pref,
        popularity=popularity,
        categories=categories,
        interactions=interactions,
    )


def consumed_items_only(interactions: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the items someone consumed, as review-based datasets (Amazon) do.

    Returns the kept item ids (sorted) and the interactions with items renumbered densely
    ``0..len(kept)-1`` in that order.

    >>> kept, inter = consumed_items_only(np.array([[0, 4], [1, 2], [1, 4]]), 6)
    >>> kept.tolist(), inter.tolist()
    ([2, 4], [[0, 1], [1, 0], [1, 1]])
    """
    interactions = np.asarray(interactions)
    if interactions.ndim != 2 or interactions.shape[1] != 2:
        raise DataError(f"interactions must be (M, 2), got {interactions.shape}")
    if len(interactions) and (interactions[:, 1].min() < 0 or interactions[:, 1].max() >= n_items):
        raise DataError(f"interaction item ids outside 0..{n_items - 1}")
    kept = np.unique(interactions[:, 1])
    new_id = np.full(n_items, -1, dtype=np.int64)
    new_id[kept] = np.arange(len(kept))
    out = interactions.copy()
    out[:, 1] = new_id[interactions[:, 1]]
    return kept, out
