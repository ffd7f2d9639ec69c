"""The command line asks torch for huge pages before torch is imported, and keeps a user's choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pixelpush import huge_pages

_CHILD = r"""
import json, os, sys
import pixelpush.cli.main as cli
seen = {"torch_at_import": "torch" in sys.modules}
register = cli._register
def spy():
    seen["variable"] = os.environ.get("THP_MEM_ALLOC_ENABLE")
    seen["torch_before_commands"] = "torch" in sys.modules
    register()
cli._register = spy
cli.main(["--help"])
print(json.dumps(seen))
"""


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0")])
def test_the_cli_sets_the_variable_before_torch_is_imported(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != huge_pages.VARIABLE}
    if given is not None:
        env[huge_pages.VARIABLE] = given
    done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # torch reads the variable once, at its first allocation: it must not be loaded before
    assert seen == {"torch_at_import": False, "variable": expected, "torch_before_commands": False}


def test_workers_started_elsewhere_get_the_variable_as_this_process_has_it(monkeypatch) -> None:
    monkeypatch.delenv(huge_pages.VARIABLE, raising=False)
    assert huge_pages.worker_environment() == {}
    huge_pages.request_huge_pages()
    assert huge_pages.worker_environment() == {huge_pages.VARIABLE: "1"}
    monkeypatch.setenv(huge_pages.VARIABLE, "0")
    huge_pages.request_huge_pages()
    assert huge_pages.worker_environment() == {huge_pages.VARIABLE: "0"}
