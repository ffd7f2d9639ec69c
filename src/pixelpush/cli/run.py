"""``pixelpush run CONFIG --out DIR`` and ``pixelpush demo``: campaigns from a config file."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Optional  # noqa: UP035 - typer reads Optional[...] annotations

import typer

log = logging.getLogger(__name__)

DEMO_CONFIG = "demo.toml"


def _find_demo_config() -> Path:
    """configs/demo.toml of the checkout this package is installed from (or the working folder)."""
    from pixelpush.errors import ConfigError

    for parent in [Path.cwd(), *Path(__file__).resolve().parents]:
        candidate = parent / "configs" / DEMO_CONFIG
        if candidate.is_file():
            return candidate
    raise ConfigError(f"configs/{DEMO_CONFIG} not found: run from the pixelpush checkout or pass --config")


def _execute(
    config_path: Path,
    out: Path,
    workers: int | None,
    report: bool,
    *,
    force: bool = False,
    only: list[str] | None = None,
    engine: str = "local",
    address: str | None = None,
    device: str | None = None,
) -> dict:
    from rich.console import Console

    from pixelpush.evaluation.campaign import run_campaign
    from pixelpush.errors import ConfigError
    from pixelpush.evaluation.config import load_config, with_overrides
    from pixelpush.files import write_json_atomic
    from pixelpush.report import render_report, table_text

    console = Console(soft_wrap=True)
    config = load_config(config_path)
    if only:
        names = [e.name for e in config.experiments]
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ConfigError(f"--only: no experiment {', '.join(unknown)} in {config_path}; its experiments: {', '.join(names)}")
        config = config.model_copy(update={"experiments": [e for e in config.experiments if e.name in only]})
    if device is not None:
        config = with_overrides(config, {"device": device}, source="--device")
    started = time.perf_counter()
    results = run_campaign(
        config, out, workers=workers, engine=engine, address=address, force=force, config_source=config_path
    )
    timings_path = out / "timings.json"
    if report:
        t0 = time.perf_counter()
        page = render_report(out)
        timings = json.loads(timings_path.read_text())
        timings["report"] = round(time.perf_counter() - t0, 3)
        timings["total"] = round(time.perf_counter() - started, 3)
        write_json_atomic(timings_path, timings)
    console.print(table_text(results), highlight=False, soft_wrap=True)
    recs = results["recommenders"]
    gains = ", ".join(
        f"{k} AUC {v['auc']:.3f}" + (f" (visual gain {v['visual_gain']:+.1%})" if v.get("visual_gain") is not None else "")
        for k, v in recs.items()
    )
    console.print(f"Recommenders: {gains}", highlight=False)
    console.print(f"Results: {out.resolve()}/results.json", highlight=False)
    if report:
        console.print(f"Report:  {page.resolve()}", highlight=False)
    return results


ENGINE_HELP = "Where the pairs run: 'local' (this machine's processes) or 'ray' (needs the scale extra)."
ADDRESS_HELP = "With --engine ray: join the Ray cluster at HOST:PORT (or 'auto'); default: start a private local instance."
WORKERS_HELP = "Pairs run at a time: local worker processes (default 1) or Ray workers (default: the cluster's CPUs)."
DEVICE_HELP = "Run the image model and training on 'cpu' or 'cuda[:N]' (overrides the config's device)."


def run(
    config: Path = typer.Argument(..., help="Campaign config (TOML), e.g. configs/table2.toml.", exists=False),
    out: Path = typer.Option(..., "--out", help="Run folder (created; an existing one is resumed)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),  # noqa: UP045
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP),  # noqa: UP045
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),  # noqa: UP045
    report: bool = typer.Option(True, "--report/--no-report", help="Render report.html at the end."),
    force: bool = typer.Option(
        False, "--force", help="If finished units in --out were made with other settings, move them to OUT/stale and rerun them."
    ),
    only: list[str] = typer.Option(
        [], "--only", help="Run only this experiment of the config (repeatable): long campaigns in stages, into one --out."
    ),
) -> None:
    """Train, attack and evaluate as CONFIG says; resumable: run again on the same --out to continue.

    Every engine gives the same results.json for the same config; the run folder is written by
    this process only, so a run killed on any engine resumes from its pairs.jsonl.
    """
    _execute(config, out, workers, report, force=force, only=only or None, engine=engine, address=address, device=device)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),  # noqa: UP045
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),  # noqa: UP045
    config: Optional[Path] = typer.Option(None, "--config", help="Override the demo config."),  # noqa: UP045
    force: bool = typer.Option(False, "--force", help="Rerun units of --out that were made with other settings."),
) -> None:
    """The main job on the embedded catalog: Table 2 in small, the baselines, and the report."""
    _execute(config or _find_demo_config(), out, workers, report=True, force=force, engine=engine, device=device)
