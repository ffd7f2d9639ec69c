"""``pixelpush audit CONFIG --out DIR``: the standard battery against a user's model, as a campaign."""

from __future__ import annotations

from pathlib import Path

import typer


def audit(
    config: Path = typer.Argument(..., help="Audit config (TOML with an [audit] table), see docs/audit.md."),
    out: Path = typer.Option(..., "--out", help="Run folder (created; an existing one is resumed)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel worker processes for the pairs."),
    force: bool = typer.Option(False, "--force", help="Move records made with other settings to OUT/stale and rerun them."),
) -> None:
    """Attack the audited models with the standard battery; write audit.json and audit.html (resumable)."""
    from pixelpush.audit.report_text import defenses_text, exposure_text
    from pixelpush.audit.run import run_audit

    document = run_audit(config, out, workers=workers, force=force)
    typer.echo(exposure_text(document))
    if document.get("defenses"):
        typer.echo(defenses_text(document))
    for model, verdict in document["verdict"].items():
        auc = document["models"][model]["auc"]
        accuracy = "" if auc is None else f" (AUC {auc:.4f})"
        typer.echo(f"{document['models'][model]['label']}{accuracy}: {verdict['risk']} risk. {verdict['headline']}")
    typer.echo(f"Audit:  {(out / 'audit.html').resolve()}")
    typer.echo(f"Data:   {(out / 'audit.json').resolve()}")
