"""``pairs.jsonl``: one finished unit of work per line, appended durably, read back on resume."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pixelpush.errors import DataError
from pixelpush.files import write_atomic

_log = logging.getLogger(__name__)

_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type (``array``, ``string``, ``null``, ...)."""
    return "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)


def check_record(obj: Any, where: str) -> dict[str, Any]:
    """`obj` if it is a unit record (a JSON object with a non-empty string ``unit``).

    Otherwise raises :class:`~pixelpush.errors.DataError` naming `where` (``path:line``).

    >>> check_record({"unit": "t/vbpr/wb/specific-user/d0/0000"}, "pairs.jsonl:1")["unit"]
    't/vbpr/wb/specific-user/d0/0000'
    >>> check_record([1, 2], "pairs.jsonl:2")
    Traceback (most recent call last):
    ...
    pixelpush.errors.DataError: pairs.jsonl:2: not a pair record: a JSON array, expected an object with a 'unit'
    """
    if not isinstance(obj, dict):
        raise DataError(f"{where}: not a pair record: a JSON {json_kind(obj)}, expected an object with a 'unit'")
    unit = obj.get("unit")
    if not isinstance(unit, str) or not unit:
        got = "missing" if "unit" not in obj else "an empty string" if unit == "" else f"a JSON {json_kind(unit)}"
        raise DataError(f"{where}: not a pair record: field 'unit' must be a non-empty string, got {got}")
    return obj


class PairLog:
    """An append-only JSON-lines file of unit records keyed by ``record["unit"]``.

    Each append is flushed and fsynced, so a killed campaign loses at most the unit in flight.
    A torn last line (a kill during the write) is cut off when the log is opened.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            _log.warning("%s: dropping a torn last line (%d bytes) from an interrupted run", self.path, len(data) - end)
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
        for lineno, line in enumerate(data[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                _log.warning("%s:%d: unreadable record skipped (it will be recomputed)", self.path, lineno)
                continue
            try:
                check_record(record, f"{self.path}:{lineno}")
            except DataError as err:
                _log.warning("%s (skipped: its unit will be recomputed)", err)
                continue
            self._records[record["unit"]] = record

    def __contains__(self, unit: str) -> bool:
        return unit in self._records

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[dict[str, Any]]:
        """All records, in unit order (independent of the order they finished in)."""
        return [self._records[k] for k in sorted(self._records)]

    def drop(self, units: set[str]) -> None:
        """Remove the records of `units`, rewriting the file atomically."""
        self._records = {k: v for k, v in self._records.items() if k not in units}
        lines = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in self.records())
        write_atomic(self.path, lines.encode("utf-8"))

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._records[record["unit"]] = record

