"""Campaigns: plan the units of a config, run them on an engine (resumably), summarise.

``pairs.jsonl`` gets one record per finished unit, so a killed campaign resumes where it
stopped; ``results.json`` is computed from the records alone, so a resumed campaign's equals
an uninterrupted one's. Timings, which vary, go to ``timings.json``. Each unit is keyed by a
digest of everything that determines it (:mod:`pixelpush.evaluation.keys`): a record is reused
only under the same key, and a rerun whose settings changed stops instead of mixing old and new
records (:mod:`pixelpush.evaluation.run_folder`). One run holds the folder's lock at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import platform as host
import time
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from pixelpush.devices import resolve_device
from pixelpush.errors import ConfigError
from pixelpush.evaluation.aggregate import summarize_all
from pixelpush.evaluation.config import CampaignConfig
from pixelpush.evaluation.engines import Engine, build_engine
from pixelpush.evaluation.keys import unit_key
from pixelpush.evaluation.pair_log import PairLog
from pixelpush.evaluation.pairs import draw_pairs
from pixelpush.evaluation.preparation import CampaignContext, CampaignInputs, prepare, prepare_inputs
from pixelpush.evaluation.run_folder import check_stale, locked
from pixelpush.evaluation.unit import UnitOutcome, UnitSpec
from pixelpush.files import write_atomic, write_json_atomic
from pixelpush.outputs import check_output_dir
from pixelpush.progress import progress_bar

_log = logging.getLogger(__name__)


def plan_units(config: CampaignConfig, inputs: CampaignInputs | CampaignContext) -> list[UnitSpec]:
    """Every unit of the campaign, in a fixed order, each with its key."""
    units: list[UnitSpec] = []
    pairs_cache: dict[tuple[str, int], list] = {}
    for experiment in config.experiments:
        for variant in experiment.units():
            pkey = (variant["threat_model"], experiment.pairs)
            if pkey not in pairs_cache:
                pairs_cache[pkey] = draw_pairs(inputs.dataset, variant["threat_model"], experiment.pairs, seed=config.seed)
            for pair in pairs_cache[pkey]:
                spec = UnitSpec(
                    experiment=experiment,
                    recommender=variant["recommender"],
                    attack=variant["attack"],
                    threat_model=variant["threat_model"],
                    sweep=tuple(sorted(variant["sweep"].items())),
                    pair=pair,
                    defense=variant["defense"],
                )
                key = unit_key(config, spec, features_digest=inputs.features_digest, image_model_identity=inputs.image_model.identity)
                units.append(dataclasses.replace(spec, key=key))
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        raise ConfigError("two configurations produce the same unit ids: give each [[experiments]] a distinct name")
    return units


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide the numbers."""
    out = {"python": host.python_version()}
    for dist in ("pixelpush", "torch", "torchvision", "numpy", "scipy", "scikit-image", "pillow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def build_results(ctx: CampaignContext, records: list[dict[str, Any]]) -> dict[str, Any]:
    """``results.json`` from the campaign's context and its records (nothing time-dependent)."""
    info = ctx.dataset.info()
    ic = ctx.image_model
    return {
        "dataset": {k: info[k] for k in ("name", "n_users", "n_items", "n_interactions", "n_categories", "image_shape")}
        | {"history_length": info["history_length"]},
        "image_model": {"name": ic.name, "identity": ic.identity, "feature_dim": ic.feature_dim, "input_size": ic.input_size},
        "recommenders": ctx.model_metrics_public(),
        "attacks": summarize_all(records),
        **_defense_parts(ctx, records),
        "config": ctx.config.model_dump(mode="json"),
        "seed": ctx.config.seed,
        "versions": versions(),
    }


def _defense_parts(ctx: CampaignContext, records: list[dict[str, Any]]) -> dict[str, Any]:
    """``defenses`` and ``detection`` of results.json, when the campaign runs defenses."""
    if all(d == ["none"] for d in (e.defenses for e in ctx.config.experiments)):
        return {}
    from pixelpush.evaluation.defense_results import defense_results, detection_results

    out: dict[str, Any] = {"defenses": defense_results(ctx)}
    detection = detection_results(ctx, records)
    if detection is not None:
        out["detection"] = detection
    return out


def run_campaign(
    config: CampaignConfig,
    run_dir: str | Path,
    *,
    workers: int | None = None,
    engine: str | Engine = "local",
    address: str | None = None,
    progress: bool = True,
    force: bool = False,
    config_source: Path | None = None,
    inputs: CampaignInputs | None = None,
) -> dict[str, Any]:
    """Run (or resume) a campaign in `run_dir`; return the results written to ``results.json``.

    The units run on `engine` (:mod:`pixelpush.evaluation.engines`: ``local``, the default, in
    this process or `workers` spawned processes; ``ray`` on a private local Ray instance or the
    cluster at `address`). Each unit runs single-threaded, so the numbers, and ``results.json``
    byte for byte, are the same on every engine. This function alone writes the run folder: it
    saves each finished unit's files and appends its record to ``pairs.jsonl``. Records of
    planned units made under other settings stop the run (ConfigError) unless `force`, which
    moves them to ``stale/`` first. The config is saved in the folder (``config.json``, and
    `config_source` as ``config.toml``).
    `inputs` are the campaign's data and features when the caller loaded them already.
    """
    run_dir = Path(run_dir)
    resolve_device(config.device)  # a missing GPU stops the run before anything is written
    check_output_dir(Path(config.cache_dir) / "features", "cache_dir")  # before the run folder is made
    runner = engine if isinstance(engine, Engine) else build_engine(engine, workers=workers, address=address)
    with runner, locked(run_dir):
        started = time.perf_counter()
        inputs = inputs if inputs is not None else prepare_inputs(config, progress=progress)
        log = PairLog(run_dir / "pairs.jsonl")
        units = plan_units(config, inputs)
        check_stale(run_dir, log, {u.unit_id: u.key for u in units}, config.model_dump(mode="json"), force=force)
        save_config(config, config_source, run_dir)
        ctx = prepare(config, run_dir, inputs=inputs, progress=progress)
        todo = [u for u in units if u.unit_id not in log]
        _log.info("%d units planned, %d already done, %d to run on %r", len(units), len(units) - len(todo), len(todo), runner)
        t0 = time.perf_counter()
        with (
            progress_bar(total=len(units), initial=len(units) - len(todo), desc="attacks", unit="pair", enabled=progress) as bar,
            _closing(runner.run(ctx, todo)) as outcomes,
        ):
            for outcome in outcomes:
                outcome.save_files(run_dir)  # first the files a record names, then the record
                log.append(outcome.record)
                bar.update()
        ctx.timings["attacks"] = time.perf_counter() - t0
        expected = {u.unit_id: u.key for u in units}
        results = build_results(ctx, [r for r in log.records() if expected.get(r["unit"]) == r.get("key")])
        write_json_atomic(run_dir / "results.json", results)
        ctx.timings["total"] = time.perf_counter() - started
        write_json_atomic(run_dir / "timings.json", {k: round(v, 3) for k, v in ctx.timings.items()})
        return results


@contextlib.contextmanager
def _closing(outcomes: Iterable[UnitOutcome]) -> Iterator[Iterable[UnitOutcome]]:
    """`outcomes`, closed at the end if it can be (a generator stops its engine's work)."""
    try:
        yield outcomes
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()


def save_config(config: CampaignConfig, source: Path | None, run_dir: Path) -> None:
    """Keep the config as run next to the results (the source file verbatim when there is one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if source is not None:
        write_atomic(run_dir / "config.toml", Path(source).read_bytes())
    write_json_atomic(run_dir / "config.json", config.model_dump(mode="json"))
