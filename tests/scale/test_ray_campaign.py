"""Campaigns on the Ray engine: the local engine's results.json byte for byte, a SIGKILLed driver
resumed from its pairs.jsonl, and attacks isolated in one attacker process per Ray worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_campaign import TINY_CAMPAIGN, tiny_config, tiny_toml

from ray_helpers import SKIP_REASON, kill_group

pytest.importorskip("ray", reason=SKIP_REASON)

from pixelpush.evaluation.campaign import run_campaign  # noqa: E402
from pixelpush.evaluation.run_folder import locked  # noqa: E402

pytestmark = pytest.mark.slow

N_UNITS = 35  # the tiny campaign's units


def _lines(run_dir: Path) -> list[str]:
    path = run_dir / "pairs.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def _with_models(tmp_path: Path, tiny_campaign) -> Path:
    """A fresh run folder holding the tiny campaign's trained models (same recipe: reused, not retrained)."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(tiny_campaign[0] / "models", out / "models")
    return out


def test_a_sigkilled_ray_driver_resumes_to_the_local_engines_results(tmp_path, feature_cache, tiny_campaign, ray_instance):
    """`pixelpush run --engine ray --address` killed mid-run, then resumed: the local engine's results.json.

    The driver joins this session's local instance (starting a second one would double the
    test's time); the SIGKILL takes its job's workers with it, the cluster stays up.
    """
    out = _with_models(tmp_path, tiny_campaign)
    config_path = tmp_path / "tiny.toml"
    config_path.write_text(tiny_toml(feature_cache))
    address = ray_instance.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "pixelpush.cli.main", "run", str(config_path), "--out", str(out),
               "--engine", "ray", "--address", address, "--no-report"]
    with open(tmp_path / "driver.log", "wb") as log:
        driver = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(_lines(out)) < 3 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        kill_group(driver.pid)
    done = _lines(out)
    assert 3 <= len(done) < N_UNITS, (tmp_path / "driver.log").read_text()[-3000:]
    assert not (out / "results.json").exists()
    with locked(out):  # the dead driver's lock is gone
        pass

    results = run_campaign(tiny_config(feature_cache), out, engine="ray", progress=False)
    resumed = _lines(out)
    assert resumed[: len(done)] == done  # appended to, never rewritten
    assert len(resumed) == len({json.loads(line)["unit"] for line in resumed}) == N_UNITS
    assert (out / "results.json").read_bytes() == (tiny_campaign[0] / "results.json").read_bytes()
    assert results == tiny_campaign[1]
    local = {r["unit"]: r for r in map(json.loads, _lines(tiny_campaign[0]))}
    for record in map(json.loads, resumed):
        if record["images"]:  # the files a record names were written by the driver
            for name in record["images"].values():
                assert (out / name).read_bytes() == (tiny_campaign[0] / name).read_bytes()
        assert {k: v for k, v in record.items() if k != "seconds"} == {k: v for k, v in local[record["unit"]].items() if k != "seconds"}


def test_isolated_attacks_run_in_one_attacker_process_per_ray_worker(tmp_path, feature_cache, tiny_campaign, ray_instance):
    out = _with_models(tmp_path, tiny_campaign)
    table = {**TINY_CAMPAIGN["experiments"][0], "attacks": ["wb", "bb-rank"], "perturbations": [4], "pairs": 2}
    config = tiny_config(feature_cache, isolation="process", experiments=[table])
    run_campaign(config, out, engine="ray", workers=2, progress=False)
    local = {r["unit"]: r for r in map(json.loads, _lines(tiny_campaign[0]))}
    records = list(map(json.loads, _lines(out)))
    assert len(records) == 4 and {r["attack"] for r in records} == {"wb", "bb-rank"}
    for record in records:  # the same numbers as in one process without isolation
        assert {k: v for k, v in record.items() if k != "seconds"} == {k: v for k, v in local[record["unit"]].items() if k != "seconds"}
