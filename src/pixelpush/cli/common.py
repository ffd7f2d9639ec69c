"""What several commands share: a dataset with its image features from the public image model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelpush.data.catalog import Dataset
from pixelpush.data.registry import EMBEDDED, load_dataset
from pixelpush.vision.features import extract_features
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.models import load_image_model

#: The feature cache campaigns use (``CampaignConfig.cache_dir`` + ``/features``).
CAMPAIGN_FEATURE_CACHE = Path(".cache/pixelpush/features")


def dataset_with_features(
    name: str,
    *,
    root: Path | None = None,
    image_model: str = "squeezenet1_1",
    input_size: int | None = None,
    cache_dir: Path = CAMPAIGN_FEATURE_CACHE,
    progress: bool = True,
) -> tuple[Dataset, ImageModel, np.ndarray]:
    """Load `name`, its public image model and its (cached) features as float32.

    The input size defaults to the upload size for the embedded catalogs (112: what the
    campaigns use), else to the model's default (224).
    """
    data = load_dataset(name, root=root)
    if input_size is None and name in EMBEDDED and data.n_items:
        input_size = int(data.images.get(0).shape[0])
    model = load_image_model(image_model, input_size=input_size)
    feats = extract_features(model, data.images, cache_dir=cache_dir, progress=progress)
    return data, model, np.array(feats, dtype=np.float32)
