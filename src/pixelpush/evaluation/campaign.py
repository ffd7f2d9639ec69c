"""Campaigns: plan the units of a config, run them (resumably, optionally in parallel), summarise.

``pairs.jsonl`` gets one record per finished unit, so a killed campaign resumes where it
stopped; ``results.json`` is computed from the records alone, so a resumed campaign's equals
an uninterrupted one's. Timings, which vary, go to ``timings.json``. Each unit is keyed by a
digest of everything that determines it (:mod:`pixelpush.evaluation.keys`): a record is reused
only under the same key, and a rerun whose settings changed stops instead of mixing old and new
records (:mod:`pixelpush.evaluation.run_folder`). One run holds the folder's lock at a time.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import multiprocessing
import platform as host
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from pixelpush.attacks.isolation import IsolatedRunner
from pixelpush.errors import ConfigError
from pixelpush.evaluation.aggregate import summarize_all
from pixelpush.evaluation.config import CampaignConfig
from pixelpush.evaluation.keys import unit_key
from pixelpush.evaluation.pair_log import PairLog
from pixelpush.evaluation.pairs import draw_pairs
from pixelpush.evaluation.preparation import CampaignContext, CampaignInputs, prepare, prepare_inputs
from pixelpush.evaluation.run_folder import check_stale, locked
from pixelpush.evaluation.unit import UnitSpec, run_unit
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
        "config": ctx.config.model_dump(mode="json"),
        "seed": ctx.config.seed,
        "versions": versions(),
    }


# --- worker processes -----------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


@contextmanager
def _single_threaded() -> Iterator[None]:
    """Units run on one intra-op thread: kernels' reduction order, and so every number, then
    does not depend on how many worker processes share the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _init_worker(config: CampaignConfig, run_dir: Path) -> None:
    torch.set_num_threads(1)
    logging.getLogger("pixelpush").setLevel(logging.WARNING)
    _WORKER["ctx"] = prepare(config, run_dir, train=False)
    _WORKER["run_dir"] = run_dir
    if config.isolation == "process":
        runner = _WORKER["runner"] = IsolatedRunner()
        atexit.register(runner.close)


def _work(spec: UnitSpec) -> dict[str, Any]:
    return run_unit(_WORKER["ctx"], spec, _WORKER["run_dir"], runner=_WORKER.get("runner"))


def run_campaign(
    config: CampaignConfig,
    run_dir: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
    force: bool = False,
    config_source: Path | None = None,
    inputs: CampaignInputs | None = None,
) -> dict[str, Any]:
    """Run (or resume) a campaign in `run_dir`; return the results written to ``results.json``.

    Each unit runs single-threaded, in this process (``workers=1``) or in `workers` spawned
    processes: the numbers are the same either way. Records of planned units made under other
    settings stop the run (ConfigError) unless `force`, which moves them to ``stale/`` first.
    The config is saved in the folder (``config.json``, and `config_source` as ``config.toml``).
    `inputs` are the campaign's data and features when the caller loaded them already.
    """
    run_dir = Path(run_dir)
    check_output_dir(Path(config.cache_dir) / "features", "cache_dir")  # before the run folder is made
    with locked(run_dir):
        started = time.perf_counter()
        inputs = inputs if inputs is not None else prepare_inputs(config, progress=progress)
        log = PairLog(run_dir / "pairs.jsonl")
        units = plan_units(config, inputs)
        check_stale(run_dir, log, {u.unit_id: u.key for u in units}, config.model_dump(mode="json"), force=force)
        save_config(config, config_source, run_dir)
        ctx = prepare(config, run_dir, inputs=inputs, progress=progress)
        todo = [u for u in units if u.unit_id not in log]
        _log.info("%d units planned, %d already done, %d to run", len(units), len(units) - len(todo), len(todo))
        t0 = time.perf_counter()
        with progress_bar(total=len(units), initial=len(units) - len(todo), desc="attacks", unit="pair", enabled=progress) as bar:
            if workers <= 1 or len(todo) <= 1:
                with _single_threaded(), contextlib.ExitStack() as stack:
                    runner = stack.enter_context(IsolatedRunner()) if config.isolation == "process" else None
                    for spec in todo:
                        log.append(run_unit(ctx, spec, run_dir, runner=runner))
                        bar.update()
            else:
                with ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(config, run_dir),
                ) as pool:
                    futures = [pool.submit(_work, spec) for spec in todo]
                    for future in as_completed(futures):
                        log.append(future.result())
                        bar.update()
        ctx.timings["attacks"] = time.perf_counter() - t0
        expected = {u.unit_id: u.key for u in units}
        results = build_results(ctx, [r for r in log.records() if expected.get(r["unit"]) == r.get("key")])
        write_json_atomic(run_dir / "results.json", results)
        ctx.timings["total"] = time.perf_counter() - started
        write_json_atomic(run_dir / "timings.json", {k: round(v, 3) for k, v in ctx.timings.items()})
        return results


def save_config(config: CampaignConfig, source: Path | None, run_dir: Path) -> None:
    """Keep the config as run next to the results (the source file verbatim when there is one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if source is not None:
        write_atomic(run_dir / "config.toml", Path(source).read_bytes())
    write_json_atomic(run_dir / "config.json", config.model_dump(mode="json"))
