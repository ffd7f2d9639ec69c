"""Registries: one per kind of component (attacks, threat models, recommenders, datasets, ...).

An entry maps an id to the component's class and what the rest of pixelpush needs to know about
it (its label in reports, the access it needs, its config). The id is the component's name
everywhere: in configs, on the class (``cls.id``), in ``results.json`` and as the key of its
report label. Adding a component is its module, its tests and one ``registry.add(...)`` line.

Names may carry a variant label, ``ID:LABEL`` (``vbpr:low-visual-reg``): the same component
with other settings, which a config defines under that full name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from pixelpush.errors import ConfigError

__all__ = ["Registry", "split_variant", "variant_label"]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class _Entry(Protocol):
    id: str
    label: str


E = TypeVar("E", bound=_Entry)


def split_variant(name: str) -> tuple[str, str]:
    """``"ID:LABEL"`` -> ``("ID", "LABEL")``; a plain id -> ``(id, "")``.

    >>> split_variant("vbpr:low-visual-reg"), split_variant("bb-rank")
    (('vbpr', 'low-visual-reg'), ('bb-rank', ''))
    """
    base, _, label = str(name).partition(":")
    return base, label


def variant_label(name: str, base_label: str) -> str:
    """The display label of a name: ``VBPR`` for ``vbpr``, ``VBPR (low-visual-reg)`` for a variant.

    >>> variant_label("vbpr:x", "VBPR")
    'VBPR (x)'
    """
    label = split_variant(name)[1]
    return f"{base_label} ({label})" if label else base_label


class Registry(Generic[E]):
    """Entries of one kind of component by id, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, E] = {}

    def add(self, entry: E) -> E:
        """Register `entry` under ``entry.id`` (a duplicate id is a programming error)."""
        if entry.id in self._entries:
            raise ValueError(f"{self.kind} {entry.id!r} is registered twice")
        if ":" in entry.id:
            raise ValueError(f"{self.kind} id {entry.id!r} must not contain ':'")
        self._entries[entry.id] = entry
        return entry

    def get(self, name: str) -> E:
        """The entry of `name` (an id or a variant ``ID:LABEL``); ConfigError listing the known ids."""
        base, label = split_variant(name)
        if ":" in str(name) and not _LABEL.match(label):
            raise ConfigError(f"bad {self.kind} variant {name!r}: the label after ':' takes letters, digits, - and _")
        try:
            return self._entries[base]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries)}") from None

    def label(self, name: str) -> str:
        """The report label of `name` (unknown names are shown as they are)."""
        base = split_variant(name)[0]
        entry = self._entries.get(base)
        return variant_label(name, entry.label) if entry is not None else str(name)

    def ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and split_variant(name)[0] in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
