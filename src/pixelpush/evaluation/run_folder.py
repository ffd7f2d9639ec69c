"""A run folder that cannot mix or corrupt results: one writer at a time, stale records refused.

- :func:`locked` holds an exclusive ``flock`` on ``RUN_DIR/.pixelpush.lock`` for the whole run;
  a second run on the same folder stops at once with a message naming the holder (the kernel
  drops the lock when the holder dies, so a killed run never leaves the folder locked).
- :func:`check_stale` compares the records already in ``pairs.jsonl`` with the planned units:
  a record whose unit is planned under another key (a changed seed, steps, radius, model
  recipe, ...) stops the run with the differences between the folder's config and the new one,
  unless ``force`` is set, in which case those records are moved to ``stale/`` first (nothing is
  deleted).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pixelpush.errors import ConfigError
from pixelpush.evaluation.pair_log import PairLog
from pixelpush.files import write_atomic
from pixelpush.outputs import check_output_dir

__all__ = ["LOCK_NAME", "check_stale", "config_differences", "locked"]

_log = logging.getLogger(__name__)

LOCK_NAME = ".pixelpush.lock"


@contextlib.contextmanager
def locked(run_dir: str | Path) -> Iterator[None]:
    """Hold the run folder's lock while the block runs; ConfigError naming the holder if taken.

    A folder this call created is removed again if the run leaves nothing in it but the lock
    (it failed before writing anything).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} exists and is not a folder")
    created = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
    check_output_dir(run_dir, "--out")
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _lock(run_dir):
            yield
    finally:
        if created and {p.name for p in run_dir.iterdir()} <= {LOCK_NAME}:
            (run_dir / LOCK_NAME).unlink(missing_ok=True)
            for folder in created:  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()


@contextlib.contextmanager
def _lock(run_dir: Path) -> Iterator[None]:
    path = run_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise ConfigError(f"cannot open the lock file {path}: {err.strerror or err}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise ConfigError(f"run folder {run_dir} is in use by {holder}; wait for it to finish or use another --out") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another pixelpush process"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} ({info.get('command', '')!s})"


def config_differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two config dicts differ, as ``path: old -> new`` lines.

    >>> config_differences({"seed": 0, "e": [{"steps": 20}]}, {"seed": 1, "e": [{"steps": 10}]})
    ['e[0].steps: 20 -> 10', 'seed: 0 -> 1']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            where = f"{path}.{key}" if path else str(key)
            out += config_differences(old.get(key, "<absent>"), new.get(key, "<absent>"), where)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and all(isinstance(x, dict) for x in old + new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in config_differences(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def check_stale(run_dir: Path, log: PairLog, planned: dict[str, str], new_config: dict[str, Any], *, force: bool) -> int:
    """Refuse (or with `force` archive) records of planned units made under another key.

    `planned` maps unit ids to their keys. Returns the number of records archived.
    """
    stale = [r for r in log.records() if r["unit"] in planned and r.get("key") != planned[r["unit"]]]
    if not stale:
        return 0
    if not force:
        differences = []
        old_path = run_dir / "config.json"
        with contextlib.suppress(OSError, ValueError):
            differences = config_differences(json.loads(old_path.read_text()), new_config)
        shown = "; ".join(differences[:8]) + (" ..." if len(differences) > 8 else "")
        why = f"the config changed ({shown})" if differences else "their settings, model or data differ from this run's"
        raise ConfigError(
            f"{run_dir}: {len(stale)} finished unit(s) (e.g. {stale[0]['unit']}) were made with other settings: {why}. "
            f"Use a new --out, or --force to move those records to {run_dir / 'stale'} and run them again"
        )
    archive = run_dir / "stale" / f"pairs-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.jsonl"
    lines = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in stale)
    write_atomic(archive, lines.encode())
    log.drop({r["unit"] for r in stale})
    _log.warning("moved %d stale record(s) to %s", len(stale), archive)
    return len(stale)
