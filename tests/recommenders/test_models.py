"""Scores from features: shapes, gradients against the closed form, errors naming the culprit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelpush.errors import DataError, UnknownIdError
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.bpr import BPR
from pixelpush.recommenders.deepstyle import DeepStyle
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.scaling import fit_feature_scale
from pixelpush.recommenders.vbpr import VBPR, VBPRConfig

D = 16


def _features(n: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, D, generator=g) * 300.0


def _model(kind: str) -> Recommender:
    m = build_model(kind, 4, 6, D, categories=np.array([0, 1, 2, 0, 1, 2]), seed=3)
    with torch.no_grad():  # non-trivial biases so every term shows up
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
    m.set_feature_scale(fit_feature_scale(_features()))
    return m


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
def test_score_matches_closed_form(kind: str) -> None:
    m, f = _model(kind), _features()
    s = m.score(torch.tensor([0, 2]), torch.arange(6), f).detach()
    fs = f / m.feature_scale
    u = 2
    i = 4
    if isinstance(m, BPR):
        want = m.beta_item[i] + m.gamma_user[u] @ m.gamma_item[i]
    elif isinstance(m, VBPR):
        want = (m.beta_item[i] + m.gamma_user[u] @ m.gamma_item[i]
                + m.theta_user[u] @ (m.embedding.T @ fs[i]) + m.beta_visual @ fs[i])
    else:
        assert isinstance(m, DeepStyle)
        c = int(m.categories[i])
        want = (m.p_user[u] @ (m.embedding.T @ fs[i] - m.style[c] + m.q_item[i])
                + m.beta_item[i] + m.beta_visual @ fs[i] + m.beta_category[c])
    assert s.shape == (2, 6)
    assert float(s[1, i]) == pytest.approx(float(want.detach()), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind", ["vbpr", "deepstyle"])
def test_feature_gradient_matches_formula(kind: str) -> None:
    """∂s/∂f = (E θ_u + β') / scale (VBPR; DeepStyle with p_u)."""
    m, f = _model(kind), _features()
    x = f[3:4].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(m.score(torch.tensor([1]), torch.tensor([3]), x).sum(), x)
    user = m.theta_user[1] if isinstance(m, VBPR) else m.p_user[1]
    want = (m.embedding @ user + m.beta_visual) / m.feature_scale
    torch.testing.assert_close(grad[0], want.detach(), rtol=1e-5, atol=1e-7)


def test_bpr_ignores_features() -> None:
    m, f = _model("bpr"), _features()
    a = m.score(torch.tensor([0]), torch.arange(6), f)
    b = m.score(torch.tensor([0]), torch.arange(6), f * 2 + 5)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["vbpr", "deepstyle"])
def test_scores_follow_the_features_passed_in(kind: str) -> None:
    """No cache of Eᵀf: a new 'upload' of item 2 changes its score at once; a batch may repeat an item."""
    m, f = _model(kind), _features()
    candidates = torch.stack([f[2], f[2] * 1.5, f[5]])
    s = m.score(torch.tensor([0]), torch.tensor([2, 2, 2]), candidates)[0]
    s = s.detach()
    assert float(s[0]) == pytest.approx(float(m.score(torch.tensor([0]), torch.tensor([2]), f[2:3])[0, 0].detach()))
    assert len({round(float(v), 6) for v in s.detach()}) == 3


def test_feature_scale_makes_scores_invariant_to_raw_units() -> None:
    m, f = _model("vbpr"), _features()
    before = m.score(torch.tensor([0, 1]), torch.arange(6), f)
    m.set_feature_scale(float(m.feature_scale) * 7.0)
    after = m.score(torch.tensor([0, 1]), torch.arange(6), f * 7.0)
    torch.testing.assert_close(before, after, rtol=1e-5, atol=1e-6)


def test_nan_features_name_the_item() -> None:
    m, f = _model("vbpr"), _features()
    f[4, 3] = float("nan")
    with pytest.raises(DataError, match="item 4"):
        m.score(torch.tensor([0]), torch.arange(6), f)
    with pytest.raises(DataError, match="item 4"):
        m.fold_in(np.array([0, 1]), f, seed=0)


