"""White-box access: the recommender, the image model and the features, for WB attacks and diagnostics.

Black-box attacks never receive this handle (design §4). Nothing here is counted. The handle reads
the platform through :class:`WhiteBoxSource`, the platform's small experimenter interface.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from pixelpush.platform.validation import InvalidRequestError
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.image_model import ImageModel

__all__ = ["WhiteBoxHandle", "WhiteBoxSource"]


class WhiteBoxSource(Protocol):
    """What the white-box handle reads from a platform."""

    recommender: Recommender
    image_model: ImageModel

    def check_user(self, user: object) -> int: ...

    def check_item(self, item: object) -> int: ...

    def item_features(self, item: int) -> torch.Tensor: ...

    def current_features(self) -> torch.Tensor: ...


class WhiteBoxHandle:
    """Differentiable access to a platform's scores, from an upload's pixels or an item's features."""

    def __init__(self, source: WhiteBoxSource) -> None:
        self._source = source

    @property
    def recommender(self) -> Recommender:
        return self._source.recommender

    @property
    def image_model(self) -> ImageModel:
        return self._source.image_model

    @property
    def features(self) -> torch.Tensor:
        """A copy of the catalog's current ``(N, d)`` features."""
        return self._source.current_features()

    def _score(self, user: int, item: int, features: torch.Tensor) -> torch.Tensor:
        return self.recommender.score(torch.tensor([user]), torch.tensor([item]), features)[0, 0]

    def score_image(self, user: int, item: int, image: torch.Tensor) -> torch.Tensor:
        """Score of `item` for `user` if its upload were `image` ``(H, W, 3)`` in 0..255: a 0-d tensor.

        Differentiable with respect to `image`. Prefer ``torch.autograd.grad(score, image)`` to
        ``score.backward()``, which would also accumulate gradients into the recommender's parameters.
        """
        user = self._source.check_user(user)
        item = self._source.check_item(item)
        if not torch.is_tensor(image) or image.ndim != 3 or image.shape[-1] != 3:
            shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
            raise InvalidRequestError(f"score_image for item {item}: expected an (H, W, 3) tensor, got {shape}")
        return self._score(user, item, self.image_model(image[None]))

    def feature_gradient(self, user: int, item: int) -> np.ndarray:
        """The true ``∂s(user, item)/∂f`` at the item's current features, as float32 NumPy ``(d,)``."""
        user = self._source.check_user(user)
        f = self._source.item_features(item).requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self._score(user, self._source.check_item(item), f[None]), f)
        return grad.detach().cpu().numpy().astype(np.float32)

    def gradients_at(self, user: int, item: int, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The true ``∂s/∂f`` ``(d,)`` and ``∂s/∂p`` ``(H, W, 3)`` of `item` for `user` at upload `image`."""
        user = self._source.check_user(user)
        item = self._source.check_item(item)
        with torch.enable_grad():
            pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)).requires_grad_(True)
            feats = self.image_model(pixels[None])
            leaf = feats.detach().requires_grad_(True)
            (g_feat,) = torch.autograd.grad(self._score(user, item, leaf), leaf)
            (g_pix,) = torch.autograd.grad(feats, pixels, grad_outputs=g_feat)
        return g_feat[0].numpy(), g_pix.numpy()
