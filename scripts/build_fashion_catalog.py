#!/usr/bin/env python
"""Build an embedded Fashion-MNIST catalog: a seeded subset of real images + simulated shoppers.

Two catalogs, each a recipe below that states every parameter:

* ``fashion`` (the default, ``fashion.npz``): the paper's Clothing regime. A pool of 14,000
  images (1,400 per class); 2,000 shoppers with ~8 purchases each (median 7); the shoppers'
  style is a 12-d projection of SqueezeNet 1.1's ``fire5`` activations on the 112-px upload
  (:mod:`pixelpush.data.appearance`); items nobody bought are dropped, as in review-based data,
  leaving ~7,000 items with ~2.3 purchases each and many cold ones.
* ``fashion-dense`` (``fashion-dense.npz``): the first embedded catalog, 3,000 items (300 per
  class) and 2,000 shoppers with a median of 17 purchases, style = 12 principal components of
  the pixels; every item stays. Collaborative signals leave appearance little to add here
  (VBPR's visual gain ~0, the paper's Electronics-like regime).

Writes ``src/pixelpush/assets/fashion/<catalog>.npz`` and the ``NOTICE``. Re-running with the
same source, seed and recipe reproduces the asset's arrays.

    .venv/bin/python scripts/build_fashion_catalog.py [--catalog fashion|fashion-dense] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from pixelpush.data.appearance import fit_style_projection, layer_activations
from pixelpush.data.fashion import ASSET_VERSION, CATALOGS, CATEGORY_NAMES, UpsampledImages
from pixelpush.data.simulate import SimulationConfig, consumed_items_only, simulate
from pixelpush.files import write_atomic
from pixelpush.random import numpy_rng
from pixelpush.vision.models import load_image_model

log = logging.getLogger("build_fashion_catalog")
REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "pixelpush" / "assets" / "fashion"


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a catalog (with the seed and the source files)."""

    items_per_class: int
    """Images drawn per Fashion-MNIST class (the pool the shoppers choose from)."""
    simulation: SimulationConfig
    """The shopper model's parameters (pixelpush.data.simulate)."""
    style_layer: str | None
    """SqueezeNet layer whose pooled activations define style; None: the pixels' PCA."""
    style_input_size: int = 112
    """Input side of the image model that computes the style (= the campaigns' input size)."""
    upload_size: int = 112
    """Side of the uploads the style is computed from (bicubic upsampling of the 28-px sources)."""
    consumed_only: bool = False
    """Drop the items nobody bought (review-based datasets only contain bought items)."""


RECIPES: dict[str, Recipe] = {
    "fashion": Recipe(
        items_per_class=1400,
        simulation=SimulationConfig(
            n_users=2000, style_dims=12, alpha=1.0, beta=1.0, popularity_sigma=1.0, category_concentration=0.5,
            median_history=7.0, history_sigma=0.5, min_history=5, max_history=400,
        ),
        style_layer="fire5",
        consumed_only=True,
    ),
    "fashion-dense": Recipe(
        items_per_class=300,
        simulation=SimulationConfig(
            n_users=2000, style_dims=12, alpha=1.0, beta=1.0, popularity_sigma=1.0, category_concentration=0.5,
            median_history=17.0, history_sigma=0.85, min_history=5, max_history=400,
        ),
        style_layer=None,
    ),
}


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


def notice_text(copyright_file: Path) -> str:
    """The NOTICE: where the images come from and their licence, copied verbatim."""
    files = " and ".join(CATALOGS.values())
    return (
        f"The product images in {files} are subsets of Fashion-MNIST (training split),\n"
        "https://github.com/zalandoresearch/fashion-mnist, used under the MIT (Expat) licence\n"
        "reproduced below. The user-item interactions are simulated by pixelpush\n"
        "(pixelpush.data.simulate); they are not real shopping data.\n\n"
        f"--- {copyright_file.name} ---\n\n" + copyright_file.read_text()
    )


