"""Pixel gradients through the public image model: autograd against central finite differences.

The map upload -> feature . v is piecewise linear in the pixels (linear resize and
normalisation, convolutions, ReLU, max pools, average pool), so central differences with a
tiny step are exact up to rounding inside a linear piece. The check runs on a float64 copy of
the model (float32 rounding would swamp a 1e-3 step); the float32 production path's
gradient is then compared with the float64 one.
"""

from __future__ import annotations

import copy
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pixelpush.random import numpy_rng
from pixelpush.vision.image_model import ImageModel
from pixelpush.vision.models import load_image_model

SIZE = 64
FMNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
FD_STEP = 1e-3  # intensity levels
FD_RTOL = 1e-6  # relative to each pixel's gradient ...
FD_ATOL = 1e-7  # ... plus this fraction of the largest gradient component


def small_upload() -> np.ndarray:
    """A 28x28x3 upload: a real Fashion-MNIST image (else seeded noise), tinted and dithered.

    Dithering by a few levels matters: flat regions (Fashion-MNIST's constant background) make
    exact ties in max pools and ReLUs, where the map has a kink at the very point and autograd's
    one-sided choice legitimately differs from a central difference (seen: 0.0062 vs 0.0076).
    """
    rng = numpy_rng(0, "test-gradients", "upload")
    if FMNIST.exists():
        with gzip.open(FMNIST, "rb") as fh:
            raw = fh.read(16 + 2 * 784)
        gray = np.frombuffer(raw[16 + 784 :], dtype=np.uint8).reshape(28, 28)  # image 1: a pullover
    else:
        gray = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    tinted = gray[..., None] * np.array([1.0, 0.8, 0.6]) + 20  # colour: channels differ
    return np.clip(np.rint(tinted + rng.integers(-3, 4, tinted.shape)), 0, 255).astype(np.uint8)


def forward64(model: ImageModel, pixels: torch.Tensor) -> torch.Tensor:
    """ImageModel.forward with the same preprocessing, kept in float64 end to end."""
    x = pixels.permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(model.input_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
    return model.embed(model.normalize(x))


@pytest.fixture(scope="module")
def models() -> tuple[ImageModel, ImageModel]:
    m32 = load_image_model("squeezenet1_1", input_size=SIZE)
    return m32, copy.deepcopy(m32).double()


def test_pixel_gradient_matches_finite_differences(models):
    m32, m64 = models
    upload = small_upload()
    v = torch.from_numpy(numpy_rng(0, "test-gradients", "v").standard_normal(512))
    p64 = torch.from_numpy(upload.astype(np.float64))[None].requires_grad_(True)
    f64 = forward64(m64, p64)
    with torch.no_grad():  # the float64 replica of preprocessing agrees with the real one
        f32 = m32(torch.from_numpy(upload)[None])
    torch.testing.assert_close(f64.float(), f32, rtol=1e-4, atol=1e-3)

    (f64[0] @ v).backward()
    grad = p64.grad[0].numpy()
    assert grad.shape == (28, 28, 3) and np.isfinite(grad).all()
    assert np.count_nonzero(grad) > 0.5 * grad.size, "gradient should reach most upload pixels"
    scale = np.abs(grad).max()
    assert scale > 0

    # a few pixels: the 3 largest-gradient ones and 5 seeded random ones
    flat = np.argsort(-np.abs(grad).ravel())[:3].tolist()
    flat += numpy_rng(0, "test-gradients", "pixels").choice(grad.size, 5, replace=False).tolist()
    with torch.no_grad():
        for k in flat:
            idx = np.unravel_index(k, grad.shape)
            step = torch.zeros_like(p64)
            step[(0, *idx)] = FD_STEP
            fd = ((forward64(m64, p64 + step)[0] - forward64(m64, p64 - step)[0]) @ v).item() / (2 * FD_STEP)
            assert fd == pytest.approx(grad[idx], rel=FD_RTOL, abs=FD_ATOL * scale), (idx, fd, grad[idx])


def test_float32_production_gradient_agrees_with_float64(models):
    m32, m64 = models
    upload = small_upload()
    v = torch.from_numpy(numpy_rng(0, "test-gradients", "v").standard_normal(512))
    p32 = torch.from_numpy(upload).float()[None].requires_grad_(True)
    (m32(p32)[0] @ v.float()).backward()
    p64 = torch.from_numpy(upload.astype(np.float64))[None].requires_grad_(True)
    (forward64(m64, p64)[0] @ v).backward()
    g32, g64 = p32.grad[0].double(), p64.grad[0]
    assert torch.count_nonzero(g32) > 0
    cos = torch.nn.functional.cosine_similarity(g32.flatten(), g64.flatten(), dim=0).item()
    assert cos > 1 - 1e-6
    torch.testing.assert_close(g32, g64, rtol=1e-3, atol=1e-4 * g64.abs().max().item())
    # the sign step of the white-box attack is the same in both precisions on all but rare ties
    assert (torch.sign(g32) == torch.sign(g64)).double().mean() > 0.999
