"""Every shipped config parses, and the ones on a searched catalog train the validation-selected models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelpush.evaluation.config import load_config, recommender_kind

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SEARCHES = {p.stem: json.loads(p.read_text()) for p in (CONFIGS / "search").glob("*.json")}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_config_parses_and_plain_models_are_the_selected_ones(path: Path) -> None:
    config = load_config(path)
    search = SEARCHES.get(config.dataset.name)
    if search is None:
        return
    assert search["dataset"] == config.dataset.name
    trained = {*config.training.models, *(r for e in config.experiments for r in e.recommenders)}
    for name in sorted(trained):
        if ":" in name:  # a named variant (e.g. vbpr:low-visual-reg) is deliberately not the selection
            continue
        kind = recommender_kind(name)
        assert config.training.options.get(name, {}) == search["selected"][kind], (
            f"{path.name}: {name} must train {search['selected'][kind]} (configs/search/{config.dataset.name}.json); "
            "re-run the search command in that file and copy its 'selected' options"
        )


def test_the_default_catalog_has_a_search() -> None:
    assert "fashion" in SEARCHES and {"bpr", "vbpr", "deepstyle"} <= set(SEARCHES["fashion"]["selected"])
    assert SEARCHES["fashion"]["command"].startswith("pixelpush search fashion")
