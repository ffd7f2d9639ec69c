"""Run a benchmark's measurement of each catalog size in a fresh process (for the bench scripts).

A size measured in the same process as a larger one would inherit its peak memory and warm
caches. The script is run again with ``--one SIZE`` and its other arguments; it prints one JSON
object as its last line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence


def each_in_fresh_process(script: str, sizes: Sequence[int], argv: Sequence[str]) -> Iterator[dict]:
    """The JSON row `script` prints for each size, run as ``python script --one SIZE *argv``; exits on a failure."""
    for n in sizes:
        proc = subprocess.run([sys.executable, script, "--one", str(n), *argv], capture_output=True, text=True, check=False)
        if proc.returncode:
            sys.exit(f"size {n} failed:\n{proc.stderr[-4000:]}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{n:,} items: {json.dumps(row)}", flush=True)
        yield row
