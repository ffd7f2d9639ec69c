"""Campaigns end to end on the embedded catalog at 32 x 32: every attack and threat model, resume,
keyed units (a changed config never reuses old records), and the run folder's lock."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tiny_campaign import TINY_CAMPAIGN, tiny_config

from pixelpush.data.fashion import load_fashion
from pixelpush.errors import ConfigError
from pixelpush.evaluation.engines import Engine
from pixelpush.evaluation.engines import local as local_engine
from pixelpush.evaluation.engines.local import LocalEngine
from pixelpush.evaluation.campaign import run_campaign
from pixelpush.evaluation.run_folder import locked

pytestmark = pytest.mark.slow


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "pairs.jsonl").read_text().splitlines()]


def _by_attack(results, threat="specific-user"):
    return {(a["attack"], a["perturbations"], a["blend_epsilon"]): a for a in results["attacks"] if a["threat_model"] == threat}


def test_results_hold_the_schema_and_consistent_numbers(tiny_campaign):
    out, results = tiny_campaign
    assert {"dataset", "image_model", "recommenders", "attacks", "config", "seed", "versions"} <= set(results)
    assert results["dataset"]["n_items"] == load_fashion().n_items and results["dataset"]["image_shape"] == [32, 32, 3]
    assert results["recommenders"]["bpr"]["visual_gain"] is None
    assert isinstance(results["recommenders"]["vbpr"]["visual_gain"], float)
    attacks = {(a["experiment"], a["attack"], a["threat_model"], a["perturbations"], a["blend_epsilon"]) for a in results["attacks"]}
    assert len(attacks) == 7 + 4 + 3  # table: WB + 3 BB x 2 d'; population: 2 x 2; baselines: swap + 2 blends
    for a in results["attacks"]:
        steps = a["steps"]
        assert len(a["hr_by_step"]["20"]) == steps + 1 and len(a["ssim_by_step"]) == steps + 1
        assert a["ssim_by_step"][0] == 1.0
        assert a["hr"]["1"] <= a["hr"]["10"] <= a["hr"]["20"]
    records = _records(out)
    assert len(records) == 3 * 7 + 2 * 4 + 2 * 3
    assert all(len(r["key"]) == 32 for r in records) and len({r["key"] for r in records}) == len(records)
    saved = [r for r in records if r["images"]]
    assert saved and all((out / r["images"]["attacked"]).is_file() for r in saved)


def test_gradient_attacks_lift_the_pushed_items_rank_for_every_pair(tiny_campaign):
    out, _ = tiny_campaign
    for r in _records(out):
        if r["threat_model"] == "specific-user" and r["attack"] in ("wb", "bb-score", "bb-rank"):
            assert r["rank_by_step"][-1] < r["rank_by_step"][0], r["unit"]


def test_the_report_reads_a_real_run_folder_back(tiny_campaign):
    """The report's field checks (pixelpush.report.load) accept everything a campaign writes."""
    from pixelpush.report.load import load_run

    out, results = tiny_campaign
    run = load_run(out)
    assert len(run.pairs) == len(_records(out)) and run.notes == []
    assert len(run.attacks) == len(results["attacks"])


def test_uploads_per_step_are_the_papers_costs(tiny_campaign):
    """WB 1; BB-Score/BB-Rank d' + 1 (d' when a step is uninformative); BB-Partial at most d' + 1,
    even in surrogate steps that probe two users; the baselines 1."""
    out, _ = tiny_campaign
    for r in _records(out):
        steps, d = r["steps"], r["perturbations"]
        uploads = np.diff(r["uploads_by_step"])
        if r["attack"] == "wb" or r["attack"].startswith("baseline"):
            assert (uploads == 1).all(), r["unit"]
        elif r["attack"] in ("bb-score", "bb-rank"):
            assert set(uploads.tolist()) <= {d, d + 1}, r["unit"]
            assert r["uploads"] == steps * (d + 1) - r["uninformative_steps"]
        else:
            assert (uploads <= d + 1).all(), (r["unit"], uploads)
    partial = [r for r in _records(out) if r["attack"] == "bb-partial" and r["threat_model"] == "specific-user"]
    assert sum(r["uploads"] for r in partial) > 0  # with 10% visible it does step


