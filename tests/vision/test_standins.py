"""Differentiable stand-ins of the ingest transforms: exact forward values where they claim them,
and gradients that match finite differences of their smooth parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.platform.ingest import JPEG, CenterCrop, Median, Pipeline, Posterize, Resize
from pixelpush.vision.standins import KnownPipelineModel, kornia_available, random_stand_in, resize_matrix, stand_in


def _image(seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def _fd_check(f, x: torch.Tensor, seed: int, *, h: float = 1e-2, tol: float = 1e-3, n: int = 6) -> None:
    """Directional derivatives of ``<w, f(x)>`` by autograd against central differences."""
    x = x.double()
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(f(x).shape, generator=gen, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((f(xr) * w).sum(), xr)
    for _ in range(n):
        v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        fd = ((f(x + h * v) * w).sum() - (f(x - h * v) * w).sum()) / (2 * h)
        assert float((grad * v).sum()) == pytest.approx(float(fd), rel=tol, abs=tol)


@pytest.mark.parametrize("transform", [JPEG(quality=75), Resize(size=20), CenterCrop(size=24), Posterize(bits=4), Median(size=3)],
                         ids=lambda t: t.identity)
def test_every_stand_in_gives_pillows_exact_output_forward(transform) -> None:
    img = _image(1)
    module = stand_in(Pipeline((transform,)), img.shape[:2])
    out = module(torch.from_numpy(img[None].astype(np.float32)))[0].detach().numpy()
    np.testing.assert_array_equal(out, transform.apply(img).astype(np.float32))


def test_resize_stand_in_is_pillows_resampling_before_rounding() -> None:
    a = resize_matrix(32, 20, "bicubic")
    assert a.shape == (20, 32) and np.allclose(a.sum(axis=1), 1.0)
    img = _image(2)
    linear = stand_in(Pipeline((Resize(size=20),)), (32, 32)).parts[0].surrogate
    smooth = linear(torch.from_numpy(img[None].astype(np.float64)))[0].numpy()
    # Pillow rounds and clips after each of its two passes (and uses fixed-point weights):
    # within two levels of the linear map, and mostly equal after rounding
    error = np.abs(np.clip(smooth, 0, 255) - Resize(size=20).apply(img))
    assert error.max() <= 2.0 and error.mean() < 0.5


def test_resize_gradient_matches_finite_differences() -> None:
    linear = stand_in(Pipeline((Resize(size=20, resample="lanczos"),)), (32, 32)).parts[0].surrogate.double()
    _fd_check(linear, torch.from_numpy(_image(3)[None].astype(np.float64)), seed=0)


def test_crop_and_median_gradients_match_finite_differences() -> None:
    x = torch.from_numpy(_image(4)[None].astype(np.float64)) + torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    _fd_check(stand_in(Pipeline((CenterCrop(size=24),)), (32, 32)), x, seed=1)
    _fd_check(stand_in(Pipeline((Median(size=3),)), (32, 32)), x, seed=2, h=1e-4)  # distinct values: a local selection


def test_straight_through_passes_the_gradient_of_its_surrogate() -> None:
    img = torch.from_numpy(_image(5)[None].astype(np.float32)).requires_grad_(True)
    out = stand_in(Pipeline((JPEG(quality=50), Posterize(bits=3))), (32, 32))(img)
    (grad,) = torch.autograd.grad(out.sum(), img)
    assert torch.equal(grad, torch.ones_like(grad))  # BPDA: identity backward through both


@pytest.mark.skipif(not kornia_available(), reason="kornia (the 'adaptive' extra) is not installed")
def test_kornia_jpeg_surrogate_gradient_matches_its_finite_differences() -> None:
    module = stand_in(Pipeline((JPEG(quality=75),)), (32, 32), surrogate="kornia")
    surrogate = module.parts[0].surrogate
    x = torch.from_numpy(_image(6)[None].astype(np.float64))
    # kornia's rounding surrogate, round(x) + (x - round(x))^3, jumps at half-integers: compare on
    # steps too small to cross one (its smooth part)
    _fd_check(surrogate, x, seed=3, h=1e-4, tol=1e-4)
    out = module(x.float())[0].detach().numpy()
    np.testing.assert_array_equal(out, JPEG(quality=75).apply(_image(6)).astype(np.float32))


def test_random_stand_ins_jitter_sizes_and_keep_the_output_shape() -> None:
    rng = np.random.default_rng(0)
    pipeline = Pipeline((Resize(size=24), CenterCrop(size=20)))
    shapes = {tuple(random_stand_in(pipeline, (32, 32), rng, scale=0.2)(torch.zeros(1, 32, 32, 3)).shape) for _ in range(8)}
    assert len(shapes) > 1
    jpeg_only = random_stand_in(Pipeline((JPEG(quality=75),)), (32, 32), rng, scale=0.2)
    assert jpeg_only(torch.zeros(1, 32, 32, 3)).shape == (1, 32, 32, 3)


def test_known_pipeline_model_is_the_model_of_the_processed_upload() -> None:
    from foreign_models import TinyConvNet

    model = TinyConvNet(0)
    pipeline = Pipeline((JPEG(quality=60), Resize(size=24)))
    known = KnownPipelineModel(model, pipeline)
    img = _image(7)
    with torch.no_grad():
        direct = model(torch.from_numpy(pipeline.apply(img)[None]))
        through = known(torch.from_numpy(img[None].astype(np.float32)))
    torch.testing.assert_close(through, direct)
    x = torch.from_numpy(img[None].astype(np.float32)).requires_grad_(True)
    (g,) = torch.autograd.grad(known(x).sum(), x)
    assert g.shape == x.shape and float(g.abs().sum()) > 0
