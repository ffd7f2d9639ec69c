"""The one way pixelpush shows progress: a tqdm bar on a terminal, nothing in a log or a pipe."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(*, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar (``total``, ``desc``, ``unit``, ...) shown only when `enabled` and stderr is a terminal."""
    return tqdm(disable=not enabled or not sys.stderr.isatty(), **kwargs)
