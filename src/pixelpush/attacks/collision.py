"""The zero-query attack: pull the upload's public features toward items the target already likes.

The "expert" attack of Liu & Larson (WWW '21), as a black-box attack that asks the platform
nothing: the attacker knows what its registered user consumed (the specific user's history it
cloned, a segment's segment item, a mock user's item) and every catalog image is public, so it
knows the public-model features of those items. Each step moves the upload down the gradient
of ``||f(p) - a||²`` through the attacker's own model copy, ``a`` the mean features of the
anchor items, with a sign step. A scorer that rewards looking like what the user consumed
(VBPR's ``θ_u·Eᵀf`` after folding in that history) then ranks the upload higher — if the
recommender works that way; nothing is measured on the platform until the uploads are made.

With ``upload_every = "end"`` the attack computes all its steps offline and uploads once, at the
last step: one upload and no query for the whole attack.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from pixelpush.attacks.base import AttackContext, GradientEstimate, StepRecord
from pixelpush.attacks.feature_gradient import FeatureAttackState, FeatureGradientAttack
from pixelpush.errors import ConfigError

__all__ = ["FeatureCollision"]


class FeatureCollision(FeatureGradientAttack):
    """Zero-query: sign steps toward the mean public features of the attacked user's own items.

    Args:
        anchors: use at most this many of the user's items (the ones nearest the upload in
            feature space: the most reachable look).
        upload_every: ``step`` (upload each step, 1 upload per step) or ``end`` (compute every
            step offline, upload once at the last).
        epsilon, steps, ssim_floor, max_linf, mask_threshold: as for every sign attack.
    """

    id = "zero-query"

    def __init__(self, *, anchors: int = 20, upload_every: Literal["step", "end"] = "step", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(anchors, bool) or int(anchors) != anchors or anchors < 1:
            raise ConfigError(f"anchors must be a positive integer, got {anchors}")
        if upload_every not in ("step", "end"):
            raise ConfigError(f"upload_every must be 'step' or 'end', got {upload_every!r}")
        self.anchors, self.upload_every = int(anchors), upload_every

    def begin(self, ctx: AttackContext) -> FeatureAttackState:
        state = super().begin(ctx)
        state.extra = {}
        return state

    def anchor(self, state: FeatureAttackState, user: int) -> np.ndarray:
        """The mean public features of the user's items nearest the upload (computed once per user)."""
        cache: dict[int, np.ndarray] = state.extra
        if user not in cache:
            view = state.ctx.view
            items = view.history(user)
            items = items[items != state.ctx.item]
            if not len(items):
                raise ConfigError(f"user {user} consumed nothing but the pushed item: no anchor for the zero-query attack")
            feats = view.catalog_features()[items].astype(np.float64)
            near = np.argsort(np.linalg.norm(feats - self._current_features(state)[None], axis=1))[: self.anchors]
            cache[user] = feats[near].mean(axis=0)
        return cache[user]

    def gradient(self, state: FeatureAttackState, user: int) -> GradientEstimate:
        toward = self.anchor(state, user) - self._current_features(state)  # -∂||f - a||²/∂f, halved
        return GradientEstimate(pixel=self._vjp(state, toward), feature=toward.astype(np.float32), info={"distance": float(np.linalg.norm(toward))})

    def step(self, state: FeatureAttackState, t: int) -> StepRecord:
        if self.upload_every == "step" or t == self.steps:
            if self.upload_every == "end" and t > 1:
                self._offline_steps(state, t - 1)
            return super().step(state, t)
        return self._idle(state, t)

    def _offline_steps(self, state: FeatureAttackState, count: int) -> None:
        """Take `count` steps on the attacker's own model, uploading nothing."""
        from pixelpush.attacks.base import sign_step

        user = state.ctx.targeting.active_user(state.ctx.view, state.ctx.item)
        for _ in range(count):
            est = self.gradient(state, user)
            image = sign_step(state.image, est.pixel, self.epsilon)
            if self.bound.active:
                image = self.bound.project(state.ctx.image, state.image, image, est.pixel)
            state.image = image
            self._track(state, image)

    def _idle(self, state: FeatureAttackState, t: int) -> StepRecord:
        client = state.ctx.client
        return StepRecord(step=t, user=None, previous=state.image, image=state.image, uploaded=False, uninformative=False,
                          uploads=client.uploads, queries=client.queries, step_uploads=0, step_queries=0,
                          info={"phase": "offline"})
