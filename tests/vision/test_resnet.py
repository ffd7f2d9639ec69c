"""ResNet-50 image model: random init, local state-dict files, the ImageNet path (never downloading)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.errors import ConfigError
from pixelpush.random import numpy_rng, torch_generator
from pixelpush.vision.models import load_image_model
from pixelpush.vision.resnet import IMAGENET_MEAN, IMAGENET_STD, ResNet50Model
from pixelpush.vision.torchvision_compat import import_torchvision

SIZE = 32  # the smallest input ImageModel allows: fast on two cores (layer4 is 1x1)


@pytest.fixture(scope="module")
def random_model() -> ResNet50Model:
    return load_image_model("resnet50", weights=None, input_size=SIZE, seed=0)


@pytest.fixture(scope="module")
def tv_net() -> torch.nn.Module:
    """A plain torchvision resnet50 (with fc) whose weights differ from ``random_model``'s."""
    tv = import_torchvision()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        net = tv.models.resnet50(weights=None)
        for m in net.modules():  # non-trivial BN statistics so that loading them is checked
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def uploads(n: int, side: int = 40) -> torch.Tensor:
    return torch.from_numpy(numpy_rng(0, "test-resnet").integers(0, 256, (n, side, side, 3), dtype=np.uint8))


def test_random_weights_shape_gradients_and_seed(random_model):
    assert random_model.identity == f"resnet50@{SIZE}:random-seed0"
    assert all(not p.requires_grad for p in random_model.parameters()) and not random_model.training
    x = uploads(2).float().requires_grad_(True)
    feats = random_model(x)
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()
    assert (feats >= 0).all()  # post-ReLU average pool
    v = torch.randn(2048, generator=torch_generator(0, "v"))
    (feats @ v).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(dim=(1, 2, 3)) > 0).all()  # every image's pixels get gradient
    # the same seed gives the same weights, another seed different ones; global RNG untouched
    state = torch.random.get_rng_state()
    again = ResNet50Model(weights=None, input_size=SIZE, seed=0)
    other = ResNet50Model(weights=None, input_size=SIZE, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    w = random_model.backbone.conv1.weight
    assert torch.equal(again.backbone.conv1.weight, w) and not torch.equal(other.backbone.conv1.weight, w)


def test_normalisation_is_imagenet_mean_std(random_model):
    rgb = torch.tensor([0.0, 127.5, 255.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    out = random_model.normalize(rgb)[0, :, 0, 0]
    expected = [(0.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], (0.5 - IMAGENET_MEAN[1]) / IMAGENET_STD[1], (1.0 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]]
    torch.testing.assert_close(out, torch.tensor(expected))


def _reference_features(net: torch.nn.Module, images: torch.Tensor, model: ResNet50Model) -> torch.Tensor:
    """torchvision's own forward up to the pooled features (fc bypassed) on our preprocessing."""
    x = model.preprocess(images)
    body = torch.nn.Sequential(*list(net.children())[:-1])  # everything but fc
    return body(x).flatten(1)


def test_local_state_dict_file_with_and_without_fc(tmp_path, tv_net):
    images = uploads(2).float()
    reference = None
    for with_fc in (True, False):
        state = tv_net.state_dict()
        if not with_fc:
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        path = tmp_path / f"resnet50-{with_fc}.pt"
        torch.save(state, path)
        model = load_image_model("resnet50", weights=path, input_size=SIZE)
        assert len(model.weights_id) == 12 and model.weights_id != "random-seed0"
        with torch.inference_mode():
            if reference is None:
                reference = _reference_features(tv_net, images, model)
            torch.testing.assert_close(model(images), reference, rtol=1e-5, atol=1e-5)
        path.unlink()


def test_bad_weight_files_raise_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="absent.pt"):
        load_image_model("resnet50", weights=tmp_path / "absent.pt")
    wrong = tmp_path / "wrong.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ConfigError, match="wrong.pt"):
        ResNet50Model(weights=wrong, input_size=SIZE)


def test_imagenet_weights_use_torchvision_api_without_download(monkeypatch, tv_net):
    tv = import_torchvision()
    calls = []

    def fake_get_state_dict(self, *args, **kwargs):
        calls.append(self)
        return tv_net.state_dict()

    monkeypatch.setattr(type(tv.models.ResNet50_Weights.IMAGENET1K_V2), "get_state_dict", fake_get_state_dict)
    model = load_image_model("resnet50", input_size=SIZE)  # "default" means ImageNet for resnet50
    assert calls == [tv.models.ResNet50_Weights.IMAGENET1K_V2]
    assert model.weights_id == "imagenet1k_v2"
    torch.testing.assert_close(model.backbone.layer4[2].conv3.weight, tv_net.layer4[2].conv3.weight)

    def offline(self, *args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(type(tv.models.ResNet50_Weights.IMAGENET1K_V2), "get_state_dict", offline)
    with pytest.raises(ConfigError, match="local state-dict file"):
        load_image_model("resnet50", weights="imagenet", input_size=SIZE)
