"""Reading a run folder back: ``results.json`` (required) and ``pairs.jsonl`` (optional)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelpush.errors import DataError
from pixelpush.evaluation.pair_log import check_record, json_kind

log = logging.getLogger(__name__)

Mismatch = tuple[str, Any]
"""Where in a value it failed a :class:`Kind` (``""``, ``"[3]"``, ``'["20"][1]'``) and the offending part."""


@dataclass(frozen=True)
class Kind:
    """An expected JSON type: its description and a check of a value (``null`` always passes)."""

    text: str
    check: Callable[[Any], Mismatch | None]


def _plural(text: str) -> str:
    """``"a number"`` -> ``"numbers"``, ``"a list of numbers"`` -> ``"lists of numbers"``."""
    head, _, rest = text.split(" ", 1)[1].partition(" ")
    return f"{head}s {rest}".rstrip()


def _scalar(text: str, ok: Callable[[Any], bool]) -> Kind:
    def check(value: Any) -> Mismatch | None:
        return None if value is None or ok(value) else ("", value)

    return Kind(text, check)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


NUMBER = _scalar("a number", _is_number)
INTEGER = _scalar("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
STRING = _scalar("a string", lambda v: isinstance(v, str))


def list_of(item: Kind) -> Kind:
    """A JSON array whose elements are each `item` (or null)."""

    def check(value: Any) -> Mismatch | None:
        if value is None:
            return None
        if not isinstance(value, list):
            return ("", value)
        for i, element in enumerate(value):
            if (bad := item.check(element)) is not None:
                return (f"[{i}]{bad[0]}", bad[1])
        return None

    return Kind(f"a list of {_plural(item.text)}", check)


def by_key(item: Kind) -> Kind:
    """A JSON object whose values are each `item` (or null)."""

    def check(value: Any) -> Mismatch | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            return ("", value)
        for key, element in value.items():
            if (bad := item.check(element)) is not None:
                return (f"[{json.dumps(key)}]{bad[0]}", bad[1])
        return None

    return Kind(f"an object of {_plural(item.text)}", check)


_KEY_FIELDS: dict[str, Kind] = {
    "experiment": STRING, "recommender": STRING, "attack": STRING, "threat_model": STRING,
    "perturbations": INTEGER, "blend_epsilon": NUMBER, "steps": INTEGER,
}
ATTACK_FIELDS: dict[str, Kind] = {
    **_KEY_FIELDS,
    "pairs": INTEGER, "eval_users": INTEGER,
    "hr_before": by_key(NUMBER), "hr": by_key(NUMBER), "hr_by_step": by_key(list_of(NUMBER)),
    "ssim_by_step": list_of(NUMBER), "uploads_by_step": list_of(NUMBER), "rank_before": list_of(NUMBER),
    "uploads_per_pair": NUMBER, "queries_per_pair": NUMBER, "uploads_to_top20_median": NUMBER,
    "success_rate_top20": NUMBER, "gradient_cosine_mean": NUMBER, "pixel_gradient_cosine_mean": NUMBER,
    "uninformative_step_rate": NUMBER, "success_rate_top20_at_640": NUMBER,
    "hr_at_upload_budgets": by_key(list_of(NUMBER)), "gradient_cosine_by_step": list_of(NUMBER),
}
"""The fields of a ``results.json`` attack entry the report reads, and their types (docs/results-schema.md)."""

PAIR_FIELDS: dict[str, Kind] = {
    **_KEY_FIELDS,
    "unit": STRING, "pair": INTEGER, "item": INTEGER, "target_user": INTEGER, "segment_item": INTEGER,
    "n_eval_users": INTEGER, "rank_before": NUMBER,
    "hits_by_step": by_key(list_of(NUMBER)), "rank_by_step": list_of(NUMBER), "ssim_by_step": list_of(NUMBER),
    "uploads_by_step": list_of(NUMBER), "uploads": INTEGER, "queries": INTEGER,
    "images": by_key(STRING),
}
"""The fields of a ``pairs.jsonl`` record the report reads, and their types (docs/results-schema.md)."""


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return f"{json_kind(value)} {text if len(text) <= 40 else text[:37] + '...'}"


def check_fields(record: dict[str, Any], fields: dict[str, Kind], where: str) -> dict[str, Any]:
    """`record` if each of `fields` present in it has its type; else :class:`DataError` naming `where` and the field."""
    for name, kind in fields.items():
        if name in record and (bad := kind.check(record[name])) is not None:
            sub, value = bad
            detail = f"; {name}{sub} is {_show(value)}" if sub else f", got {_show(value)}"
            raise DataError(f"{where}: field '{name}' must be {kind.text}{detail}")
    return record


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
    for i, entry in enumerate(attacks):
        if not isinstance(entry, dict):
            raise DataError(f"{path}: attacks[{i}] must be an object, got {_show(entry)}")
        check_fields(entry, ATTACK_FIELDS, f"{path}: attacks[{i}]")
    return results


def load_pairs(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse ``pairs.jsonl``, skipping (and noting) unparseable lines such as a truncated last one.

    A line that parses but is not a pair record, or whose fields have the wrong types, is not
    what an interrupted write leaves: it raises :class:`DataError` naming the line and field.
    """
    if not path.is_file():
        return [], [f"{path.name} not found: per-pair figures are skipped"]
    pairs: list[dict[str, Any]] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            where = f"{path}:{lineno}"
            pairs.append(check_fields(check_record(obj, where), PAIR_FIELDS, where))
    notes = []
    if bad:
        log.warning("%s: skipped %d unreadable line(s)", path, bad)
        notes.append(f"{path.name}: skipped {bad} unreadable line(s)")
    return pairs, notes


def load_run(run_dir: Path) -> RunData:
    """Read a run folder; raises :class:`DataError` if it or its ``results.json`` is unusable."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        why = "a file" if run_dir.exists() else "no such folder"
        raise DataError(f"{run_dir}: not a run folder ({why})")
    results = load_results(run_dir / "results.json")
    pairs, notes = load_pairs(run_dir / "pairs.jsonl")
    return RunData(run_dir=run_dir, results=results, pairs=pairs, notes=notes)
