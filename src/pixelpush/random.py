"""The one place where seeds become random generators.

Every component receives a seed (an int) plus a few string keys that name its purpose, and gets
an independent, reproducible stream. Nothing in the library touches global random state; only
the CLI entry point calls :func:`seed_global` (for third-party code that reads it).
"""

from __future__ import annotations

import hashlib
import random as _stdlib_random

import numpy as np
import torch


def _entropy(seed: int, keys: tuple[str | int, ...]) -> list[int]:
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    for key in keys:
        digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
        words.extend(int.from_bytes(digest[i : i + 4], "little") for i in (0, 4))
    return words


def numpy_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A NumPy generator for `seed` and purpose `keys`, independent of other key paths.

    >>> a, b = numpy_rng(0, "pairs").random(3), numpy_rng(0, "pairs").random(3)
    >>> bool((a == b).all()), bool((a == numpy_rng(0, "threat").random(3)).any())
    (True, False)
    """
    return np.random.default_rng(np.random.SeedSequence(_entropy(seed, keys)))


def derive_seed(seed: int, *keys: str | int) -> int:
    """A 63-bit integer seed derived from `seed` and `keys` (for APIs that take an int)."""
    return int(np.random.SeedSequence(_entropy(seed, keys)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def torch_generator(seed: int, *keys: str | int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator for `seed` and `keys` on `device`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(seed, *keys))
    return gen


def seed_global(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global state. Only the CLI entry point calls this."""
    _stdlib_random.seed(seed)
    np.random.seed(derive_seed(seed, "global") % (2**32))
    torch.manual_seed(derive_seed(seed, "global-torch"))
