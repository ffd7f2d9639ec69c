"""``pixelpush check-model CONFIG``: exercise a user's model class and name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional  # noqa: UP035 - typer reads Optional[...] annotations

import typer


def check_model(
    config: Path = typer.Argument(..., help="A campaign or audit config (TOML) whose [models.NAME] tables name the model."),
    model: Optional[list[str]] = typer.Option(None, "--model", help="Check only this model (repeatable; default: every loaded model)."),  # noqa: UP045
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Build each loaded model as the campaign would and run the Recommender contract on it.

    Exit code 0: every check passed; 1: a check failed (each failure is named); 2: bad input.
    """
    from pixelpush.evaluation.preparation import prepare_inputs
    from pixelpush.audit.config import load_any_config
    from pixelpush.integrations.checking import check_models, models_to_check

    campaign = load_any_config(config)
    models_to_check(campaign, model or None)  # a bad name is refused before the features are computed
    inputs = prepare_inputs(campaign, progress=False)
    outcomes = check_models(campaign, inputs, model or None)
    if as_json:
        typer.echo(json.dumps([o.as_dict() for o in outcomes], indent=2))
    else:
        for outcome in outcomes:
            typer.echo(f"{outcome.model}: {'all checks passed' if outcome.ok else f'{len(outcome.violations)} check(s) failed'}")
            for name, verdict in outcome.as_dict()["checks"].items():
                typer.echo(f"  {'ok  ' if verdict == 'ok' else 'FAIL'} {name}" + ("" if verdict == "ok" else f": {verdict}"))
            for note in outcome.notes:
                typer.echo(f"  note: {note}")
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)
