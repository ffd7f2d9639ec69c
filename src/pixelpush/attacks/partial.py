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
  - *surrogate*: i visible for u' → probe u' and u(i') with the *same* perturbations and
    combine ``Δs_u = ((n+1)·Δs_u' − Δs_u(i'))/n``, n = |history(u)|. Because the estimator is
    linear in Δs, this equals combining the two ∂s/∂f estimates as the paper writes.

  Extension (not in the paper): when a lift step carries no information (i already first for
  u(i'), or no perturbation moves it) yet i is still hidden for u', that surrogate can never
  progress, so the next candidate i' is tried; at most `candidates` candidates per user.

The attack never reads a rank beyond the cut (the client would not reveal it anyway).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixelpush.attacks.base import AttackContext, GradientEstimate
from pixelpush.attacks.blackbox import BlackBoxAttack, RankToScore, _BlackBoxState
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

    name = "bb-partial"

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
    ) -> None:
        super().__init__(
            oracle="rank",
            perturbations=perturbations,
            radius=radius,
            estimator=estimator,
            rank_to_score=rank_to_score,
            epsilon=epsilon,
            steps=steps,
        )
        if int(candidates) != candidates or candidates < 1:
            raise ConfigError(f"candidates must be a positive integer, got {candidates}")
        self.candidates = int(candidates)

    @property
    def accesses(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("partial", "rank", "score")

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        cfg.pop("oracle", None)
        return cfg

    def begin(self, ctx: AttackContext) -> _BlackBoxState:
        state = super().begin(ctx)
        state.extra = _PartialState()
        return state

    def _visible(self, state: _BlackBoxState, user: int) -> int:
        """The pushed item's rank for `user`, 0 when not visible (1 query)."""
        return int(np.asarray(state.ctx.client.rank(user, state.ctx.item)).reshape(-1)[0])

    def _surrogate(self, state: _BlackBoxState, user: int) -> _Surrogate | None:
        """The current surrogate for `user`, registering the next candidate's users if needed."""
        extra: _PartialState = state.extra
        client, item = state.ctx.client, state.ctx.item
        search = extra.searches.get(user)
        if search is None:
            history = np.asarray(state.ctx.targeting.history(user), dtype=np.int64)
            if extra.u_i is None:
                extra.u_i = client.register_user([item])
            held = set(history.tolist()) | {item}
            listed = [int(j) for j in np.asarray(client.ranking(extra.u_i)) if int(j) not in held]
            search = extra.searches[user] = _Search(history=history, listed=listed)
        while search.current is None and search.tried < min(self.candidates, len(search.listed)):
            j = search.listed[search.tried]
            search.tried += 1
            u_j = client.register_user([j])
            if self._visible(state, u_j) > 0:  # i' is useful only if i shows in u(i')'s list
                u_prime = client.register_user(np.append(search.history, j))
                search.current = _Surrogate(i_prime=j, u_i_prime=u_j, u_prime=u_prime, n=max(1, len(search.history)))
        if search.current is None:
            _log.debug("no usable surrogate item for user %d after %d candidates", user, search.tried)
        return search.current

    def gradient(self, state: _BlackBoxState, user: int) -> GradientEstimate:
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
        ds_prime, info = self.probe(client, sur.u_prime, item, batch)
        ds_i_prime, info_i = self.probe(client, sur.u_i_prime, item, batch)
        delta_s = ((sur.n + 1) * ds_prime - ds_i_prime) / sur.n
        info = {**info, **info_s, "phase": "surrogate", "rank_i_prime": info_i["rank"]}
        return self.estimate(state, delta_f, delta_s, info, attacked=sur.u_prime)
