"""The paper's baselines (§4.3): swap in, or blend in, the most popular same-category image.

The popular item comes from public data (:func:`most_popular_in_category`); the campaign
passes its upload as ``ctx.popular_image``. Neither baseline reads the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pixelpush.attacks.base import Attack, AttackContext, StepRecord
from pixelpush.errors import ConfigError

__all__ = ["PopularBlend", "PopularSwap", "most_popular_in_category", "resize_image"]


def most_popular_in_category(item: int, categories: np.ndarray, popularity: np.ndarray) -> int:
    """The most consumed item of `item`'s category other than `item` (lowest id on ties).

    >>> most_popular_in_category(0, np.array([0, 0, 1, 0]), np.array([9, 2, 7, 2]))
    1
    """
    same = np.flatnonzero(np.asarray(categories) == categories[item])
    same = same[same != item]
    if same.size == 0:
        raise ConfigError(f"item {item} is alone in its category: no popular item to copy")
    pop = np.asarray(popularity)[same]
    return int(same[np.argmax(pop)])


def resize_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`image` ``(h, w, 3)`` uint8 resized to ``shape`` ``(H, W)`` (bilinear, antialiased)."""
    if image.shape[:2] == tuple(shape):
        return image.copy()
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    y = F.interpolate(x, size=tuple(shape), mode="bilinear", align_corners=False, antialias=True)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


@dataclass
class _BaselineState:
    ctx: AttackContext
    image: np.ndarray
    popular: np.ndarray


class _PopularBaseline(Attack):
    def validate(self, ctx: AttackContext) -> None:
        if ctx.popular_image is None:
            raise ConfigError(f"{type(self).__name__} needs the popular item's upload (ctx.popular_image)")

    def begin(self, ctx: AttackContext) -> _BaselineState:
        assert ctx.popular_image is not None
        popular = resize_image(np.asarray(ctx.popular_image, dtype=np.uint8), ctx.image.shape[:2])
        return _BaselineState(ctx=ctx, image=ctx.image.copy(), popular=popular)

    def next_image(self, state: _BaselineState) -> np.ndarray:
        raise NotImplementedError

    def step(self, state: Any, t: int) -> StepRecord:
        client = state.ctx.client
        uploads0, queries0 = client.uploads, client.queries
        previous = state.image
        state.image = self.next_image(state)
        client.upload_image(state.ctx.item, state.image)
        return StepRecord(
            step=t,
            user=None,
            previous=previous,
            image=state.image,
            uploaded=True,
            uninformative=False,
            uploads=client.uploads,
            queries=client.queries,
            step_uploads=client.uploads - uploads0,
            step_queries=client.queries - queries0,
        )


class PopularSwap(_PopularBaseline):
    """Replace the upload by the popular item's image, resized to the upload's size (1 upload).

    Args:
        steps: 1 (later steps re-upload the same image).
    """

    id = "baseline-swap"

    def __init__(self, *, steps: int = 1) -> None:
        super().__init__(steps=steps)

    def next_image(self, state: _BaselineState) -> np.ndarray:
        return state.popular.copy()


class PopularBlend(_PopularBaseline):
    """``p ← clip(p + ε·p_pop, 0, 255)``, rounded to intensity levels, once per step.

    Args:
        epsilon: the blend weight (the paper: 0.01 … 0.1).
        steps: how many times to add ``ε·p_pop`` (the paper: 1).
    """

    id = "baseline-blend"

    def __init__(self, *, epsilon: float = 0.05, steps: int = 1) -> None:
        super().__init__(steps=steps)
        if not 0.0 < epsilon <= 1.0:
            raise ConfigError(f"epsilon must be in (0, 1], got {epsilon}")
        self.epsilon = float(epsilon)

    def next_image(self, state: _BaselineState) -> np.ndarray:
        blended = state.image.astype(np.float32) + self.epsilon * state.popular.astype(np.float32)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
