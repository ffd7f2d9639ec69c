"""``pixelpush check-model``: build a user's model as a campaign would and run the contract on it.

The checks are :data:`pixelpush.recommenders.contract.CHECKS`; the saturation check gets
*measured* feature changes here: the public image model's features of uploads perturbed as a
black-box probe perturbs them (uniform noise of ±`radius` intensity levels), minus the
features of the unperturbed uploads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pixelpush.errors import ConfigError
from pixelpush.evaluation.config import CampaignConfig
from pixelpush.evaluation.preparation import CampaignInputs, build_loaded
from pixelpush.recommenders.evaluation import auc
from pixelpush.random import numpy_rng
from pixelpush.recommenders.contract import CHECKS, Violation, check_recommender
from pixelpush.recommenders.split import campaign_split

__all__ = ["ModelCheck", "check_models", "measured_deltas", "models_to_check"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCheck:
    """The outcome of checking one model: every check's name, and the violations."""

    model: str
    checks: tuple[str, ...]
    violations: tuple[Violation, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"model", "ok", "checks": {name: "ok" | problem}, "notes"}``."""
        problems = {v.check: v.problem for v in self.violations}
        return {
            "model": self.model,
            "ok": self.ok,
            "checks": {name: problems.get(name, "ok") for name in self.checks},
            "notes": list(self.notes),
        }


def measured_deltas(
    inputs: CampaignInputs, items: np.ndarray, *, probes: int = 8, radius: int = 7, seed: int = 0
) -> torch.Tensor:
    """Feature changes ``(len(items), probes, d)`` of uploads perturbed by ±`radius` levels."""
    rng = numpy_rng(seed, "check-model", "probes")
    out = []
    for item in np.asarray(items).tolist():
        image = inputs.dataset.images.get(int(item)).astype(np.int16)
        noise = rng.integers(-radius, radius + 1, size=(probes, *image.shape))
        batch = np.clip(image[None] + noise, 0, 255).astype(np.uint8)
        feats = inputs.image_model.extract([image.astype(np.uint8), *batch])
        out.append(torch.from_numpy(feats[1:] - feats[:1]))
    return torch.stack(out)


def models_to_check(config: CampaignConfig, names: list[str] | None = None) -> list[str]:
    """The loaded models of `config` to check (`names`, checked, or all of them); ConfigError if none."""
    loaded = [n for n in dict.fromkeys([*config.models, *(r for e in config.experiments for r in e.recommenders)])
              if config.model_spec(n) is not None]
    names = list(names) if names else loaded
    if not names:
        raise ConfigError("the config defines no model to check: add a [models.NAME] table with a factory")
    for name in names:
        if name not in loaded and (name not in config.models and config.model_entry(name).trained):
            raise ConfigError(f"{name!r} is a model pixelpush trains; check-model checks loaded models ([models.NAME] tables)")
    return names


def check_models(config: CampaignConfig, inputs: CampaignInputs, names: list[str] | None = None) -> list[ModelCheck]:
    """Build each loaded model of `config` (all of them by default) and run the contract checks."""
    names = models_to_check(config, names)
    dataset = inputs.dataset
    split = campaign_split(dataset.interactions, dataset.n_users, dataset.n_items, seed=config.seed)
    feats = torch.from_numpy(inputs.features)
    items = np.linspace(0, dataset.n_items - 1, min(8, dataset.n_items)).astype(np.int64)
    deltas = measured_deltas(inputs, items, seed=config.seed)
    out = []
    for name in names:
        spec = config.model_spec(name)
        assert spec is not None
        if spec.service is not None:
            out.append(ModelCheck(name, (), notes=("a remote service: the Recommender contract does not apply; "
                                                   "the audit checks what the service answers as it runs",)))
            continue
        model = build_loaded(name, spec, inputs, config, split)
        violations = check_recommender(model, feats, dataset.histories, visual=spec.visual, deltas=(items, deltas))
        notes: tuple[str, ...] = ()
        if not violations:
            with torch.inference_mode():
                notes = (f"AUC on the campaign's held-out items: {auc(model, feats, split.test, split.all_positives):.4f}",)
        out.append(ModelCheck(name, tuple(CHECKS), tuple(violations), notes))
    return out
