"""The recommender contract, as executable checks: what the platform, the campaigns and the attacks
rely on from anything that scores items from their image features.

The interface is :class:`pixelpush.recommenders.base.Recommender`. What the rest of pixelpush
assumes of it, and what :func:`check_recommender` verifies on a user's model:

- ``n_users`` and ``n_items`` are ints; ``n_items`` is the catalog size.
- ``score(users (U,), items (I,), features (I, d))`` returns a finite ``(U, I)`` tensor. It is
  called with up to 64 users x all items (rank index, evaluation) and with 1 user x B
  candidate rows of *one* item (probes: `items` repeats that item, each row its own features):
  each column must depend on its own feature row only, so a probe's score equals the item's
  score had its features been that row.
- A visual model's scores follow the features passed in (never cached: an upload must change
  them), and are differentiable in them (the white-box attack, the diagnostics); the platform
  calls ``score`` under ``torch.inference_mode()``, the white-box handle under autograd.
- ``fold_in(history, features, seed=...)`` adds one user who consumed `history`, learning only
  that user's parameters from the *live* features tensor (which it must not modify), returns the
  old ``n_users`` as the new id and grows ``n_users`` by one; it is deterministic for a seed.
- The campaign deep-copies the model for every unit: a copy scores as the original, and folding
  users into the copy leaves the original unchanged.
- Scores move under *realistic* feature changes, the size an upload's perturbation makes (a
  model that feeds raw image-model features, norms in the hundreds, to a tanh or a sigmoid
  saturates: nothing an upload does moves its scores, which is numbness, not robustness). Normalise
  raw features first (:class:`pixelpush.recommenders.scaling.FeatureNormaliser`).

Each check raises :class:`ContractViolation` naming what is wrong; :func:`check_recommender`
runs them all and returns the violations.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pixelpush.errors import PixelpushError
from pixelpush.random import numpy_rng
from pixelpush.recommenders.base import Recommender

__all__ = ["CHECKS", "ContractViolation", "Violation", "check_recommender", "realistic_deltas"]


class ContractViolation(PixelpushError, AssertionError):
    """A recommender breaks the contract (the message says how)."""


@dataclass(frozen=True)
class Violation:
    """One failed check: its name and what went wrong."""

    check: str
    problem: str


def _scores(model: Recommender, users: np.ndarray, items: np.ndarray, features: torch.Tensor) -> torch.Tensor:
    out = model.score(torch.as_tensor(users, dtype=torch.long), torch.as_tensor(items, dtype=torch.long), features)
    if not torch.is_tensor(out):
        raise ContractViolation(f"score() returned {type(out).__name__}, expected a torch tensor")
    if tuple(out.shape) != (len(users), len(items)):
        raise ContractViolation(f"score() for {len(users)} users x {len(items)} items returned shape {tuple(out.shape)}")
    if not torch.isfinite(out).all():
        raise ContractViolation("score() returned non-finite values")
    return out


def check_ids(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """``n_users`` and ``n_items`` are ints matching the catalog and the histories."""
    for name in ("n_users", "n_items"):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ContractViolation(f"{name} is {type(value).__name__}, expected int")
    if model.n_items != features.shape[0]:
        raise ContractViolation(f"n_items is {model.n_items}, the catalog has {features.shape[0]} items")
    if model.n_users != len(histories):
        raise ContractViolation(f"n_users is {model.n_users}, but {len(histories)} user histories exist")


def check_score_shapes(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """Scores of many users x all items, and of one user x B candidate rows of one item."""
    users = np.arange(min(64, model.n_users))
    items = np.arange(model.n_items)
    with torch.inference_mode():
        full = _scores(model, users, items, features)
        item = int(model.n_items // 2)
        rng = numpy_rng(0, "contract", "candidates")
        candidates = features[item][None].repeat(5, 1) * torch.from_numpy(rng.uniform(0.9, 1.1, (5, features.shape[1])).astype(np.float32))
        probe = _scores(model, users[:1], np.full(5, item), candidates.to(features.dtype))
        again = _scores(model, users[:1], np.asarray([item]), features[item][None])
    if not torch.allclose(again[0, 0], full[0, item], rtol=1e-4, atol=1e-5):
        raise ContractViolation("the score of one item differs from its column in a full score matrix")
    for b in range(5):
        with torch.inference_mode():
            alone = _scores(model, users[:1], np.asarray([item]), candidates[b][None].to(features.dtype))
        if not torch.allclose(alone[0, 0], probe[0, b], rtol=1e-4, atol=1e-5):
            raise ContractViolation("in a batch of candidate rows of one item, a score depends on the other rows")


def check_follows_features(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """Changing one item's features changes that item's scores (visual) and no other item's."""
    users = np.arange(min(8, model.n_users))
    items = np.arange(model.n_items)
    item = int(model.n_items // 3)
    changed = features.clone()
    changed[item] = features[item] * 1.5 + features.std(dim=0)
    with torch.inference_mode():
        before, after = _scores(model, users, items, features), _scores(model, users, items, changed)
    others = np.setdiff1d(items, [item])
    if not torch.allclose(before[:, others], after[:, others], rtol=1e-4, atol=1e-5):
        raise ContractViolation("changing one item's features changed other items' scores")
    moved = not torch.allclose(before[:, item], after[:, item], rtol=1e-6, atol=1e-7)
    if visual and not moved:
        raise ContractViolation("scores ignore the features passed in (cached item terms?): an upload would change nothing")
    if not visual and moved:
        raise ContractViolation("a model declared non-visual changed its scores with the features")


def check_differentiable(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """Under autograd, scores have finite gradients with respect to the features (visual: non-zero)."""
    if not visual:
        return
    item = int(model.n_items // 2)
    leaf = features[item][None].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        s = model.score(torch.tensor([0]), torch.tensor([item]), leaf)
        if not s.requires_grad:
            raise ContractViolation("score() is not differentiable in the features (no graph: detached or no_grad inside?)")
        (grad,) = torch.autograd.grad(s.sum(), leaf)
    if not torch.isfinite(grad).all() or not grad.abs().sum() > 0:
        raise ContractViolation("the score's gradient with respect to the features is zero or not finite")


def check_fold_in(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """fold_in returns the old n_users, grows n_users by one, does not modify the features."""
    model = copy.deepcopy(model)
    before, snapshot = model.n_users, features.clone()
    history = np.asarray(histories[0] if len(histories[0]) else [0], dtype=np.int64)
    uid = model.fold_in(history, features, seed=1)
    if isinstance(uid, bool) or not isinstance(uid, int | np.integer) or int(uid) != before:
        raise ContractViolation(f"fold_in returned {uid!r}, expected the new user's id {before} (the old n_users)")
    if model.n_users != before + 1:
        raise ContractViolation(f"after fold_in n_users is {model.n_users}, expected {before + 1}")
    if not torch.equal(features, snapshot):
        raise ContractViolation("fold_in modified the features tensor it was given (the platform's live features)")
    with torch.inference_mode():
        _scores(model, np.asarray([before]), np.arange(model.n_items), features)


def check_fold_in_deterministic(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """Two copies folding in the same history with the same seed score identically."""
    history = np.asarray(histories[-1] if len(histories[-1]) else [1], dtype=np.int64)
    rows = []
    for _ in range(2):
        clone = copy.deepcopy(model)
        uid = clone.fold_in(history, features, seed=7)
        with torch.inference_mode():
            rows.append(_scores(clone, np.asarray([int(uid)]), np.arange(clone.n_items), features))
    if not torch.equal(rows[0], rows[1]):
        raise ContractViolation("fold_in is not deterministic: the same history and seed gave different scores")


def check_deep_copy(model: Recommender, features: torch.Tensor, histories: list[np.ndarray], *, visual: bool) -> None:
    """A deep copy scores as the original; folding users into it leaves the original unchanged."""
    users, items = np.arange(min(8, model.n_users)), np.arange(model.n_items)
    with torch.inference_mode():
        original = _scores(model, users, items, features)
    clone = copy.deepcopy(model)
    n = model.n_users
    clone.fold_in(np.asarray([0], dtype=np.int64), features, seed=0)
    with torch.inference_mode():
        if not torch.equal(_scores(clone, users, items, features), original):
            raise ContractViolation("a deep copy scores differently from the original")
        if model.n_users != n or not torch.equal(_scores(model, users, items, features), original):
            raise ContractViolation("folding a user into a deep copy changed the original (shared state)")


def realistic_deltas(features: torch.Tensor, items: np.ndarray, *, probes: int = 8, size: float = 0.02, seed: int = 0) -> torch.Tensor:
    """Synthetic feature changes ``(len(items), probes, d)`` the size an upload's perturbation makes:
    `size` times each dimension's spread over the catalog, with random signs (no image model needed;
    ``pixelpush check-model`` measures real ones through the image model instead)."""
    rng = numpy_rng(seed, "contract", "deltas")
    spread = features.std(dim=0).numpy()
    noise = rng.standard_normal((len(items), probes, features.shape[1])).astype(np.float32)
    return torch.from_numpy(noise * spread * size).to(features.dtype)


def check_moves(
    model: Recommender,
    features: torch.Tensor,
    histories: list[np.ndarray],
    *,
    visual: bool,
    deltas: torch.Tensor | None = None,
    items: np.ndarray | None = None,
) -> None:
    """Scores move under realistic feature changes for most items (not saturated): `deltas`
    ``(len(items), B, d)`` are changes of `items`' features (default :func:`realistic_deltas` of 8
    spread items). An item's movement is its largest score change over the probes and users,
    relative to the users' score spread over the catalog; the median item must move 1e-4 of it."""
    if not visual:
        return
    if items is None:
        items = np.linspace(0, model.n_items - 1, min(8, model.n_items)).astype(np.int64)
    if deltas is None:
        deltas = realistic_deltas(features, items)
    users = np.arange(min(8, model.n_users))
    with torch.inference_mode():
        spread = _scores(model, users, np.arange(model.n_items), features).std(dim=1).clamp_min(1e-30)
        moved = []
        for k, item in enumerate(np.asarray(items).tolist()):
            base = _scores(model, users, np.asarray([item]), features[item][None])
            probed = _scores(model, users, np.full(len(deltas[k]), item), features[item][None] + deltas[k].to(features.dtype))
            moved.append(((probed - base).abs().amax(dim=1) / spread).amax())
    movement = torch.stack(moved)
    median = float(movement.median())
    if median < 1e-4:
        numb = int((movement < 1e-4).sum())
        raise ContractViolation(
            f"scores do not move under realistic feature changes ({numb} of {len(movement)} items checked moved less than "
            f"1e-4 of the score spread; median {median:.1e}): "
            "saturated on raw image features? normalise them first (pixelpush.recommenders.scaling.FeatureNormaliser); "
            "no black-box attack can see anything, and the model only looks robust"
        )


CHECKS: dict[str, Callable[..., None]] = {
    "ids": check_ids,
    "score shapes": check_score_shapes,
    "scores follow features": check_follows_features,
    "differentiable": check_differentiable,
    "fold-in": check_fold_in,
    "fold-in deterministic": check_fold_in_deterministic,
    "deep copy": check_deep_copy,
    "moves under realistic changes": check_moves,
}


def check_recommender(
    model: Recommender,
    features: torch.Tensor | np.ndarray,
    histories: list[np.ndarray],
    *,
    visual: bool = True,
    deltas: tuple[np.ndarray, torch.Tensor] | None = None,
) -> list[Violation]:
    """Run every contract check on `model` (catalog `features`, its users' `histories`); the violations.

    `deltas`, ``(items, changes (len(items), B, d))``, are measured feature changes for the
    saturation check (default: synthetic ones, :func:`realistic_deltas`).
    """
    feats = torch.as_tensor(np.asarray(features) if not torch.is_tensor(features) else features).to(torch.float32)
    problems = []
    for name, check in CHECKS.items():
        extra = {"items": deltas[0], "deltas": deltas[1]} if check is check_moves and deltas is not None else {}
        try:
            check(model, feats, histories, visual=visual, **extra)
        except ContractViolation as err:
            problems.append(Violation(name, str(err)))
        except Exception as err:  # noqa: BLE001 - a crash inside the user's model is a violation too
            problems.append(Violation(name, f"{type(err).__name__}: {err}"))
    return problems
