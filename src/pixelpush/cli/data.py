"""``pixelpush data info NAME``: summary counts of a dataset, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pixelpush.data.registry import load_dataset

app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")


@app.callback()
def _group() -> None:
    """Inspect datasets."""  # a callback keeps ``info`` a sub-command even while it is the only one


def _table(info: dict) -> Table:
    table = Table(title=f"dataset {info.get('name', '')}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in info.items():
        if key == "name":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:.4g}"
        table.add_row(key, str(value))
    return table


@app.command("info")
def info(
    name: str = typer.Argument(..., help="Dataset name: fashion, fashion-dense, movielens-posters, amazon-clothing, ..."),
    root: Path | None = typer.Option(None, "--root", help="Folder of datasets that are not embedded."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print a dataset's users, items, interactions, categories and image shape."""
    summary = load_dataset(name, root=root).info()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        Console().print(_table(summary))
