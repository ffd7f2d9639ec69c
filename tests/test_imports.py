"""Importing any pixelpush module (as doctest collection does) has no side effects.

A fresh interpreter imports every module with the network cut off, in an empty working folder
and with an empty torch cache, and reports what changed: files, connection attempts, random
state, torch's thread count, logging handlers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, logging, os, pkgutil, random, socket, sys, time
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args)[:200])
    raise OSError("network access during import")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import numpy as np
import torch
for dependency in THIRD_PARTY:  # their own import-time habits are not pixelpush's (rich draws from `random`)
    __import__(dependency)
state = lambda: (random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist(),
                 torch.get_num_threads(), [type(h).__name__ for h in logging.getLogger().handlers])
before = state()
import pixelpush
names = [m.name for m in pkgutil.walk_packages(pixelpush.__path__, "pixelpush.")]
t0 = time.perf_counter()
for name in names:
    __import__(name)
print(json.dumps({"modules": names, "seconds": time.perf_counter() - t0, "attempts": attempts,
                  "state_changed": state() != before}))
"""


THIRD_PARTY = ("matplotlib.figure", "PIL.Image", "pydantic", "rich.console", "rich.table", "scipy.ndimage",
               "skimage.metrics", "tqdm.auto", "typer")


def test_importing_every_module_has_no_side_effects(tmp_path: Path) -> None:
    work, torch_home = tmp_path / "cwd", tmp_path / "torch"
    work.mkdir()
    torch_home.mkdir()
    env = {**os.environ, "TORCH_HOME": str(torch_home), "PYTHONDONTWRITEBYTECODE": "1"}
    child = f"THIRD_PARTY = {THIRD_PARTY!r}\n{_CHILD}"
    done = subprocess.run([sys.executable, "-c", child], cwd=work, env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["modules"]) > 50 and "pixelpush.cli.main" in report["modules"]
    assert report["attempts"] == []
    assert not report["state_changed"]
    assert sorted(work.rglob("*")) == [] and sorted(torch_home.rglob("*")) == []
    assert done.stderr == ""
    assert report["seconds"] < 60  # generous for 2 busy cores: imports define, they do not compute
