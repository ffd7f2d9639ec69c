"""Feature extraction for a whole catalog: streamed, batched, cached on disk and resumable.

:func:`extract_features` pushes every upload of an :class:`~pixelpush.data.catalog.ImageStore`
through the public image model, batch by batch, so that memory holds one batch of pixels and one
chunk of features, whatever the catalog's size. With a ``cache_dir`` the features are cached by
model identity and image content (see :mod:`pixelpush.vision.feature_store`): a re-run reads the
cache, an interrupted run resumes from its finished chunks, and a catalog in which one image
changed recomputes only that image's chunk.

Costs to know: every cached call first computes all items' ``content_key`` (a streamed pass over
the catalog; stores that can key an item without decoding it should override ``content_key``),
and the chunk files are kept next to the assembled array so that edits stay incremental, which
doubles the cache's disk use (use ``dtype="float16"`` to halve both).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm  # the bar's type only: bars come from pixelpush.progress

from pixelpush.data.catalog import ImageStore
from pixelpush.errors import ConfigError, DataError
from pixelpush.progress import progress_bar
from pixelpush.vision.feature_store import FeatureStore
from pixelpush.vision.image_model import ImageModel

_log = logging.getLogger(__name__)

DTYPES = ("float32", "float16")


def _check_options(batch_size: int, chunk_size: int, dtype: str) -> None:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size}")
    if int(chunk_size) < 1:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size}")


def _model_device(model: ImageModel) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _load_batch(images: ImageStore, lo: int, hi: int) -> np.ndarray | list[np.ndarray]:
    """Uploads ``lo..hi-1``: one stacked ``(B, H, W, 3)`` array when their sizes agree, else a list."""
    uploads = [images.get(i) for i in range(lo, hi)]
    return np.stack(uploads) if len({u.shape for u in uploads}) == 1 else uploads


def _forward(model: ImageModel, batch: np.ndarray | list[np.ndarray], device: torch.device) -> np.ndarray:
    """Features (float32) of a batch of uploads, in one forward pass."""
    if isinstance(batch, np.ndarray):
        x = model.preprocess(torch.from_numpy(batch).to(device))
    else:
        x = torch.cat([model.preprocess(torch.from_numpy(np.ascontiguousarray(u))[None].to(device)) for u in batch])
    return model.embed(x).detach().to("cpu", torch.float32).numpy()


def _check_features(feats: np.ndarray, start: int, dtype: str, model: ImageModel) -> np.ndarray:
    """`feats` cast to `dtype`; a non-finite row (or float16 overflow) raises DataError."""
    if feats.ndim != 2 or feats.shape[1] != model.feature_dim:
        raise DataError(f"image model {model.identity} returned features of shape {feats.shape}, expected (B, {model.feature_dim})")
    bad = ~np.isfinite(feats).all(axis=1)
    if bad.any():
        item = start + int(np.flatnonzero(bad)[0])
        raise DataError(f"item {item}: image model {model.identity} produced a non-finite (NaN/inf) feature vector ({int(bad.sum())} items in this batch)")
    with np.errstate(over="ignore"):
        out = feats.astype(dtype, copy=False)
    if dtype != "float32":
        over = ~np.isfinite(out).all(axis=1)
        if over.any():
            item = start + int(np.flatnonzero(over)[0])
            raise DataError(f"item {item}: features exceed the range of {dtype} (max |f| = {np.abs(feats).max():.3g}); use dtype float32")
    return out


def compute_chunk(
    model: ImageModel, images: ImageStore, start: int, stop: int, *, batch_size: int, dtype: str, bar: tqdm | None = None
) -> np.ndarray:
    """Features of items ``start..stop-1``, streamed batch by batch in inference mode."""
    out = np.empty((stop - start, model.feature_dim), dtype=dtype)
    device = _model_device(model)
    spans = [(lo, min(lo + batch_size, stop)) for lo in range(start, stop, batch_size)]
    # One loader thread reads the next batch while the model runs on this one (torch and most
    # decoders release the GIL): at most two batches of pixels are in memory at a time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixelpush-load") as pool, torch.inference_mode():
        pending = pool.submit(_load_batch, images, *spans[0]) if spans else None
        for k, (lo, hi) in enumerate(spans):
            batch = pending.result()  # type: ignore[union-attr]
            pending = pool.submit(_load_batch, images, *spans[k + 1]) if k + 1 < len(spans) else None
            feats = _forward(model, batch, device)
            del batch
            out[lo - start : hi - start] = _check_features(feats, lo, dtype, model)
            if bar is not None:
                bar.update(hi - lo)
    return out


def _chunk_hashes(images: ImageStore, chunk_size: int, progress: bool) -> tuple[list[str], str]:
    """Per-chunk hashes over the items' content keys and the whole catalog's hash, streamed."""
    n = len(images)
    whole = hashlib.blake2b(digest_size=16)
    whole.update(f"catalog:{n}".encode())
    chunks = []
    with progress_bar(total=n, desc="hashing images", unit="img", enabled=progress, leave=False) as bar:
        for start in range(0, n, chunk_size):
            part = hashlib.blake2b(digest_size=16)
            stop = min(start + chunk_size, n)
            part.update(f"chunk:{stop - start}".encode())
            for i in range(start, stop):
                key = images.content_key(i).encode()
                part.update(key + b"\n")
                whole.update(key + b"\n")
            chunks.append(part.hexdigest())
            bar.update(stop - start)
    return chunks, whole.hexdigest()


ChunkComputer = Callable[[Sequence[tuple[int, int]], tqdm], Iterator[tuple[int, np.ndarray]]]
"""Computes the features of item spans ``(start, stop)``: yields ``(span index, features)`` as
each span finishes, in any order, updating the bar by items (``compute_chunk`` per span, locally;
:mod:`pixelpush.vision.features_ray` on Ray Data)."""


def store_identity(model: ImageModel, device: torch.device | str | None = None) -> str:
    """The identity the feature cache files `model`'s features under, computed on `device`.

    On the CPU it is the model's identity; on another device its type is appended (a GPU's
    features agree with the CPU's to float32 rounding, not bit for bit, so they are kept apart).

    >>> from pixelpush.vision.models import load_image_model
    >>> m = load_image_model("squeezenet1_1", input_size=64)
    >>> store_identity(m) == m.identity, store_identity(m, "cuda:1") == m.identity + "|cuda"
    (True, True)
    """
    kind = torch.device(device).type if device is not None else _model_device(model).type
    return model.identity if kind == "cpu" else f"{model.identity}|{kind}"


def extract_features(
    model: ImageModel,
    images: ImageStore,
    *,
    cache_dir: Path | str | None = None,
    batch_size: int = 64,
    chunk_size: int = 1024,
    dtype: str = "float32",
    progress: bool = True,
) -> np.ndarray:
    """Features ``(N, d)`` of every upload in `images`, row ``i`` for item ``i``.

    Images are read one batch at a time and pushed through ``model`` (on its device) under
    :func:`torch.inference_mode`; memory holds one batch of pixels and one chunk of features.

    Without `cache_dir` the result is an in-memory array of `dtype`. With `cache_dir` it is a
    **read-only** :class:`numpy.memmap` of the cached ``.npy`` (of `dtype`), suitable for
    training directly: a float32 cache can be indexed as is; a float16 cache (half the disk and
    page cache) should be converted per batch with ``feats[idx].astype(np.float32)``.
    The cache is keyed by the model's :func:`store_identity` and each image's ``content_key``;
    chunks of `chunk_size` items are written atomically, so an interrupted run resumes from its
    finished chunks, and a changed image invalidates only its own chunk. A damaged cache file is
    logged, discarded and recomputed.

    Raises :class:`~pixelpush.errors.DataError` naming the item whose features are NaN/inf (or
    overflow float16), and :class:`~pixelpush.errors.ConfigError` for bad options.
    """
    _check_options(batch_size, chunk_size, dtype)
    n = len(images)
    if cache_dir is None:
        t0 = time.perf_counter()
        with progress_bar(total=n, desc=f"features {model.identity}", unit="img", enabled=progress) as bar:
            out = compute_chunk(model, images, 0, n, batch_size=batch_size, dtype=dtype, bar=bar)
        _log.debug("extracted %d features in %.2f s (no cache)", n, time.perf_counter() - t0)
        return out

    def compute(spans: Sequence[tuple[int, int]], bar: tqdm) -> Iterator[tuple[int, np.ndarray]]:
        for k, (start, stop) in enumerate(spans):
            yield k, compute_chunk(model, images, start, stop, batch_size=batch_size, dtype=dtype, bar=bar)

    return cached_features(model, images, cache_dir, compute, batch_size=batch_size, chunk_size=chunk_size, dtype=dtype, progress=progress)


def cached_features(
    model: ImageModel,
    images: ImageStore,
    cache_dir: Path | str,
    compute: ChunkComputer,
    *,
    batch_size: int = 64,
    chunk_size: int = 1024,
    dtype: str = "float32",
    device: torch.device | str | None = None,
    progress: bool = True,
) -> np.memmap:
    """The cached features of `images` (see :func:`extract_features`), missing chunks made by `compute`.

    The caller's process alone writes the cache: `compute` only returns features (in whichever
    processes it likes), and each finished chunk is written here as it arrives, so a run killed
    at any point resumes from the chunks it finished. `device` is where `compute` runs the model
    (default: where `model` is); it decides the cache's :func:`store_identity`.
    """
    _check_options(batch_size, chunk_size, dtype)
    n, dim = len(images), int(model.feature_dim)
    t0 = time.perf_counter()
    store = FeatureStore(Path(cache_dir), store_identity(model, device), dtype)
    store.prepare()
    chunks, catalog_hash = _chunk_hashes(images, chunk_size, progress)
    cached = store.open_assembled(catalog_hash, n, dim)
    if cached is not None:
        _log.info("features of %d items read from cache %s", n, store.features_path(catalog_hash))
        return cached

    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    missing = [k for k, (h, (start, stop)) in enumerate(zip(chunks, bounds, strict=True)) if not store.has_chunk(h, stop - start, dim)]
    todo = set(missing)
    computed, reused = len(missing), {h for k, h in enumerate(chunks) if k not in todo}
    with progress_bar(total=n, desc=f"features {model.identity}", unit="img", enabled=progress) as bar:
        bar.update(n - sum(bounds[k][1] - bounds[k][0] for k in missing))
        if missing:
            for j, feats in compute([bounds[k] for k in missing], bar):
                k = missing[j]
                start, stop = bounds[k]
                if feats.shape != (stop - start, dim) or feats.dtype != np.dtype(dtype):
                    raise DataError(f"features of items {start}..{stop - 1} came back as {feats.dtype} {feats.shape}, expected {dtype} ({stop - start}, {dim})")
                store.write_chunk(chunks[k], feats)

    def blocks() -> Iterator[np.ndarray]:
        nonlocal computed
        for chunk_hash, (start, stop) in zip(chunks, bounds, strict=True):
            block = store.read_chunk(chunk_hash, stop - start, dim)
            if block is None:  # removed or damaged since the pass above: compute it again, here
                block = compute_chunk(model, images, start, stop, batch_size=batch_size, dtype=dtype)
                store.write_chunk(chunk_hash, block)
                computed += 1
                reused.discard(chunk_hash)
            yield block

    store.write_assembled(catalog_hash, blocks(), n, dim, chunks, chunk_size)
    _log.info(
        "features of %d items: %d chunks computed, %d reused, in %.1f s; cached at %s",
        n, computed, len(reused), time.perf_counter() - t0, store.features_path(catalog_hash),
    )
    result = store.open_assembled(catalog_hash, n, dim)
    if result is None:  # pragma: no cover - only if the file vanished right after writing
        raise DataError(f"feature cache {store.features_path(catalog_hash)} could not be read back")
    return result


def feature_cache_path(model: ImageModel, images: ImageStore, cache_dir: Path | str, *, dtype: str = "float32") -> Path:
    """Where :func:`extract_features` keeps the assembled features of `images` (may not exist yet)."""
    _check_options(1, 1, dtype)
    _, catalog_hash = _chunk_hashes(images, len(images) or 1, progress=False)
    return FeatureStore(Path(cache_dir), store_identity(model), dtype).features_path(catalog_hash)
