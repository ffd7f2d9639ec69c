"""The defense components' typed configs: what each one changes on the platform or in training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pixelpush.errors import ConfigError
from pixelpush.platform.ingest import Pipeline, parse_pipeline

__all__ = ["AdversarialTraining", "IngestTransforms", "VisualRegularisation"]


@dataclass(frozen=True)
class IngestTransforms:
    """Input transformations at ingest: the platform runs `transforms` on every upload and on the
    catalog's images (the recommender is trained and scored on the processed images' features)."""

    transforms: list[dict[str, Any]] = field(default_factory=list)
    """The pipeline, in order: tables ``{op = "jpeg", quality = 75}`` (see :mod:`pixelpush.platform.ingest`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.transforms, list) or not self.transforms:
            raise ConfigError("transforms must be a non-empty list of transform tables")
        object.__setattr__(self, "_pipeline", parse_pipeline(self.transforms))

    @property
    def pipeline(self) -> Pipeline:
        return self._pipeline  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AdversarialTraining:
    """AMR adversarial training of the visual models (:mod:`pixelpush.recommenders.adversarial`)."""

    epsilon: float = 0.5
    """The worst-case item-feature perturbation's L2 norm, relative to the mean feature norm."""
    weight: float = 1.0
    """The adversarial loss term's weight."""

    def __post_init__(self) -> None:
        if not self.epsilon > 0 or not self.weight > 0:
            raise ConfigError(f"epsilon and weight must be positive, got {self.epsilon}, {self.weight}")


@dataclass(frozen=True)
class VisualRegularisation:
    """The L2 weight on the visual terms (VBPR's and DeepStyle's ``lambda_visual``), as a knob."""

    lambda_visual: float = 0.01
    """Replaces the model's ``lambda_visual``."""

    def __post_init__(self) -> None:
        if not self.lambda_visual >= 0:
            raise ConfigError(f"lambda_visual must be non-negative, got {self.lambda_visual}")
