"""Reading a run folder back: ``results.json`` (required) and ``pairs.jsonl`` (optional)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelpush.errors import DataError

log = logging.getLogger(__name__)

ConfigKey = tuple[str, str, str, int]
"""``(recommender, attack, threat_model, perturbations)``: one attack configuration."""


@dataclass(frozen=True)
class RunData:
    """A finished (or partly finished) run as the report sees it."""

    run_dir: Path
    results: dict[str, Any]
    pairs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Problems met while reading that the report should mention (skipped lines, ...)."""

    @property
    def attacks(self) -> list[dict[str, Any]]:
        """The ``attacks`` entries of ``results.json`` (dicts only)."""
        return [a for a in self.results.get("attacks", []) if isinstance(a, dict)]

    def pairs_of(self, key: ConfigKey) -> list[dict[str, Any]]:
        """The pairs of one attack configuration."""
        return [p for p in self.pairs if pair_key(p) == key]


def attack_key(entry: dict[str, Any]) -> ConfigKey:
    """The configuration key of a ``results.json`` attack entry."""
    return (
        str(entry.get("recommender", "?")),
        str(entry.get("attack", "?")),
        str(entry.get("threat_model", "?")),
        int(entry.get("perturbations") or 0),
    )


def pair_key(pair: dict[str, Any]) -> ConfigKey:
    """The configuration key of a ``pairs.jsonl`` line."""
    return attack_key(pair)


def load_results(path: Path) -> dict[str, Any]:
    """Parse ``results.json``; a missing or malformed file raises :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError(f"{path}: no results.json (is this a run folder? has the run finished?)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read results: {err}") from err
    if not isinstance(results, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(results).__name__}")
    attacks = results.get("attacks", [])
    if not isinstance(attacks, list):
        raise DataError(f"{path}: 'attacks' must be a list, got {type(attacks).__name__}")
    return results


def load_pairs(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse ``pairs.jsonl``, skipping (and noting) unreadable lines such as a truncated last one."""
    if not path.is_file():
        return [], [f"{path.name} not found: per-pair figures are skipped"]
    pairs: list[dict[str, Any]] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(obj, dict):
                pairs.append(obj)
            else:
                bad += 1
    notes = []
    if bad:
        log.warning("%s: skipped %d unreadable line(s)", path, bad)
        notes.append(f"{path.name}: skipped {bad} unreadable line(s)")
    return pairs, notes


def load_run(run_dir: Path) -> RunData:
    """Read a run folder; raises :class:`DataError` if it or its ``results.json`` is unusable."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: not a run folder (no such directory)")
    results = load_results(run_dir / "results.json")
    pairs, notes = load_pairs(run_dir / "pairs.jsonl")
    return RunData(run_dir=run_dir, results=results, pairs=pairs, notes=notes)
