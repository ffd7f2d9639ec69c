"""Training: known-answer checkerboard, visual models beat BPR where appearance drives choice,
determinism for a seed, early stopping, feature-scale invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.errors import DataError
from pixelpush.random import numpy_rng
from pixelpush.recommenders.evaluation import auc, cold_pairs, visual_gain
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import Split, leave_one_out
from pixelpush.recommenders.training import NegativeSampler, TrainConfig, fit

from rec_helpers import FAST, all_scores


def _checkerboard() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group A (users 0..19) consumes 'dark' items 0..13, group B (20..39) 'bright' items 14..27.

    Items 28 (dark) and 29 (bright) were never consumed: only their looks tell them apart.
    """
    rng = numpy_rng(0, "test", "checkerboard")
    n_items, d = 30, 12
    dark = np.r_[np.ones(d // 2), np.zeros(d // 2)] * 200
    bright = np.r_[np.zeros(d // 2), np.ones(d // 2)] * 200
    feats = np.array([dark if (i < 14 or i == 28) else bright for i in range(n_items)], dtype=np.float32)
    feats += rng.uniform(0, 20, size=feats.shape).astype(np.float32)
    pairs = []
    for u in range(40):
        group = np.arange(14) if u < 20 else np.arange(14, 28)
        pairs += [(u, int(i)) for i in rng.choice(group, 8, replace=False)]
    cats = np.array([0 if (i < 14 or i == 28) else 1 for i in range(n_items)])
    return np.array(pairs), feats, cats


@pytest.mark.parametrize("kind", ["vbpr", "deepstyle"])
def test_checkerboard_known_answer(kind: str) -> None:
    pairs, feats, cats = _checkerboard()
    split = Split(train=pairs, val=np.zeros((0, 2), np.int64), test=np.zeros((0, 2), np.int64), n_users=40, n_items=30)
    model = build_model(kind, 40, 30, feats.shape[1], categories=cats, seed=1)
    fit(model, feats, split, TrainConfig(epochs=80, batch_size=64, lr=0.02, progress=False))
    scores = all_scores(model, np.arange(40), torch.from_numpy(feats))
    for u in range(40):
        s = scores[u].copy()
        s[pairs[pairs[:, 0] == u, 1]] = -np.inf
        top = int(np.argmax(s))
        mine = set(range(14)) | {28} if u < 20 else set(range(14, 28)) | {29}
        assert top in mine, f"user {u}: top item {top} is the other group's"
        cold_right, cold_wrong = (28, 29) if u < 20 else (29, 28)
        assert s[cold_right] > s[cold_wrong], f"user {u} prefers the other group's unseen item"


def test_visual_models_beat_bpr_where_looks_drive_choice(trained, synth_split, synth_features) -> None:
    test_auc = {k: auc(m, synth_features, synth_split.test, synth_split.all_positives) for k, (m, _) in trained.items()}
    cold = cold_pairs(synth_split.test, synth_split.train_popularity(), max_count=2)
    assert len(cold) >= 15
    cold_auc = {k: auc(m, synth_features, cold, synth_split.all_positives) for k, (m, _) in trained.items()}
    print("test AUC", test_auc, "cold AUC", cold_auc)
    for kind in ("vbpr", "deepstyle"):
        assert visual_gain(test_auc[kind], test_auc["bpr"]) > 0.015, test_auc
        assert cold_auc[kind] > cold_auc["bpr"] + 0.08, cold_auc
    assert test_auc["bpr"] > 0.8  # BPR learns the collaborative signal, it is not broken
    assert cold_auc["bpr"] < 0.6  # ... but cannot tell rarely seen items apart


def test_early_stopping_restores_the_best_epoch(trained, synth_split, synth_features) -> None:
    model, result = trained["vbpr"]
    assert result.epochs < FAST.epochs  # stopped early
    assert result.epochs - result.best_epoch == FAST.patience
    best = dict((e, v) for e, v, _ in result.history)[result.best_epoch]
    assert result.val_auc == best >= max(v for _, v, _ in result.history) - FAST.min_delta
    assert auc(model, synth_features, synth_split.val, synth_split.all_positives) == pytest.approx(best, abs=1e-12)


def test_training_is_deterministic_for_a_seed(synth, synth_split) -> None:
    cfg = TrainConfig(epochs=3, batch_size=256, patience=10, progress=False, seed=5)

    def run(seed: int) -> dict[str, torch.Tensor]:
        m = build_model("vbpr", synth.n_users, synth.n_items, synth.features.shape[1], seed=seed)
        fit(m, synth.features, synth_split, cfg)
        return m.state_dict()

    a, b, c = run(5), run(5), run(6)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert not torch.equal(a["embedding"], c["embedding"])


def test_raw_feature_units_do_not_matter(synth, synth_split) -> None:
    """The scale is fitted on the training features: features x 1000 train the same model."""
    cfg = TrainConfig(epochs=3, batch_size=256, patience=10, progress=False)
    results = []
    for factor in (1.0, 1000.0):
        m = build_model("vbpr", synth.n_users, synth.n_items, synth.features.shape[1])
        results.append(fit(m, synth.features * factor, synth_split, cfg).val_auc)
    assert results[0] == pytest.approx(results[1], abs=2e-3)


def test_negative_sampler_never_returns_a_training_positive() -> None:
    train = np.array([[0, i] for i in range(9)] + [[1, 0]])
    sampler = NegativeSampler(train, 10, torch.Generator().manual_seed(0), rounds=50)
    neg = sampler.sample(torch.zeros(500, dtype=torch.long))
    assert set(neg.tolist()) == {9}
    assert 0 not in set(sampler.sample(torch.ones(500, dtype=torch.long)).tolist())


def test_nan_features_are_refused_before_training(synth, synth_split) -> None:
    feats = synth.features.copy()
    feats[17, 0] = np.nan
    m = build_model("bpr", synth.n_users, synth.n_items, synth.features.shape[1])
    with pytest.raises(DataError, match="item 17"):
        fit(m, feats, synth_split, FAST)
    other = leave_one_out(synth.interactions, synth.n_users, synth.n_items, seed=0)
    with pytest.raises(DataError):
        fit(build_model("bpr", 5, synth.n_items, 64), synth.features, other, FAST)


def test_learning_rate_starts_high_and_decays_to_lr() -> None:
    cfg = TrainConfig(lr=0.01, lr_start=0.05, lr_decay=0.5)
    assert [cfg.epoch_lr(e) for e in (1, 2, 3, 4)] == pytest.approx([0.05, 0.025, 0.0125, 0.01])
    assert TrainConfig(lr=0.02, lr_start=None).epoch_lr(1) == 0.02
    from pixelpush.errors import ConfigError

    with pytest.raises(ConfigError):
        TrainConfig(lr=0.05, lr_start=0.01)
    with pytest.raises(ConfigError):
        TrainConfig(lr_decay=0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_negative_sampler_bitmap_and_binary_search_draw_the_same_negatives(seed: int) -> None:
    """The bitmap is only a faster membership test: forced off, the same stream gives the same items."""
    rng = numpy_rng(seed, "test", "sampler")
    n_users, n_items = 40, 25
    train = np.unique(np.column_stack([rng.integers(n_users, size=600), rng.integers(n_items, size=600)]), axis=0)
    users = torch.from_numpy(rng.integers(n_users, size=5000))
    fast = NegativeSampler(train, n_items, torch.Generator().manual_seed(seed))
    slow = NegativeSampler(train, n_items, torch.Generator().manual_seed(seed), bitmap_bytes=0)
    assert fast.bitmap is not None and slow.bitmap is None
    a, b = fast.sample(users), slow.sample(users)
    assert torch.equal(a, b)
    positives = set(map(tuple, train.tolist()))
    assert not any((int(u), int(i)) in positives for u, i in zip(users, a))


def test_eval_pairs_validates_on_a_seeded_sample(synth, synth_split) -> None:
    """With eval_pairs, each validation AUC is the exact AUC of that many sampled pairs, the same
    sample every epoch; without it, of all of them."""
    from pixelpush.errors import ConfigError
    from pixelpush.recommenders.evaluation import sample_heldout

    cfg = TrainConfig(epochs=2, batch_size=256, patience=10, progress=False, eval_pairs=25)
    model = build_model("vbpr", synth.n_users, synth.n_items, synth.features.shape[1])
    result = fit(model, synth.features, synth_split, cfg)
    sample = sample_heldout(synth_split.val, 25, seed=cfg.seed, what="val")
    assert len(sample) == 25 < len(synth_split.val)
    assert set(map(tuple, sample.tolist())) <= set(map(tuple, synth_split.val.tolist()))
    feats = torch.from_numpy(synth.features)
    assert result.val_auc == pytest.approx(auc(model, feats, sample, synth_split.all_positives), abs=1e-12)
    assert result.val_auc != pytest.approx(auc(model, feats, synth_split.val, synth_split.all_positives), abs=1e-6)
    assert np.array_equal(sample_heldout(synth_split.val, 10**6, seed=0, what="val"), synth_split.val)
    with pytest.raises(ConfigError, match="eval_pairs"):
        TrainConfig(eval_pairs=0)
