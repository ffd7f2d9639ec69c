"""The defense registry, and a named defense: a set of components with their typed configs.

A campaign defines defenses by name (``[defenses.jpeg75] ingest = {transforms = [...]}``); each
key of such a table is a component id of :data:`DEFENSES` and its value that component's
settings. Adding a component is its config class (and what reads it) plus one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixelpush.defenses.components import AdversarialTraining, IngestTransforms, VisualRegularisation
from pixelpush.defenses.monitor import MonitorConfig
from pixelpush.defenses.reveal import RevealLimit
from pixelpush.errors import ConfigError
from pixelpush.platform.ingest import Pipeline
from pixelpush.registry import Registry
from pixelpush.settings import build_settings

__all__ = ["DEFENSES", "Defense", "DefenseEntry", "NO_DEFENSE", "build_defense"]


@dataclass(frozen=True)
class DefenseEntry:
    """One defense component: its config class, label, and what it changes (``stage``:
    ``ingest`` and ``training`` change the trained model, ``reveal`` and ``monitor`` the platform)."""

    id: str
    config_class: type
    label: str
    stage: str


DEFENSES: Registry[DefenseEntry] = Registry("defense")
DEFENSES.add(DefenseEntry("ingest", IngestTransforms, "input transformations", "ingest"))
DEFENSES.add(DefenseEntry("adversarial-training", AdversarialTraining, "adversarial training (AMR)", "training"))
DEFENSES.add(DefenseEntry("visual-regularisation", VisualRegularisation, "visual regularisation", "training"))
DEFENSES.add(DefenseEntry("reveal-limit", RevealLimit, "limited reveal to new accounts", "reveal"))
DEFENSES.add(DefenseEntry("upload-monitor", MonitorConfig, "upload monitoring", "monitor"))


@dataclass(frozen=True)
class Defense:
    """A named defense: its components by id (empty: no defense)."""

    name: str
    components: tuple[tuple[str, Any], ...] = ()

    def get(self, component: str) -> Any:
        """The config of `component`, or None."""
        return dict(self.components).get(component)

    @property
    def pipeline(self) -> Pipeline:
        ingest = self.get("ingest")
        return ingest.pipeline if ingest is not None else Pipeline()

    @property
    def reveal(self) -> RevealLimit | None:
        return self.get("reveal-limit")

    @property
    def monitor(self) -> MonitorConfig | None:
        return self.get("upload-monitor")

    @property
    def affects_model(self) -> bool:
        """Whether the recommender is trained differently (ingest or training components)."""
        return any(DEFENSES.get(c).stage in ("ingest", "training") for c, _ in self.components)

    def model_options(self, visual: bool) -> dict[str, Any]:
        """Overrides of the model's own config (visual models only)."""
        reg = self.get("visual-regularisation")
        return {"lambda_visual": reg.lambda_visual} if reg is not None and visual else {}

    def train_options(self, visual: bool) -> dict[str, Any]:
        """Overrides of the training loop's config (visual models only)."""
        amr = self.get("adversarial-training")
        return {"adv_epsilon": amr.epsilon, "adv_weight": amr.weight} if amr is not None and visual else {}

    def model_part(self) -> dict[str, Any]:
        """What of the defense determines the trained model (part of its recipe and of unit keys)."""
        out: dict[str, Any] = {}
        for c, cfg in self.components:
            if DEFENSES.get(c).stage in ("ingest", "training"):
                out[c] = self.pipeline.identity if c == "ingest" else _fields(cfg)
        return out

    def config(self) -> dict[str, Any]:
        """Every component's settings (part of unit keys)."""
        return {c: (self.pipeline.config() if c == "ingest" else _fields(cfg)) for c, cfg in self.components}


def _fields(cfg: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


NO_DEFENSE = Defense("none")


def build_defense(name: str, table: dict[str, Any], *, where: str | None = None) -> Defense:
    """A :class:`Defense` from its config table ``{component id: settings}``; errors name the field."""
    where = where or f"defenses.{name}"
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{where}: a defense is a table of components ({', '.join(DEFENSES.ids())})")
    components = []
    for component, settings in table.items():
        if component not in DEFENSES:
            raise ConfigError(f"{where}.{component}: unknown defense component; known: {', '.join(DEFENSES.ids())}")
        entry = DEFENSES.get(component)
        at = f"{where}.{component}"
        if entry.config_class is IngestTransforms:
            from pixelpush.platform.ingest import parse_pipeline

            if not isinstance(settings, dict) or set(settings) - {"transforms"}:
                raise ConfigError(f"{at}: expected a table with 'transforms' only")
            parse_pipeline(settings.get("transforms"), where=f"{at}.transforms")  # errors name the transform's field
        components.append((component, build_settings(entry.config_class, settings if isinstance(settings, dict) else {}, where=at)
                           if isinstance(settings, dict) else _bad(at, settings)))
    return Defense(name, tuple(components))


def _bad(at: str, settings: Any) -> Any:
    raise ConfigError(f"{at}: expected a table of settings, got {type(settings).__name__}")
