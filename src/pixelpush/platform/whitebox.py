"""White-box access: the recommender, the image model and the features, for WB attacks and diagnostics.

Black-box attacks never receive this handle (design §4). Nothing here is counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from pixelpush.platform.service import InvalidRequestError

if TYPE_CHECKING:
    from pixelpush.platform.service import Platform
    from pixelpush.recommenders.base import Recommender
    from pixelpush.vision.image_model import ImageModel


class WhiteBoxHandle:
    """Differentiable access to a platform's scores, from an upload's pixels or an item's features."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def recommender(self) -> Recommender:
        return self._platform.recommender

    @property
    def image_model(self) -> ImageModel:
        return self._platform.image_model

    @property
    def features(self) -> torch.Tensor:
        """A copy of the catalog's current ``(N, d)`` features."""
        return self._platform.current_features()

    def score_image(self, user: int, item: int, image: torch.Tensor) -> torch.Tensor:
        """Score of `item` for `user` if its upload were `image` ``(H, W, 3)`` in 0..255: a 0-d tensor.

        Differentiable with respect to `image`. Prefer ``torch.autograd.grad(score, image)`` to
        ``score.backward()``, which would also accumulate gradients into the recommender's parameters.
        """
        user = self._platform.check_user(user)
        item = self._platform.check_item(item)
        if not torch.is_tensor(image) or image.ndim != 3 or image.shape[-1] != 3:
            shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
            raise InvalidRequestError(f"score_image for item {item}: expected an (H, W, 3) tensor, got {shape}")
        feats = self.image_model(image[None])
        return self.recommender.score(torch.tensor([user]), torch.tensor([item]), feats)[0, 0]

    def feature_gradient(self, user: int, item: int) -> np.ndarray:
        """The true ``∂s(user, item)/∂f`` at the item's current features, as float32 NumPy ``(d,)``."""
        user = self._platform.check_user(user)
        item = self._platform.check_item(item)
        f = self._platform._features[item].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            s = self.recommender.score(torch.tensor([user]), torch.tensor([item]), f[None])[0, 0]
            (grad,) = torch.autograd.grad(s, f)
        return grad.detach().cpu().numpy().astype(np.float32)
