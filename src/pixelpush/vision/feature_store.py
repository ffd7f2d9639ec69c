"""On-disk feature cache: content-addressed chunks and assembled, memory-mappable ``.npy`` files.

Layout under ``cache_dir`` (one folder per model identity and storage dtype)::

    <cache_dir>/<model-slug>-<id-hash>/<dtype>/
        chunks/<chunk-hash>.npy        features of one chunk of items, keyed by their content keys
        <catalog-hash>.npy             all items' features, (N, d), assembled from the chunks
        <catalog-hash>.json            manifest: model identity, n, d, dtype, catalog hash, chunks,
                                       the array's digest

        chunks/<chunk-hash>.sum        blake2b digest of that chunk file's bytes

Every file is written atomically (:mod:`pixelpush.files`): a killed run leaves only whole files
behind (plus temporaries of a dead process, removed by the next run). Files are checked before
use: header, dtype, shape and exact size, and the digest of their bytes against the one recorded
when they were written (a chunk's ``.sum``, the assembled array's manifest), so values
overwritten in place at the same size are caught too. A damaged file is logged, deleted and
recomputed, never returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from pixelpush.files import atomic_file, remove_stale_temporaries

_log = logging.getLogger(__name__)

FORMAT_VERSION = 2
_DIGEST_BYTES = 16


class _HashingWriter:
    """Writes through to a file while hashing what it writes."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def file_digest(path: Path, block: int = 1 << 22) -> str:
    """blake2b hex digest of a file's bytes, read in blocks (memory stays bounded)."""
    h = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    with open(path, "rb") as fh:
        while data := fh.read(block):
            h.update(data)
    return h.hexdigest()


def _npy_header(fh: IO[bytes], shape: tuple[int, ...], dtype: np.dtype) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(fh, header)


def write_npy_atomic(path: Path, blocks: Iterator[np.ndarray] | list[np.ndarray], shape: tuple[int, int], dtype: str) -> str:
    """Write an ``.npy`` of `shape` and `dtype` atomically from row `blocks`, one block at a time.

    Returns the blake2b hex digest of the file's bytes. Streaming the blocks through ordinary
    writes keeps memory bounded by one block (a writable memory map would keep every dirty page
    of the file resident until written back).
    """
    dt = np.dtype(dtype)
    rows = 0
    with atomic_file(path) as raw:
        fh = _HashingWriter(raw)
        _npy_header(fh, shape, dt)  # type: ignore[arg-type]
        for block in blocks:
            block = np.ascontiguousarray(block, dtype=dt)
            if block.ndim != 2 or block.shape[1] != shape[1]:
                raise ValueError(f"block of shape {block.shape} does not fit an array of shape {shape}")
            fh.write(block.data)
            rows += len(block)
        if rows != shape[0]:
            raise ValueError(f"wrote {rows} rows into an array of shape {shape}")
    return fh.digest.hexdigest()


