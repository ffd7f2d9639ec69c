"""ResNet-50 as a public image model: the 2048-d penultimate (pooled) features.

Weights come from torchvision's weights API (``"imagenet"`` = ``ResNet50_Weights.IMAGENET1K_V2``,
which needs internet or a populated torch hub cache), from a local state-dict file (with or
without the classifier's ``fc.*`` keys), or are a seeded random init (``None``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from pixelpush.errors import ConfigError
from pixelpush.random import torch_generator
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.squeezenet import file_digest
from pixelpush.vision.torchvision_compat import import_torchvision

_log = logging.getLogger(__name__)

#: ImageNet statistics of 0..1 RGB, torchvision's convention.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _init_like_torchvision(net: nn.Module, gen: torch.Generator) -> None:
    """torchvision's ResNet init (kaiming-normal fan-out convs, unit BN), drawn from ``gen``."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=gen)
        elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class ResNet50Model(ImageModel):
    """torchvision ResNet-50 with ``fc`` replaced by identity: ``(B, 2048)`` features.

    Args:
        weights: ``"imagenet"`` (torchvision's IMAGENET1K_V2, downloaded by torchvision when not
            cached), a path to a state dict, or ``None`` for a seeded random init.
        input_size: side of the square image the backbone sees.
        seed: seed of the random init when ``weights`` is ``None``.
    """

    name = "resnet50"
    feature_dim = 2048

    def __init__(self, *, weights: str | Path | None = "imagenet", input_size: int = 224, seed: int = 0) -> None:
        super().__init__(input_size=input_size)
        tv = import_torchvision()
        with torch.random.fork_rng(devices=[]):
            self.backbone = tv.models.resnet50(weights=None)
        self.backbone.fc = nn.Identity()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1))
        if weights is None:
            _init_like_torchvision(self.backbone, torch_generator(seed, "resnet50", "init"))
            self.weights_id = f"random-seed{seed}"
        elif weights == "imagenet":
            self._load_state(self._imagenet_state(tv), "torchvision IMAGENET1K_V2")
            self.weights_id = "imagenet1k_v2"
        else:
            path = Path(weights)
            if not path.is_file():
                raise ConfigError(f"ResNet-50 weights file not found: {path}")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
                raise ConfigError(f"cannot read ResNet-50 weights {path}: {exc}") from exc
            self._load_state(state, str(path))
            self.weights_id = file_digest(path)
        self.freeze()

    @staticmethod
    def _imagenet_state(tv: object) -> dict[str, torch.Tensor]:
        weights = tv.models.ResNet50_Weights.IMAGENET1K_V2  # type: ignore[attr-defined]
        try:
            return weights.get_state_dict(progress=False)
        except Exception as exc:  # noqa: BLE001 - network and cache failures alike
            raise ConfigError(
                f"could not obtain torchvision's ResNet50_Weights.IMAGENET1K_V2 ({exc}); "
                "without internet, pass a local state-dict file as weights"
            ) from exc

    def _load_state(self, state: object, source: str) -> None:
        if not isinstance(state, dict):
            raise ConfigError(f"ResNet-50 weights {source} is not a state dict")
        state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
        try:
            self.backbone.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ConfigError(f"ResNet-50 weights {source} do not fit resnet50: {exc}") from exc
        _log.debug("loaded ResNet-50 weights from %s", source)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB 0..255 to 0..1, then ImageNet mean/std per channel."""
        return (rgb / 255.0 - self.mean) / self.std

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone up to its global average pool: ``(B, 2048)``."""
        return self.backbone(x)
