"""The public image model ("IC") interface: uint8 uploads in, pooled feature vectors out.

Uploads are ``(H, W, 3)`` uint8 RGB arrays. A batch enters as a tensor ``(B, H, W, 3)`` of
uint8 or float pixel values in 0..255; preprocessing (layout, resize to the model's input size,
the model's own normalisation) is differentiable, so gradients flow back to the upload's pixels.
Inputs may live anywhere: they are moved to the model's device (``model.to("cuda")``), where
the batched forward and its vector-Jacobian products run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ImageModel(nn.Module, ABC):
    """A frozen pretrained CNN mapping uploads to feature vectors.

    Subclasses set :attr:`name` and :attr:`feature_dim` and implement :meth:`normalize` and
    :meth:`embed`. The model is always in eval mode and its parameters never require grad.
    """

    name: str = "image-model"
    feature_dim: int = 0

    def __init__(self, *, input_size: int) -> None:
        super().__init__()
        if input_size < 32:
            raise ValueError(f"input_size must be at least 32 pixels, got {input_size}")
        self.input_size = int(input_size)
        self.weights_id = "random"

    @property
    def identity(self) -> str:
        """A string naming architecture, input size and weights: the feature cache's key."""
        return f"{self.name}@{self.input_size}:{self.weights_id}"

    @abstractmethod
    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, S, S)`` float RGB in 0..255 to the backbone's input convention."""

    @abstractmethod
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone plus pooling: normalised ``(B, 3, S, S)`` to ``(B, feature_dim)``."""

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, 3)`` pixels in 0..255 to normalised ``(B, 3, S, S)``, differentiably."""
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images of shape (B, H, W, 3), got {tuple(images.shape)}")
        param = next(self.parameters(), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        x = images.to(device=self.device).permute(0, 3, 1, 2).to(dtype=dtype)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True
            )
        return self.normalize(x)

    @property
    def device(self) -> torch.device:
        """Where the model's weights live (and its forward and backward passes run)."""
        param = next(self.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(B, feature_dim)`` of a batch of uploads ``(B, H, W, 3)``.

        The work runs on the model's :attr:`device`; the features come back on the device of
        `images` (differentiably), so callers holding CPU tensors never handle a GPU's.
        """
        return self.embed(self.preprocess(images)).to(images.device)

    def extract(self, uploads: Sequence[np.ndarray], *, batch_size: int = 64) -> np.ndarray:
        """Features of uploads of possibly different sizes, forward only, as float32 NumPy."""
        out = np.empty((len(uploads), self.feature_dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(uploads), batch_size):
                chunk = uploads[start : start + batch_size]
                batch = torch.cat([self.preprocess(torch.from_numpy(np.ascontiguousarray(u))[None]) for u in chunk])
                out[start : start + len(chunk)] = self.embed(batch).to("cpu", torch.float32).numpy()
        return out

    def train(self, mode: bool = True) -> ImageModel:  # noqa: ARG002 - always frozen
        return super().train(False)

    def freeze(self) -> ImageModel:
        """Put the model in eval mode with no parameter requiring grad; returns self."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()
