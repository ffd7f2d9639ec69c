"""``pixelpush diagnose DATASET``: can images help a recommender on this dataset, and do they?"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional  # noqa: UP035 - typer reads Optional[...] annotations

import typer


def _options_from(path: Path, dataset: str) -> dict[str, dict[str, Any]]:
    from pixelpush.errors import ConfigError

    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--hyperparameters: {path} not found (write it with `pixelpush search`)") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"--hyperparameters: {path} is not JSON ({err})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("selected"), dict):
        raise ConfigError(f"--hyperparameters: {path} has no 'selected' options (not a `pixelpush search` output)")
    if saved.get("dataset") != dataset:
        raise ConfigError(f"--hyperparameters: {path} was searched on {saved.get('dataset')!r}, not {dataset!r}")
    return saved["selected"]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return str(v)


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    for group in ("regime", "probe"):
        table = Table(title=f"{result['dataset']}: {group}", show_header=False)
        for key, value in result[group].items():
            table.add_row(key, _fmt(value))
        console.print(table)
    if "models" in result:
        table = Table(title=f"{result['dataset']}: test AUC (cold = < {result['regime']['cold_below']} training interactions)")
        for col in ("model", "val AUC", "AUC", "cold (pairs)", "warm (pairs)", "gain", "gain cold", "gain warm"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for kind, m in result["models"].items():
            gains = [f"{m[k]:+.1%}" if k in m and not math.isnan(m[k]) else "-" for k in ("visual_gain", "visual_gain_cold", "visual_gain_warm")]
            table.add_row(kind, f"{m['val_auc']:.4f}", f"{m['auc']:.4f}",
                          f"{m['auc_cold']:.4f} ({m['n_cold']})", f"{m['auc_warm']:.4f} ({m['n_warm']})", *gains)
        console.print(table)
        for kind, m in result["models"].items():
            console.print(f"{kind} options: {_fmt(m['options']) or 'defaults'}", highlight=False)
    if "lambda_visual" in result:
        table = Table(title=f"{result['dataset']}: VBPR over its visual penalty")
        for col in ("lambda_visual", "val AUC", "test AUC", "gain"):
            table.add_column(col, justify="right")
        for row in result["lambda_visual"]:
            table.add_row(f"{row['lambda_visual']:g}", f"{row['val_auc']:.4f}", f"{row['auc']:.4f}", f"{row['visual_gain']:+.1%}")
        console.print(table)


def diagnose(
    dataset: str = typer.Argument("fashion", help="Dataset name (fashion, fashion-dense, movielens-posters, ...)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder of datasets that are not embedded."),  # noqa: UP045
    hyperparameters: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--hyperparameters", help="A `pixelpush search` output: train its selected options (default: the models' defaults)."
    ),
    seed: int = typer.Option(0, "--seed", help="Campaign seed: the split and training seeds."),
    lambdas: str = typer.Option("0.1,0.01,0.001,0.0001,0.00001,0", "--lambdas", help="VBPR visual penalties of the curve ('' for none)."),
    train: bool = typer.Option(True, "--train/--no-train", help="Train the models (gains, curve) or only probe."),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="Image model input side (default: 112 for embedded catalogs)."),  # noqa: UP045
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the figures to this JSON file."),  # noqa: UP045
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Regime (sparsity, cold items), linear probes from the image features to the simulated
    style and the category, visual gains on cold and warm test items, and VBPR's AUC over its
    visual penalty."""
    from pixelpush.cli.common import dataset_with_features
    from pixelpush.data.registry import EMBEDDED
    from pixelpush.diagnostics.diagnose import diagnose as run_diagnose
    from pixelpush.errors import ConfigError
    from pixelpush.files import write_atomic

    try:
        curve = [float(x) for x in lambdas.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--lambdas must be comma-separated numbers, got {lambdas!r}") from None
    options = _options_from(hyperparameters, dataset) if hyperparameters is not None else None
    data, ic, feats = dataset_with_features(dataset, root=root, input_size=input_size, progress=not as_json)
    style = None
    if dataset in EMBEDDED:
        from pixelpush.data.fashion import simulated_style

        style = simulated_style(name=dataset)
    result = run_diagnose(data, feats, style=style, options=options, seed=seed, lambdas=curve, train=train)
    result["image_model"] = ic.identity
    result["hyperparameters"] = str(hyperparameters) if hyperparameters is not None else "defaults"
    text = json.dumps(result, indent=2) + "\n"
    if out is not None:
        write_atomic(out, text.encode())
    if as_json:
        typer.echo(text, nl=False)
    else:
        _print(result)
