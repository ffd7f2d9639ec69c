"""Campaigns: plan the units of a config, run them (resumably, optionally in parallel), summarise.

``pairs.jsonl`` gets one record per finished unit, so a killed campaign resumes where it
stopped; ``results.json`` is computed from the records alone, so a resumed campaign's equals
an uninterrupted one's. Timings, which vary, go to ``timings.json``.
"""

from __future__ import annotations

import logging
import multiprocessing
import platform as host
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from pixelpush.evaluation.aggregate import summarize_all
from pixelpush.evaluation.config import CampaignConfig
from pixelpush.evaluation.pair_log import PairLog
from pixelpush.files import write_json_atomic
from pixelpush.evaluation.pairs import draw_pairs
from pixelpush.evaluation.preparation import CampaignContext, prepare
from pixelpush.evaluation.unit import UnitSpec, run_unit

_log = logging.getLogger(__name__)


def plan_units(config: CampaignConfig, ctx: CampaignContext) -> list[UnitSpec]:
    """Every unit of the campaign, in a fixed order."""
    units: list[UnitSpec] = []
    pairs_cache: dict[tuple[str, int], list] = {}
    for experiment in config.experiments:
        for variant in experiment.units():
            key = (variant["threat_model"], experiment.pairs)
            if key not in pairs_cache:
                pairs_cache[key] = draw_pairs(ctx.dataset, variant["threat_model"], experiment.pairs, seed=config.seed)
            for pair in pairs_cache[key]:
                units.append(
                    UnitSpec(
                        experiment=experiment,
                        recommender=variant["recommender"],
                        attack=variant["attack"],
                        threat_model=variant["threat_model"],
                        perturbations=variant["perturbations"],
                        pair=pair,
                        blend_epsilon=variant.get("blend_epsilon"),
                    )
                )
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        from pixelpush.errors import ConfigError

        raise ConfigError("two experiments produce the same units: give each [[experiments]] a distinct name")
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


def _work(spec: UnitSpec) -> dict[str, Any]:
    return run_unit(_WORKER["ctx"], spec, _WORKER["run_dir"])


def run_campaign(
    config: CampaignConfig, run_dir: str | Path, *, workers: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) a campaign in `run_dir`; return the results written to ``results.json``.

    Each unit runs single-threaded, in this process (``workers=1``) or in `workers` spawned
    processes: the numbers are the same either way.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ctx = prepare(config, run_dir)
    log = PairLog(run_dir / "pairs.jsonl")
    units = plan_units(config, ctx)
    todo = [u for u in units if u.unit_id not in log]
    _log.info("%d units planned, %d already done, %d to run", len(units), len(units) - len(todo), len(todo))
    t0 = time.perf_counter()
    bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="attacks", unit="pair", disable=not progress)
    if workers <= 1 or len(todo) <= 1:
        with _single_threaded():
            for spec in todo:
                log.append(run_unit(ctx, spec, run_dir))
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
    bar.close()
    ctx.timings["attacks"] = time.perf_counter() - t0
    expected = {u.unit_id for u in units}
    results = build_results(ctx, [r for r in log.records() if r["unit"] in expected])
    write_json_atomic(run_dir / "results.json", results)
    ctx.timings["total"] = time.perf_counter() - started
    write_json_atomic(run_dir / "timings.json", {k: round(v, 3) for k, v in ctx.timings.items()})
    return results


def save_config(config: CampaignConfig, source: Path | None, run_dir: Path) -> None:
    """Keep the config as run next to the results (the source file verbatim when there is one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, run_dir / "config.toml")
    write_json_atomic(run_dir / "config.json", config.model_dump(mode="json"))