def build(name: str, recipe: Recipe, sources: np.ndarray, cats: np.ndarray, idx: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The asset's arrays for `recipe` on the picked `sources` (their `cats`, source indices `idx`)."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {
        "version": ASSET_VERSION[name],
        "name": name,
        "source": "Fashion-MNIST train split (Zalando Research, MIT)",
        "items_per_class": recipe.items_per_class,
        "pool_size": int(len(idx)),
        "recipe": {k: v for k, v in asdict(recipe).items() if k != "simulation"},
    }
    style = None
    if recipe.style_layer is not None:
        model = load_image_model("squeezenet1_1", input_size=recipe.style_input_size)
        acts = layer_activations(model, UpsampledImages(sources, recipe.upload_size), recipe.style_layer, progress=True)
        projection = fit_style_projection(acts, recipe.simulation.style_dims)
        style = projection.apply(acts)
        meta["appearance"] = {"image_model": model.identity, "layer": recipe.style_layer, "upload_size": recipe.upload_size}
        arrays |= {"style_mean": projection.mean, "style_basis": projection.basis, "style_scale": projection.scale}
        log.info("style: %d-d projection of %s activations of %s", projection.dims, recipe.style_layer, model.identity)
    sim = simulate(sources, cats, len(CATEGORY_NAMES), recipe.simulation, seed=seed, style=style)
    meta["simulation"] = sim.metadata()
    kept, interactions = np.arange(len(idx)), sim.interactions
    if recipe.consumed_only:
        kept, interactions = consumed_items_only(sim.interactions, len(idx))
        log.info("kept the %d of %d pool items that someone bought", len(kept), len(idx))
    if style is not None:
        arrays["style"] = style[kept].astype(np.float32)
    arrays |= {
        "images": np.ascontiguousarray(sources[kept], dtype=np.uint8),
        "labels": cats[kept].astype(np.uint8),
        "interactions": interactions.astype(np.int32),
        "source_index": idx[kept].astype(np.int32),
        "metadata": np.array(json.dumps(meta, sort_keys=True)),
    }
    return arrays


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", choices=sorted(RECIPES), default="fashion", help="which catalog to build")
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "fashion-mnist",
                        help="folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, COPYRIGHT.debian")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--items-per-class", type=int, default=None, help="override the recipe's pool size per class")
    parser.add_argument("--users", type=int, default=None, help="override the recipe's number of shoppers")
    parser.add_argument("--alpha", type=float, default=None,
                        help="override the weight of appearance in the simulated choice (see pixelpush.data.simulate)")
    parser.add_argument("--median-history", type=float, default=None, help="override the median purchases per shopper")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    recipe = RECIPES[args.catalog]
    sim_overrides = {k: v for k, v in {"n_users": args.users, "alpha": args.alpha, "median_history": args.median_history}.items() if v is not None}
    recipe = replace(recipe, simulation=replace(recipe.simulation, **sim_overrides))
    if args.items_per_class is not None:
        recipe = replace(recipe, items_per_class=args.items_per_class)

    images = read_idx(args.source / "train-images-idx3-ubyte.gz")
    labels = read_idx(args.source / "train-labels-idx1-ubyte.gz")
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise SystemExit(f"unexpected Fashion-MNIST shapes {images.shape} / {labels.shape}")
    idx = pick_subset(labels, recipe.items_per_class, args.seed)
    log.info("picked %d items (%d per class) from %d", len(idx), recipe.items_per_class, len(images))
    arrays = build(args.catalog, recipe, images[idx], labels[idx].astype(np.int64), idx, args.seed)

    npz_path = args.out / CATALOGS[args.catalog]
    write_atomic(npz_path, lambda fh: np.savez_compressed(fh, **arrays))
    text = notice_text(args.source / "COPYRIGHT.debian").encode()
    write_atomic(args.out / "NOTICE", text)

    inter = arrays["interactions"]
    n_users, n_items = recipe.simulation.n_users, len(arrays["images"])
    lengths = np.bincount(inter[:, 0], minlength=n_users)
    log.info(
        "wrote %s (%.0f KB): %d users, %d items, %d interactions (%.2f per user, %.2f per item); "
        "history min %d median %.0f p90 %.0f max %d",
        npz_path, npz_path.stat().st_size / 1024, n_users, n_items, len(inter), len(inter) / n_users,
        len(inter) / n_items, lengths.min(), np.median(lengths), np.percentile(lengths, 90), lengths.max(),
    )


if __name__ == "__main__":
    main()
