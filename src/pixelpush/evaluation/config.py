"""A campaign's configuration: a typed, validated TOML file (one per paper experiment).

Validation is strict and complete before anything runs: unknown keys, values of the wrong type
(``steps = "3"``), unknown attacks, threat models or recommenders, attack or model options
that the component does not take, and duplicate experiment names are all refused when the
config is loaded, with a :class:`~pixelpush.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from pixelpush.errors import ConfigError
from pixelpush.registry import split_variant

RecommenderName = str
"""A recommender id (``bpr``, ``vbpr``, ``deepstyle``, ``cornac-vbpr``), a variant ``ID:LABEL``
whose settings are ``training.options["ID:LABEL"]`` (e.g. ``vbpr:low-visual-reg``), or the name
of a loaded model defined in the config's ``[models.NAME]`` tables."""

_CONFIG_MODELS = "models"
"""The validation-context key that holds the names of the config's ``[models.NAME]`` tables."""


def recommender_kind(name: str) -> str:
    """The model id of a recommender name (``vbpr:low-visual-reg`` -> ``vbpr``)."""
    return split_variant(name)[0]


def _known(registry_name: str, names: list[str], defined: frozenset[str] = frozenset()) -> list[str]:
    from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS
    from pixelpush.recommenders.registry import RECOMMENDERS

    registry = {"attack": ATTACKS, "threat model": THREAT_MODELS, "recommender": RECOMMENDERS}[registry_name]
    for name in names:
        if name in defined:
            continue
        try:
            registry.get(name)  # ConfigError naming the unknown one and the known ids
        except ConfigError as err:
            if defined:
                raise ConfigError(f"{err}; defined in [models]: {', '.join(sorted(defined))}") from None
            raise
    if registry_name == "threat model" and any(":" in n for n in names):
        raise ValueError("threat models take no variants")
    return names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)


class DatasetConfig(_Strict):
    name: str = "fashion"
    """Dataset name (``fashion``, ``movielens-posters``, ``amazon-clothing``, ``amazon-electronics``)."""
    root: str | None = None
    """Folder of a dataset that is not embedded (relative paths are taken from the config's folder)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options of the dataset's loader (e.g. ``min_rating`` for MovieLens)."""

    @model_validator(mode="after")
    def _known_dataset(self) -> DatasetConfig:
        from pixelpush.data.registry import check_dataset_options

        check_dataset_options(self.name, self.options)
        return self


class ImageModelConfig(_Strict):
    name: str = "squeezenet1_1"
    """The public image model (IC): ``squeezenet1_1`` (embedded weights) or ``resnet50``."""
    weights: str | None = "default"
    """``default`` (embedded or torchvision's), a local weights file, or none for random weights."""
    input_size: int | None = Field(112, ge=32)
    """Side of the model's square input; uploads are resized to it. None: the model's default."""
    batch_size: int = Field(64, ge=1)
    """Images per forward pass during feature extraction."""
    dtype: Literal["float32", "float16"] = "float32"
    """Storage type of the cached catalog features."""


