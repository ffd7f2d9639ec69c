"""``pixelpush data ...`` (placeholder until the dataset issue lands)."""
import typer

app = typer.Typer(no_args_is_help=True)
