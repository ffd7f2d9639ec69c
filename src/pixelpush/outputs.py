"""Checks that an output folder or file can be written, made *before* any long work starts.

A command that trains for minutes and then finds that ``--out`` is a file has wasted those
minutes; these checks refuse such a path up front with a :class:`~pixelpush.errors.ConfigError`
naming it. They leave nothing behind: a folder they had to create to try a write is removed
again (the command creates it for real when it writes).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from pixelpush.errors import ConfigError


def _first_existing(path: Path) -> tuple[Path, list[Path]]:
    """The deepest existing ancestor-or-self of `path` and the missing folders below it (top first)."""
    missing: list[Path] = []
    current = path
    while not current.exists() and not current.is_symlink():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    return current, missing[::-1]


def _try_write(folder: Path, missing: list[Path]) -> None:
    """Create `missing` folders and a probe file in `folder`, then remove all of them again."""
    created: list[Path] = []
    try:
        for sub in missing:
            sub.mkdir()
            created.append(sub)
        probe = folder / f".pixelpush-write-check.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    finally:
        for sub in reversed(created):
            with contextlib.suppress(OSError):
                sub.rmdir()


def _problem(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (None if they can)."""
    try:
        existing, missing = _first_existing(folder)
        if not existing.is_dir():
            return "is a file, not a folder" if existing == folder else f"{existing} is a file, not a folder"
        _try_write(folder, missing)
    except OSError as err:
        return f"cannot write there ({err.strerror or err})"
    return None


def check_output_dir(path: str | Path, what: str) -> Path:
    """Refuse a folder `path` that is a file, lies under a file, or cannot be created or written.

    `what` names the option in the message (``--out``, ``--cache-dir``, ...). Returns `path`;
    a folder that had to be created for the check is removed again:

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> check_output_dir(root / "a" / "b", "--out") == root / "a" / "b"
    True
    >>> sorted(root.iterdir())
    []
    >>> root.rmdir()
    """
    path = Path(path)
    problem = _problem(path)
    if problem is not None:
        raise ConfigError(f"{what} {path}: {problem}")
    return path


def check_output_file(path: str | Path, what: str) -> Path:
    """Refuse a file `path` that is a folder or whose folder :func:`check_output_dir` refuses."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path}: is a folder, expected a file name")
    problem = _problem(path.parent)
    if problem is not None:
        if problem.startswith("is a file"):
            problem = f"{path.parent} {problem}"
        raise ConfigError(f"{what} {path}: {problem}")
    return path
