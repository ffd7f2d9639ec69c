"""The engine registry, and what the engines' options refuse before anything is written: a
missing ``scale`` extra, an address for the local engine, a GPU this machine does not have."""

from __future__ import annotations

import sys

import pytest
import torch
from tiny_campaign import tiny_config, tiny_toml

from pixelpush.cli.main import main
from pixelpush.errors import ConfigError, MissingDependencyError
from pixelpush.evaluation.config import parse_config, with_overrides
from pixelpush.evaluation.engines import ENGINES, Engine, build_engine
from pixelpush.evaluation.keys import model_recipe
from pixelpush.ray_runtime import require_ray

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU: nothing to refuse")


def test_the_registry_holds_the_local_pool_and_ray():
    assert ENGINES.ids() == ("local", "ray")
    assert ENGINES.get("ray").extra == "scale" and ENGINES.get("ray").cluster and not ENGINES.get("local").cluster
    engine = build_engine("local", workers=3)
    assert isinstance(engine, Engine) and engine.id == "local" and engine.workers == 3


def test_unknown_engines_and_misplaced_options_are_config_errors():
    with pytest.raises(ConfigError, match=r"unknown engine 'spark'; known: local, ray"):
        build_engine("spark")
    with pytest.raises(ConfigError, match=r"--address is for a cluster engine \(ray\)"):
        build_engine("local", address="10.0.0.1:6379")
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        build_engine("local", workers=0)


@pytest.fixture
def without_ray(monkeypatch):
    """This interpreter as if the scale extra were not installed."""
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError


def test_without_the_scale_extra_the_message_says_how_to_install_it(without_ray):
    with pytest.raises(MissingDependencyError, match=r"--engine ray needs Ray, which is not installed .*pip install 'pixelpush\[scale\]'"):
        require_ray("--engine ray")


def test_run_engine_ray_without_ray_exits_2_before_writing_anything(without_ray, tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(tiny_toml(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --engine ray needs Ray") and "pip install 'pixelpush[scale]'" in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_features_engine_ray_without_ray_exits_2_before_reading_images(without_ray, tmp_path, capsys):
    assert main(["features", "--engine", "ray", "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "pip install 'pixelpush[scale]'" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_features_refuse_ray_options_for_the_local_engine(tmp_path, capsys):
    assert main(["features", "--workers", "2", "--cache-dir", str(tmp_path / "c")]) == 2
    assert "--address and --workers are for --engine ray" in capsys.readouterr().err


def test_device_names_are_checked_when_the_config_is_loaded(tmp_path):
    with pytest.raises(ConfigError, match="device: String should match pattern"):
        parse_config({"device": "gpu"})
    assert parse_config({"device": "cuda:1"}).device == "cuda:1"
    with pytest.raises(ConfigError, match="--device: device: String should match"):
        with_overrides(tiny_config(tmp_path), {"device": "tpu"}, source="--device")


@no_gpu
def test_a_gpu_this_machine_lacks_is_refused_before_anything_is_written(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(tiny_toml(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--device", "cuda"]) == 2
    assert "no CUDA GPU is available to this process" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "cache").exists()
    assert main(["features", "--device", "cuda", "--cache-dir", str(tmp_path / "cache")]) == 2
    assert main(["train", "--device", "cuda", "--out", str(tmp_path / "m")]) == 2
    assert not (tmp_path / "cache").exists() and not (tmp_path / "m").exists()


def test_the_device_is_part_of_keys_off_the_cpu_only(tmp_path):
    cpu, gpu = tiny_config(tmp_path), tiny_config(tmp_path, device="cuda:1")
    assert "device" not in model_recipe(cpu, "vbpr", "ic") and model_recipe(gpu, "vbpr", "ic")["device"] == "cuda"


def test_a_worker_rebuilds_the_drivers_context_with_the_defended_features_and_the_services(tmp_path):
    """Workers (local processes or Ray) run units from WorkerInputs: the catalog's features under
    each defense's ingest pipeline and the remote services must reach them, or a defended or
    remote unit fails (or, worse, scores raw features) in a worker but not in one process."""
    import numpy as np

    from pixelpush.data.registry import load_dataset
    from pixelpush.evaluation.preparation import CampaignContext
    from pixelpush.evaluation.worker_context import WorkerInputs
    from pixelpush.vision.models import load_image_model

    config = tiny_config(tmp_path)
    dataset = load_dataset(config.dataset.name, **config.dataset.options)
    features = np.zeros((dataset.n_items, 8), np.float32)
    processed = {"jpeg:q75": np.full((dataset.n_items, 8), 2.0, np.float32)}
    ctx = CampaignContext(
        config, dataset, load_image_model("squeezenet1_1", input_size=32), features, {}, {}, {}, "digest",
        processed, {"svc": "its [models] table"},
    )
    worker = WorkerInputs.from_context(ctx).context()
    assert worker.features_digest == "digest" and set(worker.processed_features) == {"jpeg:q75"}
    np.testing.assert_array_equal(worker.processed_features["jpeg:q75"], processed["jpeg:q75"])
    assert worker.services == {"svc": "its [models] table"}
