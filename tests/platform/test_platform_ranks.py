"""The rank index always agrees with a brute-force rank over the catalog (ties included)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from platform_fakes import brute_rank, brute_ranking, brute_scores, corner_upload, make_world

levels = st.sampled_from([0, 8, 16, 24])
pixel = st.tuples(levels, levels, levels)


@st.composite
def scenarios(draw):
    n_items = draw(st.integers(8, 40))
    uploads = draw(st.lists(st.tuples(st.integers(0, n_items - 1), pixel), max_size=8))
    registers = draw(st.lists(st.lists(st.integers(0, n_items - 1), min_size=1, max_size=4), max_size=2))
    return {
        "n_items": n_items,
        "seed": draw(st.integers(0, 2**16)),
        "uploads": uploads,
        "registers": registers,
        "rebase_after": draw(st.sampled_from([1, 3, 64])),
        "order": draw(st.sampled_from(["uploads-first", "interleaved"])),
    }


def _check_all(platform, rec, client) -> None:
    for u in range(platform.n_users):
        scores = brute_scores(platform, rec, u)
        consumed = platform.history(u)
        expected = [brute_rank(scores, consumed, i) for i in range(platform.n_items)]
        got = [int(client.rank(u, i)[0]) for i in range(platform.n_items)]
        assert got == expected
        np.testing.assert_array_equal(client.ranking(u), brute_ranking(scores, consumed))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_rank_and_ranking_equal_brute_force(sc) -> None:
    platform, rec, _ = make_world(sc["n_items"], seed=sc["seed"], rebase_after=sc["rebase_after"])
    client = platform.client("score")
    if sc["order"] == "interleaved":
        _check_all(platform, rec, client)  # entries built before the uploads must be corrected
    for k, (item, rgb) in enumerate(sc["uploads"]):
        client.upload_image(item, corner_upload(rgb, seed=k))
        if sc["order"] == "interleaved" and k % 3 == 0:
            _check_all(platform, rec, client)
    for h in sc["registers"]:
        client.register_user(np.asarray(h))
    _check_all(platform, rec, client)


@settings(max_examples=40, deadline=None)
@given(scenarios(), st.lists(pixel, min_size=1, max_size=6), st.data())
def test_probe_ranks_equal_brute_force(sc, candidates, data) -> None:
    platform, rec, _ = make_world(sc["n_items"], seed=sc["seed"], rebase_after=sc["rebase_after"])
    client = platform.client("rank")
    for k, (item, rgb) in enumerate(sc["uploads"]):
        client.upload_image(item, corner_upload(rgb, seed=k))
    user = data.draw(st.integers(0, platform.n_users - 1))
    item = data.draw(st.integers(0, platform.n_items - 1))
    batch = np.stack([corner_upload(rgb, seed=100 + k) for k, rgb in enumerate(candidates)])
    got = client.probe_ranks(user, item, batch)
    scores = brute_scores(platform, rec, user)
    consumed = platform.history(user)
    with torch.no_grad():
        feats = torch.tensor(np.asarray(candidates, np.float32))
        cand_scores = rec.score(torch.tensor([user]), torch.tensor([item] * len(batch)), feats)[0].numpy()
    expected = [brute_rank(scores, consumed, item, s) for s in cand_scores]
    assert got.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(scenarios(), st.sampled_from([0.05, 0.1, 0.3]), st.data())
def test_partial_never_reveals_beyond_the_cut(sc, fraction, data) -> None:
    platform, rec, _ = make_world(sc["n_items"], seed=sc["seed"], visible_fraction=fraction)
    full, partial = platform.client("score"), platform.client("partial")
    for k, (item, rgb) in enumerate(sc["uploads"]):
        full.upload_image(item, corner_upload(rgb, seed=k))
    vc = partial.visible_count
    assert vc == int(np.ceil(fraction * sc["n_items"]))
    for _ in range(5):
        user = data.draw(st.integers(0, platform.n_users - 1))
        item = data.draw(st.integers(0, platform.n_items - 1))
        r_partial = int(partial.rank(user, item)[0])
        r_full = int(full.rank(user, item)[0])
        assert r_partial == (r_full if r_full <= vc else 0)
        assert r_partial == 0 or 1 <= r_partial <= vc
        ranking = partial.ranking(user)
        unconsumed = platform.n_items - len(platform.history(user))
        assert len(ranking) == min(vc, unconsumed)
        np.testing.assert_array_equal(ranking, full.ranking(user)[:vc])
        batch = np.stack([corner_upload((s, s, s), seed=s) for s in (0, 8, 16, 24)])
        probed = partial.probe_ranks(user, item, batch)
        assert np.all((probed == 0) | ((probed >= 1) & (probed <= vc)))
        full_probed = full.probe_ranks(user, item, batch)
        np.testing.assert_array_equal(probed, np.where(full_probed <= vc, full_probed, 0))
