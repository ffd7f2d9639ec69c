"""The one place pixelpush starts or joins Ray (the optional ``scale`` extra).

:func:`ray_session` is used by every Ray code path (campaign units, feature extraction):

- without an address it starts a *private* local instance sized to this machine (its CPUs, a
  small object store, no dashboard), never joining a cluster that happens to run here or that
  ``RAY_ADDRESS`` names, and shuts it down at the end;
- with an address (``HOST:PORT`` or ``auto``) it joins that cluster, and leaves it at the end;
- in a process where Ray is already initialised (a notebook, a test) it uses that connection
  and leaves it open.

Ray is imported only here and only when asked for; without the extra the message says how to
install it (:class:`~pixelpush.errors.MissingDependencyError`, exit code 2 in the CLI).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from types import ModuleType

from pixelpush.errors import ConfigError, MissingDependencyError
from pixelpush.huge_pages import worker_environment

__all__ = ["INSTALL_HINT", "cluster_resources", "local_cpus", "ray_session", "require_ray"]

_log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'pixelpush[scale]' (in a checkout: .venv/bin/pip install -e '.[scale]')"
OBJECT_STORE_MIB = 256
"""Object store of a local instance, MiB (``PIXELPUSH_RAY_OBJECT_STORE_MIB`` overrides; Ray
spills to disk beyond it). Units ship the catalog features once and return small records."""


def require_ray(what: str = "this option") -> ModuleType:
    """The ``ray`` module, or MissingDependencyError saying how to install the ``scale`` extra."""
    try:
        import ray
    except ImportError as err:
        raise MissingDependencyError(f"{what} needs Ray, which is not installed ({err.msg}): {INSTALL_HINT}") from None
    return ray


def local_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _object_store_bytes() -> int:
    raw = os.environ.get("PIXELPUSH_RAY_OBJECT_STORE_MIB", str(OBJECT_STORE_MIB))
    try:
        mib = int(raw)
    except ValueError:
        raise ConfigError(f"PIXELPUSH_RAY_OBJECT_STORE_MIB must be an integer number of MiB, got {raw!r}") from None
    if mib < 80:
        raise ConfigError(f"PIXELPUSH_RAY_OBJECT_STORE_MIB must be at least 80 (Ray's minimum is 75 MiB), got {mib}")
    return mib * 2**20


@contextlib.contextmanager
def ray_session(address: str | None = None, *, what: str = "this option") -> Iterator[ModuleType]:
    """Start a private local Ray instance, or join the cluster at `address`; yields ``ray``.

    Raises MissingDependencyError without Ray and ConfigError when the cluster cannot be joined.
    """
    ray = require_ray(what)
    if ray.is_initialized():
        _log.info("using this process's Ray connection")
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting home from a private instance
    options: dict[str, object] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "runtime_env": {"env_vars": {
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **worker_environment(),
        }},
    }
    if address is None:
        cpus = local_cpus()
        options |= {"address": "local", "num_cpus": cpus, "object_store_memory": _object_store_bytes()}
        where = f"a local Ray instance ({cpus} CPUs)"
    else:
        options["address"] = address
        where = f"the Ray cluster at {address}"
    try:
        ray.init(**options)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as err:
        raise ConfigError(f"cannot start or join {where}: {err}") from None
    _log.info("connected to %s: %s", where, ray.cluster_resources())
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_resources(ray: ModuleType) -> tuple[int, float]:
    """``(CPUs, GPUs)`` of the cluster `ray` is connected to."""
    resources = ray.cluster_resources()
    return int(resources.get("CPU", 0)), float(resources.get("GPU", 0.0))
