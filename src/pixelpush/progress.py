"""The one way pixelpush draws a progress bar: on a terminal only.

A bar redraws itself with ``\\r`` many times a second; written to a log file or a pipe (a CI job,
``2> run.log``, a worker's captured stderr) that is thousands of lines of noise. :func:`progress_bar`
therefore draws only when asked to *and* its stream is interactive (a terminal, or a notebook
where ``tqdm.auto`` picked its widget); otherwise it returns a disabled bar that still counts and
accepts ``update``/``set_postfix``, so callers need no second code path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm as _std_tqdm
from tqdm.auto import tqdm as _auto_tqdm
from tqdm.autonotebook import tqdm as _chosen_tqdm  # the notebook class inside Jupyter, else the std one


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether a bar on `stream` (default: stderr) would be seen by a person rather than logged."""
    if _chosen_tqdm is not _std_tqdm:  # in Jupyter tqdm.auto draws a widget: shown, not streamed
        return True
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **options: Any) -> _std_tqdm:
    """A tqdm bar (``options`` as for tqdm) that is drawn only if `enabled` and its stream is interactive.

    >>> import io
    >>> log = io.StringIO()  # a log file, not a terminal
    >>> with progress_bar(range(3), desc="steps", file=log) as bar:
    ...     total = sum(bar)
    >>> total, bar.disable, log.getvalue()
    (3, True, '')
    """
    show = enabled and interactive(options.get("file"))
    return _auto_tqdm(iterable, disable=not show, **options)
