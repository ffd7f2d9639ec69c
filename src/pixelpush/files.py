"""Atomic file writes: the one way pixelpush writes a file a reader may open at any moment.

Bytes go to a temporary sibling whose name is unique to the writing process and call
(``.NAME.pid<PID>.<random>.tmp``), are flushed and fsynced, and the temporary file is renamed
over the target with :func:`os.replace`. A reader therefore sees the old file or the new one,
never half of one, even when two processes write the same path; on any error the temporary file
is removed and the target is left untouched. New files get the usual permissions
(``0666`` less the umask), not the ``0600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

_log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
_TMP_RE = re.compile(r"^\..+\.pid(\d+)\.[0-9a-f]+\.tmp$")


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temporary_sibling(path: Path) -> Path:
    """A fresh temporary name next to `path`, unique to this process and call."""
    return path.with_name(f".{path.name}.pid{os.getpid()}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}")


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """Open a temporary file next to `path` for binary writing; on success it replaces `path`.

    On any exception the temporary file is removed and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "xb") as fh:  # "x": created with 0666 & ~umask, never an existing file
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def write_atomic(path: str | Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Write `data` (bytes, or a function that writes to the open file) to `path` atomically."""
    with atomic_file(path) as fh:
        if callable(data):
            data(fh)
        else:
            fh.write(data)


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write `payload` as indented, key-sorted JSON (plus a newline) to `path` atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete temporary files in `folder` left by writers that no longer run; return how many."""
    removed = 0
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        match = _TMP_RE.match(tmp.name)
        if match and not _pid_alive(int(match.group(1))):
            _log.info("removing stale temporary file %s from an interrupted run", tmp)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
    return removed
