"""Transparent huge pages for torch's large CPU tensors, in the processes pixelpush starts.

At catalog scale most of a unit's set-up is the kernel mapping fresh pages: a 455k x 512
float32 copy of the features is 0.9 GB, 230k pages of 4 KiB, each zeroed on first touch. Torch
backs tensors of 2 MiB and more with huge pages when ``THP_MEM_ALLOC_ENABLE=1`` (on kernels
whose transparent huge pages are ``always`` or ``madvise``), which made such a copy 3x faster on
the benchmark machine (BENCHMARKS.md). Alignment and arithmetic are unchanged, and so is every
number. Torch reads the variable once, at its first allocation, so it has to be set before torch
is imported: the command line does it first thing, and Ray's workers get it with their
environment. A value the user set (``THP_MEM_ALLOC_ENABLE=0`` turns it off) is kept.
"""

from __future__ import annotations

import os

VARIABLE = "THP_MEM_ALLOC_ENABLE"


def request_huge_pages() -> None:
    """Set ``THP_MEM_ALLOC_ENABLE=1`` unless the user set it (effective only before torch is imported)."""
    os.environ.setdefault(VARIABLE, "1")


def worker_environment() -> dict[str, str]:
    """The variable as this process has it, for the environment of workers it starts elsewhere."""
    return {VARIABLE: os.environ[VARIABLE]} if VARIABLE in os.environ else {}
