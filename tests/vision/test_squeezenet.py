"""SqueezeNet: the converted weights against an independent NumPy forward from the Keras HDF5.

The reference reads the original Keras file with h5py and runs the network in float64 NumPy
(channels-last, Keras 'valid'/'same' padding, 'valid' 3x3/2 max pools, [expand1x1, expand3x3]
concat) on real Fashion-MNIST images; the torch model must agree layer by layer.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from pixelpush.errors import ConfigError
from pixelpush.vision.models import IMAGE_MODELS, load_image_model
from pixelpush.vision.squeezenet import BGR_MEAN, SqueezeNetModel, default_weights_path, file_digest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
H5 = SHARED / "weights" / "squeezenet_v1.1_imagenet_notop_keras.h5"
FMNIST = SHARED / "data" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
needs_shared = pytest.mark.skipif(
    not (H5.exists() and FMNIST.exists()), reason=f"shared weights/data not found under {SHARED}"
)
SIZE = 112  # the embedded catalog's input size; 28 * 4


def fashion_images(indices: list[int]) -> np.ndarray:
    """Real Fashion-MNIST test images (N, 28, 28) uint8, read from the idx gz file."""
    count = max(indices) + 1
    with gzip.open(FMNIST, "rb") as fh:
        raw = fh.read(16 + count * 28 * 28)  # only the images needed
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    assert magic == 2051 and (rows, cols) == (28, 28) and count <= n
    images = np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, 28, 28)
    return images[indices]


def upload_from(gray28: np.ndarray) -> np.ndarray:
    """(28, 28) -> (112, 112, 3) uint8 by 4x pixel replication: exactly the model's input size."""
    return np.repeat(np.kron(gray28, np.ones((4, 4), dtype=np.uint8))[..., None], 3, axis=2)


# ---- the independent NumPy reference -------------------------------------------------------


def load_keras(h5_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    h5py = pytest.importorskip("h5py")
    layers = {}
    with h5py.File(h5_path, "r") as f:
        for name in ["conv1"] + [f"fire{i}/{p}" for i in range(2, 10) for p in ("squeeze1x1", "expand1x1", "expand3x3")]:
            datasets: list[np.ndarray] = []
            f[name].visit(lambda key, g=f[name], out=datasets: out.append(np.asarray(g[key], np.float64)) if isinstance(g[key], h5py.Dataset) else None)
            kernel = next(a for a in datasets if a.ndim == 4)  # (kh, kw, in, out)
            bias = next(a for a in datasets if a.ndim == 1)
            layers[name] = (kernel, bias)
    return layers


def conv(x: np.ndarray, kb: tuple[np.ndarray, np.ndarray], *, stride: int = 1, same: bool = False) -> np.ndarray:
    """Keras Conv2D on HWC: kernel (kh, kw, in, out), cross-correlation."""
    kernel, bias = kb
    kh, kw = kernel.shape[:2]
    if same:
        x = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    win = sliding_window_view(x, (kh, kw), axis=(0, 1))[::stride, ::stride]  # (H', W', C, kh, kw)
    return np.einsum("hwcij,ijco->hwo", win, kernel, optimize=True) + bias


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def maxpool_valid(x: np.ndarray) -> np.ndarray:
    return sliding_window_view(x, (3, 3), axis=(0, 1))[::2, ::2].max(axis=(3, 4))


def fire(x: np.ndarray, layers: dict, i: int) -> np.ndarray:
    s = relu(conv(x, layers[f"fire{i}/squeeze1x1"]))
    e1 = relu(conv(s, layers[f"fire{i}/expand1x1"]))
    e3 = relu(conv(s, layers[f"fire{i}/expand3x3"], same=True))
    return np.concatenate([e1, e3], axis=2)


def reference_forward(upload: np.ndarray, layers: dict) -> dict[str, np.ndarray]:
    """Named HWC activations of the Keras network for an RGB uint8 upload."""
    x = upload[..., ::-1].astype(np.float64) - np.array(BGR_MEAN)  # RGB -> BGR, mean-subtracted
    acts = {"input": x}
    x = maxpool_valid(relu(conv(x, layers["conv1"], stride=2)))
    acts["pool1"] = x
    x = fire(x, layers, 2)
    acts["fire2"] = x
    x = maxpool_valid(fire(x, layers, 3))  # pool3
    x = maxpool_valid(fire(fire(x, layers, 4), layers, 5))  # pool5
    for i in (6, 7, 8, 9):
        x = fire(x, layers, i)
    acts["fire9"] = x
    acts["pooled"] = x.mean(axis=(0, 1))
    return acts


# ---- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> SqueezeNetModel:
    return load_image_model("squeezenet1_1", input_size=SIZE)


@pytest.fixture(scope="module")
def keras_layers() -> dict:
    if not H5.exists():
        pytest.skip(f"Keras weights not found at {H5}")
    return load_keras(H5)


def to_hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).double().numpy()


