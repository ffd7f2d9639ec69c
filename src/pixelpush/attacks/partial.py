"""The black-box attack on partial rankings (paper §3.6, "Dealing with partial ranking knowledge").

Only the top ``visible_count`` (1% of the catalog) of a list is visible. Before each step, for
the targeted user u:

- *direct*: the pushed item i is visible for u → a BB-Rank step on u. A perturbation that
  drops i out of the visible list reads as rank ``visible_count + 1`` (the best rank it can
  still have: a conservative, optimistic guess that keeps the score scale bounded).
- otherwise a *surrogate*, built once per u, all through ``register_user``: u(i) = [i]; i' =
  the first item of u(i)'s visible list not in u's history for which i is visible to u(i')
  (a rank-based attack on u(i') needs that); u(i') = [i']; u' = history(u) + [i'].

  - *lift*: i not yet visible for u' → a BB-Rank step on u(i');
  - *surrogate*: i visible for u' → probe u' and u(i') with the *same* perturbations, in one
    multi-user probe (one upload per candidate answers for both users: d' + 1 uploads per step,
    as in the paper), and combine ``Δs_u = ((n+1)·Δs_u' − Δs_u(i'))/n``, n = |history(u)|.
    Because the estimator is linear in Δs, this equals combining the two ∂s/∂f estimates as
    the paper writes.

  Extension (not in the paper): when a lift step carries no information (i already first for
  u(i'), or no perturbation moves it) yet i is still hidden for u', that surrogate can never
  progress, so the next candidate i' is tried; at most `candidates` candidates per user.

The attack never reads a rank beyond the cut (the client would not reveal it anyway). All mock
users are registered through the attacker's view (``view.register_user``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from typing import Any

import numpy as np

from pixelpush.attacks.base import AttackContext, GradientEstimate
from pixelpush.attacks.blackbox import BlackBoxAttack, RankToScore
from pixelpush.attacks.feature_gradient import FeatureAttackState
from pixelpush.attacks.estimators import FeatureGradientEstimator
from pixelpush.errors import ConfigError

__all__ = ["PartialRankingAttack"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Surrogate:
    i_prime: int
    u_i_prime: int
    u_prime: int
    n: int


@dataclass
class _Search:
    """Per targeted user: the candidate items i' (u(i)'s visible list) and the current surrogate."""

    history: np.ndarray
    listed: list[int]
    tried: int = 0
    current: _Surrogate | None = None


@dataclass
class _PartialState:
    u_i: int | None = None
    searches: dict[int, _Search] = field(default_factory=dict)


class PartialRankingAttack(BlackBoxAttack):
    """BB-Partial: BB-Rank on the visible top of the list, through surrogate users otherwise.

    Args:
        perturbations: d'.
        radius: δ.
        estimator: ∂s/∂f estimator (default: minimum-norm least squares).
        rank_to_score: ``"uniform"`` or ``"probit"``.
        candidates: at most this many items i' of u(i)'s list are tried per targeted user (each
            try registers u(i'), and u' when i shows for u(i')).
        epsilon: the step in intensity levels.
        steps: the number of steps.
    """


    def __init__(
        self,
        *,
        perturbations: int = 32,
        radius: int = 7,
        estimator: FeatureGradientEstimator | None = None,
        rank_to_score: RankToScore = "uniform",
        candidates: int = 3,
        epsilon: int = 1,
        steps: int = 20,
        ssim_floor: float | None = None,
        max_linf: int | None = None,
        mask_threshold: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(
            **options,
            oracle="rank",
            perturbations=perturbations,
            radius=radius,
            estimator=estimator,
            rank_to_score=rank_to_score,
            epsilon=epsilon,
            steps=steps,
            ssim_floor=ssim_floor,
            max_linf=max_linf,
            mask_threshold=mask_threshold,
        )
        if int(candidates) != candidates or candidates < 1:
            raise ConfigError(f"candidates must be a positive integer, got {candidates}")
        self.candidates = int(candidates)

    @property
    def accesses(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("partial", "rank", "score")

    id = "bb-partial"

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        return tuple(p for p in super().parameters() if p != "oracle")

    @property
    def rng_key(self) -> str:
        return "bb-partial"

    def begin(self, ctx: AttackContext) -> FeatureAttackState:
        state = super().begin(ctx)
        state.extra = _PartialState()
        return state

    def _visible(self, state: FeatureAttackState, user: int) -> int:
        """The pushed item's rank for `user`, 0 when not visible (1 query)."""
        return int(np.asarray(state.ctx.client.rank(user, state.ctx.item)).reshape(-1)[0])

    def _surrogate(self, state: FeatureAttackState, user: int) -> _Surrogate | None:
        """The current surrogate for `user`, registering the next candidate's users if needed."""
        extra: _PartialState = state.extra
        view, item = state.ctx.view, state.ctx.item
        client = view.client
        search = extra.searches.get(user)
        if search is None:
            history = view.history(user)
            if extra.u_i is None:
                extra.u_i = view.register_user([item])
            held = set(history.tolist()) | {item}
            listed = [int(j) for j in np.asarray(client.ranking(extra.u_i)) if int(j) not in held]
            search = extra.searches[user] = _Search(history=history, listed=listed)
        while search.current is None and search.tried < min(self.candidates, len(search.listed)):
            j = search.listed[search.tried]
            search.tried += 1
            u_j = view.register_user([j])
            if self._visible(state, u_j) > 0:  # i' is useful only if i shows in u(i')'s list
                u_prime = view.register_user(np.append(search.history, j))
                search.current = _Surrogate(i_prime=j, u_i_prime=u_j, u_prime=u_prime, n=max(1, len(search.history)))
        if search.current is None:
            _log.debug("no usable surrogate item for user %d after %d candidates", user, search.tried)
        return search.current

    def gradient(self, state: FeatureAttackState, user: int) -> GradientEstimate:
        client, item = state.ctx.client, state.ctx.item
        if self._visible(state, user) > 0:
            batch, delta_f = self.perturb(state)
            delta_s, info = self.probe(client, user, item, batch)
            return self.estimate(state, delta_f, delta_s, {**info, "phase": "direct"}, attacked=user)
        sur = self._surrogate(state, user)
        if sur is None:
            return GradientEstimate(pixel=None, uninformative=True, info={"phase": "no-surrogate"})
        info_s = {"phase": "lift", "i_prime": sur.i_prime}
        if self._visible(state, sur.u_prime) == 0:
            batch, delta_f = self.perturb(state)
            delta_s, info = self.probe(client, sur.u_i_prime, item, batch)
            est = self.estimate(state, delta_f, delta_s, {**info, **info_s}, attacked=sur.u_i_prime)
            if est.uninformative:  # i sits where no perturbation moves it for u(i'): next candidate
                state.extra.searches[user].current = None
            return est
        batch, delta_f = self.perturb(state)
        both, info = self.probe(client, [sur.u_prime, sur.u_i_prime], item, batch)
        ds_prime, ds_i_prime = both
        delta_s = ((sur.n + 1) * ds_prime - ds_i_prime) / sur.n
        info = {**info, **info_s, "phase": "surrogate", "rank_i_prime": info["ranks"][1]}
        return self.estimate(state, delta_f, delta_s, info, attacked=sur.u_prime)
