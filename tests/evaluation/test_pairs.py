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
    for p in draw_pairs(ds, "specific-user", 25, seed=3):
        assert p.target_user is not None and p.eval_users == (p.target_user,)
        assert p.item not in ds.histories[p.target_user]


def test_segment_pairs_measure_the_segment_items_holders_not_the_pushed_items():
    ds = _dataset()
    for p in draw_pairs(ds, "segment", 25, seed=3):
        assert p.segment_item != p.item
        assert ds.categories[p.segment_item] == ds.categories[p.item]
        holders = {int(u) for u, i in ds.interactions if i == p.segment_item}
        pushed_holders = {int(u) for u, i in ds.interactions if i == p.item}
        assert set(p.eval_users) == holders - pushed_holders and p.eval_users


def test_general_pairs_sample_users_who_do_not_hold_the_item():
    ds = _dataset()
    for p in draw_pairs(ds, "general", 10, seed=1, n_eval_users=15):
        assert len(p.eval_users) == 15
        assert not any(p.item in ds.histories[u] for u in p.eval_users)


def test_pairs_depend_only_on_seed_and_index():
    ds = _dataset()
    assert draw_pairs(ds, "segment", 5, seed=7) == draw_pairs(ds, "segment", 8, seed=7)[:5]
    assert draw_pairs(ds, "segment", 5, seed=7) != draw_pairs(ds, "segment", 5, seed=8)