@needs_shared
def test_converted_weights_match_numpy_reference(model, keras_layers):
    upload = upload_from(fashion_images([0])[0])
    ref = reference_forward(upload, keras_layers)
    with torch.inference_mode():
        x = model.preprocess(torch.from_numpy(upload)[None])
        np.testing.assert_allclose(to_hwc(x), ref["input"], rtol=1e-6, atol=1e-4)
        pool1 = model.features[:3](x)
        fire2 = model.features[:4](x)
        fire9 = model.features(x)
        pooled = model(torch.from_numpy(upload)[None])
    for name, ours in (("pool1", pool1), ("fire2", fire2), ("fire9", fire9)):
        theirs = ref[name]
        assert to_hwc(ours).shape == theirs.shape, name
        assert np.abs(theirs).max() > 1.0, f"{name}: reference activations are trivially small"
        # float32 torch vs float64 NumPy: rtol 1e-4 plus an absolute floor of 1e-5 x the layer's scale
        # (measured: max abs error ~5e-7 x scale, max error relative to max(|ref|, 1) ~2e-4)
        np.testing.assert_allclose(to_hwc(ours), theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max(), err_msg=name)
    np.testing.assert_allclose(pooled[0].double().numpy(), ref["pooled"], rtol=1e-4, atol=1e-5 * ref["pooled"].max())


@needs_shared
def test_pooled_features_on_real_images(model):
    uploads = [upload_from(g) for g in fashion_images([0, 1, 2, 3])]  # ankle boot, pullover, trouser, trouser
    feats = model.extract(uploads)
    assert feats.shape == (4, 512) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and (feats >= 0).all()
    norms = np.linalg.norm(feats, axis=1)
    assert ((norms > 10) & (norms < 1000)).all(), norms  # ImageNet SqueezeNet: norms in the hundreds
    d = np.linalg.norm(feats[:, None] - feats[None], axis=2)
    assert (d[~np.eye(4, dtype=bool)] > 1e-3 * norms.max()).all()
    # the two trousers are closer to each other than to the boot
    assert d[2, 3] < d[0, 2] and d[2, 3] < d[0, 3]


def test_default_weights_identity_and_geometry(model):
    path = default_weights_path()
    assert path.is_file() and (path.parent / "LICENSE.keras-squeezenet").is_file()
    assert model.weights_id == file_digest(path) and len(model.weights_id) == 12
    assert model.identity == f"squeezenet1_1@{SIZE}:{model.weights_id}"
    assert all(not p.requires_grad for p in model.parameters()) and not model.training
    pools = [m for m in model.features if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 3 and not any(p.ceil_mode for p in pools)  # Keras 'valid' pools
    # at 100 px floor and ceil pools differ (fire9 is 5x5 vs torchvision's 6x6); we follow Keras
    m100 = load_image_model("squeezenet1_1", input_size=100)
    with torch.inference_mode():
        out = m100.features(torch.zeros(1, 3, 100, 100))
    assert out.shape[-2:] == (5, 5)


def test_random_init_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = load_image_model("squeezenet1_1", weights=None, input_size=64, seed=3)
    b = load_image_model("squeezenet1_1", weights=None, input_size=64, seed=3)
    c = load_image_model("squeezenet1_1", weights=None, input_size=64, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)
    assert a.weights_id == "random-seed3"


def test_local_weights_file_and_errors(tmp_path, model):
    path = tmp_path / "sq.pt"
    torch.save(model.state_dict(), path)  # keys "features.*" plus the mean buffer
    m = load_image_model("squeezenet1_1", weights=path, input_size=SIZE)
    assert m.weights_id == file_digest(path)
    assert torch.equal(m.features[12].expand3x3.weight, model.features[12].expand3x3.weight)
    with pytest.raises(ConfigError, match="missing.pt"):
        load_image_model("squeezenet1_1", weights=tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="junk.pt"):
        load_image_model("squeezenet1_1", weights=tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match="squeezenet1_1, resnet50"):
        load_image_model("vgg16")
    assert IMAGE_MODELS == ("squeezenet1_1", "resnet50")
    with pytest.raises(ConfigError, match="input_size"):
        load_image_model("squeezenet1_1", input_size=16)
