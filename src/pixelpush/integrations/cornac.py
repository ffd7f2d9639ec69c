"""Cornac's visual models behind the ``Recommender`` contract (``pip install "pixelpush[cornac]"``).

Cornac (3.0.1) computes ``Fᵀ E`` (and ``Fᵀ β'``) once, when a model is fitted, and scores from
that cache: an upload would change nothing. :func:`from_cornac` re-expresses a *trained* model
from its parameters, so that scores are recomputed from the features passed to every call:

- VBPR: ``s(u, i) = β_i + γ_u·γ_i + θ_u·(Eᵀ f_i) + β'·f_i``;
- AMR (VBPR-shaped, adversarially trained): ``s(u, i) = γ_u·(γ_i + Eᵀ f_i)``.

Cornac numbers users and items its own way (``train_set.uid_map`` / ``iid_map``, from the raw
ids it was given, usually strings) and knows only the items of its training set. The adapter
keeps the mapping (:class:`CornacIds`): pixelpush's user ``u`` is Cornac's ``uid_map[user_ids[u]]``.
A catalog item Cornac never saw gets no collaborative terms (``γ_i = 0``, ``β_i = 0``; its visual
terms still come from its image); a pixelpush user Cornac never saw is folded in from
`histories`. Scores on the items Cornac knows equal Cornac's own ``score()`` (tested).

Not adapted: VMF (its trainer sets torch's default dtype to float64 for the whole process when
imported), CausalRec (nonlinear in its cached terms and scores only whole catalogs), DMRL (reads
text as well). Fold-in of a new user (the platform's registration) is pixelpush's: the user's
vector minimising the BPR loss against the fixed item side, with Cornac's ``lambda_w / 2`` as the
per-triple ridge (Cornac sums ``lambda_w · ‖γ_u‖² / 2`` over a batch's triples).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from pixelpush.errors import ConfigError, DataError
from pixelpush.recommenders.factor import FactorConfig, FactorModel, TripleBatch
from pixelpush.recommenders.scaling import FeatureNormaliser

__all__ = ["CornacFit", "CornacIds", "CornacVisual", "fit_cornac", "from_cornac", "train_amr", "train_vbpr"]

_log = logging.getLogger(__name__)

Layout = Literal["vbpr", "amr"]
SUPPORTED: dict[str, Layout] = {"VBPR": "vbpr", "AMR": "amr"}


@dataclass(frozen=True)
class CornacIds:
    """pixelpush ids <-> Cornac's internal indices (-1: Cornac does not know it)."""

    users: np.ndarray
    """Cornac's index of each pixelpush user ``(n_users,)``."""
    items: np.ndarray
    """Cornac's index of each pixelpush item ``(n_items,)``."""

    @classmethod
    def build(cls, train_set: Any, user_ids: Sequence[Any], item_ids: Sequence[Any]) -> CornacIds:
        """From a Cornac train set's ``uid_map``/``iid_map`` and the raw id of every pixelpush user and item."""
        users = np.array([train_set.uid_map.get(u, -1) for u in user_ids], dtype=np.int64)
        items = np.array([train_set.iid_map.get(i, -1) for i in item_ids], dtype=np.int64)
        return cls(users, items)

    def known_items(self) -> np.ndarray:
        """pixelpush ids of the items Cornac knows."""
        return np.flatnonzero(self.items >= 0)


