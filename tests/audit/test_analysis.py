"""audit.json's analysis from records with known answers: best attack per access level, breakdowns by
popularity decile and category, uploads needed, the most exposed items, the verdict."""

from __future__ import annotations

import numpy as np
import pytest
from audit_records import record as _record

from pixelpush.audit.analysis import ItemFacts, analyse, popularity_deciles


ITEMS = ItemFacts(popularity=np.arange(20), categories=np.array([0, 1] * 10), category_names=("shoes", "bags"),
                  labels=tuple(f"sku{i}" for i in range(20)))


@pytest.fixture
def records():
    return [
        # rank access: bb-rank reaches the top 20 on 2 of 4 pairs (items 18, 19: popular shoes/bags), prior-rank on 1
        _record("bb-rank", 0, 18, [0, 0, 1]), _record("bb-rank", 1, 19, [0, 1, 1]),
        _record("bb-rank", 2, 1, [0, 0, 0]), _record("bb-rank", 3, 2, [0, 0, 0]),
        _record("prior-rank", 0, 18, [0, 0, 1], uploads_per_step=1), _record("prior-rank", 1, 19, [0, 0, 0], uploads_per_step=1),
        _record("prior-rank", 2, 1, [0, 0, 0], uploads_per_step=1), _record("prior-rank", 3, 2, [0, 0, 0], uploads_per_step=1),
        # partial access: nothing moves
        *[_record("bb-partial", p, i, [0, 0, 0]) for p, i in enumerate((18, 19, 1, 2))],
    ]


def test_the_best_attack_of_each_access_level_is_the_highest_hr20(records) -> None:
    doc = analyse(records, ITEMS, {"m": {"visual_gain": 0.01}}, visible_fraction=0.01)
    best = {r["access"]: r for r in doc["exposure"]}
    assert set(best) == {"rank", "partial"}
    assert best["rank"]["best_attack"] == "bb-rank" and best["rank"]["hr"]["20"] == pytest.approx(0.5)
    assert best["rank"]["success_rate"] == pytest.approx(0.5) and best["rank"]["uploads_to_top20_median"] == pytest.approx(15.0)
    assert best["partial"]["hr"]["20"] == 0.0


def test_breakdowns_by_popularity_decile_and_category(records) -> None:
    doc = analyse(records, ITEMS, {}, visible_fraction=0.01)
    rank_row = next(r for r in doc["by_popularity"]["rows"] if r["access"] == "rank")
    cells = {c["bucket"]: c for c in rank_row["buckets"]}
    assert cells[10]["pairs"] == 2 and cells[10]["hr20"] == 1.0  # items 18, 19 are the most popular tenth
    assert cells[1]["pairs"] == 1 and cells[1]["hr20"] == 0.0 and cells[5]["pairs"] == 0 and cells[5]["hr20"] is None
    assert doc["by_popularity"]["deciles"][9] == {"decile": 10, "min": 18, "max": 19}
    category = {c["bucket"]: c for c in next(r for r in doc["by_category"]["rows"] if r["access"] == "rank")["buckets"]}
    assert category["shoes"]["pairs"] == 2 and category["shoes"]["hr20"] == 0.5  # items 18 (hit) and 2
    assert category["bags"]["hr20"] == 0.5  # items 19 (hit) and 1


def test_uploads_needed_and_the_share_within_each_cap(records) -> None:
    doc = analyse(records, ITEMS, {}, visible_fraction=0.01)
    row = next(r for r in doc["uploads_to_top20"]["rows"] if r["attack"] == "bb-rank")
    assert row["values"] == [10, 20] and row["reached"] == 2 and row["quantiles"]["median"] == 15.0
    assert row["reached_within"]["10"] == 0.25 and row["reached_within"]["20"] == 0.5


def test_the_most_exposed_items_come_fewest_uploads_first_one_row_per_item(records) -> None:
    doc = analyse(records, ITEMS, {}, visible_fraction=0.01, top_items=3)
    top = doc["most_exposed"]
    assert [(r["item"], r["attack"], r["uploads_to_top20"]) for r in top[:2]] == [(18, "prior-rank", 2), (19, "bb-rank", 10)]
    assert top[0]["label"] == "sku18" and top[0]["category"] == "shoes" and top[0]["popularity_decile"] == 10
    assert len({r["item"] for r in top}) == len(top) == 3


def test_the_verdict_says_how_risky_and_what_to_do(records) -> None:
    doc = analyse(records, ITEMS, {"m": {"visual_gain": 0.01}}, visible_fraction=0.01)
    verdict = doc["verdict"]["m"]
    assert verdict["risk"] == "high" and "full rankings" in verdict["headline"] and "50%" in verdict["headline"]
    assert any("Show less of each ranking" in a for a in verdict["actions"])
    quiet = [r for r in records if r["attack"] == "bb-partial"]
    calm = analyse(quiet, ITEMS, {}, visible_fraction=0.01)["verdict"]["m"]
    assert calm["risk"] == "low" and calm["headline"].startswith("No black-box attack raised")


def test_deciles_split_the_catalog_in_ten_by_popularity() -> None:
    deciles = popularity_deciles(np.r_[np.zeros(50), np.arange(50)])
    assert np.bincount(deciles)[1:].tolist() == [10] * 10



def test_the_advice_follows_what_the_images_add_to_accuracy() -> None:
    from pixelpush.audit.analysis import _defense_advice

    cheap = _defense_advice(0.005)  # appearance barely pays: weakening it is the cheap fix
    assert "stronger penalty" in cheap and "+0.5%" in cheap and "Re-encode" not in cheap
    costly = _defense_advice(0.16)  # appearance pays: the penalty costs what the images add
    assert costly.startswith("Re-encode uploads") and "(here +16.0%)" in costly
    assert _defense_advice(None).startswith("Re-encode uploads")
