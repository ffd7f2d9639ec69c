"""Run an attack in its own process: a black box in memory, not only by API.

In one Python process the attacker view is a boundary of the API: nothing an attack is handed
leads to the platform by attribute, but nothing stops hostile code from searching the heap.
:class:`IsolatedRunner` removes that last path. The attack runs in a child process that holds
only what the attacker holds — the attack object, its own copy of the public image model, the
users it registered, the targeting and a seed — and a :class:`RemoteClient` whose every call
is a message to the parent, which answers it from the real platform client (counted and budgeted
there). The child never imports the platform or the recommenders; the parent never receives
features from it, only uploads, registrations and queries.

After every step the child sends its :class:`~pixelpush.attacks.base.StepRecord` and waits: the
parent measures (the experimenter's evaluation) before the attack goes on. A budget refusal or
an access error raised by the parent's client is re-raised in the child, as in one process.

The numbers are the same as in one process (the child computes the public features the shared
memo would have given, with the same model, batches and thread count); what isolation costs is
that the platform pushes the probes through the model itself (bench/bench_isolation.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from pixelpush.errors import PixelpushError
from pixelpush.platform.client import ClientMethods

__all__ = ["IsolatedRunner", "RemoteClient"]

_log = logging.getLogger(__name__)

_CLIENT_OPS = ("image", "upload_image", "register_user", "scores", "rank", "ranking", "probe_scores", "probe_ranks")


class AttackProcessError(PixelpushError, RuntimeError):
    """The attack's process failed (its traceback is in the message)."""


class RemoteClient(ClientMethods):
    """A platform client whose every call is answered by the parent process (see the module doc).

    Read-only like :class:`~pixelpush.platform.client.Client`; the parent enforces the access
    level in any case (it answers from the real client). Facts (access, sizes) are answered here.
    """

    __slots__ = ("_conn", "_facts")

    def __init__(self, conn: Connection, facts: dict[str, Any]) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_facts", dict(facts))

    def _call(self, op: str, *args: Any) -> Any:
        if op == "fact":
            return self._facts[args[0]]
        self._conn.send(("call", op, args))
        kind, payload = self._conn.recv()
        if kind == "error":
            raise payload
        return payload


@dataclass
class _Job:
    """Everything the child receives for one attack: the attacker's holdings, nothing else."""

    attack: Any
    model_key: str
    model: Any  # the attacker's copy of the public image model; None when the child has it already
    seed: int
    users: dict[int, np.ndarray]
    facts: dict[str, Any]
    item: int
    image: np.ndarray
    targeting: Any
    popular_image: np.ndarray | None
    catalog_key: str = ""
    catalog: np.ndarray | None = None  # public catalog features; None when the child has them already
    probe: Callable[[], Any] | None = None  # tests: a function run in the child after the attack
    pipeline: Any = None  # the platform's public ingest pipeline, when the attacker knows it
    surrogate: str = "identity"


def _child(conn: Connection) -> None:
    """The child's loop: run each job's attack against a RemoteClient; report steps and the result."""
    import torch

    from pixelpush.attacks.base import AttackContext
    from pixelpush.attacks.view import AttackerView
    from pixelpush.vision.torchvision_compat import import_torchvision

    import_torchvision()  # before unpickling a model built on torchvision's classes
    torch.set_num_threads(1)  # as the campaign's units: the same kernels, the same numbers
    models: dict[str, Any] = {}
    catalogs: dict[str, np.ndarray] = {}
    while True:
        message = conn.recv()
        if message is None:
            return
        job: _Job = message
        try:
            if job.model is not None:
                models = {job.model_key: job.model}  # one model kept: the latest identity
            model = models[job.model_key]
            if job.catalog is not None:
                catalogs = {job.catalog_key: job.catalog}
            catalog = catalogs.get(job.catalog_key) if job.catalog_key else None
            view = AttackerView(RemoteClient(conn, job.facts), model, seed=job.seed, users=job.users, catalog=catalog,
                                pipeline=job.pipeline, surrogate=job.surrogate)
            ctx = AttackContext(view=view, item=job.item, image=job.image, targeting=job.targeting, popular_image=job.popular_image)

            def on_step(record: Any) -> None:
                conn.send(("step", record))
                if conn.recv() != "continue":
                    raise AttackProcessError("the parent stopped the attack")

            result = job.attack.run(ctx, on_step)
            extra = job.probe() if job.probe is not None else None
            conn.send(("done", (result, extra)))
        except BaseException as err:  # noqa: BLE001 - everything goes back to the parent
            conn.send(("failed", (err if _picklable(err) else None, traceback.format_exc())))