def test_unknown_ids_and_bad_shapes() -> None:
    m, f = _model("vbpr"), _features()
    with pytest.raises(UnknownIdError, match="user 9"):
        m.score(torch.tensor([9]), torch.arange(6), f)
    with pytest.raises(UnknownIdError, match="item 6"):
        m.score(torch.tensor([0]), torch.tensor([6]), f[:1])
    with pytest.raises(DataError):
        m.score(torch.tensor([0]), torch.arange(6), f[:, :5])
    with pytest.raises(UnknownIdError):
        m.fold_in(np.array([7]), f, seed=0)
    with pytest.raises(DataError, match="empty"):
        m.fold_in(np.array([], dtype=int), f, seed=0)


def test_config_is_validated() -> None:
    from pixelpush.errors import ConfigError

    with pytest.raises(ConfigError):
        VBPRConfig(visual_dim=0)
    with pytest.raises(ConfigError):
        VBPRConfig(lambda_visual=-1.0)
    with pytest.raises(ConfigError):
        build_model("deepstyle", 2, 3, 4)
    with pytest.raises(ConfigError):
        build_model("nope", 2, 3, 4)


@pytest.mark.parametrize("kind", ["bpr", "vbpr", "deepstyle"])
def test_fast_pair_difference_equals_score_difference(kind: str) -> None:
    m, f = _model(kind), _features()
    users, pos, neg = torch.tensor([0, 3, 1]), torch.tensor([1, 4, 5]), torch.tensor([2, 0, 5])
    s = m.score(users, torch.arange(6), f).detach()
    want = s[torch.arange(3), pos] - s[torch.arange(3), neg]
    torch.testing.assert_close(m.pair_difference(users, pos, neg, f).detach(), want, rtol=1e-5, atol=1e-5)


def test_feature_fits_and_checks_work_chunk_by_chunk(monkeypatch) -> None:
    """Center, scale and the finiteness check run over row chunks (bounded memory) and give the
    whole-array answers; a NaN in a later chunk is named by its global row."""
    from pixelpush.recommenders import scaling

    f = torch.rand(50, 3, generator=torch.Generator().manual_seed(1)) * 100
    want_center = f.double().mean(dim=0).float()
    want_scale = float((f.double() - want_center.double()).norm(dim=1).mean())
    monkeypatch.setattr(scaling, "_CHUNK_ROWS", 7)
    torch.testing.assert_close(scaling.fit_feature_center(f), want_center, rtol=1e-6, atol=1e-5)
    assert scaling.fit_feature_scale(f, want_center) == pytest.approx(want_scale, rel=1e-9)
    f[31, 2] = float("inf")
    with pytest.raises(DataError, match="item 31"):
        scaling.check_finite(f)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nonfinite_rows_names_exactly_the_rows_a_row_by_row_check_names(monkeypatch, seed: int) -> None:
    """The one-read fast path (a block's sum) never hides a NaN or infinity and never blames a
    finite row: not when +inf and -inf share a block (their sum is NaN), not when finite values
    so large that their sum overflows fill a block or share one with a bad row."""
    from pixelpush.recommenders import scaling

    monkeypatch.setattr(scaling, "_CHUNK_ROWS", 8)
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(64, 5, generator=gen)
    f[8:16] = 3e38  # a block of finite values whose sum is inf
    picks = torch.randperm(64, generator=gen)[:6].tolist()
    for row, value in zip(picks, [float("nan"), float("inf"), -float("inf"), float("inf"), -float("inf"), float("nan")]):
        f[row, int(torch.randint(5, (1,), generator=gen))] = value
    want = (~torch.isfinite(f)).any(dim=1).nonzero().flatten()
    assert torch.equal(scaling.nonfinite_rows(f), want)
    assert len(scaling.nonfinite_rows(torch.full((40, 3), 3e38))) == 0
    assert len(scaling.nonfinite_rows(torch.zeros(0, 3))) == 0
