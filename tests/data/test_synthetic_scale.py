"""Synthetic catalogs at scale, tested small: Clothing's ratios, determinism, long tails, the cache."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from pixelpush.data import synthetic_scale

from pixelpush.data.synthetic_scale import (
    CLOTHING_INTERACTIONS,
    CLOTHING_ITEMS,
    CLOTHING_USERS,
    ScaleConfig,
    synthetic_catalog,
)
from pixelpush.errors import ConfigError, UnknownIdError

SMALL = ScaleConfig(n_items=6000, n_features=16)


@pytest.fixture(scope="module", params=[0, 1, 2])
def catalog(request):
    return synthetic_catalog(SMALL, seed=request.param)


def test_sizes_follow_clothing_ratios(catalog) -> None:
    d = catalog.dataset
    assert d.n_items == 6000
    assert d.n_users == round(6000 * CLOTHING_USERS / CLOTHING_ITEMS)
    target = round(6000 * CLOTHING_INTERACTIONS / CLOTHING_ITEMS)
    assert abs(len(d.interactions) - target) <= 0.01 * target  # the median is solved for the total
    assert catalog.features.shape == (6000, 16) and catalog.features.dtype == np.float32
    assert d.interactions.dtype == np.int64
    assert ScaleConfig().users == CLOTHING_USERS and ScaleConfig().interactions == CLOTHING_INTERACTIONS


def test_interactions_are_valid_pairs(catalog) -> None:
    pairs = catalog.dataset.interactions
    assert len(np.unique(pairs, axis=0)) == len(pairs), "repeated (user, item) pairs"
    lengths = np.bincount(pairs[:, 0], minlength=catalog.dataset.n_users)
    assert lengths.min() >= SMALL.min_history and lengths.max() <= SMALL.max_history


def test_popularity_and_histories_are_long_tailed(catalog) -> None:
    """Uniform choice would give the top 1% of items 1% of the interactions and every user the
    mean history; here the top 1% hold over 5x their share, and the longest history is over 5x
    the median (thresholds well inside what every seed gives: ~15-20% and ~30x)."""
    d = catalog.dataset
    pop = np.sort(d.item_popularity)[::-1]
    assert pop[: d.n_items // 100].sum() > 0.05 * pop.sum()
    lengths = np.bincount(d.interactions[:, 0], minlength=d.n_users)
    assert lengths.max() > 5 * np.median(lengths)


def test_choices_follow_appearance(catalog) -> None:
    """A user's items come from few visual clusters (3 favourites of 4+): far fewer distinct
    clusters per user than random items of the same popularity would span."""
    d = catalog.dataset
    pairs = d.interactions
    long = np.flatnonzero(np.bincount(pairs[:, 0]) >= 20)
    assert len(long) >= 10
    rng = np.random.default_rng(0)
    for u in long[:10]:
        items = pairs[pairs[:, 0] == u, 1]
        shuffled = rng.choice(d.n_items, size=len(items), replace=False, p=catalog.popularity / catalog.popularity.sum())
        assert len(np.unique(d.categories[items])) <= SMALL.favourites
        assert len(np.unique(d.categories[shuffled])) > SMALL.favourites


def test_features_look_like_cnn_features(catalog) -> None:
    f = np.asarray(catalog.features)
    assert np.isfinite(f).all() and (f >= 0).all()
    assert 50 < np.linalg.norm(f, axis=1).mean() < 500


def test_deterministic_for_a_seed() -> None:
    a, b, c = (synthetic_catalog(ScaleConfig(n_items=3000, n_features=8), seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.dataset.interactions, b.dataset.interactions)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.dataset.images.get(7), b.dataset.images.get(7))
    assert not np.array_equal(a.features, c.features)


def test_features_are_cached_and_reused(tmp_path) -> None:
    config = ScaleConfig(n_items=40_000, n_features=4)  # > one feature chunk of 16,384 rows
    first = np.array(synthetic_catalog(config, seed=3, cache_dir=tmp_path).features)
    (path,) = tmp_path.glob("features-*.npy")
    stamp = path.stat().st_mtime_ns
    again = synthetic_catalog(config, seed=3, cache_dir=tmp_path).features
    assert path.stat().st_mtime_ns == stamp, "the cache was rewritten"
    assert isinstance(again, np.memmap)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(first, synthetic_catalog(config, seed=3).features)  # = uncached
    del again  # (unmap before damaging the file)
    path.write_bytes(path.read_bytes()[:-4])  # a damaged file is regenerated, not returned
    np.testing.assert_array_equal(synthetic_catalog(config, seed=3, cache_dir=tmp_path).features, first)


def test_images_are_small_uint8_uploads(catalog) -> None:
    images = catalog.dataset.images
    img = images.get(11)
    assert img.shape == (SMALL.image_size, SMALL.image_size, 3) and img.dtype == np.uint8
    with pytest.raises(UnknownIdError):
        images.get(len(images))


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ConfigError):
        ScaleConfig(n_items=1)
    with pytest.raises(ConfigError):
        ScaleConfig(min_history=10, max_history=5)
    with pytest.raises(ConfigError):
        synthetic_catalog(ScaleConfig(n_items=4, min_history=5, max_history=9))


def test_doctests_pass() -> None:
    assert doctest.testmod(synthetic_scale).failed == 0


def test_the_registry_loads_the_same_catalog_by_name() -> None:
    """A campaign's workers load the dataset by name: the registry's catalog is the generator's."""
    from pixelpush.data.registry import load_dataset

    direct = synthetic_catalog(ScaleConfig(n_items=3000, image_size=16), seed=4).dataset
    named = load_dataset("synthetic-scale", n_items=3000, image_size=16, seed=4)
    assert (named.name, named.n_users, named.n_items) == (direct.name, direct.n_users, direct.n_items)
    assert np.array_equal(named.interactions, direct.interactions)
    assert np.array_equal(named.categories, direct.categories)
    for item in (0, 1234, 2999):
        assert np.array_equal(named.images.get(item), direct.images.get(item))
    other = load_dataset("synthetic-scale", n_items=3000, image_size=16, seed=5)
    assert not np.array_equal(other.interactions, direct.interactions)


def test_the_registry_refuses_unknown_options() -> None:
    from pixelpush.data.registry import load_dataset
    from pixelpush.evaluation.config import parse_config

    with pytest.raises(ConfigError, match="n_itemz"):
        load_dataset("synthetic-scale", n_itemz=10)
    with pytest.raises(ConfigError, match="n_items"):
        load_dataset("synthetic-scale", n_items=1)
    config = parse_config({"dataset": {"name": "synthetic-scale", "options": {"n_items": 10_000}}})
    assert config.dataset.options == {"n_items": 10_000}
    with pytest.raises(ConfigError, match="wrong type"):
        parse_config({"dataset": {"name": "synthetic-scale", "options": {"n_items": "many"}}})
