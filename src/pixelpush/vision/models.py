"""Build a public image model by name: the one entry point the rest of pixelpush uses."""

from __future__ import annotations

from pathlib import Path

from pixelpush.errors import ConfigError
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.resnet import ResNet50Model
from pixelpush.vision.squeezenet import SqueezeNetModel

#: Names accepted by :func:`load_image_model`.
IMAGE_MODELS: tuple[str, ...] = ("squeezenet1_1", "resnet50")

_CLASSES: dict[str, type[ImageModel]] = {"squeezenet1_1": SqueezeNetModel, "resnet50": ResNet50Model}
#: What ``weights="default"`` means per model.
_DEFAULT_WEIGHTS: dict[str, str] = {"squeezenet1_1": "default", "resnet50": "imagenet"}
_DEFAULT_INPUT_SIZE = 224


def load_image_model(
    name: str = "squeezenet1_1",
    *,
    weights: str | Path | None = "default",
    input_size: int | None = None,
    seed: int = 0,
) -> ImageModel:
    """A frozen image model (eval mode, no parameter requires grad).

    Args:
        name: one of :data:`IMAGE_MODELS`.
        weights: ``"default"`` (SqueezeNet: the packaged ImageNet weights; ResNet-50:
            torchvision's ImageNet weights, which need internet), ``"imagenet"`` (the same), a
            path to a state-dict file, or ``None`` for a random init seeded by ``seed``.
        input_size: side of the square input the backbone sees; default 224.
        seed: seed for random weights (ignored when weights are loaded).

    >>> load_image_model("squeezenet1_1", input_size=112).identity.startswith("squeezenet1_1@112:")
    True
    """
    if name not in _CLASSES:
        raise ConfigError(f"unknown image model {name!r}; known: {', '.join(IMAGE_MODELS)}")
    if isinstance(weights, str) and weights in ("default", "imagenet"):
        weights = _DEFAULT_WEIGHTS[name]
    elif weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(f"weights file for {name} not found: {path}")
        weights = path
    size = _DEFAULT_INPUT_SIZE if input_size is None else int(input_size)
    if size < 32:
        raise ConfigError(f"input_size must be at least 32 pixels, got {size}")
    model = _CLASSES[name](weights=weights, input_size=size, seed=seed)  # type: ignore[call-arg]
    return model.freeze()
