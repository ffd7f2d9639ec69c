"""A small content-addressed, compute-only memo of the public image model's features.

The platform and an attacker run the same public image model on the same candidate uploads.
:class:`FeatureMemo` keys each upload by a hash of its pixels and shape, computes only the
rows it has not seen (in one batched, forward-only call) and keeps the most recent ones (LRU).

Nobody can *write* a row: every row is the memo's own model's output for exactly those pixels.
That is what lets one simulation share the work safely: the platform scores uploads from it, and
an attacker may be handed :meth:`FeatureMemo.reader`, a plain function that computes (or looks
up) public features of its own uploads, so a probe batch the attacker already pushed through the
public model is not computed a second time when the platform scores it. The reader gives the
attacker nothing it could not compute with its own copy of the public model; it has no write
path and returns copies.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

from pixelpush.errors import ImageDecodeError
from pixelpush.vision.image_model import ImageModel


def content_key(image: np.ndarray) -> bytes:
    """blake2b digest of an upload's shape and bytes (the memo's key)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.digest()


def _check_batch(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", type(images).__name__)
        raise ImageDecodeError(f"expected a uint8 batch of uploads (B, H, W, 3), got {dtype} {shape}")


class FeatureMemo:
    """LRU memo ``upload -> feature row`` in front of an :class:`ImageModel`.

    `capacity` bounds the number of rows kept; `hits` and `misses` count rows served and computed.
    """

    def __init__(self, model: ImageModel, capacity: int = 512) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.model = model
        self.capacity = int(capacity)
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[bytes, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, images: np.ndarray) -> torch.Tensor:
        """Features ``(B, d)`` (float32, CPU) of uploads ``(B, H, W, 3)`` uint8; misses in one batch."""
        _check_batch(images)
        keys = [content_key(img) for img in images]
        found: dict[bytes, torch.Tensor] = {}
        missing: dict[bytes, int] = {}
        for b, key in enumerate(keys):
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
                found[key] = row
            elif key not in missing:
                missing[key] = b
        self.hits += len(keys) - sum(1 for k in keys if k in missing)
        self.misses += len(missing)
        if missing:
            idx = list(missing.values())
            with torch.inference_mode():
                out = self.model(torch.from_numpy(np.ascontiguousarray(images[idx])))
            out = out.detach().to(device="cpu", dtype=torch.float32).clone()  # a normal tensor again
            for key, row in zip(missing, out, strict=True):
                found[key] = row
                self._store(key, row)
        return torch.stack([found[k] for k in keys])

    def reader(self) -> Callable[[np.ndarray], np.ndarray]:
        """A compute-only function ``uploads (B, H, W, 3) uint8 -> features (B, d) float32``.

        It shares this memo's rows (computing the missing ones) and returns a fresh array; it
        holds no attribute through which the memo or its model could be reached or written.
        """
        memo = self

        def public_features(images: np.ndarray) -> np.ndarray:
            """Features ``(B, d)`` float32 of uploads ``(B, H, W, 3)`` uint8 under the public image model."""
            return memo(images).numpy().copy()

        return public_features

    def clear(self) -> None:
        """Forget every row (counters are kept)."""
        self._rows.clear()

    def _store(self, key: bytes, row: torch.Tensor) -> None:
        if self.capacity == 0:
            return
        self._rows[key] = row
        self._rows.move_to_end(key)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
