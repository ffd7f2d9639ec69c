"""``pixelpush`` entry point: registers the sub-commands and turns user errors into messages."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import typer

from pixelpush.errors import PixelpushError
from pixelpush.huge_pages import request_huge_pages

log = logging.getLogger(__name__)

app = typer.Typer(
    help="pixelpush: adversarial visual attacks on visually-aware recommender systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


_registered = False


def _register() -> None:
    global _registered  # noqa: PLW0603 - commands are added to the one Typer app once
    if _registered:
        return
    _registered = True
    from pixelpush.cli import audit, check_model, data, diagnose, features, report, run, search, serve, train

    app.add_typer(data.app, name="data", help="Inspect datasets.")
    app.command("features")(features.features)
    app.command("train")(train.train)
    app.command("run")(run.run)
    app.command("demo")(run.demo)
    app.command("report")(report.report)
    app.command("search")(search.search)
    app.command("diagnose")(diagnose.diagnose)
    app.command("audit")(audit.audit)
    app.command("check-model")(check_model.check_model)
    app.command("serve")(serve.serve)


def print_error(message: str, stream: TextIO | None = None) -> None:
    """Write ``error: MESSAGE`` to `stream` (stderr) verbatim: no markup, nothing eaten or wrapped.

    The prefix is bold red only on a terminal (and not under ``NO_COLOR``).
    """
    stream = sys.stderr if stream is None else stream
    color = stream.isatty() and not os.environ.get("NO_COLOR")
    prefix = "\x1b[1;31merror:\x1b[0m" if color else "error:"
    stream.write(f"{prefix} {message}\n")
    stream.flush()


def _os_error_message(err: OSError) -> str:
    """``PATH: reason`` for an OSError about a named file (the culprit first)."""
    where = f"{err.filename} -> {err.filename2}" if err.filename2 is not None else str(err.filename)
    return f"{where}: {err.strerror or err}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a :class:`PixelpushError` becomes one line on stderr and exit code 2.

    So does an :class:`OSError` about a named file (unwritable output, full disk, ...) that no
    earlier check caught: the message names the file, ``--verbose`` logs the traceback.
    """
    request_huge_pages()  # before the commands import torch (see pixelpush.huge_pages)
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except PixelpushError as err:
        print_error(str(err))
        return 2
    except OSError as err:
        if err.filename is None:
            raise
        log.debug("file error", exc_info=True)
        print_error(_os_error_message(err))
        return 2
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
