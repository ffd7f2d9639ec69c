"""Query-efficient attacks: a prior on ∂s/∂f from what the platform shows any account, refined by
few probes where it pays (beyond the paper; its BB attacks stay as they are for reproduction).

**The prior.** The attacker's registered user (the specific user's clone, a segment's or the
general population's mock users) sees the platform's answer for the whole catalog: its scores
(``score`` access, 1 query), its full ranking (``rank``, 1 query) or the visible top of it
(``partial``, 1 query). The catalog's images are public, so their public-model features are
known (:meth:`~pixelpush.attacks.view.AttackerView.catalog_features`). A ridge fit of the user's
scores — or a transform of the ranks — on those features, α by GCV on that same data, gives a
direction ``w`` in feature space; each step uploads ``sign`` of its pull-back through the
attacker's own model copy at the current upload. One upload per step and no probe at all: for
a scorer linear in the features (VBPR, DeepStyle) ``w`` estimates ∂s/∂f itself.

**The refinement** (:class:`PriorProbeAttack`). Where the scorer is not linear in the features,
∂s/∂f depends on the upload; a few probes in the upload's neighbourhood correct the prior:
``x = a·w + δ``, ``a`` fitted on the probes, ``δ`` the ridge solution (GCV) of the probes'
residuals, with the probes of the last `memory` steps reused. Antithetic pairs (``p ± n``) and
coarse-block noise are options. With `probe_when = "stalled"` it probes only when the rank it
observed did not improve since the last look (an adaptive budget).

**Stopping.** With `stop_rank` > 0 the attack looks at the pushed item's rank for the attacked
user every `observe_every` steps (1 query) and uploads nothing more once it is within the top
`stop_rank` (observable: the attacker's own user).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pixelpush.attacks.base import AttackContext, GradientEstimate
from pixelpush.attacks.feature_gradient import FeatureAttackState, FeatureGradientAttack
from pixelpush.attacks.priors import partial_targets, rank_targets, ridge_fit, select_rows
from pixelpush.errors import ConfigError
from pixelpush.ids import outside
from pixelpush.platform.api import Access

__all__ = ["PriorAttack", "PriorPartial", "PriorProbeAttack", "PriorProbePartial", "PriorProbeRank", "PriorProbeScore", "PriorRank", "PriorScore"]

_log = logging.getLogger(__name__)

Signal = Literal["score", "rank", "partial"]
Target = Literal["probit", "uniform"]


@dataclass
class _Prior:
    w: np.ndarray
    r2: float
    alpha: float


@dataclass
class _PriorState:
    priors: dict[int, _Prior] = field(default_factory=dict)
    last_rank: dict[int, int] = field(default_factory=dict)
    stopped: set[int] = field(default_factory=set)
    probes: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    """Per attacked user, the (ΔF, Δs) of its last probing steps (Δs is that user's)."""
    steps_done: int = 0


class PriorAttack(FeatureGradientAttack):
    """Sign steps along the pull-back of a prior fitted on the attacked user's view of the catalog.

    Args:
        signal: what the fit reads: ``score`` (scores of every item), ``rank`` (the full
            ranking) or ``partial`` (the visible top of it).
        target: ranks become targets by ``probit`` (the normal quantile of the rank: roughly
            linear in a normal score) or ``uniform`` (``1 - r/N``, the paper's mapping).
        ridge: the ridge weight relative to the mean eigenvalue of the features' Gram matrix;
            None chooses it by generalised cross-validation on the fit's own data.
        partial_fit: how the ``partial`` signal becomes a direction: ``centroid`` (the visible
            items' mean features minus the catalog's) or ``ridge`` (visible = 1, hidden = 0).
            Measured on the embedded catalog (12 pairs, VBPR, 30 visible of 3,000): cosine to the
            true ∂s/∂f 0.45 (centroid) vs 0.38 (ridge, α by GCV).
        max_items: fit on at most this many items (the best-ranked quarter kept whole).
        stop_rank: stop uploading once the pushed item ranks within this for the attacked user
            (0: never stop).
        observe_every: look at that rank every this many steps (1 query each look).
        epsilon, steps, ssim_floor, max_linf, mask_threshold: as for every sign attack.
    """

    signal: Signal = "rank"

    def __init__(
        self,
        *,
        target: Target = "probit",
        ridge: float | None = None,
        partial_fit: Literal["centroid", "ridge"] = "centroid",
        max_items: int = 20000,
        stop_rank: int = 0,
        observe_every: int = 1,
        epsilon: int = 1,
        steps: int = 20,
        ssim_floor: float | None = None,
        max_linf: int | None = None,
        mask_threshold: float = 0.0,
        **sign_options: Any,
    ) -> None:
        super().__init__(
            epsilon=epsilon, steps=steps, ssim_floor=ssim_floor, max_linf=max_linf, mask_threshold=mask_threshold, **sign_options
        )
        if target not in ("probit", "uniform"):
            raise ConfigError(f"target must be 'probit' or 'uniform', got {target!r}")
        if ridge is not None and not ridge > 0:
            raise ConfigError(f"ridge must be positive (or None: chosen by cross-validation), got {ridge}")
        for name, value, low in (("max_items", max_items, 2), ("stop_rank", stop_rank, 0), ("observe_every", observe_every, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value}")
        if partial_fit not in ("centroid", "ridge"):
            raise ConfigError(f"partial_fit must be 'centroid' or 'ridge', got {partial_fit!r}")
        self.target: Target = target
        self.ridge = None if ridge is None else float(ridge)
        self.partial_fit = partial_fit
        self.max_items, self.stop_rank, self.observe_every = int(max_items), int(stop_rank), int(observe_every)

    @property
    def accesses(self) -> tuple[Access, ...]:  # type: ignore[override]
        return {"score": ("score",), "rank": ("score", "rank"), "partial": ("score", "rank", "partial")}[self.signal]

    def begin(self, ctx: AttackContext) -> FeatureAttackState:
        state = super().begin(ctx)
        state.extra = _PriorState()
        return state

    # -- the prior ----------------------------------------------------------------------------
    def read_signal(self, state: FeatureAttackState, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Items and their targets from the platform's answer for `user` (1 query)."""
        view, item = state.ctx.view, state.ctx.item
        client, history = view.client, view.history(user)
        n = client.n_items
        if self.signal == "score":
            items = outside(np.append(history, item), n)
            return items, np.asarray(client.scores(user, items), dtype=np.float64)
        ranking = np.asarray(client.ranking(user), dtype=np.int64)
        if self.signal == "partial":
            items, targets = partial_targets(n, ranking, np.append(history, item))
        else:
            items, targets = rank_targets(n, ranking, self.target)
        keep = items != item  # the pushed item's own row is what the attack changes
        return items[keep], targets[keep]

    def prior(self, state: FeatureAttackState, user: int) -> _Prior:
        """The fitted direction for `user` (fitted once per user and kept)."""
        extra: _PriorState = state.extra
        if user not in extra.priors:
            items, targets = self.read_signal(state, user)
            rows = select_rows(targets, self.max_items, state.rng)
            feats = state.ctx.view.catalog_features()[items[rows]].astype(np.float64)
            if self.signal == "partial" and self.partial_fit == "centroid":
                visible = targets[rows] > 0
                w = feats[visible].mean(axis=0) - feats.mean(axis=0)
                extra.priors[user] = _Prior(w=w, r2=float("nan"), alpha=float("inf"))
            else:
                fit = ridge_fit(feats, targets[rows], alpha=self.ridge)
                extra.priors[user] = _Prior(w=fit.w, r2=fit.r2, alpha=fit.alpha)
            _log.debug("prior for user %d: %d items, alpha %.3g", user, len(rows), extra.priors[user].alpha)
        return extra.priors[user]

    # -- looking at the item's rank -----------------------------------------------------------
    def observe(self, state: FeatureAttackState, user: int, t: int) -> int | None:
        """The pushed item's rank for `user` when it is time to look (0: not visible), else None."""
        if self.stop_rank <= 0 and not self.needs_observation:
            return None
        if (t - 1) % self.observe_every:
            return None
        rank = int(np.asarray(state.ctx.client.rank(user, state.ctx.item)).reshape(-1)[0])
        return rank

    needs_observation = False

    def gradient(self, state: FeatureAttackState, user: int) -> GradientEstimate:
        extra: _PriorState = state.extra
        t = extra.steps_done = extra.steps_done + 1
        rank = self.observe(state, user, t)
        info: dict[str, Any] = {} if rank is None else {"rank": rank}
        if rank is not None and 0 < rank <= self.stop_rank:
            extra.stopped.add(user)
        if user in extra.stopped:
            return GradientEstimate(pixel=None, uninformative=True, info={**info, "phase": "stopped"})
        x, more = self.direction(state, user, rank)
        info.update(more)
        return GradientEstimate(pixel=self._vjp(state, x), feature=x.astype(np.float32), info=info)

    def direction(self, state: FeatureAttackState, user: int, rank: int | None) -> tuple[np.ndarray, dict[str, Any]]:
        """The ∂s/∂f estimate of this step, and what to record about it."""
        prior = self.prior(state, user)
        return prior.w, {"phase": "prior", "prior_r2": round(prior.r2, 4)}


class PriorProbeAttack(PriorAttack):
    """The prior, corrected by few probes around the current upload (see the module docstring).

    Args:
        perturbations: probes per probing step.
        radius: the probes' ℓ∞ radius in levels.
        memory: reuse the probes of the last this many probing steps.
        antithetic: draw probes in pairs ``p ± n`` (central differences).
        block: draw the noise on blocks of this many pixels a side (low-frequency probes).
        probe_when: ``always`` or ``stalled`` (only when the observed rank did not improve).
        (other arguments as for :class:`PriorAttack`)
    """

    def __init__(
        self,
        *,
        perturbations: int = 8,
        radius: int = 7,
        memory: int = 4,
        antithetic: bool = True,
        block: int = 1,
        probe_when: Literal["always", "stalled"] = "always",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value, low in (("perturbations", perturbations, 1), ("radius", radius, 1), ("memory", memory, 1), ("block", block, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value}")
        if probe_when not in ("always", "stalled"):
            raise ConfigError(f"probe_when must be 'always' or 'stalled', got {probe_when!r}")
        if antithetic and perturbations % 2:
            raise ConfigError(f"antithetic probes come in pairs: perturbations must be even, got {perturbations}")
        self.perturbations, self.radius, self.memory, self.block = int(perturbations), int(radius), int(memory), int(block)
        self.antithetic, self.probe_when = bool(antithetic), probe_when

    @property
    def needs_observation(self) -> bool:  # type: ignore[override]
        return self.probe_when == "stalled"

    def draw_probes(self, state: FeatureAttackState) -> tuple[np.ndarray, np.ndarray]:
        """Probe uploads around the current one (antithetic, coarse blocks as configured) and their ΔF."""
        image, d = state.image, self.perturbations
        h, w = image.shape[:2]
        count = d // 2 if self.antithetic else d
        bh, bw = -(-h // self.block), -(-w // self.block)
        noise = state.rng.integers(-self.radius, self.radius + 1, size=(count, bh, bw, 3), dtype=np.int16)
        noise = np.repeat(np.repeat(noise, self.block, axis=1), self.block, axis=2)[:, :h, :w]
        if self.antithetic:
            noise = np.concatenate([noise, -noise])
        batch = np.clip(image.astype(np.int16)[None] + noise, 0, 255).astype(np.uint8)
        feats = state.ctx.view.features(batch)
        return batch, feats.astype(np.float64) - self._current_features(state)[None]

    def probe(self, state: FeatureAttackState, user: int, batch: np.ndarray, rank: int | None) -> np.ndarray | None:
        """Δs of the probes for `user` from the platform's answer (None: nothing to read)."""
        from pixelpush.attacks.blackbox import ranks_to_scores

        client, item = state.ctx.client, state.ctx.item
        if self.signal == "score":
            s_k = np.asarray(client.probe_scores(user, item, batch), dtype=np.float64)
            return s_k - float(np.asarray(client.scores(user, [item]))[0])
        r_k = np.asarray(client.probe_ranks(user, item, batch), dtype=np.int64)
        r_0 = rank if rank is not None else int(np.asarray(client.rank(user, item)).reshape(-1)[0])
        # A rank of 0 is "not shown": the visible top of partial access, or a platform that
        # truncates what new accounts see. Not visible now: the probes' ranks say nothing about
        # their direction; a probe pushed out of view ranks just below everything shown.
        if r_0 <= 0:
            return None
        below = client.visible_count + 1 if self.signal == "partial" else max(int(r_k.max()), r_0) + 1
        r_k = np.where(r_k <= 0, below, r_k)
        s = ranks_to_scores(np.append(r_k, r_0), client.n_items, self.target)
        return s[:-1] - s[-1]

    def direction(self, state: FeatureAttackState, user: int, rank: int | None) -> tuple[np.ndarray, dict[str, Any]]:
        extra: _PriorState = state.extra
        prior = self.prior(state, user)
        stalled = rank is not None and user in extra.last_rank and not rank < extra.last_rank[user]
        if rank is not None:
            extra.last_rank[user] = rank
        if self.probe_when == "stalled" and not stalled:
            return prior.w, {"phase": "prior", "prior_r2": round(prior.r2, 4)}
        batch, delta_f = self.draw_probes(state)
        delta_s = self.probe(state, user, batch, rank)
        if delta_s is None or np.ptp(delta_s) == 0:
            return prior.w, {"phase": "prior", "probe": "uninformative"}
        kept = extra.probes[user] = [*extra.probes.get(user, []), (delta_f, delta_s)][-self.memory :]
        x, info = self.refine(prior.w, kept)
        return x, {"phase": "refined", **info}

    @staticmethod
    def refine(prior: np.ndarray, probes: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, dict[str, Any]]:
        """``x = a·w + δ``: `a` fitted on the probes, δ the ridge (GCV) fit of what `a·w` leaves."""
        delta_f = np.concatenate([p[0] for p in probes])
        delta_s = np.concatenate([p[1] for p in probes])
        along = delta_f @ prior
        a = max(float(along @ delta_s) / float(along @ along), 0.0) if float(along @ along) > 0 else 0.0
        fit = ridge_fit(delta_f, delta_s - a * along, intercept=False)
        return a * prior + fit.w, {"prior_weight": round(a, 6), "probe_rows": int(len(delta_s))}


class PriorScore(PriorAttack):
    """The prior attack on scores (``score`` access)."""

    id, signal = "prior-score", "score"


class PriorRank(PriorAttack):
    """The prior attack on full rankings (``rank`` access)."""

    id, signal = "prior-rank", "rank"


class PriorPartial(PriorAttack):
    """The prior attack on the visible top of the rankings (``partial`` access)."""

    id, signal = "prior-partial", "partial"


class PriorProbeScore(PriorProbeAttack):
    """Prior plus probes, on scores."""

    id, signal = "prior-probe-score", "score"


class PriorProbeRank(PriorProbeAttack):
    """Prior plus probes, on full rankings."""

    id, signal = "prior-probe-rank", "rank"


class PriorProbePartial(PriorProbeAttack):
    """Prior plus probes, on partial rankings (probes only while the item is visible)."""

    id, signal = "prior-probe-partial", "partial"
