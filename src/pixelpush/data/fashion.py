"""The embedded Fashion-MNIST catalogs: real product images, simulated shoppers.

Two catalogs ship with pixelpush (built by ``scripts/build_fashion_catalog.py``, whose recipes
state every parameter):

* ``fashion`` (the default): the paper's Clothing regime — ~7,000 items, 2,000 shoppers, ~8
  purchases per shopper and ~2.3 per item, many cold items; the shoppers' taste is defined on
  appearance as the public image model sees it (:mod:`pixelpush.data.appearance`).
* ``fashion-dense``: the first embedded catalog — 3,000 items, 2,000 shoppers with a median of
  17 purchases; appearance barely adds to collaborative signals (the Electronics-like regime).

Each asset holds 28×28 grayscale sources; uploads are made on demand by upsampling a source
with Pillow (bicubic) and repeating it into three channels. Interactions come from
:mod:`pixelpush.data.simulate`; the asset's ``metadata`` records how they were generated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from pixelpush.data.appearance import StyleProjection
from pixelpush.data.catalog import Dataset, ImageStore
from pixelpush.errors import ConfigError, DataError, UnknownIdError

log = logging.getLogger(__name__)

#: Asset file per embedded catalog name (the first is the default).
CATALOGS: dict[str, str] = {"fashion": "fashion.npz", "fashion-dense": "fashion-dense.npz"}
#: Format version of each catalog's asset.
ASSET_VERSION: dict[str, int] = {"fashion": 2, "fashion-dense": 1}
CATEGORY_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_RESAMPLE = Image.Resampling.BICUBIC
_MAX_UPLOAD = 1024


class UpsampledImages(ImageStore):
    """Uploads made on demand from small grayscale sources ``(N, h, w)`` uint8.

    ``get(i)`` resizes source ``i`` to ``(size, size)`` with Pillow's bicubic filter
    (deterministic) and stacks it into three identical channels.
    """

    def __init__(self, sources: np.ndarray, size: int) -> None:
        if sources.ndim != 3 or sources.dtype != np.uint8:
            raise DataError(f"expected uint8 grayscale sources (N, h, w), got {sources.dtype} {sources.shape}")
        self._sources = sources
        self.size = int(size)

    def __len__(self) -> int:
        return len(self._sources)

    def _source(self, item: int) -> np.ndarray:
        if not 0 <= item < len(self._sources):
            raise UnknownIdError(f"unknown item {item}: the catalog has items 0..{len(self._sources) - 1}")
        return self._sources[item]

    def source(self, item: int) -> np.ndarray:
        """The small grayscale source of `item` (a copy)."""
        return self._source(item).copy()

    def get(self, item: int) -> np.ndarray:
        src = self._source(item)
        if src.shape != (self.size, self.size):
            src = np.asarray(Image.fromarray(src, mode="L").resize((self.size, self.size), _RESAMPLE))
        return np.repeat(src[:, :, None], 3, axis=2)

    def content_key(self, item: int) -> str:
        """Hash of the small source, the upload size and the filter (no upsampling needed)."""
        src = self._source(item)
        h = hashlib.blake2b(digest_size=16)
        h.update(f"upsampled:{src.shape}:{self.size}:{_RESAMPLE.name}:rgb".encode())
        h.update(np.ascontiguousarray(src).tobytes())
        return h.hexdigest()


_REQUIRED = ("images", "labels", "interactions", "source_index", "metadata")
_STYLE = ("style", "style_mean", "style_basis", "style_scale")


def _read_asset(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _REQUIRED}
            arrays |= {k: npz[k] for k in _STYLE if k in npz.files}
    except FileNotFoundError as err:
        raise DataError(f"fashion asset missing at {path}: run scripts/build_fashion_catalog.py") from err
    except KeyError as err:
        raise DataError(f"fashion asset {path} lacks array {err}: rebuild it with scripts/build_fashion_catalog.py") from err
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"fashion asset {path} is corrupt ({err}): rebuild it with scripts/build_fashion_catalog.py") from err
    images, labels, inter = arrays["images"], arrays["labels"], arrays["interactions"]
    n = len(images)
    problems = []
    if images.dtype != np.uint8 or images.ndim != 3:
        problems.append(f"images {images.dtype} {images.shape}")
    if labels.shape != (n,) or (n and int(labels.max()) >= len(CATEGORY_NAMES)):
        problems.append(f"labels {labels.shape}")
    if inter.ndim != 2 or inter.shape[1:] != (2,) or not np.issubdtype(inter.dtype, np.integer):
        problems.append(f"interactions {inter.dtype} {inter.shape}")
    if arrays["source_index"].shape != (n,):
        problems.append(f"source_index {arrays['source_index'].shape}")
    if "style" in arrays and (arrays["style"].ndim != 2 or len(arrays["style"]) != n):
        problems.append(f"style {arrays['style'].shape}")
    if problems:
        raise DataError(f"fashion asset {path} is inconsistent: {'; '.join(problems)}")
    return arrays


def _asset(name: str, path: str | Path | None) -> tuple[dict[str, np.ndarray], dict, Path]:
    """The arrays and parsed metadata of catalog `name` (or of the asset at `path`)."""
    if name not in CATALOGS:
        raise ConfigError(f"unknown embedded catalog {name!r}; known: {', '.join(CATALOGS)}")
    with ExitStack() as stack:
        if path is None:
            ref = resources.files("pixelpush") / "assets" / "fashion" / CATALOGS[name]
            path = stack.enter_context(resources.as_file(ref))
        path = Path(path)
        arrays = _read_asset(path)
    try:
        meta = json.loads(str(arrays["metadata"]))
    except json.JSONDecodeError as err:
        raise DataError(f"fashion asset {path}: metadata is not JSON ({err})") from err
    return arrays, meta, path


def load_fashion(*, name: str = "fashion", upload_size: int = 112, path: str | Path | None = None) -> Dataset:
    """The embedded catalog `name` (see :data:`CATALOGS`); uploads are ``(upload_size, upload_size, 3)``.

    `path` overrides the packaged asset (for tests and rebuilt assets).
    """
    if isinstance(upload_size, bool) or not isinstance(upload_size, int | np.integer) or not 1 <= upload_size <= _MAX_UPLOAD:
        raise ConfigError(f"fashion: upload_size must be an integer in 1..{_MAX_UPLOAD}, got {upload_size!r}")
    arrays, meta, path = _asset(name, path)
    images, labels, source_index = arrays["images"], arrays["labels"].astype(np.int64), arrays["source_index"]
    interactions = arrays["interactions"].astype(np.int64)
    n_users = int(meta.get("simulation", {}).get("config", {}).get("n_users", 0)) or (
        int(interactions[:, 0].max()) + 1 if len(interactions) else 0
    )
    sim = meta.get("simulation", {})
    style = meta.get("appearance", {}).get("layer", "pixel PCA")
    dataset = Dataset(
        name=name,
        images=UpsampledImages(images, int(upload_size)),
        categories=labels,
        category_names=CATEGORY_NAMES,
        interactions=interactions,
        n_users=n_users,
        description=(
            f"{len(images)} Fashion-MNIST product images (Zalando, MIT licence) upsampled to "
            f"{upload_size}x{upload_size}; interactions simulated by pixelpush.data.simulate "
            f"(seed {sim.get('seed')}, alpha {sim.get('config', {}).get('alpha')}, style {style})"
        ),
        item_labels=tuple(f"{CATEGORY_NAMES[c]} (train #{s})" for c, s in zip(labels, source_index, strict=True)),
    )
    log.debug("loaded %s: %d items, %d users, %d interactions", name, dataset.n_items, n_users, len(interactions))
    return dataset


def simulated_style(*, name: str = "fashion", path: str | Path | None = None) -> np.ndarray:
    """The style vectors ``(n_items, style_dims)`` the simulated shoppers of catalog `name` chose by.

    Stored in the asset when style is a projection of image-model activations (``fashion``);
    recomputed from the sources when it is the pixels' principal components (``fashion-dense``).
    """
    arrays, meta, path = _asset(name, path)
    if "style" in arrays:
        return arrays["style"].astype(np.float64)
    from pixelpush.data.simulate import SimulationConfig, visual_style

    config = SimulationConfig(**meta.get("simulation", {}).get("config", {}))
    return visual_style(arrays["images"], config.style_dims)


def style_projection(*, name: str = "fashion", path: str | Path | None = None) -> StyleProjection | None:
    """The projection from image-model activations to style stored with catalog `name`, or None."""
    arrays, meta, path = _asset(name, path)
    if not all(k in arrays for k in _STYLE):
        return None
    return StyleProjection(mean=arrays["style_mean"], basis=arrays["style_basis"], scale=arrays["style_scale"])


def asset_metadata(*, name: str = "fashion", path: str | Path | None = None) -> dict:
    """The parsed ``metadata`` of catalog `name`'s asset (recipe, simulation, appearance)."""
    return _asset(name, path)[1]
