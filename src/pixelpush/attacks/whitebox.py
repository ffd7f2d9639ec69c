"""The white-box attack (paper §3.3): the sign of the true ∂s/∂p, by autograd through IC and model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pixelpush.attacks.base import AttackContext, GradientEstimate, GradientSignAttack
from pixelpush.errors import ConfigError

__all__ = ["WhiteBoxAttack", "white_box_gradient"]


def white_box_gradient(handle: Any, user: int, item: int, image: np.ndarray) -> np.ndarray:
    """The true ∂s/∂p ``(H, W, 3)`` float32 of `item`'s score for `user` at upload `image`."""
    pixels = torch.tensor(image, dtype=torch.float32, requires_grad=True)
    score = handle.score_image(user, item, pixels)
    (grad,) = torch.autograd.grad(score.sum(), pixels)
    return grad.numpy().astype(np.float32, copy=False)


class WhiteBoxAttack(GradientSignAttack):
    """``p ← clip(p + ε·sign(∂s/∂p), 0, 255)`` with the gradient read from the white-box handle.

    An upper bound for the black-box attacks: it reads the model (``ctx.white_box``). Per step:
    1 upload; no queries.

    Args:
        epsilon: the step in intensity levels (the paper: 1).
        steps: the number of steps.
    """

    id = "wb"

    def validate(self, ctx: AttackContext) -> None:
        if ctx.white_box is None:
            raise ConfigError("the white-box attack needs a white-box handle (ctx.white_box)")

    def gradient(self, state: Any, user: int) -> GradientEstimate:
        ctx = state.ctx
        pixel = white_box_gradient(ctx.white_box, user, ctx.item, state.image)
        feature = None
        if hasattr(ctx.white_box, "feature_gradient"):
            feature = np.asarray(ctx.white_box.feature_gradient(user, ctx.item), dtype=np.float32)
        return GradientEstimate(pixel=pixel, feature=feature, uninformative=not np.any(pixel))