def test_black_box_records_carry_estimator_diagnostics(tiny_campaign):
    out, _ = tiny_campaign
    for r in _records(out):
        if r["attack"] in ("bb-score", "bb-rank") and r["threat_model"] == "specific-user":
            informative = r["steps"] - r["uninformative_steps"]
            assert len(r["gradient_cosine"]) == len(r["pixel_gradient_cosine"]) == informative
            assert np.mean(r["pixel_gradient_cosine"]) > 0.2, r["unit"]  # well above chance in 3,072 pixels
        if r["attack"] == "wb":
            assert r["gradient_cosine"] is None


def test_segment_and_general_population_evaluate_on_their_own_users(tiny_campaign):
    from pixelpush.data.registry import load_dataset

    out, _ = tiny_campaign
    data = load_dataset("fashion", upload_size=32)
    for r in _records(out):
        if r["threat_model"] == "segment":
            seg, item = r["segment_item"], r["item"]
            holders = [u for u, h in enumerate(data.histories) if seg in h and item not in h]
            assert r["n_eval_users"] == len(holders) > 0 and data.categories[seg] == data.categories[item]
        elif r["threat_model"] == "general":
            assert r["n_eval_users"] == 30 and r["target_user"] is None
            assert r["setup_uploads"] == 0 and r["setup_queries"] == 0  # registering mock users is free


def test_baselines_swap_in_the_popular_image(tiny_campaign):
    out, results = tiny_campaign
    by = _by_attack(results)
    swap, blend = by[("baseline-swap", 0, None)], by[("baseline-blend", 0, 0.1)]
    assert swap["uploads_per_pair"] == blend["uploads_per_pair"] == 1
    assert swap["ssim_by_step"][-1] < blend["ssim_by_step"][-1] < 1.0  # a whole new image vs a 10% blend


def _small_config(cache, **experiment):
    return tiny_config(
        cache,
        experiments=[{"name": "t", "recommenders": ["vbpr"], "attacks": ["wb", "bb-rank"], "perturbations": [4], "steps": 2, "pairs": 2, **experiment}],
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, feature_cache):
    out = tmp_path_factory.mktemp("small") / "run"
    return out, run_campaign(_small_config(feature_cache), out, progress=False)


def test_a_killed_campaign_resumed_by_two_workers_gives_identical_results(small_run, feature_cache, tmp_path, monkeypatch):
    _, uninterrupted = small_run
    config = _small_config(feature_cache)
    real = local_engine.compute_unit
    calls = {"n": 0}

    def dies_after_two(*args, **kwargs):
        if calls["n"] == 2:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(*args, **kwargs)

    out = tmp_path / "resumed"
    monkeypatch.setattr(local_engine, "compute_unit", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_campaign(config, out, progress=False)
    assert len(_records(out)) == 2 and not (out / "results.json").exists()
    monkeypatch.setattr(local_engine, "compute_unit", real)
    resumed = run_campaign(config, out, workers=2, progress=False)  # resume in two processes
    assert resumed == uninterrupted
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(uninterrupted))


@pytest.mark.parametrize(
    ("change", "stale"),
    [
        ({"seed": 4}, 4),
        ({"visible_fraction": 0.2}, 4),
        ({"steps": 3}, 4),
        ({"radius": 5}, 2),  # only BB-Rank takes a radius: the WB records still match and are kept
        ({"training": {"models": ["bpr", "vbpr"], "epochs": 3}}, 4),
    ],
)
def test_a_rerun_with_changed_settings_stops_instead_of_mixing_records(small_run, feature_cache, tmp_path, change, stale):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(small_run[0], out)
    before = (out / "pairs.jsonl").read_bytes()
    top = {k: v for k, v in change.items() if k in TINY_CAMPAIGN or k == "visible_fraction"}
    experiment = {k: v for k, v in change.items() if k not in top}
    config = _small_config(feature_cache, **experiment)
    if top:
        config = config.model_copy(update={k: type(getattr(config, k))(**v) if isinstance(v, dict) else v for k, v in top.items()})
    with pytest.raises(ConfigError, match=r"made with other settings.*--force") as err:
        run_campaign(config, out, progress=False)
    name, value = next(iter(change.items()))
    assert name in str(err.value)  # the message names what changed
    assert (out / "pairs.jsonl").read_bytes() == before  # nothing was touched
    results = run_campaign(config, out, progress=False, force=True)
    archived = list((out / "stale").glob("*.jsonl"))
    assert len(archived) == 1 and len(archived[0].read_text().splitlines()) == stale  # kept aside, not deleted
    old_keys = {json.loads(line)["key"] for line in before.decode().splitlines()}
    assert len({r["key"] for r in _records(out)} & old_keys) == 4 - stale
    assert sum(a["pairs"] for a in results["attacks"]) == 4


