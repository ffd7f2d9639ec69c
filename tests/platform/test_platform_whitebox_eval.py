"""White-box handle (true gradients) and the uncounted evaluator (ranks for many users)."""

from __future__ import annotations

import numpy as np
import torch
from platform_fakes import (
    BilinearRec,
    MeanLinearModel,
    brute_rank,
    brute_scores,
    corner_images,
    corner_upload,
    histories,
    make_world,
)

from pixelpush.data.catalog import ArrayImages
from pixelpush.platform.evaluator import Evaluator
from pixelpush.platform.platform import Platform


def _float_world() -> tuple[Platform, BilinearRec, MeanLinearModel]:
    model = MeanLinearModel()
    rec = BilinearRec(3, 20, model.feature_dim, seed=1, k=3)
    platform = Platform(rec, ArrayImages(corner_images(20, 1)), model, consumed=histories(3, 20, 1))
    return platform, rec, model


def test_feature_gradient_is_the_analytic_one() -> None:
    platform, rec, _ = _float_world()
    grad = platform.white_box().feature_gradient(2, 5)
    expected = (rec.W @ rec.U[2]).detach().numpy()  # d/df of U_u · (W^T f)
    np.testing.assert_allclose(grad, expected, rtol=1e-6)
    assert all(p.grad is None for p in rec.parameters())


def test_score_image_is_differentiable_and_matches_the_platform() -> None:
    platform, rec, model = _float_world()
    wb = platform.white_box()
    upload = corner_upload((10, 20, 30), seed=3)
    image = torch.tensor(upload, dtype=torch.float32, requires_grad=True)
    score = wb.score_image(1, 7, image)
    (pixel_grad,) = torch.autograd.grad(score, image)
    # chain rule by hand: every pixel of a channel gets (W U_u)·proj.weight[:, c] / (255 H W)
    dfeat = (rec.W @ rec.U[1]).detach()
    per_channel = (model.proj.weight.T @ dfeat) / (255.0 * 32 * 32)
    np.testing.assert_allclose(pixel_grad.numpy(), np.broadcast_to(per_channel.numpy(), (32, 32, 3)), rtol=1e-4)
    platform.client("score").upload_image(7, upload)
    np.testing.assert_allclose(platform.scores(1, [7]), [score.item()], rtol=1e-5)
    assert platform.uploads == 1 and platform.queries == 1  # white-box calls are never counted


def test_evaluator_ranks_equal_brute_force_and_are_not_counted() -> None:
    platform, rec, _ = make_world(n_items=30, n_users=8, seed=11)
    client = platform.client("score")
    client.upload_image(4, corner_upload((24, 0, 16)))
    client.upload_image(9, corner_upload((0, 24, 8)))
    platform.reset_counters()
    users = np.array([0, 3, 5, 7, 3, 1])
    for item in (4, 9, 12):
        expected = [brute_rank(brute_scores(platform, rec, u), platform.history(u), item) for u in users]
        ev = Evaluator(platform)
        assert ev.ranks(users, item).tolist() == expected
        tiny = Evaluator(platform, max_bytes=1)  # forces the direct path
        assert tiny.ranks(users, item).tolist() == expected
        hits = ev.hits(users, item, 5)
        assert hits.tolist() == [0 < r <= 5 for r in expected]
    assert (platform.uploads, platform.queries) == (0, 0)
    consumed_user = 0
    item = int(platform.history(consumed_user)[0])
    assert Evaluator(platform).ranks(np.array([consumed_user]), item).tolist() == [0]
    assert not Evaluator(platform).hits(np.array([consumed_user]), item, 30)[0]
