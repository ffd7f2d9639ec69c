"""The simulator's appearance space: layer activations of the public image model, and the style projection."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpush.data.appearance import SQUEEZENET_LAYERS, StyleProjection, fit_style_projection, layer_activations
from pixelpush.data.catalog import ArrayImages
from pixelpush.errors import ConfigError, DataError
from pixelpush.random import numpy_rng
from pixelpush.vision.models import load_image_model


def _uploads(n: int = 6, size: int = 64) -> ArrayImages:
    rng = numpy_rng(0, "test", "appearance")
    return ArrayImages(rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8))


def test_fire9_activations_are_the_image_models_features() -> None:
    """The last layer's pooled activations are exactly what the recommenders are fed."""
    model = load_image_model("squeezenet1_1", input_size=64)
    store = _uploads()
    acts = layer_activations(model, store, "fire9", batch_size=4)
    np.testing.assert_allclose(acts, model.extract(store.many(range(len(store)))), rtol=1e-5, atol=1e-5)


def test_layer_shapes_items_and_unknown_layer() -> None:
    model = load_image_model("squeezenet1_1", input_size=64)
    store = _uploads()
    assert layer_activations(model, store, "fire5").shape == (6, 256)
    assert layer_activations(model, store, "fire7").shape == (6, 384)
    some = layer_activations(model, store, "fire5", items=np.array([4, 1]))
    np.testing.assert_allclose(some, layer_activations(model, store, "fire5")[[4, 1]], rtol=1e-6, atol=1e-6)
    assert set(SQUEEZENET_LAYERS) >= {"fire5", "fire9"}
    with pytest.raises(ConfigError, match="fire99"):
        layer_activations(model, store, "fire99")


def test_style_projection_recovers_the_principal_axes() -> None:
    rng = numpy_rng(0, "test", "pca")
    axes = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    acts = (rng.normal(size=(2000, 8)) * np.array([6.0, 3.0, 1.0, 0.2, 0.2, 0.2, 0.2, 0.2])) @ axes.T + 5.0
    proj = fit_style_projection(acts, 3)
    z = proj.apply(acts)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.abs(proj.basis.T @ axes[:, :3]), np.eye(3), atol=0.02)
    np.testing.assert_allclose(proj.scale, [6.0, 3.0, 1.0], rtol=0.06)
    assert np.array_equal(fit_style_projection(acts, 3).basis, proj.basis)  # deterministic signs
    with pytest.raises(ConfigError, match="dims"):
        fit_style_projection(acts, 9)
    with pytest.raises(DataError, match="activations"):
        proj.apply(acts[:, :5])
    with pytest.raises(DataError, match="inconsistent"):
        StyleProjection(mean=np.zeros(8), basis=np.zeros((8, 2)), scale=np.array([1.0, 0.0]))
