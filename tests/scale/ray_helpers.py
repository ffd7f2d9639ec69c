"""Helpers of the Ray tests: the skip reason, and cleaning up after a SIGKILLed driver."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

SKIP_REASON = "Ray is not installed: the scale extra's tests need `pip install -e '.[scale]'`"


def group_pids(pgid: int) -> list[int]:
    """Pids of the live processes in process group `pgid` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def kill_group(pgid: int, timeout: float = 30.0) -> None:
    """SIGKILL, one pid at a time, what is left of the process group a test started.

    A driver started with ``start_new_session=True`` leads its own group, and the local Ray
    instance it starts joins it; Ray's agents outlive a SIGKILLed driver.
    """
    deadline = time.monotonic() + timeout
    while (pids := group_pids(pgid)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
