"""The Ray engine: each unit is a Ray (actor) task, on a private local instance or a cluster.

Without an address the engine starts a local instance sized to this machine
(:func:`pixelpush.ray_runtime.ray_session`); with one it joins that cluster. It puts the
campaign's prepared state into the object store once
(:class:`~pixelpush.evaluation.worker_context.WorkerInputs`) and starts ``workers`` actors
(default: one per CPU of the cluster), each of which rebuilds the campaign's context once, runs
units on one torch thread, and, with ``isolation = "process"``, keeps one attacker process of its
own for the attacks it runs. Every actor has two units queued, so it never waits for the driver.

Units are returned, not written: the driver saves each outcome's files and appends its record,
so nothing but the driver touches the run folder (which need not exist on the workers' nodes).
A unit whose actor dies is retried (units are deterministic, so a retry gives the same record);
a unit that fails raises its error in the driver, where a PixelpushError keeps its one-line message.

On a GPU (``device = "cuda"``) the actors share the cluster's GPUs (``num_gpus`` = GPUs / actors,
at most 1 each); Ray assigns each actor its GPU, so ``cuda:N`` means "a GPU" there.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import torch

from pixelpush.attacks.isolation import IsolatedRunner
from pixelpush.devices import is_cpu
from pixelpush.errors import ConfigError, PixelpushError
from pixelpush.evaluation.engines.base import Engine
from pixelpush.evaluation.preparation import CampaignContext
from pixelpush.evaluation.unit import UnitOutcome, UnitSpec, compute_unit
from pixelpush.evaluation.worker_context import WorkerInputs
from pixelpush.ray_runtime import cluster_resources, ray_session

__all__ = ["RayEngine", "UnitWorker"]

_log = logging.getLogger(__name__)

QUEUED_PER_WORKER = 2
"""Units handed to an actor at a time: one running, one waiting (hides the driver's round trip)."""
RETRIES = 2
"""Times a unit is run again (on a new actor) when its actor's process dies."""


class UnitWorker:
    """A Ray actor's state: one campaign context, one optional attacker process."""

    def __init__(self, inputs: WorkerInputs, device: str) -> None:
        torch.set_num_threads(1)
        logging.getLogger("pixelpush").setLevel(logging.WARNING)
        self.runner: IsolatedRunner | None = None
        self.failure: Exception | None = None
        try:
            self.ctx = inputs.context(device=device)
        except Exception as err:  # noqa: BLE001 - raised by run(): a task error keeps its type, an init error would not
            self.failure = err
            return
        if inputs.config.isolation == "process":
            self.runner = IsolatedRunner()

    def run(self, spec: UnitSpec) -> UnitOutcome:
        """Run one unit (single-threaded, like every engine's)."""
        if self.failure is not None:
            raise self.failure
        return compute_unit(self.ctx, spec, runner=self.runner)

    def close(self) -> None:
        """Stop the attacker process, if any."""
        if self.runner is not None:
            self.runner.close()


class RayEngine(Engine):
    """Units as Ray actor tasks (see the module docstring)."""

    id = "ray"

    def __init__(self, *, workers: int | None = None, address: str | None = None) -> None:
        super().__init__(workers=workers, address=address)
        self._stack: ExitStack | None = None
        self._ray: Any = None

    def start(self) -> None:
        self._stack = ExitStack()
        self._ray = self._stack.enter_context(ray_session(self.address, what="--engine ray"))

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self._ray = None

    def _placement(self, device: str, units: int) -> tuple[int, float, str]:
        """``(actors, GPUs per actor, device inside an actor)``."""
        cpus, gpus = cluster_resources(self._ray)
        actors = max(1, min(self.workers or cpus or 1, units))
        if is_cpu(device):
            return actors, 0.0, "cpu"
        if gpus <= 0:
            raise ConfigError(f"device {device!r} was asked for, but the Ray cluster has no GPU (resources: {cpus} CPUs)")
        return actors, min(1.0, gpus / actors), "cuda"

    def run(self, ctx: CampaignContext, units: Sequence[UnitSpec]) -> Iterator[UnitOutcome]:
        if self._ray is None:
            raise RuntimeError("start the Ray engine first (use it as a context manager)")
        if not units:
            return
        ray = self._ray
        actors_n, gpus, device = self._placement(ctx.config.device, len(units))
        inputs = ray.put(WorkerInputs.from_context(ctx))
        actor_class = ray.remote(UnitWorker).options(num_cpus=1, num_gpus=gpus)
        actors = [actor_class.remote(inputs, device) for _ in range(actors_n)]
        _log.info("%d units on %d Ray workers (%s)", len(units), actors_n, device)
        queue: deque[UnitSpec] = deque(units)
        pending: dict[Any, tuple[int, UnitSpec]] = {}  # task -> (actor slot, its unit)
        deaths: dict[str, int] = {}

        def fill() -> None:
            """Give every actor up to QUEUED_PER_WORKER units."""
            busy = [0] * len(actors)
            for slot, _ in pending.values():
                busy[slot] += 1
            for slot, actor in enumerate(actors):
                while queue and busy[slot] < QUEUED_PER_WORKER:
                    spec = queue.popleft()
                    pending[actor.run.remote(spec)] = (slot, spec)
                    busy[slot] += 1

        try:
            fill()
            while pending:
                (done,), _ = ray.wait(list(pending), num_returns=1)
                slot, spec = pending.pop(done)
                try:
                    outcome = _result(ray, done)
                except ray.exceptions.RayActorError as err:
                    deaths[spec.unit_id] = deaths.get(spec.unit_id, 0) + 1
                    if deaths[spec.unit_id] > RETRIES:
                        raise PixelpushError(
                            f"a Ray worker died {deaths[spec.unit_id]} times running unit {spec.unit_id} ({err}); run again to resume"
                        ) from None
                    _log.warning("a Ray worker died running %s (%s): running it again on a new worker", spec.unit_id, err)
                    for task in [t for t, (s, _) in pending.items() if s == slot]:  # the dead actor's queued units
                        queue.appendleft(pending.pop(task)[1])
                        ray.cancel(task)
                    queue.appendleft(spec)  # units are deterministic: a rerun gives the same record
                    actors[slot] = actor_class.remote(inputs, device)
                    fill()
                    continue
                fill()
                yield outcome
        finally:
            for task in pending:
                ray.cancel(task, force=False)
            _close(ray, actors)


def _result(ray: Any, ref: Any) -> UnitOutcome:
    """The outcome of a finished unit; a PixelpushError it raised is re-raised as it was."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, PixelpushError):
            raise cause from None
        raise


def _close(ray: Any, actors: list[Any]) -> None:
    """Stop the actors' attacker processes, then the actors."""
    try:
        ray.get([a.close.remote() for a in actors], timeout=30)
    except Exception as err:  # noqa: BLE001 - a dead actor has nothing left to close
        _log.debug("closing Ray workers: %s", err)
    for actor in actors:
        ray.kill(actor)
