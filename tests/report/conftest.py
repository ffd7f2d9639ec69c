"""The report tests read the real tiny campaign of ``tests/conftest.py`` (run once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rendered_run(tiny_campaign: tuple[Path, dict]) -> Path:
    """The tiny campaign's run folder with its report rendered (shared: do not modify)."""
    return tiny_campaign[0]


@pytest.fixture
def fresh_run(tiny_campaign_copy: Path) -> Path:
    """A private copy of the tiny campaign's folder (no report files) that a test may modify."""
    return tiny_campaign_copy
