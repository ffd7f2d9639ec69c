import numpy as np

from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.evaluation.pairs import draw_pairs


def _dataset(n_users=40, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    pairs = {(u, int(i)) for u in range(n_users) for i in rng.choice(n_items, size=rng.integers(1, 8), replace=False)}
    return Dataset(
        name="tiny",
        images=ArrayImages(np.zeros((n_items, 8, 8, 3), np.uint8)),
        categories=np.arange(n_items) % 3,
        category_names=("a", "b", "c"),
        interactions=np.array(sorted(pairs), dtype=np.int64),
        n_users=n_users,
    )


def test_specific_user_pairs_push_an_item_outside_the_history():
    ds = _dataset()
    pairs = draw_pairs(ds, "specific-user", 25, seed=3)
    for p in pairs:
        assert p.target_user is not None and p.item not in ds.histories[p.target_user]
    assert len({(p.target_user, p.item) for p in pairs}) > 20


def test_segment_pairs_push_items_whose_category_has_a_segment_to_measure():
    ds = _dataset()
    for p in draw_pairs(ds, "segment", 25, seed=3):
        holders = {int(u) for u, i in ds.interactions if i == p.item}
        segment_holders = {
            int(u) for u, i in ds.interactions if i != p.item and ds.categories[i] == ds.categories[p.item]
        }
        assert p.target_user is None and segment_holders - holders


def test_general_pairs_cover_the_catalog():
    ds = _dataset()
    items = [p.item for p in draw_pairs(ds, "general", 60, seed=1)]
    assert len(set(items)) > 20 and all(0 <= i < ds.n_items for i in items)


def test_pairs_depend_only_on_seed_and_index():
    ds = _dataset()
    assert draw_pairs(ds, "segment", 5, seed=7) == draw_pairs(ds, "segment", 8, seed=7)[:5]
    assert draw_pairs(ds, "segment", 5, seed=7) != draw_pairs(ds, "segment", 5, seed=8)