class TrainingConfig(_Strict):
    models: list[RecommenderName] = ["bpr", "vbpr", "deepstyle"]
    """Recommenders to train (BPR is always trained too: it is the visual gain's reference)."""
    epochs: int | None = Field(None, ge=1)
    """Maximum epochs (None: each model's default); early stopping on validation AUC applies."""
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-model overrides of its config fields, e.g. ``{vbpr = {lambda_visual = 1e-3}}``; a key
    ``"vbpr:LABEL"`` defines a variant that experiments can attack by that name. Fields of the
    training loop (``lr``, ``batch_size``, ``patience``, ...) may be set here too."""

    @field_validator("models")
    @classmethod
    def _known_models(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return _known("recommender", v, _defined_models(info))


class ExperimentConfig(_Strict):
    """One group of attack configurations: the product of its lists, each run on `pairs` pairs."""

    name: str = Field("main", min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """A label for the group (appears in results as ``experiment``; letters, digits, ``_ . -``)."""
    recommenders: list[RecommenderName] = Field(["vbpr"], min_length=1)
    """Attacked recommenders."""
    attacks: list[str] = Field(["wb", "bb-score", "bb-rank", "bb-partial"], min_length=1)
    """Attacks to run: registry ids (``pixelpush.attacks.registry``) or variants ``ID:LABEL``."""
    attack_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-attack hyperparameters by attack name (``{"bb-rank:probit" = {rank_to_score = "probit"}}``)."""
    threat_models: list[str] = Field(["specific-user"], min_length=1)
    """Threat models to run (``specific-user``, ``segment``, ``general``)."""
    perturbations: list[int] = Field([32], min_length=1)
    """d', perturbations per black-box step (one configuration each; ignored by WB and baselines)."""
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
    blend_epsilons: list[float] = Field([0.01, 0.05, 0.1], min_length=1)
    """ε values of the blend baseline (one configuration each), each in (0, 1]."""
    n_mock_users: int = Field(200, ge=1)
    """General population: single-item mock users."""
    percentile: float = Field(0.25, ge=0.0, le=1.0)
    """General population: the active user's percentile among mock users, best-placed first."""
    n_eval_users: int = Field(1000, ge=1)
    """General population: random real users HR is measured on."""
    images_saved: int = Field(3, ge=0)
    """Pairs per configuration whose original and attacked uploads are saved as PNG."""
    defenses: list[str] = Field(["none"], min_length=1)
    """Defenses to run every configuration under: ``none`` or names of the campaign's ``[defenses]``."""

    @field_validator("recommenders")
    @classmethod
    def _known_recommenders(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return _known("recommender", v, _defined_models(info))

    @field_validator("attacks")
    @classmethod
    def _known_attacks(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"an attack is listed twice in {v}")
        return _known("attack", v)

    @field_validator("threat_models")
    @classmethod
    def _known_threats(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a threat model is listed twice in {v}")
        return _known("threat model", v)

    @field_validator("perturbations")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(d < 1 for d in v):
            raise ValueError("perturbations must be positive integers")
        return v

    @field_validator("blend_epsilons")
    @classmethod
    def _blend_range(cls, v: list[float]) -> list[float]:
        if any(not 0.0 < e <= 1.0 for e in v):
            raise ValueError(f"blend epsilons must be in (0, 1], got {v}")
        return v

    @model_validator(mode="after")
    def _options_are_for_listed_attacks(self) -> ExperimentConfig:
        stray = sorted(set(self.attack_options) - set(self.attacks))
        if stray:
            raise ValueError(f"attack_options for {stray}, which are not in attacks {self.attacks}")
        missing = sorted(a for a in self.attacks if ":" in a and a not in self.attack_options)
        if missing:
            raise ValueError(f"attack variants {missing} need their settings in attack_options")
        for name in self.attacks:  # build each once: bad options fail now, not after training
            for sweep in self.sweep(name):
                self.build_attack(name, sweep)
        return self

    # -- what the experiment runs ------------------------------------------------------------
    def common_settings(self) -> dict[str, Any]:
        """Settings every attack of the group may take (each takes the ones it knows)."""
        from pixelpush.attacks.estimators import MinNormLeastSquares

        return {
            "steps": self.steps,
            "epsilon": self.epsilon,
            "radius": self.radius,
            "rank_to_score": self.rank_to_score,
            "estimator": MinNormLeastSquares(intercept=self.estimator == "min-norm-intercept"),
        }

    def sweep(self, attack: str) -> list[dict[str, Any]]:
        """The configurations of `attack` this group makes: one per value of its sweep list (e.g.
        ``perturbations``), or the one value its ``attack_options`` fix (``bb-rank:few =
        {perturbations = 4}``), which the sweep would otherwise silently override."""
        from pixelpush.attacks.registry import ATTACKS

        entry = ATTACKS.get(attack)
        if entry.sweep is None:
            return [{}]
        field, parameter = entry.sweep
        own = self.attack_options.get(attack, {})
        if parameter in own:  # a variant that fixes the swept setting runs at its own value only
            return [{parameter: own[parameter]}]
        return [{parameter: value} for value in getattr(self, field)]

    def build_attack(self, attack: str, sweep: dict[str, Any]) -> Any:
        """The attack object of one configuration of this group."""
        from pixelpush.attacks.registry import build_attack

        options = {**self.attack_options.get(attack, {}), **sweep}
        return build_attack(attack, self.common_settings(), options)

    def build_threat_model(self, threat_model: str) -> Any:
        """The threat model object of this group."""
        from pixelpush.attacks.registry import build_threat_model

        return build_threat_model(threat_model, self.model_dump())

    def units(self) -> list[dict[str, Any]]:
        """Every attack configuration of this group (without the pair index)."""
        out = []
        for rec, defense, attack, threat in itertools.product(self.recommenders, self.defenses, self.attacks, self.threat_models):
            for sweep in self.sweep(attack):
                out.append({"experiment": self.name, "recommender": rec, "defense": defense, "attack": attack,
                            "threat_model": threat, "sweep": sweep})
        return out


def _defined_models(info: ValidationInfo) -> frozenset[str]:
    context = info.context if isinstance(info.context, dict) else {}
    return frozenset(context.get(_CONFIG_MODELS, ()))


_TARGET = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$"


class ModelConfig(_Strict):
    """A model pixelpush does not train: built by a user's factory, or reached as a remote service.

    Exactly one of `factory` and `service` (a registry id such as ``cornac-vbpr`` brings its own
    factory). See ``docs/model-interface.md`` and ``docs/remote-service.md``.
    """

    factory: str | None = Field(None, pattern=_TARGET)
    """``"module:function"``: called as ``function(context, **options)`` with a
    :class:`pixelpush.integrations.factory.ModelContext`; returns the recommender (the
    ``Recommender`` contract). The module is imported from `path` first."""
    service: str | None = None
    """A live system to audit through the black-box client: ``"http://127.0.0.1:PORT"`` (the
    wire protocol of ``docs/remote-service.md``) or ``"module:function"`` returning a
    :class:`pixelpush.integrations.remote.RecommenderService` (called as ``function(context, **options)``)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the factory (part of the model's recipe: changing one reruns its units)."""
    label: str | None = None
    """The model's name in reports (default: its name)."""
    visual: bool = True
    """Its scores read the items' image features (the contract checks hold it to that)."""
    gradients: bool | None = None
    """Its scores are differentiable in the features, so the white-box attack applies
    (None: yes for a factory, no for a service)."""
    path: str | None = None
    """Folder the factory's module is imported from (default: the config file's folder)."""
    timeout: float = Field(30.0, gt=0)
    """Service only: seconds to wait for one HTTP answer."""
    retries: int = Field(2, ge=0, le=10)
    """Service only: retries of a request that timed out, failed to connect or got a 5xx answer."""
    max_requests: int = Field(1_000_000, ge=1)
    """Service only: at most this many requests per unit of work (a bound on any loop)."""

    @field_validator("service")
    @classmethod
    def _service_target(cls, v: str | None) -> str | None:
        import re

        if v is None or v.startswith(("http://", "https://")) or re.match(_TARGET, v):
            return v
        raise ValueError(f"service must be an http(s):// URL or 'module:function', got {v!r}")

    @property
    def uses_gradients(self) -> bool:
        """Whether the white-box attack can run against this model."""
        return self.gradients if self.gradients is not None else self.service is None

    def recipe(self) -> dict[str, Any]:
        """What determines this model's numbers (not the timeouts, labels or import folder)."""
        return {"factory": self.factory, "service": self.service, "options": self.options, "visual": self.visual}


class CampaignConfig(_Strict):
    """A whole campaign: dataset, image model, recommenders, and the experiments to run."""

    seed: int = 0
    """The one seed every random choice derives from."""
    dataset: DatasetConfig = DatasetConfig()
    image_model: ImageModelConfig = ImageModelConfig()
    training: TrainingConfig = TrainingConfig()
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    """Models pixelpush loads instead of training, by name: a user's ``module:factory``, a remote
    service, or settings of a loaded registry model (``[models."cornac-vbpr"] options = {...}``)."""
    visible_fraction: float = Field(0.01, gt=0, le=1)
    """Partial ranking: the visible share of each ranking (the paper: top 1%)."""
    cache_dir: str = ".cache/pixelpush"
    """Where features are cached (relative to the working directory)."""
    isolation: Literal["none", "process"] = "none"
    """``process``: every attack without a white-box handle runs in its own process and reaches
    the platform only through messages (``pixelpush.attacks.isolation``); the numbers are the
    same as with ``none`` (one process, where the boundary is the attacker view's API)."""
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:[0-9]+)?)$")
    """Where the image model (feature extraction, the platform's and the attacker's forward
    passes and VJPs) and recommender training run: ``cpu``, ``cuda`` or ``cuda:N``. Results on
    a GPU agree with the CPU's within float32 rounding, not bit for bit, so the device is part of
    every unit's key and of the feature cache's identity (``pixelpush.devices``)."""
    experiments: list[ExperimentConfig] = Field([ExperimentConfig()], min_length=1)
    """The groups of attack configurations to run (at least one)."""
    defenses: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Named defenses: ``{name = {component id = settings}}`` (``pixelpush.defenses.registry``),
    e.g. ``{jpeg75 = {ingest = {transforms = [{op = "jpeg", quality = 75}]}}}``."""
    new_user_sample: int = Field(200, ge=1)
    """Genuine new users measured per reveal-limited recommender (their recommendation quality)."""
    benign_sellers: int = Field(200, ge=1)
    """Honest sellers' re-upload streams per kind, for the upload monitor's false-positive rate."""

    def defense(self, name: str) -> Any:
        """The :class:`~pixelpush.defenses.Defense` named `name` (``none``: no defense)."""
        from pixelpush.defenses import NO_DEFENSE, build_defense

        return NO_DEFENSE if name == "none" else build_defense(name, self.defenses[name])

    @model_validator(mode="after")
    def _consistent(self) -> CampaignConfig:
        names = [e.name for e in self.experiments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"experiment names must be distinct: {dupes} appear more than once")
        attacked = {*self.training.models, *(r for e in self.experiments for r in e.recommenders)}
        missing = sorted(n for n in attacked if ":" in n and n not in self.training.options and n not in self.models)
        if missing:
            raise ValueError(f"recommender variants {missing} need their settings in training.options")
        for name, options in self.training.options.items():
            _check_model_options(name, options)
        from pixelpush.defenses import build_defense

        for name, table in self.defenses.items():
            if name == "none" or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"defenses.{name}: a defense name is letters, digits and _ . - (and not 'none')")
            build_defense(name, table)
        for e in self.experiments:
            unknown = sorted(set(e.defenses) - set(self.defenses) - {"none"})
            if unknown:
                raise ValueError(f"experiments.{e.name}.defenses: {unknown} are not defined in [defenses]")
            if len(set(e.defenses)) != len(e.defenses):
                raise ValueError(f"experiments.{e.name}.defenses: a defense is listed twice")
        for name, spec in self.models.items():
            _check_loaded_model(name, spec)
        for experiment in self.experiments:
            for rec in experiment.recommenders:
                if not self.model_entry(rec).gradients:
                    white = [a for a in experiment.attacks if _attack_entry(a).white_box]
                    if white:
                        raise ValueError(
                            f"experiment {experiment.name!r}: {white} need the model's gradients, which {rec!r} does not give "
                            "(a remote service, or gradients = false)"
                        )
        return self

    def model_entry(self, name: str) -> Any:
        """The :class:`~pixelpush.recommenders.registry.RecommenderEntry` of recommender `name`
        (a config-defined ``[models.NAME]`` table becomes an entry of its own)."""
        from pixelpush.recommenders.registry import RECOMMENDERS, RecommenderEntry

        spec = self.models.get(name)
        if spec is None:
            return RECOMMENDERS.get(name)
        base = RECOMMENDERS.get(name) if name in RECOMMENDERS else None
        factory = spec.factory or (base.factory if base is not None else None)
        return RecommenderEntry(
            name,
            None,
            spec.label or (RECOMMENDERS.label(name) if base is not None else name),
            visual=spec.visual,
            factory=factory if spec.service is None else None,
            gradients=spec.uses_gradients,
        )

    def model_spec(self, name: str) -> ModelConfig | None:
        """The ``[models.NAME]`` table of a loaded model (a registry factory model without one gets
        the defaults); None for a model pixelpush trains."""
        if name in self.models:
            return self.models[name]
        entry = self.model_entry(name)
        return None if entry.trained else ModelConfig(factory=entry.factory)


def _attack_entry(name: str) -> Any:
    from pixelpush.attacks.registry import ATTACKS

    return ATTACKS.get(name)


def _check_loaded_model(name: str, spec: ModelConfig) -> None:
    """A ``[models.NAME]`` table: a free name or a loaded registry model, one factory or service."""
    from pixelpush.recommenders.registry import RECOMMENDERS

    where = f"models.{name}"
    if ":" in name:
        base = name.partition(":")[0]
        if base not in RECOMMENDERS:
            raise ConfigError(f"{where}: ':' in a model name marks a variant of a registry model; {base!r} is not one")
        RECOMMENDERS.get(name)  # the label's syntax
    if name in RECOMMENDERS:
        entry = RECOMMENDERS.get(name)
        if entry.trained:
            raise ConfigError(
                f"{where}: {name!r} is a model pixelpush trains; set its options in training.options, "
                "or give your own model another name"
            )
        if spec.service is not None or (spec.factory is not None and spec.factory != entry.factory):
            raise ConfigError(f"{where}: {name!r} is loaded by {entry.factory}; give your own model another name")
        return
    if (spec.factory is None) == (spec.service is None):
        raise ConfigError(f"{where}: give exactly one of factory = \"module:function\" or service = \"http://...\"")


def _check_model_options(name: str, options: dict[str, Any]) -> None:
    """Refuse training options the model or the training loop does not take (before any training)."""
    from pixelpush.recommenders.registry import RECOMMENDERS
    from pixelpush.recommenders.training import TrainConfig
    from pixelpush.settings import build_settings, check_settings

    entry = RECOMMENDERS.get(name)
    if not entry.trained:
        raise ConfigError(f"training.options.{name}: {name!r} is loaded, not trained: set its options in [models.\"{name}\"]")
    train_fields = set(TrainConfig.__dataclass_fields__) - {"seed", "progress"}
    train = {k: v for k, v in options.items() if k in train_fields}
    model = {k: v for k, v in options.items() if k not in train_fields}
    where = f"training.options.{name}"
    check_settings(TrainConfig, train, where=where)
    build_settings(entry.trained_class().config_class, model, where=where)


def read_toml(path: str | Path) -> dict[str, Any]:
    """A config file's TOML as a dict; any problem reading it is a ConfigError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config {path} is a directory, not a TOML file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config: {err.strerror or err}") from None


