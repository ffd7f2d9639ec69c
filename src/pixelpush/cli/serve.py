"""``pixelpush serve CONFIG --model NAME``: expose a model as a live service on 127.0.0.1 (loopback only)."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Optional  # noqa: UP035 - typer reads Optional[...] annotations

import typer

log = logging.getLogger(__name__)


def serve(
    config: Path = typer.Argument(..., help="A campaign or audit config naming the model."),
    model: str = typer.Option(..., "--model", help="The model to serve (a [models.NAME] factory or a trained id)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one)."),
    run: Optional[Path] = typer.Option(None, "--run", help="Run folder whose models/ holds the model (so the served model is the audited one)."),  # noqa: UP045
    seconds: Optional[float] = typer.Option(None, "--seconds", min=0, help="Stop after this many seconds (default: until interrupted)."),  # noqa: UP045
) -> None:
    """Serve MODEL over the wire protocol of docs/remote-service.md until interrupted (or --seconds)."""
    from pixelpush.audit.config import load_any_config
    from pixelpush.evaluation.preparation import prepare
    from pixelpush.integrations.remote.http import serve as serve_service
    from pixelpush.integrations.remote.targets import platform_service

    campaign = load_any_config(config)
    with tempfile.TemporaryDirectory(prefix="pixelpush-serve-") as scratch:
        ctx = prepare(campaign, run if run is not None else Path(scratch), progress=False)
        service = platform_service(ctx, model)
        with serve_service(service, port) as server:
            typer.echo(f"serving {model} on {server.url} (Ctrl-C stops)", err=True)
            try:
                threading.Event().wait(seconds)
            except KeyboardInterrupt:
                pass