def open_npy_checked(
    path: Path, *, shape: tuple[int, int] | None = None, dtype: str | None = None, digest: str | None = None
) -> np.memmap | None:
    """A read-only memory map of the ``.npy`` at `path` if it is whole and as expected, else None.

    Checks the header, C order, `dtype`, `shape`, that the file size is exactly header plus
    data (a truncated or padded file fails) and, when `digest` is given, that the file's bytes
    hash to it (values changed in place fail). A missing file gives None without a warning; a
    damaged one is logged, deleted and gives None.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = fh.tell()
        problem = None
        if fortran:
            problem = "Fortran order"
        elif dtype is not None and got_dtype != np.dtype(dtype):
            problem = f"dtype {got_dtype}, expected {dtype}"
        elif len(got_shape) != 2 or (shape is not None and tuple(got_shape) != tuple(shape)):
            problem = f"shape {got_shape}, expected {shape}"
        else:
            expected = offset + int(np.prod(got_shape)) * got_dtype.itemsize
            size = path.stat().st_size
            if size != expected:
                problem = f"{size} bytes, expected {expected} (truncated or padded)"
            elif digest is not None and file_digest(path) != digest:
                problem = "its bytes do not match the digest recorded when it was written"
        if problem is None:
            if int(np.prod(got_shape)) == 0:  # np.memmap refuses empty maps
                arr = np.empty(got_shape, dtype=got_dtype)
                arr.flags.writeable = False
                return arr  # type: ignore[return-value]
            return np.memmap(path, dtype=got_dtype, mode="r", offset=offset, shape=tuple(got_shape))
    except (OSError, ValueError, EOFError, SyntaxError) as err:
        problem = f"unreadable ({err})"
    _log.warning("feature cache file %s is damaged (%s): discarding it and recomputing", path, problem)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


class FeatureStore:
    """The cache folder of one model identity and storage dtype (see the module docstring)."""

    def __init__(self, cache_dir: Path, model_identity: str, dtype: str) -> None:
        ident = hashlib.blake2b(model_identity.encode(), digest_size=6).hexdigest()
        self.model_identity = model_identity
        self.dtype = dtype
        self.root = Path(cache_dir) / f"{_slug(model_identity)}-{ident}" / dtype
        self.chunk_dir = self.root / "chunks"

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"

    def prepare(self) -> None:
        """Create the folders and remove temporaries left by processes that no longer run."""
        self.chunk_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.chunk_dir):
            remove_stale_temporaries(folder)

    # chunks ------------------------------------------------------------------------------
    def chunk_path(self, chunk_hash: str) -> Path:
        return self.chunk_dir / f"{chunk_hash}.npy"

    def _digest_path(self, chunk_hash: str) -> Path:
        return self.chunk_dir / f"{chunk_hash}.sum"

    def _open_chunk(self, chunk_hash: str, rows: int, dim: int) -> np.memmap | None:
        path = self.chunk_path(chunk_hash)
        if not path.exists():
            return None
        try:
            digest = self._digest_path(chunk_hash).read_text().strip()
        except OSError:
            _log.warning("feature chunk %s has no digest file: discarding it and recomputing", path)
            path.unlink(missing_ok=True)
            return None
        return open_npy_checked(path, shape=(rows, dim), dtype=self.dtype, digest=digest)

    def has_chunk(self, chunk_hash: str, rows: int, dim: int) -> bool:
        """Whether a whole chunk file of the right shape exists whose bytes match its digest."""
        return self._open_chunk(chunk_hash, rows, dim) is not None

    def read_chunk(self, chunk_hash: str, rows: int, dim: int) -> np.ndarray | None:
        """A finished chunk's features, or None if it is missing or damaged (then deleted)."""
        arr = self._open_chunk(chunk_hash, rows, dim)
        if arr is None:
            return None
        out = np.array(arr)  # copy out of the map: the chunk file may be replaced later
        if not np.isfinite(out).all():
            _log.warning("feature chunk %s holds non-finite values: discarding and recomputing", chunk_hash)
            self.chunk_path(chunk_hash).unlink(missing_ok=True)
            return None
        return out

    def write_chunk(self, chunk_hash: str, features: np.ndarray) -> None:
        """Write a chunk's features, then its digest (a chunk without a digest is not trusted)."""
        digest = write_npy_atomic(self.chunk_path(chunk_hash), [features], features.shape, self.dtype)
        with atomic_file(self._digest_path(chunk_hash)) as fh:
            fh.write(digest.encode())

    # assembled arrays --------------------------------------------------------------------
    def features_path(self, catalog_hash: str) -> Path:
        return self.root / f"{catalog_hash}.npy"

    def manifest_path(self, catalog_hash: str) -> Path:
        return self.root / f"{catalog_hash}.json"

    def read_manifest(self, catalog_hash: str) -> dict[str, Any] | None:
        path = self.manifest_path(catalog_hash)
        if not path.exists():
            return None
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            _log.warning("feature cache manifest %s is damaged (%s): rebuilding it", path, err)
            path.unlink(missing_ok=True)
            return None
        return manifest if isinstance(manifest, dict) else None

    def _identity(self, catalog_hash: str, n: int, dim: int) -> dict[str, Any]:
        """What a manifest must say for its array to be this catalog's features."""
        return {"format": FORMAT_VERSION, "model": self.model_identity, "n": n, "d": dim, "dtype": self.dtype, "content_hash": catalog_hash}

    def open_assembled(self, catalog_hash: str, n: int, dim: int) -> np.memmap | None:
        """The assembled features of a catalog if its manifest and array agree and are whole."""
        manifest = self.read_manifest(catalog_hash)
        expected = self._identity(catalog_hash, n, dim)
        if manifest is None:
            return None
        if any(manifest.get(k) != v for k, v in expected.items()):
            _log.warning("feature cache manifest %s does not match this catalog: rebuilding", self.manifest_path(catalog_hash))
            return None
        digest = manifest.get("digest")
        if not isinstance(digest, str):
            return None
        return open_npy_checked(self.features_path(catalog_hash), shape=(n, dim), dtype=self.dtype, digest=digest)

    def write_assembled(self, catalog_hash: str, blocks: Iterator[np.ndarray], n: int, dim: int, chunks: list[str], chunk_size: int) -> None:
        """Write the assembled array, then its manifest (both atomically, in that order)."""
        digest = write_npy_atomic(self.features_path(catalog_hash), blocks, (n, dim), self.dtype)
        manifest = {
            **self._identity(catalog_hash, n, dim),
            "chunk_size": chunk_size,
            "chunks": chunks,
            "features": self.features_path(catalog_hash).name,
            "digest": digest,
        }
        with atomic_file(self.manifest_path(catalog_hash)) as fh:
            fh.write(json.dumps(manifest, indent=1).encode())
