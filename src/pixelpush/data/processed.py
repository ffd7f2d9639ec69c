"""A catalog's images as a platform with an ingest pipeline shows them and computes their features."""

from __future__ import annotations

import hashlib

import numpy as np

from pixelpush.data.catalog import ImageStore
from pixelpush.platform.ingest import Pipeline

__all__ = ["ProcessedImages"]


class ProcessedImages(ImageStore):
    """A catalog's images as the platform shows and features them: ``pipeline(raw)``.

    Its content key is the raw image's key and the pipeline's identity, so cached features of
    processed catalogs are keyed by the pipeline without processing every image to hash it.
    """

    def __init__(self, raw: ImageStore, pipeline: Pipeline) -> None:
        self.raw, self.pipeline = raw, pipeline

    def __len__(self) -> int:
        return len(self.raw)

    def get(self, item: int) -> np.ndarray:
        return np.array(self.pipeline.apply(self.raw.get(item)))

    def content_key(self, item: int) -> str:
        return hashlib.blake2b(f"{self.raw.content_key(item)}|{self.pipeline.identity}".encode(), digest_size=16).hexdigest()
