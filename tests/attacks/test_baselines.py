"""The popular-image baselines."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import attack_context, make_world

from pixelpush.attacks import PopularBlend, PopularSwap, most_popular_in_category
from pixelpush.attacks.baselines import resize_image
from pixelpush.errors import ConfigError


def _ctx():
    world = make_world()
    ctx = attack_context(world, "rank")
    data = world.dataset
    pop = most_popular_in_category(ctx.item, data.categories, data.item_popularity)
    ctx.popular_image = np.kron(world.platform.current_image(pop), np.ones((2, 2, 1), np.uint8))  # 32×32
    return world, ctx, pop


def test_most_popular_in_category() -> None:
    cats, pop = np.array([0, 1, 0, 0]), np.array([5, 99, 7, 7])
    assert most_popular_in_category(0, cats, pop) == 2
    assert most_popular_in_category(2, cats, pop) == 3
    with pytest.raises(ConfigError):
        most_popular_in_category(1, cats, pop)


def test_swap_uploads_the_popular_image_at_the_uploads_size() -> None:
    world, ctx, pop = _ctx()
    result = PopularSwap().run(ctx)
    assert result.image.shape == ctx.image.shape
    np.testing.assert_array_equal(result.image, resize_image(ctx.popular_image, (16, 16)))
    np.testing.assert_array_equal(world.platform.current_image(ctx.item), result.image)
    diff = np.abs(result.image.astype(int) - world.platform.current_image(pop).astype(int))
    assert diff.mean() < 10  # the 2×-upsampled popular image, brought back to 16×16
    assert result.uploads == 1 and result.queries == 0


def test_blend_adds_epsilon_times_the_popular_image() -> None:
    world, ctx, pop = _ctx()
    ctx.popular_image = world.platform.current_image(pop)  # already the upload's size
    original = ctx.image.astype(np.float64)
    result = PopularBlend(epsilon=0.1).run(ctx)
    expected = np.clip(np.rint(original + 0.1 * world.platform.current_image(pop)), 0, 255)
    np.testing.assert_array_equal(result.image, expected.astype(np.uint8))
    assert repr(PopularBlend(epsilon=0.1)) == "PopularBlend(epsilon=0.1, steps=1)"
    with pytest.raises(ConfigError):
        PopularBlend(epsilon=0.0)


def test_baselines_need_the_popular_image() -> None:
    world = make_world()
    with pytest.raises(ConfigError):
        PopularSwap().run(attack_context(world, "rank"))


def test_resize_identity() -> None:
    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    np.testing.assert_array_equal(resize_image(img, (4, 4)), img)
