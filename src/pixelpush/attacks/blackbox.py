"""The black-box attacks on scores and on rankings (paper §3.4–3.6).

One step at upload ``p`` with features ``f`` (the public image model, ``ctx.image_model``):

1. draw d' perturbations ``p_k = clip(p + U{−δ..δ})`` (integers, per pixel and channel);
2. their public features ``F`` in one forward batch (``view.features``, inference mode);
3. query the platform for their scores (``probe_scores``) or ranks (``probe_ranks``,
   ``s_k = 1 − r_k/N``), and the current image's score or rank (1 query);
4. ``x = estimator(F − f, s_k − s)``, an estimate of ∂s/∂f;
5. one vector-Jacobian product through the image model at ``p``: ``g = ∂(x·f(p))/∂p``;
6. ``p ← clip(p + ε·sign(g))`` and upload.

Cost per step: d' uploads and d' + 1 queries for the probes and the current score, and 1 upload
for the step. Compute per step: the image model's forward of d' images (no graph), the forward
of the new upload with a graph on the attacker's own model copy (kept for the next step's
vector-Jacobian product), and one backward. The attacker reads ``f`` and ``F`` through
``view.features``; in one process that is the platform's compute-only memo, so the platform
does not push the same probes through the model a second time when it scores them.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from scipy.special import ndtri

from pixelpush.attacks.base import GradientEstimate
from pixelpush.attacks.estimators import FeatureGradientEstimator, MinNormLeastSquares
from pixelpush.attacks.feature_gradient import FeatureAttackState, FeatureGradientAttack
from pixelpush.errors import ConfigError
from pixelpush.platform.api import PlatformClient

__all__ = ["BlackBoxAttack", "ranks_to_scores"]

_log = logging.getLogger(__name__)

Oracle = Literal["score", "rank"]
RankToScore = Literal["uniform", "probit"]


def ranks_to_scores(ranks: np.ndarray, n_items: int, mapping: RankToScore = "uniform") -> np.ndarray:
    """Pseudo-scores from 1-based ranks among `n_items` (paper §3.6).

    ``uniform``: ``1 − r/N`` (the paper). ``probit``: ``Φ⁻¹((N − r + 0.5)/N)``, the quantile
    under a normal score distribution (the original code's variant).

    >>> ranks_to_scores(np.array([1, 50]), 100).tolist()
    [0.99, 0.5]
    """
    r = np.asarray(ranks, dtype=np.float64)
    if mapping == "uniform":
        return 1.0 - r / n_items
    if mapping == "probit":
        return ndtri((n_items - r + 0.5) / n_items)
    raise ConfigError(f"unknown rank_to_score {mapping!r}; expected 'uniform' or 'probit'")


class BlackBoxAttack(FeatureGradientAttack):
    """BB-Score (``oracle="score"``) and BB-Rank (``oracle="rank"``).

    Reads only the attacker's view (client, its own image model copy, its users); never a model.

    Args:
        oracle: ``"score"`` reads scores (access ``score``), ``"rank"`` reads ranks.
        perturbations: d', the number of perturbations per step (the paper: 32 … 2,048).
        radius: δ, the perturbations' ℓ∞ radius in intensity levels (the paper's code: 7).
        estimator: turns (ΔF, Δs) into ∂s/∂f (default: minimum-norm least squares).
        rank_to_score: ``"uniform"`` (``1 − r/N``, the paper) or ``"probit"``.
        epsilon: the step in intensity levels.
        steps: the number of steps.
        ssim_floor, max_linf, mask_threshold: the distortion bound (see :class:`GradientSignAttack`).
        block: draw the perturbations on blocks of this many pixels a side (low-frequency probes,
            which survive JPEG and resizing); 1: per pixel (the paper).
        step_block, knows_defense, surrogate: see :class:`GradientSignAttack`.
    """

    def __init__(
        self,
        *,
        oracle: Oracle = "score",
        perturbations: int = 32,
        radius: int = 7,
        estimator: FeatureGradientEstimator | None = None,
        rank_to_score: RankToScore = "uniform",
        epsilon: int = 1,
        steps: int = 20,
        ssim_floor: float | None = None,
        max_linf: int | None = None,
        mask_threshold: float = 0.0,
        block: int = 1,
        **sign_options: Any,
    ) -> None:
        super().__init__(
            epsilon=epsilon, steps=steps, ssim_floor=ssim_floor, max_linf=max_linf, mask_threshold=mask_threshold, **sign_options
        )
        if isinstance(block, bool) or int(block) != block or block < 1:
            raise ConfigError(f"block must be a positive integer, got {block}")
        self.block = int(block)
        if oracle not in ("score", "rank"):
            raise ConfigError(f"oracle must be 'score' or 'rank', got {oracle!r}")
        if int(perturbations) != perturbations or perturbations < 1:
            raise ConfigError(f"perturbations must be a positive integer, got {perturbations}")
        if int(radius) != radius or not 1 <= radius <= 255:
            raise ConfigError(f"radius must be an integer in 1..255, got {radius}")
        if rank_to_score not in ("uniform", "probit"):
            raise ConfigError(f"rank_to_score must be 'uniform' or 'probit', got {rank_to_score!r}")
        self.oracle: Oracle = oracle
        self.perturbations = int(perturbations)
        self.radius = int(radius)
        self.estimator = estimator if estimator is not None else MinNormLeastSquares()
        self.rank_to_score: RankToScore = rank_to_score

    @property
    def accesses(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("score",) if self.oracle == "score" else ("score", "rank")

    def perturb(self, state: FeatureAttackState) -> tuple[np.ndarray, np.ndarray]:
        """Draw d' perturbations of the current upload and return them with ΔF ``(d', d)``."""
        return self.draw_perturbations(state, self.perturbations, self.radius, block=self.block)

    # -- the oracle ---------------------------------------------------------------------------
    def probe(
        self, client: PlatformClient, users: int | list[int], item: int, batch: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Δs of the candidate uploads against the current upload: ``(d',)`` for one user,
        ``(U, d')`` for several (one upload per candidate either way; d' + 1 queries per user)."""
        many = not isinstance(users, int | np.integer)
        ids = np.asarray(users if many else [users], dtype=np.int64)
        if self.oracle == "score":
            s_k = np.asarray(client.probe_scores(ids, item, batch), dtype=np.float64).reshape(len(ids), -1)
            s_0 = np.array([float(np.asarray(client.scores(int(u), [item]))[0]) for u in ids])
            delta, info = s_k - s_0[:, None], {"score": float(s_0[0])}
        else:
            r_k = self._visible_ranks(client, np.asarray(client.probe_ranks(ids, item, batch)).reshape(len(ids), -1))
            r_0 = self._visible_ranks(client, np.asarray(client.rank(ids, item)).reshape(-1))
            s = ranks_to_scores(np.concatenate([r_k, r_0[:, None]], axis=1), client.n_items, self.rank_to_score)
            delta = s[:, :-1] - s[:, -1:]
            info = {"rank": int(r_0[0]), "rank_changes": int(np.count_nonzero(r_k[0] != r_0[0]))}
            if many:
                info["ranks"] = r_0.astype(int).tolist()
        return (delta if many else delta[0]), info

    @staticmethod
    def _visible_ranks(client: PlatformClient, ranks: np.ndarray) -> np.ndarray:
        """Ranks with "not visible" (0, partial access) read as ``visible_count + 1``."""
        ranks = ranks.astype(np.int64)
        return np.where(ranks <= 0, client.visible_count + 1, ranks)

    # -- the step -----------------------------------------------------------------------------
    def estimate(self, state: FeatureAttackState, delta_f: np.ndarray, delta_s: np.ndarray, info: dict[str, Any], attacked: int | None = None) -> GradientEstimate:
        """Solve for ∂s/∂f and pull it back to the pixels, or flag the step uninformative."""
        info = {**info, "distinct": int(np.unique(delta_s).size), "changed": int(np.count_nonzero(delta_s))}
        x = self.estimator.estimate(delta_f, delta_s)
        if x is None:
            return GradientEstimate(pixel=None, uninformative=True, attacked_user=attacked, info=info)
        pixel = self._vjp(state, x)
        return GradientEstimate(pixel=pixel, feature=x, attacked_user=attacked, info=info)

    def gradient(self, state: FeatureAttackState, user: int) -> GradientEstimate:
        batch, delta_f = self.perturb(state)
        delta_s, info = self.probe(state.ctx.client, user, state.ctx.item, batch)
        return self.estimate(state, delta_f, delta_s, info)

    @property
    def rng_key(self) -> str:
        """The key of the perturbations' random stream (kept from the first release: same numbers)."""
        return "bb"


class BBScore(BlackBoxAttack):
    """BB-Score: the black-box attack on scores (``score`` access)."""

    id = "bb-score"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(oracle="score", **kwargs)

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        return tuple(p for p in super().parameters() if p != "oracle")


class BBRank(BlackBoxAttack):
    """BB-Rank: the black-box attack on full rankings (``rank`` access)."""

    id = "bb-rank"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(oracle="rank", **kwargs)

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        return tuple(p for p in super().parameters() if p != "oracle")
