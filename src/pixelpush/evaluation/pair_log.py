"""``pairs.jsonl``: one finished unit of work per line, appended durably, read back on resume."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


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
            except json.JSONDecodeError:
                _log.warning("%s:%d: unreadable record skipped (it will be recomputed)", self.path, lineno)
                continue
            self._records[record["unit"]] = record

    def __contains__(self, unit: str) -> bool:
        return unit in self._records

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[dict[str, Any]]:
        """All records, in unit order (independent of the order they finished in)."""
        return [self._records[k] for k in sorted(self._records)]

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._records[record["unit"]] = record

