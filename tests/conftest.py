"""Session fixtures shared across test folders: one small *real* campaign, run once.

The campaign covers every attack of the registry, all three threat models and two d' values,
on the embedded catalog at 32 x 32 (fast). The campaign and report tests read its run folder;
tests that modify a run folder copy it first (``tiny_campaign_copy``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tiny_campaign import tiny_config


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for every campaign of the session (features are extracted once)."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="session")
def tiny_campaign(tmp_path_factory: pytest.TempPathFactory, feature_cache: Path) -> tuple[Path, dict]:
    """(run folder, results) of the tiny campaign, report rendered. Shared: do not modify."""
    from pixelpush.evaluation.campaign import run_campaign
    from pixelpush.report import render_report

    out = tmp_path_factory.mktemp("tiny-campaign") / "run"
    results = run_campaign(tiny_config(feature_cache), out, progress=False)
    render_report(out)
    return out, results


@pytest.fixture
def tiny_campaign_copy(tmp_path: Path, tiny_campaign: tuple[Path, dict]) -> Path:
    """A private copy of the tiny campaign's folder (without report files) that a test may modify."""
    run_dir = tmp_path / "copy"
    shutil.copytree(tiny_campaign[0], run_dir, ignore=shutil.ignore_patterns("figures", "report.html", ".pixelpush.lock"))
    return run_dir
