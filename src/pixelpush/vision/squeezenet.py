"""SqueezeNet v1.1 (ImageNet) as the default public image model: 512-d pooled features.

The architecture is torchvision's ``squeezenet1_1().features`` with the three max pools set to
``ceil_mode=False``: the shipped weights come from keras-squeezenet, whose pools are ``valid``
(floor). Both modes agree at input sizes such as 64, 112 and 224 (every pool input is odd) and
differ by one row/column elsewhere, e.g. at 100; following Keras keeps the weights' own
geometry at every size. Features are the global average of the last fire module's output
(after its ReLU), so they are non-negative.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from pixelpush.errors import ConfigError
from pixelpush.random import torch_generator
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.torchvision_compat import import_torchvision

_log = logging.getLogger(__name__)

#: The packaged weights, converted by ``scripts/convert_squeezenet_weights.py``.
DEFAULT_WEIGHTS = "squeezenet1_1_imagenet.pt"
#: Per-channel means of the weights' input convention, in BGR order, on 0..255.
BGR_MEAN = (103.939, 116.779, 123.68)


def default_weights_path() -> Path:
    """Path of the packaged SqueezeNet v1.1 ImageNet weights (a torch state dict)."""
    return Path(str(resources.files("pixelpush") / "assets" / "weights" / DEFAULT_WEIGHTS))


def file_digest(path: Path, length: int = 12) -> str:
    """The first ``length`` hex digits of the sha256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def _build_features() -> nn.Sequential:
    """torchvision's squeezenet1_1 features with Keras-style (floor) pools; global RNG untouched."""
    tv = import_torchvision()
    with torch.random.fork_rng(devices=[]):
        features = tv.models.squeezenet1_1(weights=None).features
    for module in features:
        if isinstance(module, nn.MaxPool2d):
            module.ceil_mode = False
    return features


class SqueezeNetModel(ImageModel):
    """SqueezeNet v1.1 features, globally average-pooled to 512 dimensions.

    Args:
        weights: path of a state dict with ``features.*`` keys (as written by the converter),
            ``"default"`` for the packaged ImageNet weights, or ``None`` for a seeded random init.
        input_size: side of the square image the backbone sees (uploads are resized to it).
        seed: seed of the random init when ``weights`` is ``None``.
    """

    name = "squeezenet1_1"
    feature_dim = 512

    def __init__(self, *, weights: str | Path | None = "default", input_size: int = 224, seed: int = 0) -> None:
        super().__init__(input_size=input_size)
        self.features = _build_features()
        self.register_buffer("bgr_mean", torch.tensor(BGR_MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        if weights is None:
            self._random_init(seed)
            self.weights_id = f"random-seed{seed}"
        else:
            path = default_weights_path() if weights == "default" else Path(weights)
            self._load(path)
        self.freeze()

    def _random_init(self, seed: int) -> None:
        gen = torch_generator(seed, "squeezenet1_1", "init")
        for module in self.features.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, generator=gen)
                nn.init.zeros_(module.bias)

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"SqueezeNet weights file not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
            raise ConfigError(f"cannot read SqueezeNet weights {path}: {exc}") from exc
        if not isinstance(state, dict):
            raise ConfigError(f"SqueezeNet weights {path} is not a state dict")
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        try:
            self.features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            raise ConfigError(f"SqueezeNet weights {path} do not fit squeezenet1_1: {exc}") from exc
        self.weights_id = file_digest(path)
        _log.debug("loaded SqueezeNet weights %s (%s)", path, self.weights_id)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB 0..255 to the Keras/Caffe convention: BGR, 0..255, BGR mean subtracted."""
        return rgb.flip(1) - self.bgr_mean.to(rgb.dtype)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Fire9's ReLU output averaged over space: ``(B, 512)``."""
        return self.features(x).mean(dim=(2, 3))
