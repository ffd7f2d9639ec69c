"""The validation-AUC grid search: grid expansion, selection by validation only, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.errors import ConfigError
from pixelpush.recommenders import search as search_module
from pixelpush.recommenders.search import campaign_split, grid_points, search
from pixelpush.recommenders.synthetic import visual_interactions


def synthetic_dataset(seed: int = 0) -> tuple[Dataset, np.ndarray]:
    """A dataset where appearance drives choice (features readable by a visual model)."""
    data = visual_interactions(n_users=200, n_items=300, n_features=32, seed=seed)
    ds = Dataset(
        name="synthetic",
        images=ArrayImages(np.zeros((data.n_items, 2, 2, 3), np.uint8)),
        categories=data.categories,
        category_names=tuple(f"c{c}" for c in range(int(data.categories.max()) + 1)),
        interactions=data.interactions,
        n_users=data.n_users,
    )
    return ds, data.features


GRID = {
    "bpr": [[{"dim": 8}]],
    # a huge visual penalty switches the visual terms off: where looks drive choice, it must lose
    "vbpr": [[{"dim": 8}], [{"lambda_visual": 1e3}, {"lambda_visual": 1e-4}]],
}


def test_grid_points_expand_in_order_and_refuse_clashes() -> None:
    points = grid_points([[{"a": 1}, {"a": 2}], [{"b": 3, "c": 3}, {"b": 4, "c": 4}]])
    assert points == [{"a": 1, "b": 3, "c": 3}, {"a": 1, "b": 4, "c": 4}, {"a": 2, "b": 3, "c": 3}, {"a": 2, "b": 4, "c": 4}]
    with pytest.raises(ConfigError, match="twice"):
        grid_points([[{"a": 1}], [{"a": 2}]])
    assert all(k in search_module.DEFAULT_GRIDS for k in ("bpr", "vbpr", "deepstyle"))


@pytest.mark.slow
def test_search_selects_by_validation_auc_and_is_deterministic() -> None:
    ds, feats = synthetic_dataset()
    result = search(ds, feats, seed=0, grids=GRID, epochs=40)
    vbpr = result.trials["vbpr"]
    assert [t.options["lambda_visual"] for t in vbpr] == [1e3, 1e-4]
    best = max(vbpr, key=lambda t: t.val_auc)
    assert result.selected["vbpr"] == best.options == {"dim": 8, "lambda_visual": 1e-4}
    m = result.metrics["vbpr"]
    assert m["val_auc"] == best.val_auc and m["n_cold"] + m["n_warm"] == ds.n_users
    assert m["visual_gain"] > 0 and m["visual_gain"] == pytest.approx(m["auc"] / result.metrics["bpr"]["auc"] - 1)
    assert "visual_gain" not in result.metrics["bpr"]
    again = search(ds, feats, seed=0, grids=GRID, epochs=40)
    assert [t.val_auc for t in again.trials["vbpr"]] == [t.val_auc for t in vbpr]  # seeded: same numbers
    assert again.selected == result.selected and again.metrics == result.metrics
    assert len(campaign_split(ds, 0).test) == ds.n_users  # every synthetic user has >= 5 interactions


def test_search_needs_bpr_and_known_kinds() -> None:
    ds, feats = synthetic_dataset()
    with pytest.raises(ConfigError, match="bpr"):
        search(ds, feats, grids={"vbpr": GRID["vbpr"]})
    with pytest.raises(ConfigError, match="nope"):
        search(ds, feats, grids={"bpr": GRID["bpr"], "nope": [[{}]]})
