"""A campaign's configuration: a typed, validated TOML file (one per paper experiment)."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pixelpush.errors import ConfigError

AttackName = Literal["wb", "bb-score", "bb-rank", "bb-partial", "baseline-swap", "baseline-blend"]
ThreatName = Literal["specific-user", "segment", "general"]
RECOMMENDER_KINDS: tuple[str, ...] = ("bpr", "vbpr", "deepstyle")
RecommenderName = str
"""A recommender kind (``bpr``, ``vbpr``, ``deepstyle``) or a variant ``KIND:LABEL`` whose
settings are ``training.options["KIND:LABEL"]`` (e.g. ``vbpr:low-visual-reg``)."""


def recommender_kind(name: str) -> str:
    """The model kind of a recommender name (``vbpr:low-visual-reg`` -> ``vbpr``)."""
    return name.split(":", 1)[0]


def _check_recommenders(names: list[str]) -> list[str]:
    for name in names:
        kind, _, label = name.partition(":")
        if kind not in RECOMMENDER_KINDS or (":" in name and not label.replace("-", "").replace("_", "").isalnum()):
            raise ValueError(f"unknown recommender {name!r}: use bpr, vbpr, deepstyle or KIND:LABEL (letters, digits, - and _)")
    return names
BLACK_BOX: frozenset[str] = frozenset({"bb-score", "bb-rank", "bb-partial"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class DatasetConfig(_Strict):
    name: str = "fashion"
    """Dataset name (``fashion``, ``movielens-posters``, ``amazon-clothing``, ``amazon-electronics``)."""
    root: str | None = None
    """Folder of a dataset that is not embedded (relative paths are taken from the config's folder)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options of the dataset's loader (e.g. ``min_rating`` for MovieLens)."""


class ImageModelConfig(_Strict):
    name: str = "squeezenet1_1"
    """The public image model (IC): ``squeezenet1_1`` (embedded weights) or ``resnet50``."""
    weights: str | None = "default"
    """``default`` (embedded or torchvision's), a local weights file, or none for random weights."""
    input_size: int | None = 112
    """Side of the model's square input; uploads are resized to it. None: the model's default."""
    batch_size: int = Field(64, ge=1)
    """Images per forward pass during feature extraction."""
    dtype: Literal["float32", "float16"] = "float32"
    """Storage type of the cached catalog features."""


class TrainingConfig(_Strict):
    models: list[RecommenderName] = ["bpr", "vbpr", "deepstyle"]
    """Recommenders to train (BPR is always trained too: it is the visual gain's reference)."""
    epochs: int | None = None
    """Maximum epochs (None: each model's default); early stopping on validation AUC applies."""
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-model overrides of its config fields, e.g. ``{vbpr = {lambda_visual = 1e-3}}``; a key
    ``"vbpr:LABEL"`` defines a variant that experiments can attack by that name."""

    @field_validator("models")
    @classmethod
    def _known_models(cls, v: list[str]) -> list[str]:
        return _check_recommenders(v)


class ExperimentConfig(_Strict):
    """One group of attack configurations: the product of its lists, each run on `pairs` pairs."""

    name: str = "main"
    """A label for the group (appears in results as ``experiment``)."""
    recommenders: list[RecommenderName] = ["vbpr"]
    """Attacked recommenders."""
    attacks: list[AttackName] = ["wb", "bb-score", "bb-rank", "bb-partial"]
    """Attacks to run."""
    threat_models: list[ThreatName] = ["specific-user"]
    """Threat models to run."""
    perturbations: list[int] = [32]
    """d', perturbations per black-box step (ignored by WB and baselines)."""
    steps: int = Field(20, ge=1, le=1000)
    """Attack steps per pair."""
    pairs: int = Field(20, ge=1)
    """Pairs per configuration (drawn by seed, shared across attacks and recommenders)."""
    epsilon: int = Field(1, ge=1, le=255)
    """Step size in intensity levels (the paper: 1)."""
    radius: int = Field(7, ge=1, le=128)
    """δ, the radius of the black-box perturbations in intensity levels."""
    estimator: Literal["min-norm", "min-norm-intercept"] = "min-norm"
    """Feature-gradient estimator: the paper's minimum-norm least squares, or with an intercept."""
    rank_to_score: Literal["uniform", "probit"] = "uniform"
    """How BB-Rank maps ranks to scores: the paper's ``1 - r/N`` or the probit of the quantile."""
    blend_epsilons: list[float] = [0.01, 0.05, 0.1]
    """ε values of the blend baseline (one configuration each)."""
    n_mock_users: int = Field(200, ge=1)
    """General population: single-item mock users."""
    percentile: float = Field(0.25, ge=0.0, le=1.0)
    """General population: the active user's percentile among mock users, best-placed first."""
    n_eval_users: int = Field(1000, ge=1)
    """General population: random real users HR is measured on."""
    images_saved: int = Field(3, ge=0)
    """Pairs per configuration whose original and attacked uploads are saved as PNG."""

    @field_validator("recommenders")
    @classmethod
    def _known_recommenders(cls, v: list[str]) -> list[str]:
        return _check_recommenders(v)

    @field_validator("perturbations")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if not v or any(d < 1 for d in v):
            raise ValueError("perturbations must be a non-empty list of positive integers")
        return v

    def units(self) -> list[dict[str, Any]]:
        """Every attack configuration of this group (without the pair index)."""
        out = []
        for rec, attack, threat in itertools.product(self.recommenders, self.attacks, self.threat_models):
            if attack in BLACK_BOX:
                variants = [{"perturbations": d} for d in self.perturbations]
            elif attack == "baseline-blend":
                variants = [{"perturbations": 0, "blend_epsilon": e} for e in self.blend_epsilons]
            else:
                variants = [{"perturbations": 0}]
            for v in variants:
                out.append({"experiment": self.name, "recommender": rec, "attack": attack, "threat_model": threat, **v})
        return out


class CampaignConfig(_Strict):
    """A whole campaign: dataset, image model, recommenders, and the experiments to run."""

    seed: int = 0
    """The one seed every random choice derives from."""
    dataset: DatasetConfig = DatasetConfig()
    image_model: ImageModelConfig = ImageModelConfig()
    training: TrainingConfig = TrainingConfig()
    visible_fraction: float = Field(0.01, gt=0, le=1)
    """Partial ranking: the visible share of each ranking (the paper: top 1%)."""
    cache_dir: str = ".cache/pixelpush"
    """Where features are cached (relative to the working directory)."""
    experiments: list[ExperimentConfig] = [ExperimentConfig()]
    """The groups of attack configurations to run."""

    @model_validator(mode="after")
    def _variants_are_defined(self) -> CampaignConfig:
        names = {*self.training.models, *(r for e in self.experiments for r in e.recommenders)}
        missing = sorted(n for n in names if ":" in n and n not in self.training.options)
        if missing:
            raise ValueError(f"recommender variants {missing} need their settings in training.options")
        return self


def load_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign TOML file; any problem is a ConfigError naming the file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    root = raw.get("dataset", {}).get("root")
    if root and not Path(root).is_absolute():
        raw["dataset"]["root"] = str((path.parent / root).resolve())
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], *, source: str = "config") -> CampaignConfig:
    """Validate a config dict; errors name the field."""
    try:
        return CampaignConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{source}: {problems}") from None
