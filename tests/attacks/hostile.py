"""A hostile attack and the tools to see what it can reach (importable in an attack's own process).

This module imports only what an attack's process imports (``pixelpush.attacks``), so running
:class:`HostileAttack` in its own process loads nothing more than an ordinary attack does.
"""

from __future__ import annotations

import gc
import inspect
import pickle
import sys
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelpush.attacks import AttackContext, GradientSignAttack
from pixelpush.attacks.base import GradientEstimate
from pixelpush.vision.image_model import ImageModel

FORBIDDEN_NAMES = {
    "Platform", "Recommender", "FeatureMemo", "WhiteBoxHandle", "Evaluator", "Dataset", "RankIndex", "Preparation",
    "TanhVisualRec", "VBPR", "DeepStyle", "BPR",
}
"""Types an attack must never reach: the platform's objects, the models, the experimenter's data."""


def reachable(root: Any, limit: int = 20000) -> list[Any]:
    """Every object reachable from `root` by attributes (``__dict__``, slots, properties),
    container items and module children: what an attack can get at without dunder tricks."""
    seen, out, todo = set(), [], [root]
    while todo and len(out) < limit:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None) | type):
            continue
        seen.add(id(obj))
        out.append(obj)
        if isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            todo += list(obj)
        elif isinstance(obj, np.ndarray | torch.Tensor) or inspect.isroutine(obj):
            continue
        else:
            todo += list(getattr(obj, "__dict__", {}).values())
            for klass in type(obj).__mro__:
                for slot in getattr(klass, "__slots__", ()):
                    if hasattr(obj, slot):
                        todo.append(getattr(obj, slot))
                for name, attr in vars(klass).items():
                    if isinstance(attr, property) and not name.startswith("__"):
                        try:
                            todo.append(getattr(obj, name))
                        except Exception:  # noqa: BLE001 - a property that refuses is no path
                            pass
            if isinstance(obj, nn.Module):
                todo += [*obj._parameters.values(), *obj._buffers.values(), *obj._modules.values()]
    return out


def _try(action) -> str:
    try:
        action()
    except Exception as err:  # noqa: BLE001
        return f"refused: {type(err).__name__}"
    return "done"


def break_out(ctx: AttackContext) -> dict[str, Any]:
    """Every escape a hostile attack tries; returns what happened (run in-process or in the child)."""
    view, client = ctx.view, ctx.client
    found = sorted({type(o).__name__ for o in reachable(ctx)} & FORBIDDEN_NAMES)
    outcomes = {"reachable forbidden types": found}
    outcomes["client._platform"] = _try(lambda: client._platform)
    outcomes["ctx.memo"] = _try(lambda: ctx.memo)
    outcomes["targeting.evaluation_users"] = _try(lambda: ctx.targeting.evaluation_users)
    outcomes["view.evaluation_users"] = _try(lambda: view.evaluation_users)
    outcomes["rebind client.access"] = _try(lambda: setattr(client, "access", "score"))
    outcomes["scores at rank access"] = _try(lambda: client.scores(ctx.targeting.user, [ctx.item]))
    outcomes["replace view.features"] = _try(lambda: setattr(view, "features", lambda images: np.zeros((len(images), 16))))
    outcomes["pickle the client"] = _try(lambda: pickle.dumps(client))
    # write into what it was given: its features (a copy), its model copy, its user records
    feats = view.features(ctx.image[None])
    feats[:] = 1e6
    with torch.no_grad():
        for p in view.image_model.parameters():
            p.zero_()
    view.history(ctx.targeting.user)[:] = 0
    outcomes["features after writing the copy"] = float(np.abs(view.features(ctx.image[None])).max())
    return outcomes


class HostileAttack(GradientSignAttack):
    """Tries to break out before its first step; then uploads one image through the client."""

    id = "hostile"
    accesses = ("rank",)

    def gradient(self, state: Any, user: int) -> GradientEstimate:
        outcomes = break_out(state.ctx)
        rng = np.random.default_rng(0)
        return GradientEstimate(pixel=rng.normal(size=state.image.shape), info={"outcomes": outcomes})


def child_memory() -> dict[str, Any]:
    """Run in the attack's process after the attack: what that process holds and has imported."""
    gc.collect()
    held = sorted({type(o).__name__ for o in gc.get_objects() if type(o).__name__ in FORBIDDEN_NAMES})
    modules = sorted(m for m in sys.modules if m.startswith(("pixelpush.platform.platform", "pixelpush.recommenders",
                                                               "pixelpush.evaluation", "pixelpush.data", "conftest")))
    return {"held": held, "modules": modules}


class PooledIC(ImageModel):
    """A small public image model defined outside conftest, so unpickling it in an attack's process
    imports nothing of the test world (average-pooled pixels through a fixed linear map)."""

    name = "pooled-ic"
    feature_dim = 16

    def __init__(self) -> None:
        super().__init__(input_size=32)
        gen = torch.Generator().manual_seed(0)
        self.proj = nn.Parameter(torch.randn(3 * 4 * 4, 16, generator=gen) / 4.0, requires_grad=False)
        self.freeze()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb / 255.0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(nn.functional.avg_pool2d(x, 8).flatten(1) @ self.proj)
