"""``pixelpush train``: dataset -> image features -> trained recommender -> model.pt + metrics.json."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Optional  # noqa: UP035 - typer reads Optional[...] annotations

import typer

from pixelpush.errors import ConfigError
from pixelpush.outputs import check_output_dir, check_output_file

log = logging.getLogger(__name__)

def train(
    dataset: str = typer.Option("fashion", "--dataset", help="Dataset name (fashion, fashion-dense, movielens-posters, amazon-*)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder of datasets that are not embedded."),  # noqa: UP045
    model: str = typer.Option("vbpr", "--model", help="Recommender: bpr, vbpr or deepstyle."),
    out: Path = typer.Option(..., "--out", help="Folder for model.pt and metrics.json."),
    epochs: int = typer.Option(200, "--epochs", min=1, help="Maximum epochs (early stopping on validation AUC)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, the initialisation and the training."),
    image_model: str = typer.Option("squeezenet1_1", "--image-model", help="Image model: squeezenet1_1 or resnet50."),
    cache_dir: Path = typer.Option(Path(".cache/features"), "--cache-dir", help="Feature cache folder."),
    device: str = typer.Option("cpu", "--device", help="Extract features and train on 'cpu' or 'cuda[:N]'."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Train a recommender on a dataset's interactions and its images' features.

    Leave-one-out split (users with fewer than 5 interactions are train-only), early stopping on
    validation AUC, AUC on the test item. Writes ``OUT/model.pt`` and ``OUT/metrics.json``.
    """
    import numpy as np
    import torch

    from pixelpush.data.registry import EMBEDDED, load_dataset
    from pixelpush.devices import resolve_device
    from pixelpush.recommenders.evaluation import auc
    from pixelpush.files import write_atomic
    from pixelpush.recommenders.io import save
    from pixelpush.recommenders.registry import build_model
    from pixelpush.recommenders.split import leave_one_out
    from pixelpush.recommenders.training import TrainConfig, fit
    from pixelpush.vision.features import extract_features
    from pixelpush.vision.models import load_image_model

    from pixelpush.recommenders.registry import RECOMMENDERS

    trainable = [e.id for e in RECOMMENDERS if e.trained]
    if model not in trainable:
        raise ConfigError(f"--model must be one of {', '.join(trainable)}, got {model!r}")
    where = resolve_device(device)  # a missing GPU is refused before anything is written
    check_output_dir(out, "--out")  # refused before training, not after it
    for name in ("model.pt", "metrics.json"):
        check_output_file(out / name, "--out")
    check_output_dir(cache_dir, "--cache-dir")
    data = load_dataset(dataset, root=root)
    input_size = int(data.images.get(0).shape[0]) if dataset in EMBEDDED and data.n_items else None
    ic = load_image_model(image_model, input_size=input_size).to(where)
    raw = extract_features(ic, data.images, cache_dir=cache_dir, progress=progress)
    feats = torch.from_numpy(np.array(raw, dtype=np.float32))
    split = leave_one_out(data.interactions, data.n_users, data.n_items, seed=seed)
    rec = build_model(model, data.n_users, data.n_items, feats.shape[1], categories=data.categories, seed=seed)
    t0 = time.perf_counter()
    result = fit(rec, feats, split, TrainConfig(epochs=epochs, seed=seed, progress=progress), device=where)
    train_seconds = time.perf_counter() - t0
    test_auc = auc(rec.to(where), feats.to(where), split.test, split.all_positives)
    rec.to("cpu")
    metrics = {
        "dataset": data.name,
        "model": model,
        "image_model": ic.identity,
        "device": str(where),
        "seed": seed,
        "auc": test_auc,
        "val_auc": result.val_auc,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "train_seconds": train_seconds,
        "n_users": data.n_users,
        "n_items": data.n_items,
        "n_train": len(split.train),
        "n_eval_users": len(split.test),
        "feature_scale": float(rec.feature_scale),
    }
    out.mkdir(parents=True, exist_ok=True)
    save(rec, out / "model.pt")
    text = json.dumps(metrics, indent=2, allow_nan=True) + "\n"
    write_atomic(out / "metrics.json", text.encode())
    typer.echo(
        f"{model} on {data.name}: test AUC {test_auc:.4f}, val AUC {result.val_auc:.4f}, "
        f"{result.epochs} epochs in {train_seconds:.1f} s -> {out}"
    )
