"""``pixelpush features``: extract (or read from cache) a dataset's image features."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional  # noqa: UP035 - typer reads Optional[...] annotations

import numpy as np
import typer

from pixelpush.errors import ConfigError
from pixelpush.outputs import check_output_dir, check_output_file
from pixelpush.vision.feature_store import write_npy_atomic
from pixelpush.vision.features import DTYPES, extract_features

#: ``--weights`` values meaning "no pretrained weights" (a random init seeded by the model's seed).
RANDOM_WEIGHTS = ("random", "none")
#: ``--engine`` values.
ENGINES = ("local", "ray")


def _blocks(features: np.ndarray, rows: int = 8192):  # noqa: ANN202 - a plain generator
    for start in range(0, len(features), rows):
        yield np.asarray(features[start : start + rows])


def features(
    dataset: str = typer.Option("fashion", "--dataset", help="Dataset name (fashion, fashion-dense, movielens-posters, amazon-*)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder of datasets that are not embedded."),  # noqa: UP045
    model: str = typer.Option("squeezenet1_1", "--model", help="Image model: squeezenet1_1 or resnet50."),
    input_size: Optional[int] = typer.Option(  # noqa: UP045
        None, "--input-size", help="Model input side; default: the upload size for fashion (112), else 224."
    ),
    weights: Optional[str] = typer.Option(  # noqa: UP045
        None, "--weights", help="'default', 'imagenet', a state-dict path, or 'random'; default: 'default'."
    ),
    cache_dir: Path = typer.Option(Path(".cache/features"), "--cache-dir", help="Feature cache folder."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Images per forward pass."),
    chunk_size: int = typer.Option(1024, "--chunk-size", min=1, help="Items per cached (resumable) chunk."),
    dtype: str = typer.Option("float32", "--dtype", help="Stored feature dtype: float32 or float16."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the features to this .npy (atomically)."),  # noqa: UP045
    engine: str = typer.Option("local", "--engine", help="'local' (this process) or 'ray' (Ray Data actors; the scale extra)."),
    address: Optional[str] = typer.Option(  # noqa: UP045
        None, "--address", help="With --engine ray: join the Ray cluster at HOST:PORT; default: a private local instance."
    ),
    workers: Optional[int] = typer.Option(  # noqa: UP045
        None, "--workers", min=1, help="With --engine ray: image-model actors (default: one per CPU, or per GPU with --device cuda)."
    ),
    device: str = typer.Option("cpu", "--device", help="Run the image model on 'cpu' or 'cuda[:N]'."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Extract a dataset's image features through the public image model, cached on disk.

    The cache is keyed by the model's identity and each image's content, so a re-run is a read
    and an interrupted run resumes. For ``fashion`` the model's input size defaults to the
    upload size (112): the uploads are 112x112 and upsampling them to 224 adds cost, not detail.
    With ``--engine ray`` the missing chunks are computed by Ray Data actors and this process
    writes the same cache.
    """
    from pixelpush.data.registry import EMBEDDED, load_dataset
    from pixelpush.devices import resolve_device
    from pixelpush.vision.models import load_image_model

    if dtype not in DTYPES:
        raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "local" and (address is not None or workers is not None):
        raise ConfigError("--address and --workers are for --engine ray; the local engine runs in this process")
    if engine == "ray":
        from pixelpush.ray_runtime import require_ray

        require_ray("--engine ray")  # before any image is read
    else:
        resolve_device(device)
    if out is not None:  # refused before any image is read, not after the extraction
        check_output_file(out, "--out")
    check_output_dir(cache_dir, "--cache-dir")
    t0 = time.perf_counter()
    data = load_dataset(dataset, root=root)
    if input_size is None and dataset in EMBEDDED and data.n_items:
        input_size = int(data.images.get(0).shape[0])
    chosen = "default" if weights is None else (None if weights.lower() in RANDOM_WEIGHTS else weights)
    image_model = load_image_model(model, weights=chosen, input_size=input_size)
    if engine == "ray":
        from pixelpush.vision.features_ray import extract_features_ray

        feats = extract_features_ray(
            image_model, data.images, cache_dir=cache_dir, batch_size=batch_size, chunk_size=chunk_size, dtype=dtype,
            device=device, workers=workers, address=address, progress=progress,
        )
    else:
        feats = extract_features(
            image_model.to(resolve_device(device)), data.images, cache_dir=cache_dir, batch_size=batch_size,
            chunk_size=chunk_size, dtype=dtype, progress=progress,
        )
    if out is not None:
        write_npy_atomic(out, _blocks(feats), feats.shape, dtype)
    seconds = time.perf_counter() - t0
    where = getattr(feats, "filename", None) or cache_dir
    extra = f", copy {out}" if out is not None else ""
    typer.echo(
        f"{data.name}: {feats.shape[0]} items x {feats.shape[1]} features ({dtype}, {image_model.identity}) "
        f"in {seconds:.1f} s; cache {where}{extra}"
    )
