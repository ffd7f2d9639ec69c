"""audit.json's ``defenses`` section from records with known answers: the strongest attack under each
defense beside the undefended one, stops / reduces / does not stop, the adaptive rows and the
caveat, the AUC as results.json keeps it; and every defense of configs/defenses.toml in plain words."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from audit_records import record

from pixelpush.audit.defenses import analyse_defenses
from pixelpush.defenses import build_defense
from pixelpush.defenses.describe import describe_defense

JPEG = build_defense("jpeg75", {"ingest": {"transforms": [{"op": "jpeg", "quality": 75}]}})
AMR = build_defense("amr", {"adversarial-training": {"epsilon": 0.5, "weight": 1.0}})
TOP20 = build_defense("top20", {"reveal-limit": {"top_k": 20}})
MODELS = {"m": {"label": "M", "auc": 0.80}}
FIGURES = {
    "jpeg75": {"models": {"m": {"auc": 0.79, "auc_change": -0.01}}},
    "amr": {"models": {"m": {"auc": 0.70, "auc_change": -0.10}}},
    "top20": {"models": {"m": {"auc": 0.80, "auc_change": 0.0}},
              "new_users": {"m": {"undefended": {"hr10": 0.1, "hr20": 0.2, "users": 9}, "defended": {"hr10": 0.1, "hr20": 0.15, "users": 9}}}},
}


def _four(attack, hits_per_pair, **kw):
    return [record(attack, p, p, [0, h], **kw) for p, h in enumerate(hits_per_pair)]


@pytest.fixture
def section():
    records = (
        _four("wb", [1, 1, 1, 1]) + _four("bb-rank", [1, 1, 0, 0])  # undefended: WB 1.0, BB-Rank 0.5
        + _four("wb", [0, 0, 0, 0], defense="jpeg75") + _four("wb:bpda", [1, 1, 1, 0], defense="jpeg75")
        + _four("bb-rank", [0, 0, 0, 0], defense="jpeg75")  # JPEG: naive WB stopped, WB through it 0.75
        + _four("wb", [1, 0, 0, 0], defense="amr") + _four("bb-rank", [0, 0, 0, 0], defense="amr")  # AMR: 0.25
        + _four("wb", [1, 1, 1, 1], defense="top20") + _four("bb-rank", [1, 1, 0, 0], defense="top20")  # nothing changes
    )
    return analyse_defenses(records, [JPEG, AMR, TOP20], figures=FIGURES, models=MODELS, adaptive={"wb:bpda"},
                            visible_fraction=0.1)


def test_the_strongest_attack_under_each_defense_sits_beside_the_undefended_one(section) -> None:
    jpeg = section["jpeg75"]["models"]["m"]
    rows = {r["access"]: r for r in jpeg["exposure"]}
    assert rows["white-box"]["attack"] == "wb:bpda" and rows["white-box"]["adaptive"] is True
    assert rows["white-box"]["hr"]["20"] == 0.75 and rows["white-box"]["undefended"]["hr"]["20"] == 1.0
    assert rows["white-box"]["undefended"]["attack"] == "wb" and rows["white-box"]["uploads_per_pair"] == 10
    assert rows["rank"]["hr"]["20"] == 0.0 and rows["rank"]["undefended"]["hr"]["20"] == 0.5
    every = {r["attack"]: r for r in jpeg["attacks"]}
    assert every["wb"]["hr"]["20"] == 0.0 and every["wb"]["hr_undefended"]["20"] == 1.0
    assert every["wb:bpda"]["hr_undefended"] is None  # adaptive attacks run only under the defense
    assert (jpeg["auc"], jpeg["auc_undefended"], jpeg["auc_change"]) == (0.79, 0.80, -0.01)


def test_stops_reduces_does_not_stop_and_what_it_costs(section) -> None:
    jpeg, amr, top20 = (section[d]["models"]["m"] for d in ("jpeg75", "amr", "top20"))
    assert (jpeg["effect"], amr["effect"], top20["effect"]) == ("reduces", "reduces", "does not stop")
    assert jpeg["summary"].startswith("jpeg75 reduces the attacks tried on M: the strongest attack under it, WB (bpda)")
    assert "75% of the targeted items" in jpeg["summary"] and "against 100% without the defense" in jpeg["summary"]
    assert "AUC 0.7900, -0.0100" in jpeg["summary"] and "AUC 0.7000, -0.1000" in amr["summary"]
    assert "no accuracy cost" in top20["summary"]
    assert "15% of the time under it, 20% without it" in top20["summary"]
    stopped = analyse_defenses(_four("wb", [1, 1, 1, 1]) + _four("wb", [0, 0, 0, 0], defense="jpeg75"), [JPEG],
                               figures=FIGURES, models=MODELS)
    assert stopped["jpeg75"]["models"]["m"]["effect"] == "stops"
    untested = analyse_defenses(_four("wb", [0, 0, 0, 0]) + _four("wb", [0, 0, 0, 0], defense="jpeg75"), [JPEG],
                                figures=FIGURES, models=MODELS)
    assert untested["jpeg75"]["models"]["m"]["effect"] == "untested"
    assert "cannot tell what the defense stops" in untested["jpeg75"]["models"]["m"]["summary"]


def test_the_caveat_names_the_adaptive_rows_or_says_none_knew_the_defense(section) -> None:
    assert "attacks that knew jpeg75: WB (bpda)" in section["jpeg75"]["models"]["m"]["caveat"]
    assert "none was built to get around amr" in section["amr"]["models"]["m"]["caveat"]
    assert section["top20"]["models"]["m"]["caveat"].startswith("No attack tried knew top20")
    # knows_defense means nothing without a pipeline: the same attack under a reveal limit is not adaptive
    other = analyse_defenses(_four("wb:bpda", [1, 0, 0, 0], defense="top20"), [TOP20], figures=FIGURES, models=MODELS,
                             adaptive={"wb:bpda"})
    assert [r["adaptive"] for r in other["top20"]["models"]["m"]["attacks"]] == [False]


def test_every_defense_of_the_defenses_config_reads_in_plain_words() -> None:
    tables = tomllib.loads((Path(__file__).parents[2] / "configs" / "defenses.toml").read_text())["defenses"]
    words = {name: describe_defense(build_defense(name, table)) for name, table in tables.items()}
    assert words["jpeg75"] == "re-encodes every upload as JPEG at quality 75 (the catalog's photos too) before the model sees it"
    assert "80 pixels" in words["resize80"] and "4 of the 8 bits" in words["bitdepth4"] and "3x3 median" in words["median3"]
    assert "adversarial training" in words["amr"] and "0.01" in words["reg-1e-2"]
    assert "top 20" in words["top20"] and "noise" in words["noise"] and "at most 50 queries" in words["rate50"]
    assert "blocks nothing" in words["monitor"] and "3 of them" in words["monitor"]
    assert not any(w.startswith("applies") for w in words.values())
    two = build_defense("two", {"ingest": {"transforms": [{"op": "center-crop", "size": 24}, {"op": "jpeg", "quality": 90}]}})
    assert describe_defense(two).startswith("keeps only the central 24x24 pixels of every upload, then re-encodes it as JPEG at quality 90")
