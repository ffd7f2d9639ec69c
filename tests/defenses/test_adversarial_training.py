"""AMR adversarial training: its loss term, and that it lowers the white-box attack's HR@20 on a
small synthetic world (several seeds, against the undefended model trained from the same seed)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from foreign_models import LinearIC

from pixelpush.attacks.base import AttackContext
from pixelpush.attacks.threat_models import SpecificUser
from pixelpush.attacks.view import AttackerView
from pixelpush.attacks.whitebox import WhiteBoxAttack
from pixelpush.data.catalog import ArrayImages, Dataset
from pixelpush.platform.platform import Platform
from pixelpush.random import numpy_rng
from pixelpush.recommenders.adversarial import adversarial_loss
from pixelpush.recommenders.evaluation import auc
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import leave_one_out
from pixelpush.recommenders.training import TrainConfig, fit

N_ITEMS, N_USERS = 240, 150


def _world(seed: int) -> tuple[Dataset, LinearIC, np.ndarray]:
    """Smooth 16x16 uploads; users choose items whose linear features match their taste."""
    rng = numpy_rng(seed, "amr-world")
    coarse = rng.uniform(30, 225, size=(N_ITEMS, 4, 4, 3))
    images = np.clip(np.rint(np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2) + rng.normal(0, 4, (N_ITEMS, 16, 16, 3))), 0, 255)
    images = images.astype(np.uint8)
    model = LinearIC(dim=8, seed=seed)
    feats = model.extract(list(images))
    z = (feats - feats.mean(0)) / feats.std(0)
    taste = rng.normal(size=(N_USERS, z.shape[1]))
    pairs = []
    for u in range(N_USERS):
        logits = 1.5 * z @ taste[u] / np.sqrt(z.shape[1])
        p = np.exp(logits - logits.max())
        for i in rng.choice(N_ITEMS, size=12, replace=False, p=p / p.sum()):
            pairs.append((u, int(i)))
    ds = Dataset("amr-world", ArrayImages(images), np.zeros(N_ITEMS, np.int64), ("c",), np.array(pairs, np.int64), N_USERS)
    return ds, model, feats


def _train(ds: Dataset, feats: np.ndarray, seed: int, adv_epsilon: float) -> tuple[torch.nn.Module, float]:
    """The trained model and its test AUC."""
    rec = build_model("vbpr", N_USERS, N_ITEMS, feats.shape[1], config={"lambda_visual": 1e-4, "visual_dim": 8}, seed=seed)
    split = leave_one_out(ds.interactions, N_USERS, N_ITEMS, seed=seed)
    fit(rec, feats, split, TrainConfig(epochs=40, batch_size=128, patience=40, seed=seed, progress=False, adv_epsilon=adv_epsilon))
    rec.eval()
    for p in rec.parameters():
        p.requires_grad_(False)
    return rec, auc(rec, torch.from_numpy(feats), split.test, split.all_positives)


def _wb_hits(ds: Dataset, model: LinearIC, feats: np.ndarray, rec: torch.nn.Module, seed: int, pairs: int = 12) -> float:
    """HR@20 of WB (10 steps of 2 levels) on pairs of (user, item ranked 41..80 for them)."""
    rng = numpy_rng(seed, "amr-pairs")
    hits = 0
    for k in range(pairs):
        user = int(rng.integers(N_USERS))
        platform = Platform(copy.deepcopy(rec), ds.images, model, features=feats, consumed=ds.histories, seed=k)
        ranking = platform.ranking(user)
        item = int(ranking[40 + int(rng.integers(40))])
        view = AttackerView(platform.client("score"), copy.deepcopy(model), seed=k)
        prep = SpecificUser().prepare(view, item, ds, seed=k, user=user)
        ctx = AttackContext(view=view, item=item, image=platform.current_image(item), targeting=prep.targeting,
                            white_box=platform.white_box())
        WhiteBoxAttack(steps=10, epsilon=2).run(ctx)
        hits += int(0 < int(platform.rank(user, item)[0]) <= 20)
    return hits / pairs


def test_the_adversarial_term_is_the_bpr_loss_at_worst_case_features() -> None:
    ds, _, feats = _world(0)
    rec = build_model("vbpr", N_USERS, N_ITEMS, feats.shape[1], seed=0)
    rec.fit_normalisation(torch.from_numpy(feats))
    users, pos, neg = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 3])
    f = torch.from_numpy(feats)
    clean = -torch.nn.functional.logsigmoid(rec.pair_difference(users, pos, neg, f)).mean()
    worse = adversarial_loss(rec, users, pos, neg, f, 0.5)
    assert float(worse.detach()) > float(clean.detach())  # the perturbation raises the loss ...
    assert float(adversarial_loss(rec, users, pos, neg, f, 1e-9)) == pytest.approx(float(clean), rel=1e-6)  # ... and vanishes with epsilon
    # ... and more than random perturbations of the same per-item norm (it is the worst case, to first order).
    items = torch.unique(torch.cat([pos, neg]))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(20):
            shift = torch.nn.functional.normalize(torch.randn(len(items), f.shape[1], generator=gen, dtype=f.dtype), dim=1)
            moved = f.index_add(0, items, 0.5 * shift * rec.feature_scale.to(f.dtype))
            random = -torch.nn.functional.logsigmoid(rec.pair_difference(users, pos, neg, moved)).mean()
            assert float(random) < float(worse.detach())
    worse.backward()
    assert rec.embedding.grad is not None and float(rec.embedding.grad.abs().sum()) > 0


@pytest.mark.slow
def test_adversarial_training_lowers_white_box_hr20_over_seeds() -> None:
    plain, defended, aucs = [], [], []
    for seed in (0, 1, 2):
        ds, model, feats = _world(seed)
        (rec, auc_plain), (rec_adv, auc_adv) = _train(ds, feats, seed, 0.0), _train(ds, feats, seed, 1.0)
        aucs.append((auc_plain, auc_adv))
        plain.append(_wb_hits(ds, model, feats, rec, seed))
        defended.append(_wb_hits(ds, model, feats, rec_adv, seed))
    # Not a model that ranks at random (which nobody can push): the defended one stays well above
    # chance. It is not free: on this world epsilon 1 costs 0.10-0.19 test AUC (measured 0.80 -> 0.63,
    # 0.77 -> 0.67, 0.80 -> 0.61 at seeds 0, 1, 2), so this test shows the mechanism, not a cheap defense.
    assert all(a_adv > 0.6 for _, a_adv in aucs), aucs
    # The same pairs, the same seeds: lower in total, and higher in no seed.
    assert sum(defended) < sum(plain), (plain, defended, aucs)
    assert all(d <= p for d, p in zip(defended, plain, strict=True)), (plain, defended, aucs)
