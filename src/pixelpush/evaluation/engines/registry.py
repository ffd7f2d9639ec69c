"""The engine registry: ids -> engine classes (imported on use) and the extra each one needs.

Adding an engine is its module, its tests and one ``ENGINES.add(...)`` line here. Engines whose
dependencies are optional are named by ``module:Class`` and imported only when chosen, so
``pixelpush`` imports (and runs locally) without them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pixelpush.errors import ConfigError
from pixelpush.evaluation.engines.base import Engine
from pixelpush.registry import Registry

__all__ = ["ENGINES", "EngineEntry", "build_engine"]


@dataclass(frozen=True)
class EngineEntry:
    """What pixelpush knows about one engine.

    Attributes:
        id: the engine's name (``--engine``; = ``cls.id``).
        target: ``module:Class`` of the engine, imported when it is built.
        label: a one-line description (``--help``).
        extra: the pip extra its dependencies come with, if any.
        cluster: it takes an ``address`` (``--address``).
    """

    id: str
    target: str
    label: str
    extra: str | None = None
    cluster: bool = False

    def load(self) -> type[Engine]:
        """The engine class."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


ENGINES: Registry[EngineEntry] = Registry("engine")
ENGINES.add(EngineEntry("local", "pixelpush.evaluation.engines.local:LocalEngine", "this process, or a pool of local processes"))
ENGINES.add(
    EngineEntry("ray", "pixelpush.evaluation.engines.ray_engine:RayEngine", "Ray: a private local instance, or a cluster",
                extra="scale", cluster=True)
)


def build_engine(name: str, *, workers: int | None = None, address: str | None = None) -> Engine:
    """The engine `name` (not started); ConfigError for an unknown one or a misplaced address.

    >>> build_engine("local", workers=2)
    LocalEngine(workers=2, address=None)
    """
    entry = ENGINES.get(name)
    if address is not None and not entry.cluster:
        clusters = ", ".join(e.id for e in ENGINES if e.cluster)
        raise ConfigError(f"--address is for a cluster engine ({clusters}); the {name} engine runs on this machine")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    return entry.load()(workers=workers, address=address)