def _picklable(err: BaseException) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001
        return False
    return True


class IsolatedRunner:
    """A child process that runs attacks (see the module docstring); reuse it for many attacks.

    Use as a context manager, or call :meth:`close`. The child starts on the first :meth:`run`.
    """

    def __init__(self) -> None:
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._model_key: str | None = None
        self._catalog_key: str | None = None

    def __enter__(self) -> IsolatedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> Connection:
        if self._conn is None or self._process is None or not self._process.is_alive():
            ctx = multiprocessing.get_context("spawn")
            parent, child = ctx.Pipe()
            self._process = ctx.Process(target=_child, args=(child,), daemon=True, name="pixelpush-attacker")
            self._process.start()
            child.close()
            self._conn, self._model_key, self._catalog_key = parent, None, None
        return self._conn

    def close(self) -> None:
        """Stop the child process."""
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
        self._process = self._conn = None

    def run(
        self,
        attack: Any,
        *,
        client: Any,
        image_model: Any,
        model_key: str,
        seed: int,
        users: dict[int, np.ndarray],
        item: int,
        image: np.ndarray,
        targeting: Any,
        popular_image: np.ndarray | None = None,
        on_step: Callable[[Any], None] | None = None,
        probe: Callable[[], Any] | None = None,
        catalog: np.ndarray | None = None,
        catalog_key: str = "",
        pipeline: Any = None,
        surrogate: str = "identity",
    ) -> Any:
        """Run `attack` in the child against `client` (the real one, here); return its AttackResult.

        `image_model` is the public model the attacker copies (sent once per `model_key`),
        `users` the users already registered for the attacker (by the threat model), with their
        histories. `catalog` (the public catalog features, sent once per `catalog_key`) saves the
        child computing them from the catalog's images. `probe`, for tests, runs in the child
        after the attack; ``run`` then returns ``(result, probe's value)``.
        """
        conn = self._start()
        send_model = self._model_key != model_key
        facts = {"access": client.access, "n_items": client.n_items, "visible_count": client.visible_count}
        send_catalog = catalog is not None and catalog_key and self._catalog_key != catalog_key
        job = _Job(attack, model_key, image_model if send_model else None, int(seed), dict(users), facts, int(item),
                   np.asarray(image), targeting, popular_image, catalog_key if catalog is not None else "",
                   np.asarray(catalog) if send_catalog else None, probe, pipeline, surrogate)
        conn.send(job)
        self._model_key = model_key
        if send_catalog:
            self._catalog_key = catalog_key
        while True:
            kind, *payload = conn.recv()
            if kind == "call":
                op, args = payload
                conn.send(self._answer(client, op, args))
            elif kind == "step":
                if on_step is not None:
                    on_step(payload[0])
                conn.send("continue")
            elif kind == "done":
                result, extra = payload[0]
                return (result, extra) if probe is not None else result
            else:  # failed
                err, text = payload[0]
                if isinstance(err, PixelpushError) and not isinstance(err, AttackProcessError):
                    raise err
                raise AttackProcessError(f"the attack failed in its process:\n{text}")

    @staticmethod
    def _answer(client: Any, op: str, args: tuple[Any, ...]) -> tuple[str, Any]:
        try:
            if op in ("uploads", "queries"):
                return ("ok", getattr(client, op))
            if op not in _CLIENT_OPS:
                raise AttackProcessError(f"the attack asked for {op!r}, which no client offers")
            return ("ok", getattr(client, op)(*args))
        except Exception as err:  # noqa: BLE001 - raised in the attack's process, as in one process
            return ("error", err if _picklable(err) else AttackProcessError(f"{type(err).__name__}: {err}"))
