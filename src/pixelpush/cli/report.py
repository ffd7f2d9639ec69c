"""``pixelpush report RUN_DIR``: render the run's report.html and figures."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dir: Path = typer.Argument(..., help="A run folder (with results.json) written by `pixelpush run`."),
) -> None:
    """Render RUN_DIR/report.html (self-contained) and RUN_DIR/figures/*.png, and print the report's path."""
    from pixelpush.report import render_report

    typer.echo(str(render_report(run_dir)))
