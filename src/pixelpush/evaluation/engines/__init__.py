"""Engines that run a campaign's units: the local process pool (default) and Ray.

See :mod:`pixelpush.evaluation.engines.base` for the interface and
:mod:`pixelpush.evaluation.engines.registry` for the registry.
"""

from pixelpush.evaluation.engines.base import Engine
from pixelpush.evaluation.engines.registry import ENGINES, EngineEntry, build_engine

__all__ = ["ENGINES", "Engine", "EngineEntry", "build_engine"]
