"""The white-box attack (paper §3.3): the sign of the true ∂s/∂p, by autograd through IC and model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pixelpush.attacks.base import AttackContext, GradientEstimate, GradientSignAttack
from pixelpush.errors import ConfigError
from pixelpush.random import numpy_rng

__all__ = ["WhiteBoxAttack", "white_box_gradient"]


def white_box_gradient(handle: Any, user: int, item: int, image: np.ndarray, through: Any = None) -> np.ndarray:
    """The true ∂s/∂p ``(H, W, 3)`` float32 of `item`'s score for `user` at upload `image`.

    `through`, a differentiable stand-in of the ingest pipeline (:mod:`pixelpush.vision.standins`),
    is applied to the pixels first: the gradient of the score of the *processed* upload."""
    pixels = torch.tensor(image, dtype=torch.float32, requires_grad=True)
    x = pixels if through is None else through(pixels[None])[0]
    score = handle.score_image(user, item, x)
    (grad,) = torch.autograd.grad(score.sum(), pixels)
    return grad.numpy().astype(np.float32, copy=False)


class WhiteBoxAttack(GradientSignAttack):
    """``p ← clip(p + ε·sign(∂s/∂p), 0, 255)`` with the gradient read from the white-box handle.

    An upper bound for the black-box attacks: it reads the model (``ctx.white_box``). Per step:
    1 upload; no queries.

    With ``knows_defense`` the campaign gives the attacker the platform's ingest pipeline
    (``view.pipeline``): the gradient then goes through its differentiable stand-in (BPDA), and
    with ``eot`` > 0 it is the mean over that many jittered stand-ins (random resize and crop
    sizes within ``eot_scale``: expectation over transformation).

    Args:
        epsilon: the step in intensity levels (the paper: 1).
        steps: the number of steps.
        eot: stand-ins averaged per step (0: the pipeline's own stand-in only).
        eot_scale: relative jitter of resize and crop sizes for EOT.
    """

    id = "wb"

    def __init__(self, *, eot: int = 0, eot_scale: float = 0.1, **options: Any) -> None:
        super().__init__(**options)
        if isinstance(eot, bool) or int(eot) != eot or eot < 0:
            raise ConfigError(f"eot must be a non-negative integer, got {eot}")
        if not 0.0 <= eot_scale < 1.0:
            raise ConfigError(f"eot_scale must be in [0, 1), got {eot_scale}")
        self.eot, self.eot_scale = int(eot), float(eot_scale)

    def begin(self, ctx: AttackContext) -> Any:
        state = super().begin(ctx)
        state.through = None
        pipeline = ctx.view.pipeline
        if pipeline:
            from pixelpush.vision.standins import stand_in

            state.through = stand_in(pipeline, ctx.image.shape[:2], surrogate=self.surrogate)
            state.eot_rng = numpy_rng(ctx.seed, "eot", ctx.item)
        return state

    def _gradient(self, state: Any, user: int) -> np.ndarray:
        ctx = state.ctx
        if state.through is None or self.eot == 0:
            return white_box_gradient(ctx.white_box, user, ctx.item, state.image, state.through)
        from pixelpush.vision.standins import random_stand_in

        total = np.zeros(state.image.shape, dtype=np.float64)
        for _ in range(self.eot):
            through = random_stand_in(ctx.view.pipeline, state.image.shape[:2], state.eot_rng, scale=self.eot_scale, surrogate=self.surrogate)
            total += white_box_gradient(ctx.white_box, user, ctx.item, state.image, through)
        return (total / self.eot).astype(np.float32)

    def validate(self, ctx: AttackContext) -> None:
        if ctx.white_box is None:
            raise ConfigError("the white-box attack needs a white-box handle (ctx.white_box)")

    def gradient(self, state: Any, user: int) -> GradientEstimate:
        ctx = state.ctx
        pixel = self._gradient(state, user)
        feature = None
        if hasattr(ctx.white_box, "feature_gradient"):
            feature = np.asarray(ctx.white_box.feature_gradient(user, ctx.item), dtype=np.float32)
        return GradientEstimate(pixel=pixel, feature=feature, uninformative=not np.any(pixel))
