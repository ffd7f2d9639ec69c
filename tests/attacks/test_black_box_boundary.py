"""A hostile attack tries every way out of the attacker's view; each fails loudly or changes nothing.

In one process the boundary is the view's API: nothing an attack holds leads to the platform,
the recommender, the features or the evaluation users by attribute, nothing it holds writes into
what the platform scores, and its model copy is its own. In its own process (``isolation =
"process"``) the boundary is memory: the child holds no platform object at all, and has not
even imported the platform or the recommenders.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
from conftest import N_ITEMS, attack_context, make_world
from hostile import FORBIDDEN_NAMES, HostileAttack, PooledIC, child_memory, reachable

from pixelpush.attacks import Attack, AttackContext, Preparation, SpecificUser
from pixelpush.attacks.isolation import IsolatedRunner
from pixelpush.attacks.view import AttackerView
from pixelpush.data.catalog import Dataset
from pixelpush.platform.evaluator import Evaluator
from pixelpush.platform.platform import Platform
from pixelpush.platform.rank_index import RankIndex
from pixelpush.platform.validation import AccessDeniedError
from pixelpush.platform.whitebox import WhiteBoxHandle
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.memo import FeatureMemo

FORBIDDEN = (Platform, Recommender, FeatureMemo, WhiteBoxHandle, Evaluator, Dataset, RankIndex, Preparation)

def _platform_state(world) -> tuple[torch.Tensor, np.ndarray]:
    return world.platform.current_features(), Evaluator(world.platform).ranks(np.arange(world.dataset.n_users), 11)


def test_the_forbidden_names_cover_the_forbidden_types() -> None:
    assert {cls.__name__ for cls in FORBIDDEN} <= FORBIDDEN_NAMES


def _check(outcomes: dict[str, Any]) -> None:
    assert outcomes["reachable forbidden types"] == []
    for attempt in ("client._platform", "ctx.memo", "targeting.evaluation_users", "view.evaluation_users",
                    "rebind client.access", "replace view.features", "pickle the client"):
        assert outcomes[attempt].startswith("refused"), (attempt, outcomes[attempt])
    assert outcomes["scores at rank access"] == f"refused: {AccessDeniedError.__name__}"
    assert outcomes["features after writing the copy"] < 1e5  # the view's features are fresh copies


def test_in_one_process_every_escape_fails_or_changes_nothing_the_platform_scores() -> None:
    world = make_world()
    ctx = attack_context(world, "rank", item=11)
    reference = copy.deepcopy(world.model)
    features_before, ranks_before = _platform_state(world)
    record = next(HostileAttack(steps=1).iterate(ctx))
    _check(record.info["outcomes"])
    # the platform scores exactly what it would have scored: only the one upload changed item 11
    features_after, _ = _platform_state(world)
    changed = torch.nonzero((features_after != features_before).any(dim=1)).flatten().tolist()
    assert changed == [11]
    with torch.inference_mode():
        expected = reference(torch.from_numpy(record.image[None]))[0]
    torch.testing.assert_close(features_after[11], expected)  # the attacker's zeroed model copy played no part
    # the platform's own image model is untouched, and its memo still computes honestly
    fresh = np.random.default_rng(1).integers(0, 256, size=(1, 16, 16, 3), dtype=np.uint8)
    with torch.inference_mode():
        torch.testing.assert_close(world.platform.memo(fresh), reference(torch.from_numpy(fresh)))
    # undoing the upload gives back every real user's ranks
    world.platform.client("rank").upload_image(11, ctx.image)
    np.testing.assert_array_equal(_platform_state(world)[1], ranks_before)


def test_the_attackers_view_holds_only_the_client_its_model_copy_its_users_and_a_seed() -> None:
    world = make_world()
    ctx = attack_context(world, "partial")
    objects = reachable(ctx)
    assert not [o for o in objects if isinstance(o, FORBIDDEN)]
    assert not [o for o in objects if o is world.model]  # a copy, never the platform's model object
    assert not any(isinstance(o, torch.Tensor) and o.shape == (N_ITEMS, world.model.feature_dim) for o in objects)
    with pytest.raises(AttributeError):
        ctx.view.client = world.platform.client("score")  # noqa: B010


@pytest.mark.slow
def test_in_its_own_process_the_attack_holds_no_platform_object_at_all() -> None:
    world = make_world(model=PooledIC())
    view = AttackerView(world.platform.client("rank"), copy.deepcopy(world.model), seed=0)
    prep = SpecificUser().prepare(view, 11, world.dataset, seed=0, user=3)
    records: list[Any] = []
    features_before, _ = _platform_state(world)
    with IsolatedRunner() as runner:
        result, memory = runner.run(
            HostileAttack(steps=2), client=view.client, image_model=world.model, model_key="tiny", seed=0,
            users=view.registered(), item=11, image=world.platform.current_image(11), targeting=prep.targeting,
            on_step=records.append, probe=child_memory,
        )
    assert result.steps == 2 and result.uploads == 2
    _check(records[0].info["outcomes"])
    assert memory == {"held": [], "modules": []}, memory
    features_after, _ = _platform_state(world)
    assert torch.nonzero((features_after != features_before).any(dim=1)).flatten().tolist() == [11]


def test_an_attack_is_handed_a_view_not_a_client() -> None:
    """The attack API: what a context exposes is the view and what it holds, nothing else."""
    fields = {f for f in AttackContext.__dataclass_fields__}
    assert fields == {"view", "item", "image", "targeting", "white_box", "popular_image"}
    assert {n for n in dir(AttackerView) if not n.startswith("_")} == {
        "client", "image_model", "seed", "users", "register_user", "registered", "history", "features",
        "catalog_features", "pipeline",
    }
    assert issubclass(HostileAttack, Attack)


def test_a_view_that_knows_the_pipeline_holds_its_own_copy() -> None:
    """The pipeline an adaptive attacker is told about is a copy: changing it (even past the frozen
    dataclass) leaves the platform's ingest as it was."""
    from pixelpush.platform.ingest import JPEG, Pipeline

    world = make_world()
    platform_pipeline = Pipeline((JPEG(quality=75),))
    view = AttackerView(attack_context(world, "rank").view.client, copy.deepcopy(world.model), pipeline=platform_pipeline)
    assert view.pipeline == platform_pipeline and view.pipeline is not platform_pipeline
    object.__setattr__(view.pipeline, "transforms", ())
    assert platform_pipeline.transforms == (JPEG(quality=75),)
