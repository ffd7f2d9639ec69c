"""Attacks that estimate ∂s/∂f and pull it back through the attacker's own copy of the public model.

:class:`FeatureGradientAttack` holds what every such attack shares: the per-run state, the
forward of the current upload with a graph on the attacker's model copy (kept for the next
step's vector-Jacobian product), the current upload's public features (``view.features``), the
VJP ``∂(x·f(p))/∂p``, and random perturbations of the upload with their feature changes ΔF.
Subclasses supply the estimate of ∂s/∂f in :meth:`~pixelpush.attacks.base.GradientSignAttack.gradient`:
from probes (the paper's BB attacks), from what the platform shows anyway (the priors), or both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pixelpush.attacks.base import AttackContext, GradientSignAttack
from pixelpush.errors import ConfigError
from pixelpush.random import numpy_rng
from pixelpush.vision.image_model import ImageModel

__all__ = ["FeatureAttackState", "FeatureGradientAttack"]


@dataclass
class FeatureAttackState:
    ctx: AttackContext
    image: np.ndarray
    model: ImageModel
    device: torch.device
    rng: np.random.Generator
    pixels: torch.Tensor | None = None
    """The current upload as a leaf tensor ``(1, H, W, 3)`` requiring grad."""
    features: torch.Tensor | None = None
    """Its features ``(1, d)`` with the graph kept for the vector-Jacobian product."""
    current: np.ndarray | None = None
    """The current upload's public features ``(d,)`` float64 (``view.features``)."""
    extra: Any = None


class FeatureGradientAttack(GradientSignAttack):
    """A sign attack whose pixel gradient is the pull-back of an estimated ∂s/∂f (see module doc)."""

    @property
    def rng_key(self) -> str:
        """The key of the attack's random stream."""
        return type(self).id

    def validate(self, ctx: AttackContext) -> None:
        super().validate(ctx)
        if ctx.image_model is None:
            raise ConfigError(f"{type(self).__name__} needs the public image model (ctx.image_model)")

    def begin(self, ctx: AttackContext) -> FeatureAttackState:
        model = ctx.image_model
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        state = FeatureAttackState(
            ctx=ctx, image=ctx.image.copy(), model=model, device=device, rng=numpy_rng(ctx.seed, "attack", self.rng_key, ctx.item)
        )
        self._track(state, state.image)
        return state

    def _track(self, state: FeatureAttackState, image: np.ndarray) -> None:
        """Forward `image` with a graph on the attacker's model copy (for the next VJP)."""
        pixels = torch.from_numpy(image[None].astype(np.float32)).to(state.device).requires_grad_(True)
        state.pixels, state.features = pixels, state.model(pixels)
        state.current = None

    def _current_features(self, state: FeatureAttackState) -> np.ndarray:
        if state.current is None:
            state.current = state.ctx.view.features(state.image[None])[0].astype(np.float64)
        return state.current

    def _vjp(self, state: FeatureAttackState, x: np.ndarray) -> np.ndarray:
        """``∂(x·f(p))/∂p`` by one backward through the graph kept from the last forward."""
        if state.features is None:
            self._track(state, state.image)
        assert state.features is not None and state.pixels is not None
        weights = torch.from_numpy(np.asarray(x, dtype=np.float32)).to(state.device)[None]
        (grad,) = torch.autograd.grad(state.features, state.pixels, grad_outputs=weights)
        state.features = state.pixels = None  # the graph is freed
        return grad[0].cpu().numpy()

    def draw_perturbations(
        self, state: FeatureAttackState, count: int, radius: int, *, block: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """`count` uploads ``clip(p + U{-radius..radius})`` of the current one, and their ΔF ``(count, d)``.

        With `block` > 1 the noise is drawn per ``block`` x ``block`` tile (low-frequency probes)."""
        image = state.image
        if block > 1:
            h, w = image.shape[:2]
            coarse = state.rng.integers(-radius, radius + 1, size=(count, -(-h // block), -(-w // block), 3), dtype=np.int16)
            noise = np.repeat(np.repeat(coarse, block, axis=1), block, axis=2)[:, :h, :w].copy()
        else:
            noise = state.rng.integers(-radius, radius + 1, size=(count, *image.shape), dtype=np.int16)
        noise += image.astype(np.int16)
        np.clip(noise, 0, 255, out=noise)  # in place: an allocating clip costs 3x the draw
        batch = noise.astype(np.uint8)
        feats = state.ctx.view.features(batch)
        return batch, feats.astype(np.float64) - self._current_features(state)[None]

    def before_upload(self, state: FeatureAttackState, image: np.ndarray) -> None:
        self._track(state, image)