def resolve_paths(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make a config's relative paths absolute from the config's `folder`: the dataset root, and
    the folder each ``[models.NAME]`` factory is imported from (default: `folder` itself)."""
    dataset = raw.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("root"), str) and not Path(dataset["root"]).is_absolute():
        dataset["root"] = str((folder / dataset["root"]).resolve())
    models = raw.get("models")
    if isinstance(models, dict):
        for spec in models.values():
            if isinstance(spec, dict):
                where = spec.get("path", ".")
                if isinstance(where, str) and not Path(where).is_absolute():
                    spec["path"] = str((folder / where).resolve())
    return raw


def load_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign TOML file; any problem is a ConfigError naming the file."""
    path = Path(path)
    return parse_config(resolve_paths(read_toml(path), path.parent), source=str(path))


def parse_config(raw: dict[str, Any], *, source: str = "config") -> CampaignConfig:
    """Validate a config dict; errors name the field."""
    models = raw.get("models") if isinstance(raw, dict) else None
    context = {_CONFIG_MODELS: tuple(models) if isinstance(models, dict) else ()}
    try:
        return CampaignConfig.model_validate(raw, context=context)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    except ValidationError as err:
        problems = "; ".join(_problem(e) for e in err.errors())
        raise ConfigError(f"{source}: {problems}") from None


def with_overrides(config: CampaignConfig, changes: dict[str, Any], *, source: str = "override") -> CampaignConfig:
    """`config` with top-level `changes` applied, validated again (errors name `source`)."""
    return parse_config({**config.model_dump(mode="python"), **changes}, source=source)


def _problem(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error.get("type") in ("model_type", "dict_type") and "input" in error:
        message += f" (got {type(error['input']).__name__} {error['input']!r})"
    return f"{where}: {message}" if where else message