def test_more_pairs_resume_the_matching_units_and_run_only_the_new_ones(small_run, feature_cache, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(small_run[0], out)
    ran = []
    real = local_engine.compute_unit
    monkeypatch.setattr(local_engine, "compute_unit", lambda ctx, spec, **kw: ran.append(spec.unit_id) or real(ctx, spec, **kw))
    results = run_campaign(_small_config(feature_cache, pairs=3), out, progress=False)
    assert sorted(ran) == ["t/vbpr/bb-rank/specific-user/d4/0002", "t/vbpr/wb/specific-user/d0/0002"]
    assert all(a["pairs"] == 3 for a in results["attacks"])


def test_a_second_run_on_a_locked_folder_stops_naming_the_holder(small_run, feature_cache, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pixelpush.evaluation.run_folder import locked
            with locked({str(out)!r}):
                print("locked", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=rf"in use by pid {holder.pid} "):
            run_campaign(_small_config(feature_cache), out, progress=False)
    finally:
        holder.kill()
        holder.wait()
    with locked(out):  # the kernel released the dead holder's lock
        pass
    assert not (out / "pairs.jsonl").exists()


def test_run_folder_that_is_a_file_is_a_config_error(feature_cache, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        run_campaign(_small_config(feature_cache), path, progress=False)


def test_attacks_in_their_own_process_give_the_same_results(small_run, feature_cache, tmp_path):
    """isolation = "process": the attack runs in a child that reaches the platform only by messages."""
    out = tmp_path / "isolated"
    results = run_campaign(_small_config(feature_cache).model_copy(update={"isolation": "process"}), out, progress=False)
    expected = json.loads(json.dumps(small_run[1]))
    expected["config"]["isolation"] = "process"
    assert json.loads(json.dumps(results)) == expected


def test_a_pairs_line_that_is_not_a_record_is_skipped_and_its_unit_rerun(small_run, feature_cache, tmp_path, caplog):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(small_run[0], out)
    lines = (out / "pairs.jsonl").read_text().splitlines()
    (out / "pairs.jsonl").write_text("\n".join(['[1, 2]', '{"x": 1}', *lines[1:]]) + "\n")
    results = run_campaign(_small_config(feature_cache), out, progress=False)
    assert "not a pair record" in caplog.text
    assert results == small_run[1]


class _ReversedEngine(Engine):
    """An engine of three lines: the local one's outcomes, last unit first."""

    def run(self, ctx, units):
        return reversed(list(LocalEngine().run(ctx, units)))


def test_any_engine_gives_the_same_results_json_because_the_driver_alone_writes(small_run, feature_cache, tmp_path):
    out = tmp_path / "reversed"
    run_campaign(_small_config(feature_cache), out, engine=_ReversedEngine(), progress=False)
    assert (out / "results.json").read_bytes() == (small_run[0] / "results.json").read_bytes()
    def order(run_dir):
        return [json.loads(line)["unit"] for line in (run_dir / "pairs.jsonl").read_text().splitlines()]

    assert order(out) == order(small_run[0])[::-1]  # appended as the engine handed them over
    saved = sorted(p.name for p in (out / "images").iterdir())
    assert saved and saved == sorted(p.name for p in (small_run[0] / "images").iterdir())
