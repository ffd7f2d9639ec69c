"""Fixtures: a small recorded run folder (written once per session, copied per test that mutates it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from recorded_run import write_recorded_run

from pixelpush.report import render_report


@pytest.fixture(scope="session")
def rendered_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full recorded run with its report rendered (shared: do not modify)."""
    run_dir = write_recorded_run(tmp_path_factory.mktemp("run") / "full")
    render_report(run_dir)
    return run_dir


@pytest.fixture
def fresh_run(tmp_path: Path, rendered_run: Path) -> Path:
    """A private copy of the recorded run (no report files) that a test may modify."""
    run_dir = tmp_path / "copy"
    shutil.copytree(rendered_run, run_dir, ignore=shutil.ignore_patterns("figures", "report.html"))
    return run_dir
