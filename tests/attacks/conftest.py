"""A small world for attack tests: the real Platform over foreign models defined only here.

The attack code has never seen these classes: a tiny CNN image model, a linear image model,
and recommenders with their own scoring and fold-in rules behind the ``Recommender`` interface.
Uploads are 16×16 (upsampled to the models' 32×32 input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from foreign_models import CosineVisualRec, LinearIC, LinearVisualRec, TanhVisualRec, TinyConvNet  # noqa: F401 - re-exported

from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.platform.platform import Platform
from pixelpush.random import numpy_rng
from pixelpush.recommenders.base import Recommender
from pixelpush.vision.image_model import ImageModel

UPLOAD = 16
N_ITEMS = 200
N_USERS = 60
N_CATEGORIES = 4


class RandomSignAttack:
    """The null baseline: ``p ← clip(p + ε·sign(g))`` with `g` random (seeded), one upload per step."""

    def __new__(cls, *, epsilon: int = 1, steps: int = 20):  # built lazily: the attack module is imported here
        from pixelpush.attacks.base import GradientEstimate, GradientSignAttack
        from pixelpush.random import numpy_rng

        class _RandomSign(GradientSignAttack):
            id = "random-sign"

            def gradient(self, state, user):  # noqa: ARG002
                if not hasattr(state, "rng"):
                    state.rng = numpy_rng(state.ctx.seed, "random-sign", state.ctx.item)
                return GradientEstimate(pixel=state.rng.normal(size=state.image.shape))

        return _RandomSign(epsilon=epsilon, steps=steps)


def make_images(seed: int, n: int = N_ITEMS, size: int = UPLOAD) -> np.ndarray:
    """Smooth random uploads: 4×4 colour blocks upsampled, plus mild noise, in 40..215."""
    rng = numpy_rng(seed, "images")
    coarse = rng.uniform(40, 215, size=(n, 4, 4, 3))
    img = np.repeat(np.repeat(coarse, size // 4, axis=1), size // 4, axis=2)
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@dataclass
class World:
    platform: Platform
    dataset: Dataset
    model: ImageModel
    recommender: Recommender


def make_world(
    *,
    seed: int = 0,
    model: ImageModel | None = None,
    rec_cls: type[TanhVisualRec] = TanhVisualRec,
    visible_fraction: float = 0.01,
    budget=None,
) -> World:
    model = model if model is not None else TinyConvNet(seed)
    images = make_images(seed)
    rng = numpy_rng(seed, "histories")
    categories = rng.integers(0, N_CATEGORIES, size=N_ITEMS)
    histories, pairs = [], []
    for u in range(N_USERS):
        h = np.sort(rng.choice(N_ITEMS, size=int(rng.integers(3, 8)), replace=False))
        histories.append(h)
        pairs.extend((u, int(i)) for i in h)
    store = ArrayImages(images)
    feats = torch.from_numpy(model.extract(list(images)))
    rec = rec_cls(N_ITEMS, histories, feats, seed=seed)
    dataset = Dataset(
        name="tiny",
        images=store,
        categories=categories,
        category_names=tuple(f"c{c}" for c in range(N_CATEGORIES)),
        interactions=np.array(pairs, dtype=np.int64),
        n_users=N_USERS,
    )
    platform = Platform(
        rec, store, model, features=feats.numpy(), consumed=histories, visible_fraction=visible_fraction, budget=budget, seed=seed
    )
    return World(platform=platform, dataset=dataset, model=model, recommender=rec)


def middle_item(world: World, user: int, lo: float = 0.4, hi: float = 0.6) -> int:
    """An unconsumed item ranked between `lo` and `hi` of `user`'s list (experimenter's view)."""
    ranking = world.platform.ranking(user)
    return int(ranking[int(len(ranking) * (lo + hi) / 2)])


@pytest.fixture
def world() -> World:
    return make_world()


def attack_view(world: World, access: str, *, seed: int = 0, share_features: bool = True):
    """An attacker's view at `access`: the client, its own copy of the image model, the memo's reader."""
    import copy

    from pixelpush.attacks.view import AttackerView

    features = world.platform.memo.reader() if share_features else None
    return AttackerView(world.platform.client(access), copy.deepcopy(world.model), seed=seed, features=features)


def attack_context(world: World, access: str, user: int = 3, *, item: int | None = None, seed: int = 0, white_box: bool = False):
    """A specific-user context: the clone of real `user`, and a middle-ranked item if none given."""
    from pixelpush.attacks.base import AttackContext
    from pixelpush.attacks.threat_models import SpecificUser

    view = attack_view(world, access, seed=seed)
    probe_item = item if item is not None else int(np.setdiff1d(np.arange(N_ITEMS), world.dataset.histories[user])[0])
    prep = SpecificUser().prepare(view, probe_item, world.dataset, seed=seed, user=user)
    if item is None:
        item = middle_item(world, prep.targeting.user)
    return AttackContext(
        view=view,
        item=item,
        image=world.platform.current_image(item),
        targeting=prep.targeting,
        white_box=world.platform.white_box() if white_box else None,
    )


def true_rank(world: World, user: int, item: int) -> int:
    """The experimenter's full-list rank (the platform's own counters are not the attacker's)."""
    return int(world.platform.rank(user, item)[0])
