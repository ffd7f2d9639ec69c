"""Appearance as an image model sees it: the style space of the embedded ``fashion`` shoppers.

The simulated shoppers of the default catalog choose by an item's *style*, a low-dimensional
projection of the globally averaged activations of an intermediate layer (``fire5`` by default)
of the public image model, SqueezeNet 1.1 with its ImageNet weights, on the item's upload. The
recommenders read a different representation of the same upload, the last layer's (``fire9``)
pooled features: the taste is largely, but not exactly, expressible in what VBPR sees (two
nonlinear fire modules lie between the two), so VBPR is not trivially the true model.
``pixelpush diagnose`` measures how much of it a linear probe recovers.

:class:`StyleProjection` is the projection: the leading principal components of the
activations over a pool of items, each scaled to unit variance over that pool. It is stored in
the catalog's asset, so an item's style can be recomputed from its image alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from pixelpush.data.catalog import ImageStore
from pixelpush.errors import ConfigError, DataError
from pixelpush.progress import progress_bar
from pixelpush.threads import torch_threads

if TYPE_CHECKING:
    from pixelpush.vision.squeezenet import SqueezeNetModel

log = logging.getLogger(__name__)

#: Index of each fire module's output in ``SqueezeNetModel.features`` (torchvision's layout).
SQUEEZENET_LAYERS: dict[str, int] = {
    "fire2": 3, "fire3": 4, "fire4": 6, "fire5": 7, "fire6": 9, "fire7": 10, "fire8": 11, "fire9": 12,
}


def layer_activations(
    model: SqueezeNetModel,
    images: ImageStore,
    layer: str,
    *,
    items: np.ndarray | None = None,
    batch_size: int = 128,
    threads: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Spatially averaged activations of `layer` ``(len(items), channels)`` (float64).

    Each upload goes through the model's own preprocessing (resize to its input size, BGR mean)
    and its convolutional stack up to and including `layer` (one of :data:`SQUEEZENET_LAYERS`).
    `items` defaults to every item of `images`.
    """
    if layer not in SQUEEZENET_LAYERS:
        raise ConfigError(f"unknown SqueezeNet layer {layer!r}; known: {', '.join(SQUEEZENET_LAYERS)}")
    items = np.arange(len(images)) if items is None else np.asarray(items, dtype=np.int64)
    stack = model.features[: SQUEEZENET_LAYERS[layer] + 1]
    out: list[np.ndarray] = []
    starts = range(0, len(items), batch_size)
    with torch_threads(threads), torch.inference_mode():
        for lo in progress_bar(starts, enabled=progress, desc=f"{layer} activations", leave=False):
            batch = torch.from_numpy(np.stack(images.many(items[lo : lo + batch_size])))
            out.append(stack(model.preprocess(batch)).mean(dim=(2, 3)).double().numpy())
    acts = np.concatenate(out) if out else np.zeros((0, 0))
    log.debug("%s activations of %d items: %s", layer, len(items), acts.shape)
    return acts


@dataclass(frozen=True)
class StyleProjection:
    """``style = ((a - mean) @ basis) / scale``: activations ``a`` (d,) to a standardised style (k,)."""

    mean: np.ndarray
    """``(d,)`` mean activation over the pool the projection was fitted on."""
    basis: np.ndarray
    """``(d, k)`` orthonormal leading principal directions, sign-fixed (largest loading positive)."""
    scale: np.ndarray
    """``(k,)`` standard deviation of each component over the pool."""

    def __post_init__(self) -> None:
        d, k = self.basis.shape if self.basis.ndim == 2 else (-1, -1)
        if self.mean.shape != (d,) or self.scale.shape != (k,) or not np.all(self.scale > 0):
            raise DataError(
                f"inconsistent style projection: mean {self.mean.shape}, basis {self.basis.shape}, scale {self.scale.shape}"
            )

    @property
    def dims(self) -> int:
        return int(self.basis.shape[1])

    def apply(self, activations: np.ndarray) -> np.ndarray:
        """Styles ``(N, k)`` of activations ``(N, d)``."""
        activations = np.asarray(activations, dtype=np.float64)
        if activations.ndim != 2 or activations.shape[1] != len(self.mean):
            raise DataError(f"expected activations of shape (N, {len(self.mean)}), got {activations.shape}")
        return ((activations - self.mean) @ self.basis) / self.scale


def fit_style_projection(activations: np.ndarray, dims: int) -> StyleProjection:
    """The leading `dims` principal components of `activations` ``(N, d)``, standardised.

    >>> rng = np.random.default_rng(0)
    >>> acts = rng.normal(size=(500, 6)) * np.array([5.0, 3.0, 1.0, 0.1, 0.1, 0.1])
    >>> proj = fit_style_projection(acts, 2)
    >>> z = proj.apply(acts)
    >>> np.round(z.std(axis=0), 6).tolist(), np.abs(proj.basis).argmax(axis=0).tolist()
    ([1.0, 1.0], [0, 1])
    """
    activations = np.asarray(activations, dtype=np.float64)
    if activations.ndim != 2 or len(activations) < 2:
        raise DataError(f"fit_style_projection: expected (N, d) activations with N >= 2, got {activations.shape}")
    if not 1 <= dims <= min(len(activations) - 1, activations.shape[1]):
        raise ConfigError(f"fit_style_projection: {dims} dims is not possible for activations {activations.shape}")
    mean = activations.mean(axis=0)
    # eigh of the (d x d) scatter in torch on one thread: no OpenBLAS spinning threads (see design.md)
    with torch_threads(1):
        x = torch.from_numpy(activations - mean)
        _, vecs = torch.linalg.eigh(x.T @ x)
        basis = vecs.flip(1)[:, :dims].numpy().copy()
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(dims)])
    basis *= signs
    scale = ((activations - mean) @ basis).std(axis=0)
    if not np.all(scale > 0):
        raise DataError("fit_style_projection: a principal component has zero variance")
    return StyleProjection(mean=mean, basis=basis, scale=scale)
