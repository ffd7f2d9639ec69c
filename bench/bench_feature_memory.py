"""Peak memory of feature extraction does not grow with the catalog.

Extracts features (cold on-disk cache) of a synthetic catalog whose deterministic uploads are
generated on demand, once for a small and once for a large catalog, each in a fresh subprocess,
and prints each run's peak RSS and the ratio large/small (goal: about 1). For scale it also
prints what the large catalog's pixels would take if held in memory.

``--engine ray`` extracts on Ray Data instead (a private local instance started by the child,
``--workers`` actors). The child's own peak RSS then leaves out the Ray processes, so a thread
also samples, every 0.5 s, the summed PSS (proportional set size: shared pages, such as the
object store's, counted once in total) of the child and every process it started (GCS, raylet,
the actors), and the peak of that sum is printed beside the driver's. Needs the ``scale`` and
``bench`` extras (Ray, psutil). Usage::

    python bench/bench_feature_memory.py [--small 2000] [--large 20000] [--upload 128] [--input-size 64]
        [--model squeezenet1_1|resnet50] [--dtype float32|float16] [--engine local|ray] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def _child(args: argparse.Namespace) -> None:
    import torch

    from pixelpush.data.catalog import ImageStore
    from pixelpush.vision.features import extract_features
    from pixelpush.vision.models import load_image_model

    class SyntheticCatalog(ImageStore):
        """`n` deterministic ``(size, size, 3)`` uploads, generated on demand (nothing stored)."""

        def __init__(self, n: int, size: int) -> None:
            self.n, self.size = n, size

        def __len__(self) -> int:
            return self.n

        def get(self, item: int) -> np.ndarray:
            rng = np.random.default_rng(item)
            small = rng.integers(0, 256, (self.size // 8, self.size // 8, 3), dtype=np.uint8)
            return np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)

    torch.set_num_threads(args.threads)
    weights = None if args.model == "resnet50" else "default"  # no ImageNet download here: random ResNet weights
    model = load_image_model(args.model, input_size=args.input_size, weights=weights)
    images = SyntheticCatalog(args.child, args.upload)
    with torch.inference_mode():  # warm-up so both runs start from the same allocator state
        model(torch.from_numpy(np.stack(images.many(range(args.batch_size)))))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler = _TreeMemory() if args.engine == "ray" else None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.engine == "ray":
            from pixelpush.vision.features_ray import extract_features_ray

            feats = extract_features_ray(model, images, cache_dir=tmp, batch_size=args.batch_size, dtype=args.dtype,
                                         workers=args.workers, progress=False)
        else:
            feats = extract_features(model, images, cache_dir=tmp, batch_size=args.batch_size, dtype=args.dtype, progress=False)
        shape = feats.shape
        del feats
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tree = sampler.stop() if sampler is not None else None
    print(json.dumps({"n": args.child, "shape": list(shape), "seconds": seconds, "peak_kib": peak, "before_kib": before,
                      "tree_peak_kib": tree}))


class _TreeMemory:
    """Samples the summed PSS of this process and all its descendants; :meth:`stop` returns the peak (KiB)."""

    def __init__(self, every: float = 0.5) -> None:
        import psutil

        self._root, self._every, self._peak = psutil.Process(), every, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        import psutil

        total = 0
        for proc in [self._root, *self._root.children(recursive=True)]:
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total // 1024

    def _run(self) -> None:
        while not self._done.wait(self._every):
            self._peak = max(self._peak, self._sample())

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self._peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--upload", type=int, default=128, help="upload side in pixels")
    parser.add_argument("--input-size", type=int, default=64, help="the image model's input side")
    parser.add_argument("--model", default="squeezenet1_1", choices=["squeezenet1_1", "resnet50"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="cached feature type")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", default="local", choices=["local", "ray"], help="extract in-process or on Ray Data")
    parser.add_argument("--workers", type=int, default=2, help="Ray Data actors (--engine ray)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return

    runs = {}
    for n in (args.small, args.large):
        cmd = [sys.executable, __file__, "--child", str(n), "--upload", str(args.upload),
               "--input-size", str(args.input_size), "--batch-size", str(args.batch_size), "--threads", str(args.threads),
               "--model", args.model, "--dtype", args.dtype, "--engine", args.engine, "--workers", str(args.workers)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        runs[n] = json.loads(out.strip().splitlines()[-1])
        r = runs[n]
        print(f"n={n:6d}: features {tuple(r['shape'])} in {r['seconds']:.1f} s; peak RSS {r['peak_kib'] / 1024:.0f} MiB "
              f"(after model load and warm-up {r['before_kib'] / 1024:.0f} MiB)"
              + (f"; peak PSS of the driver and its Ray processes {r['tree_peak_kib'] / 1024:.0f} MiB" if r["tree_peak_kib"] else ""))
    small, large = runs[args.small], runs[args.large]
    pixels = args.large * args.upload * args.upload * 3 / 2**20
    if large["tree_peak_kib"]:
        print(f"peak PSS ratio (driver + Ray) large/small: {large['tree_peak_kib'] / small['tree_peak_kib']:.3f} "
              f"(growth {(large['tree_peak_kib'] - small['tree_peak_kib']) / 1024:.0f} MiB)")
    print(f"peak RSS ratio large/small: {large['peak_kib'] / small['peak_kib']:.3f} "
          f"(growth {(large['peak_kib'] - small['peak_kib']) / 1024:.0f} MiB; the large catalog's pixels would be {pixels:.0f} MiB)")


if __name__ == "__main__":
    main()
