"""The image model on a GPU gives the CPU's features and vector-Jacobian products within float32
rounding (TF32 off, deterministic cuDNN: :func:`pixelpush.devices.resolve_device`).

Skipped, with a message, on a machine without a CUDA GPU (CI, and the tests never need one).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.data.catalog import ArrayImages
from pixelpush.devices import resolve_device
from pixelpush.vision.features import extract_features
from pixelpush.vision.models import load_image_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the GPU parity test runs only where one is")

TOLERANCE = 1e-4
"""Largest difference allowed, relative to the largest magnitude of the CPU's values."""


@pytest.fixture(scope="module")
def uploads() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["squeezenet1_1", "resnet50"])
def test_features_on_the_gpu_match_the_cpus(uploads, name):
    model = load_image_model(name, weights=None, input_size=64)
    cpu = extract_features(model, ArrayImages(uploads), batch_size=8, progress=False)
    gpu = extract_features(model.to(resolve_device("cuda")), ArrayImages(uploads), batch_size=8, progress=False)
    model.to("cpu")
    assert gpu.dtype == np.float32 and gpu.shape == cpu.shape
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=TOLERANCE * float(np.abs(cpu).max()))


def test_the_vjp_on_the_gpu_matches_the_cpus(uploads):
    model = load_image_model("squeezenet1_1", weights=None, input_size=64)
    weights = torch.from_numpy(np.random.default_rng(1).standard_normal(model.feature_dim).astype(np.float32))

    def vjp() -> torch.Tensor:
        pixels = torch.from_numpy(uploads[:4]).float().requires_grad_(True)  # on the CPU: the forward moves it
        features = model(pixels)
        assert features.device.type == "cpu"  # callers holding CPU tensors get CPU tensors back
        (features @ weights).sum().backward()
        return pixels.grad

    cpu = vjp()
    model.to(resolve_device("cuda"))
    gpu = vjp()
    model.to("cpu")
    np.testing.assert_allclose(gpu.numpy(), cpu.numpy(), rtol=0, atol=TOLERANCE * float(cpu.abs().max()))
