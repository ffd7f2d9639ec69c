"""Property tests of the image model's differentiable preprocessing (any upload size and content)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelpush.vision.squeezenet import SqueezeNetModel

MEAN_BGR = (103.939, 116.779, 123.68)
_model = SqueezeNetModel(input_size=32)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 80), w=st.integers(1, 80), level=st.integers(0, 255))
def test_any_size_maps_to_the_input_size_and_constant_images_stay_constant(h, w, level):
    img = torch.full((1, h, w, 3), level, dtype=torch.uint8)
    x = _model.preprocess(img)
    assert x.shape == (1, 3, 32, 32)
    # a constant RGB image becomes constant BGR minus the per-channel means
    for c, mean in enumerate(MEAN_BGR):
        assert torch.allclose(x[0, c], torch.full((32, 32), level - mean), atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(2, 64), w=st.integers(2, 64), seed=st.integers(0, 2**16))
def test_preprocessing_is_finite_bounded_and_differentiable(h, w, seed):
    rng = np.random.default_rng(seed)
    pixels = torch.from_numpy(rng.integers(0, 256, (2, h, w, 3)).astype(np.float32)).requires_grad_(True)
    x = _model.preprocess(pixels)
    assert torch.isfinite(x).all()
    assert x.min() >= -124.0 - 1e-3 and x.max() <= 255.0 - 103.9 + 1e-3
    x.sum().backward()
    assert pixels.grad is not None and torch.isfinite(pixels.grad).all() and pixels.grad.abs().sum() > 0
