"""The local engine: units in this process (one worker), or in a pool of spawned processes.

With ``workers`` > 1 each process receives the campaign's prepared state once
(:class:`~pixelpush.evaluation.worker_context.WorkerInputs`), runs units single-threaded, and
with ``isolation = "process"`` keeps one attacker process of its own
(:mod:`pixelpush.attacks.isolation`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any

import torch

from pixelpush.attacks.isolation import IsolatedRunner
from pixelpush.evaluation.engines.base import Engine
from pixelpush.evaluation.preparation import CampaignContext
from pixelpush.evaluation.unit import UnitOutcome, UnitSpec, compute_unit
from pixelpush.evaluation.worker_context import WorkerInputs, single_threaded

__all__ = ["LocalEngine"]

_WORKER: dict[str, Any] = {}  # the one campaign a pool process serves (set by its initializer)


def _init_worker(inputs: WorkerInputs) -> None:
    torch.set_num_threads(1)
    logging.getLogger("pixelpush").setLevel(logging.WARNING)
    _WORKER["ctx"] = inputs.context()
    if inputs.config.isolation == "process":
        runner = _WORKER["runner"] = IsolatedRunner()
        atexit.register(runner.close)


def _work(spec: UnitSpec) -> UnitOutcome:
    return compute_unit(_WORKER["ctx"], spec, runner=_WORKER.get("runner"))


class LocalEngine(Engine):
    """Units in this process (``workers`` None or 1) or in `workers` spawned processes."""

    id = "local"

    def run(self, ctx: CampaignContext, units: Sequence[UnitSpec]) -> Iterator[UnitOutcome]:
        workers = self.workers or 1
        if workers <= 1 or len(units) <= 1:
            yield from self._in_process(ctx, units)
        else:
            yield from self._pool(ctx, units, min(workers, len(units)))

    @staticmethod
    def _in_process(ctx: CampaignContext, units: Sequence[UnitSpec]) -> Iterator[UnitOutcome]:
        with single_threaded(), contextlib.ExitStack() as stack:
            runner = stack.enter_context(IsolatedRunner()) if ctx.config.isolation == "process" else None
            for spec in units:
                yield compute_unit(ctx, spec, runner=runner)

    @staticmethod
    def _pool(ctx: CampaignContext, units: Sequence[UnitSpec], workers: int) -> Iterator[UnitOutcome]:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(WorkerInputs.from_context(ctx),),
        )
        futures: list[Future[UnitOutcome]] = []
        try:
            futures = [pool.submit(_work, spec) for spec in units]
            for future in as_completed(futures):
                yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
