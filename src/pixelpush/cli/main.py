"""``pixelpush`` entry point: registers the sub-commands and turns user errors into messages."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from pixelpush.errors import PixelpushError

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


def _register() -> None:
    from pixelpush.cli import data, diagnose, features, report, run, search, train

    app.add_typer(data.app, name="data", help="Inspect datasets.")
    app.command("features")(features.features)
    app.command("train")(train.train)
    app.command("run")(run.run)
    app.command("demo")(run.demo)
    app.command("report")(report.report)
    app.command("search")(search.search)
    app.command("diagnose")(diagnose.diagnose)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a :class:`PixelpushError` becomes one line on stderr and exit code 2."""
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except PixelpushError as err:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {err}", highlight=False)
        return 2
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
