"""Building a settings dataclass from untrusted values (config files): exact types, clear errors.

Dataclasses such as :class:`~pixelpush.recommenders.vbpr.VBPRConfig` or
:class:`~pixelpush.recommenders.training.TrainConfig` are built from TOML values. A plain
constructor call would accept ``lambda_visual = "lots"`` and fail later with a traceback, or
silently coerce; :func:`build_settings` refuses an unknown key or a value of the wrong type with a
:class:`~pixelpush.errors.ConfigError` naming the field and where it came from.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from pixelpush.errors import ConfigError

__all__ = ["accepts", "build_settings", "check_settings"]

T = TypeVar("T")


def accepts(annotation: Any, value: Any) -> bool:
    """Whether `value` has the type `annotation` names (int, float, bool, str, None, unions of them)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(accepts(a, value) for a in typing.get_args(annotation))
    if annotation in (None, type(None)):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is str:
        return isinstance(value, str)
    if typing.get_origin(annotation) is typing.Literal:
        return value in typing.get_args(annotation)
    return True  # anything richer is left to the dataclass's own checks


def check_settings(cls: type, values: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Check `values` against the fields of dataclass `cls`; returns them (ints as floats where needed)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {type(values).__name__}")
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    out = {}
    for key, value in values.items():
        annotation = hints.get(key, Any)
        if not accepts(annotation, value):
            shown = getattr(annotation, "__name__", str(annotation))
            raise ConfigError(f"{where}.{key}: expected {shown}, got {value!r} ({type(value).__name__})")
        out[key] = float(value) if annotation is float and isinstance(value, int) else value
    return out


def build_settings(cls: type[T], values: dict[str, Any], *, where: str) -> T:
    """``cls(**values)`` after :func:`check_settings`; the dataclass's own checks become ConfigErrors."""
    checked = check_settings(cls, values, where=where)
    try:
        return cls(**checked)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None
