"""``pixelpush search DATASET --out FILE``: the recommenders' hyperparameters chosen by validation AUC."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional  # noqa: UP035 - typer reads Optional[...] annotations

import typer

log = logging.getLogger(__name__)


def search(
    dataset: str = typer.Argument("fashion", help="Dataset name (fashion, fashion-dense, movielens-posters, ...)."),
    out: Path = typer.Option(..., "--out", help="JSON file for every trial and the selected options."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder of datasets that are not embedded."),  # noqa: UP045
    seed: int = typer.Option(0, "--seed", help="The campaign seed whose split and training seeds the search uses."),
    models: str = typer.Option("bpr,vbpr,deepstyle", "--models", help="Comma-separated kinds to search (bpr is required)."),
    image_model: str = typer.Option("squeezenet1_1", "--image-model", help="Public image model."),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="Model input side (default: 112 for the embedded catalogs)."),  # noqa: UP045
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the feature-extraction progress bar."),
) -> None:
    """Train every point of each model's grid (``pixelpush.recommenders.search.DEFAULT_GRIDS``) on the
    campaign split of DATASET and select, per model, the point with the best validation AUC.

    The selected options go into a config's training options to attack exactly these models.
    """
    from pixelpush.cli.common import dataset_with_features
    from pixelpush.errors import ConfigError
    from pixelpush.files import write_atomic
    from pixelpush.recommenders.search import DEFAULT_GRIDS
    from pixelpush.recommenders.search import search as run_search

    kinds = [k.strip() for k in models.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in DEFAULT_GRIDS]
    if unknown:
        raise ConfigError(f"--models: unknown kinds {unknown}; known: {', '.join(DEFAULT_GRIDS)}")
    data, ic, feats = dataset_with_features(dataset, root=root, image_model=image_model, input_size=input_size, progress=progress)
    result = run_search(data, feats, seed=seed, grids={k: DEFAULT_GRIDS[k] for k in kinds})
    payload = {
        "command": f"pixelpush search {dataset} --seed {seed} --models {','.join(kinds)} --out {out}",
        "image_model": ic.identity,
        "n_users": data.n_users,
        "n_items": data.n_items,
        "n_interactions": int(len(data.interactions)),
        **result.to_json(),
    }
    text = json.dumps(payload, indent=2) + "\n"
    write_atomic(out, text.encode())
    for kind in kinds:
        m = result.metrics[kind]
        gain = f", visual gain {m['visual_gain']:+.1%} (cold {m['visual_gain_cold']:+.1%}, warm {m['visual_gain_warm']:+.1%})" if kind != "bpr" else ""
        typer.echo(f"{kind}: {result.selected[kind]} val AUC {m['val_auc']:.4f}, test AUC {m['auc']:.4f}{gain}")
    typer.echo(f"-> {out}")