class CornacVisual(FactorModel):
    """A trained Cornac VBPR or AMR whose scores follow the current features (see the module doc).

    Build it with :func:`from_cornac`. Raw image-model features go in; `normaliser` maps them to
    the features Cornac was trained on (identity if Cornac saw raw features).
    """

    kind: ClassVar[str] = "cornac-visual"
    config_class: ClassVar[type[FactorConfig]] = FactorConfig

    def __init__(
        self,
        layout: Layout,
        params: dict[str, np.ndarray],
        ids: CornacIds,
        *,
        n_features: int,
        lambda_user: float,
        normaliser: FeatureNormaliser | None = None,
    ) -> None:
        n_users, n_items = len(ids.users), len(ids.items)
        super().__init__(max(n_users, 1), n_items, n_features, FactorConfig(lambda_user=lambda_user), seed=0)
        del self._gen  # no random initialisation: every parameter comes from Cornac
        self.layout: Layout = layout
        self.ids = ids
        if normaliser is not None:
            self.set_feature_scale(normaliser.scale, normaliser.center)

        def rows(table: np.ndarray | None, index: np.ndarray, width: int) -> torch.Tensor:
            out = torch.zeros(len(index), width)
            known = index >= 0
            if table is not None and known.any():
                out[torch.from_numpy(np.flatnonzero(known))] = torch.from_numpy(np.asarray(table, np.float32)[index[known]])
            return out

        k = params["gamma_user"].shape[1]
        self.gamma_user = nn.Parameter(rows(params["gamma_user"], ids.users, k), requires_grad=False)
        self.gamma_item = nn.Parameter(rows(params["gamma_item"], ids.items, k), requires_grad=False)
        self.embedding = nn.Parameter(torch.from_numpy(np.asarray(params["embedding"], np.float32).copy()), requires_grad=False)
        if layout == "vbpr":
            k2 = params["theta_user"].shape[1]
            self.theta_user = nn.Parameter(rows(params["theta_user"], ids.users, k2), requires_grad=False)
            self.beta_item = nn.Parameter(rows(params["beta_item"].reshape(-1, 1), ids.items, 1)[:, 0], requires_grad=False)
            self.beta_visual = nn.Parameter(torch.from_numpy(np.asarray(params["beta_visual"], np.float32).reshape(-1).copy()), requires_grad=False)
        if self.embedding.shape[0] != n_features:
            raise DataError(f"Cornac's E has {self.embedding.shape[0]} rows, the features have {n_features} dimensions")

    def user_parameters(self) -> list[tuple[nn.Parameter, float]]:
        lam = self.config.lambda_user
        if self.layout == "vbpr":
            return [(self.gamma_user, lam), (self.theta_user, lam)]
        return [(self.gamma_user, lam)]

    def item_terms(self, items: torch.Tensor, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        visual = scaled @ self.embedding
        if self.layout == "vbpr":
            bias = self.beta_item[items] + scaled @ self.beta_visual
            return bias, torch.cat([self.gamma_item[items], visual], dim=1)
        return torch.zeros(len(items), dtype=visual.dtype), self.gamma_item[items] + visual

    def item_penalty(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:  # noqa: ARG002 - never trained here
        return torch.zeros(())

    def batch_difference(self, batch: TripleBatch) -> torch.Tensor:  # noqa: ARG002 - never trained here
        raise ConfigError("a Cornac model is trained by Cornac: pixelpush only scores and folds in with it")

    def l2_weights(self) -> dict[str, float]:
        return {}  # never trained here

    def refit_users(self, users: np.ndarray, histories: Sequence[np.ndarray], features: torch.Tensor) -> None:
        """Replace the vectors of `users` by their fold-in from `histories` (users Cornac never saw)."""
        n = self.n_users
        for user, history in zip(np.asarray(users).tolist(), histories):
            self.fold_in(np.asarray(history, dtype=np.int64), features, seed=int(user))
            with torch.no_grad():
                for table, _ in self.user_parameters():
                    table.data[user] = table.data[-1]
                    table.data = table.data[:n]


def _parameters(model: Any) -> tuple[Layout, dict[str, np.ndarray], float]:
    name = type(model).__name__
    if name not in SUPPORTED:
        raise ConfigError(f"no pixelpush adapter for Cornac's {name}; supported: {', '.join(SUPPORTED)}")
    layout = SUPPORTED[name]
    if getattr(model, "emb_matrix", None) is None or getattr(model, "gamma_user", None) is None:
        raise ConfigError(f"the Cornac {name} is not trained (fit it first)")
    params = {"gamma_user": model.gamma_user, "gamma_item": model.gamma_item, "embedding": model.emb_matrix}
    if layout == "vbpr":
        params |= {"theta_user": model.theta_user, "beta_item": model.beta_item, "beta_visual": model.beta_prime}
    return layout, params, float(model.lambda_w) / 2


def from_cornac(
    model: Any,
    train_set: Any,
    *,
    user_ids: Sequence[Any],
    item_ids: Sequence[Any],
    features: np.ndarray | torch.Tensor,
    histories: Sequence[np.ndarray] | None = None,
    normaliser: FeatureNormaliser | None = None,
) -> CornacVisual:
    """A trained Cornac VBPR or AMR as a pixelpush recommender.

    Args:
        model: the fitted Cornac model.
        train_set: the ``cornac.data.Dataset`` it was fitted on (its ``uid_map``/``iid_map``).
        user_ids: the raw id Cornac was given for each pixelpush user ``0..n_users-1``.
        item_ids: the raw id Cornac was given for each pixelpush item ``0..n_items-1``.
        features: raw catalog features ``(n_items, d)`` (for folding in users Cornac never saw).
        histories: each pixelpush user's consumed items; needed only if Cornac misses a user.
        normaliser: maps raw features to the ones Cornac was trained on (None: it saw raw features).
    """
    layout, params, lambda_user = _parameters(model)
    ids = CornacIds.build(train_set, user_ids, item_ids)
    feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
    adapter = CornacVisual(layout, params, ids, n_features=feats.shape[1], lambda_user=lambda_user, normaliser=normaliser)
    unknown_users = np.flatnonzero(ids.users < 0)
    unknown_items = np.flatnonzero(ids.items < 0)
    if len(unknown_items):
        _log.info("%d catalog items are unknown to Cornac: scored from their images only", len(unknown_items))
    if len(unknown_users):
        if histories is None:
            raise DataError(f"{len(unknown_users)} users are unknown to Cornac (first {int(unknown_users[0])}): pass their histories")
        _log.info("folding in %d users unknown to Cornac from their histories", len(unknown_users))
        adapter.refit_users(unknown_users, [histories[int(u)] for u in unknown_users], feats)
    return adapter


@dataclass(frozen=True)
class CornacFit:
    """A Cornac model fitted on a campaign's training split, with what the adapter needs."""

    model: Any
    train_set: Any
    user_ids: list[str]
    item_ids: list[str]
    normaliser: FeatureNormaliser | None

    def adapter(self, features: np.ndarray, histories: Sequence[np.ndarray]) -> CornacVisual:
        """The fitted model as a pixelpush recommender (:func:`from_cornac`)."""
        return from_cornac(
            self.model, self.train_set, user_ids=self.user_ids, item_ids=self.item_ids, features=features,
            histories=histories, normaliser=self.normaliser,
        )


def fit_cornac(cls_name: str, context: Any, *, normalise: bool = True, **options: Any) -> CornacFit:
    """Fit ``cornac.models.<cls_name>`` on ``context.split.train`` (raw ids: the dense ids as strings).

    `context` is a :class:`pixelpush.integrations.factory.ModelContext`; `options` go to the
    Cornac model's constructor (``verbose`` defaults to False, ``seed`` to the context's).
    """
    import cornac
    from cornac.data import Dataset as CornacDataset
    from cornac.data import ImageModality

    data, split = context.dataset, context.split
    features = np.asarray(context.features, dtype=np.float32)
    normaliser = FeatureNormaliser.fit(torch.from_numpy(features)) if normalise else None
    given = normaliser(torch.from_numpy(features)).numpy() if normaliser is not None else features
    user_ids = [str(u) for u in range(data.n_users)]
    item_ids = [str(i) for i in range(data.n_items)]
    seed = int(context.seed % (2**31))
    train_set = CornacDataset.build([(user_ids[u], item_ids[i], 1.0) for u, i in split.train.tolist()], seed=seed)
    image = ImageModality(features=given, ids=item_ids, normalized=False)
    train_set.add_modalities(item_image=image.build(id_map=train_set.iid_map))
    model = getattr(cornac.models, cls_name)(**{"verbose": False, "seed": seed, **options})
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):  # Cornac prints "Optimization finished!"
        model.fit(train_set)
    if chatter.getvalue().strip():
        _log.debug("cornac: %s", chatter.getvalue().strip())
    return CornacFit(model, train_set, user_ids, item_ids, normaliser)


def train_vbpr(context: Any, *, normalise: bool = True, **options: Any) -> CornacVisual:
    """Factory: a Cornac VBPR fitted on the campaign's training split, as a pixelpush recommender.

    `options` go to ``cornac.models.VBPR`` (``k``, ``k2``, ``n_epochs``, ``lambda_w``, ...).
    With `normalise`, Cornac is given ``(f - mean) / mean norm`` features (raw SqueezeNet features
    make its training unstable) and the adapter applies the same map to every upload's features.
    """
    fit = fit_cornac("VBPR", context, normalise=normalise, **{"n_epochs": 10, **options})
    return fit.adapter(np.asarray(context.features), context.dataset.histories)


def train_amr(context: Any, *, normalise: bool = True, **options: Any) -> CornacVisual:
    """Factory: a Cornac AMR (VBPR trained against adversarial feature perturbations), likewise."""
    fit = fit_cornac("AMR", context, normalise=normalise, **{"n_epochs": 10, **options})
    return fit.adapter(np.asarray(context.features), context.dataset.histories)
