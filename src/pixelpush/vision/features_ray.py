"""Feature extraction at catalog scale on Ray Data: an actor pool that holds the image model.

:func:`extract_features_ray` writes exactly the cache :func:`pixelpush.vision.features.extract_features`
writes (same chunks, digests, assembled array and manifest): it is :func:`~pixelpush.vision.features.cached_features` with the missing chunks computed by
a Ray Data pipeline instead of in this process.

- The dataset has one row per missing chunk (its item span). ``map_batches`` sends each row to
  a pool of actors (``concurrency`` = `workers`; default one per CPU, or one per GPU with
  ``device="cuda"``, each holding a GPU); an actor unpickles the image model and the image store
  once, then computes a chunk as the local path does (:func:`~pixelpush.vision.features.compute_chunk`:
  the same batches, a loader thread one batch ahead), and returns its features.
- This process, the driver, writes each chunk (atomically, with its digest) as it arrives, so a
  run killed at any point resumes from its finished chunks, and assembles the array at the end.
- The actors run torch on one thread each. Their features equal, bit for bit, the local path's
  on one thread; torch's CPU kernels may round differently at other thread counts for some
  batch shapes (about 1e-6 relative; already true of the local path between machines). Either
  way one cache holds one set of bytes, and campaigns key their units by its digest.
- Memory stays bounded whatever the catalog's size: an actor holds two batches of pixels and one
  chunk of features; blocks are ordered (``preserve_order``), so the driver holds at most one
  chunk, and Ray Data's backpressure caps what waits in the object store
  (:data:`OBJECT_STORE_LIMIT_MIB`).

The image store is shipped to the actors by pickling: a store that reads files needs the same
paths on every node; the embedded catalog ships its small sources. Ray is started (or joined,
with `address`) only if some chunk is missing.
"""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm  # the bar's type only

from pixelpush.data.catalog import ImageStore
from pixelpush.devices import check_device_name, cpu_pickle, is_cpu, resolve_device
from pixelpush.errors import ConfigError
from pixelpush.ray_runtime import cluster_resources, ray_session
from pixelpush.vision.features import _check_options, cached_features, compute_chunk
from pixelpush.vision.image_model import ImageModel

__all__ = ["OBJECT_STORE_LIMIT_MIB", "ChunkFeatures", "extract_features_ray"]

_log = logging.getLogger(__name__)

OBJECT_STORE_LIMIT_MIB = 128
"""Object store memory the pipeline may fill with finished chunks waiting for the driver."""


def _to_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


class ChunkFeatures:
    """A Ray Data actor: the image model and the image store, loaded once; features per chunk row."""

    def __init__(self, model: Any, images: Any, *, device: str, batch_size: int, dtype: str, threads: int) -> None:
        import ray

        from pixelpush.vision.torchvision_compat import import_torchvision

        import_torchvision()  # before unpickling a model built on torchvision's classes
        torch.set_num_threads(threads)
        logging.getLogger("pixelpush").setLevel(logging.WARNING)
        model_bytes = ray.get(model) if isinstance(model, ray.ObjectRef) else model
        self.model: ImageModel = pickle.loads(model_bytes).to(resolve_device(device))
        self.images: ImageStore = ray.get(images) if isinstance(images, ray.ObjectRef) else images
        self.batch_size, self.dtype = int(batch_size), dtype

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        features = [
            _to_bytes(compute_chunk(self.model, self.images, int(start), int(stop), batch_size=self.batch_size, dtype=self.dtype))
            for start, stop in zip(rows["start"], rows["stop"], strict=True)
        ]
        return {"span": rows["span"], "features": np.array(features, dtype=object)}


@contextmanager
def _data_options(ray: Any) -> Iterator[Any]:
    """Ray Data's context for this pipeline (ordered, bounded, quiet); the previous one restored after."""
    from ray.data import DataContext
    from ray.data._internal.execution.interfaces import ExecutionResources

    ctx = DataContext.get_current()
    fields = ("enable_progress_bars", "print_on_execution_start", "enable_auto_log_stats", "raise_original_map_exception")
    saved = {name: getattr(ctx, name) for name in fields}
    order, limits = ctx.execution_options.preserve_order, ctx.execution_options.resource_limits
    quiet = logging.getLogger("ray.data._internal.progress")  # "progress bars disabled": ours is drawn instead
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for name in fields:
            setattr(ctx, name, name == "raise_original_map_exception")  # our own bar; a DataError stays one
        ctx.execution_options.preserve_order = True
        ctx.execution_options.resource_limits = ExecutionResources.for_limits(object_store_memory=OBJECT_STORE_LIMIT_MIB * 2**20)
        yield ray.data
    finally:
        for name, value in saved.items():
            setattr(ctx, name, value)
        ctx.execution_options.preserve_order = order
        ctx.execution_options.resource_limits = limits
        quiet.setLevel(level)


def _pool(ray: Any, device: str, workers: int | None, chunks: int) -> tuple[int, float, int]:
    """``(actors, GPUs per actor, torch threads per actor)``."""
    cpus, gpus = cluster_resources(ray)
    if is_cpu(device):
        return max(1, min(workers or cpus or 1, chunks)), 0.0, 1
    if gpus < 1:
        raise ConfigError(f"device {device!r} was asked for, but the Ray cluster has no GPU (resources: {cpus} CPUs)")
    return max(1, min(workers or int(gpus), int(gpus), chunks)), 1.0, 1


def extract_features_ray(
    model: ImageModel,
    images: ImageStore,
    *,
    cache_dir: Path | str,
    batch_size: int = 64,
    chunk_size: int = 1024,
    dtype: str = "float32",
    device: str = "cpu",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> np.memmap:
    """The cached features ``(N, d)`` of `images`, missing chunks computed on Ray Data (see the module docstring).

    `device` is where the actors run the model (``cuda``: one GPU per actor, at most one actor
    per GPU of the cluster); `workers` caps the actors; `address` joins a cluster (default: a
    private local instance). Returns the same read-only memory map as ``extract_features``.
    """
    _check_options(batch_size, chunk_size, dtype)
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    device = check_device_name(str(device))
    if not is_cpu(device):
        device = "cuda"  # Ray gives each GPU actor its own GPU, visible there as cuda:0
    def compute(spans: Sequence[tuple[int, int]], bar: tqdm) -> Iterator[tuple[int, np.ndarray]]:
        with ray_session(address, what="--engine ray") as ray, _data_options(ray) as data:
            actors, gpus, threads = _pool(ray, device, workers, len(spans))
            model_ref = ray.put(cpu_pickle(model))
            rows = [{"span": j, "start": start, "stop": stop} for j, (start, stop) in enumerate(spans)]
            pipeline = data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                ChunkFeatures,
                batch_size=1,
                batch_format="numpy",
                compute=data.ActorPoolStrategy(size=actors),
                num_cpus=1,
                num_gpus=gpus,
                fn_constructor_kwargs={
                    "model": model_ref, "images": ray.put(images), "device": device,
                    "batch_size": batch_size, "dtype": dtype, "threads": threads,
                },
            )
            _log.info("features of %d chunks on %d Ray Data actors (%s)", len(spans), actors, device)
            for batch in pipeline.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
                for span, data_bytes in zip(batch["span"], batch["features"], strict=True):
                    start, stop = spans[int(span)]
                    bar.update(stop - start)
                    yield int(span), _from_bytes(data_bytes)

    return cached_features(
        model, images, cache_dir, compute, batch_size=batch_size, chunk_size=chunk_size, dtype=dtype, device=device,
        progress=progress,
    )
