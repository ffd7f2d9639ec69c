#!/usr/bin/env python
"""Build the embedded ``fashion`` catalog: a seeded Fashion-MNIST subset + simulated shoppers.

Writes ``src/pixelpush/assets/fashion/fashion.npz`` and its ``NOTICE``. Re-running with the same
source, seed and sizes reproduces the asset's arrays exactly.

    .venv/bin/python scripts/build_fashion_catalog.py [--source DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from pixelpush.data.fashion import ASSET_VERSION, CATEGORY_NAMES
from pixelpush.data.simulate import SimulationConfig, simulate
from pixelpush.random import numpy_rng

log = logging.getLogger("build_fashion_catalog")
REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "pixelpush" / "assets" / "fashion"


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (the MNIST format) of unsigned bytes into an array."""
    data = gzip.decompress(path.read_bytes())
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {arr.size} values for shape {shape}")
    return arr.reshape(shape)


def pick_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted source indices: `per_class` random items of each class."""
    rng = numpy_rng(seed, "fashion", "subset")
    picks = []
    for c in range(len(CATEGORY_NAMES)):
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise ValueError(f"class {c} has only {len(pool)} items, {per_class} requested")
        picks.append(rng.choice(pool, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file next to `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def notice_text(copyright_file: Path) -> str:
    """The NOTICE: where the images come from and their licence, copied verbatim."""
    return (
        "The product images in fashion.npz are a subset of Fashion-MNIST (training split),\n"
        "https://github.com/zalandoresearch/fashion-mnist, used under the MIT (Expat) licence\n"
        "reproduced below. The user-item interactions are simulated by pixelpush\n"
        "(pixelpush.data.simulate); they are not real shopping data.\n\n"
        f"--- {copyright_file.name} ---\n\n" + copyright_file.read_text()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "fashion-mnist",
                        help="folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, COPYRIGHT.debian")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--items-per-class", type=int, default=300)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--alpha", type=float, default=SimulationConfig.alpha,
                        help="weight of appearance in the simulated choice (see pixelpush.data.simulate)")
    parser.add_argument("--median-history", type=float, default=SimulationConfig.median_history,
                        help="median number of items a simulated shopper buys")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    images = read_idx(args.source / "train-images-idx3-ubyte.gz")
    labels = read_idx(args.source / "train-labels-idx1-ubyte.gz")
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise SystemExit(f"unexpected Fashion-MNIST shapes {images.shape} / {labels.shape}")
    idx = pick_subset(labels, args.items_per_class, args.seed)
    sources, cats = images[idx], labels[idx].astype(np.int64)
    log.info("picked %d items (%d per class) from %d", len(idx), args.items_per_class, len(images))

    config = replace(SimulationConfig(), n_users=args.users, alpha=args.alpha, median_history=args.median_history)
    sim = simulate(sources, cats, len(CATEGORY_NAMES), config, seed=args.seed)
    meta = {
        "version": ASSET_VERSION,
        "source": "Fashion-MNIST train split (Zalando Research, MIT)",
        "items_per_class": args.items_per_class,
        "simulation": sim.metadata(),
    }

    def write_npz(fh) -> None:
        np.savez_compressed(
            fh,
            images=np.ascontiguousarray(sources, dtype=np.uint8),
            labels=cats.astype(np.uint8),
            interactions=sim.interactions.astype(np.int32),
            source_index=idx.astype(np.int32),
            metadata=np.array(json.dumps(meta, sort_keys=True)),
        )

    npz_path = args.out / "fashion.npz"
    atomic_write_bytes(npz_path, write_npz)
    text = notice_text(args.source / "COPYRIGHT.debian").encode()
    atomic_write_bytes(args.out / "NOTICE", lambda fh: fh.write(text))

    lengths = np.bincount(sim.interactions[:, 0], minlength=args.users)
    log.info(
        "wrote %s (%.0f KB): %d users, %d items, %d interactions; history min %d median %.0f p90 %.0f max %d",
        npz_path, npz_path.stat().st_size / 1024, args.users, len(idx), len(sim.interactions),
        lengths.min(), np.median(lengths), np.percentile(lengths, 90), lengths.max(),
    )


if __name__ == "__main__":
    main()
