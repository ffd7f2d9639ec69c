"""Feature extraction overhead: extract_features end to end vs the bare model forward.

Side by side in one process, on the same images and model:

* bare     ``model.embed(model.preprocess(x))`` on pre-stacked uint8 tensors, inference mode;
* nocache  ``extract_features(..., cache_dir=None)`` (streams ImageStore.get per batch);
* cold     ``extract_features`` writing a fresh cache (content hashing + chunk files + assembly);
* warm     ``extract_features`` reading that cache (content hashing + checked memory map).

Prints images/s and the ratio of each to the bare forward. Usage::

    python bench/bench_features.py [--n 512] [--model squeezenet1_1] [--input-size 112]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from pixelpush.data.catalog import ArrayImages, ImageStore
from pixelpush.random import numpy_rng
from pixelpush.vision.features import extract_features


class Subset(ImageStore):
    """The first `n` items of another store."""

    def __init__(self, base: ImageStore, n: int) -> None:
        self.base, self.n = base, min(n, len(base))

    def __len__(self) -> int:
        return self.n

    def get(self, item: int) -> np.ndarray:
        return self.base.get(item)


def _images(n: int, size: int) -> tuple[ImageStore, str]:
    try:
        from pixelpush.data.fashion import load_fashion

        store = load_fashion(upload_size=size).images
        if len(store) >= n:
            return Subset(store, n), f"fashion[:{n}] at {size}px"
    except Exception as err:  # noqa: BLE001 - the bench falls back to synthetic images
        print(f"(fashion unavailable: {err}; using synthetic images)")
    rng = numpy_rng(0, "bench-features")
    return ArrayImages(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)), f"synthetic {n} at {size}px"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="number of items")
    parser.add_argument("--model", default="squeezenet1_1")
    parser.add_argument("--input-size", type=int, default=112, help="model input and upload size")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per variant")
    args = parser.parse_args()

    from pixelpush.vision.models import load_image_model

    model = load_image_model(args.model, input_size=args.input_size)
    images, what = _images(args.n, args.input_size)
    n, bs = len(images), args.batch_size
    stacked = [torch.from_numpy(np.stack(images.many(range(s, min(s + bs, n))))) for s in range(0, n, bs)]

    def bare() -> None:
        with torch.inference_mode():
            for batch in stacked:
                model.embed(model.preprocess(batch))

    def nocache() -> None:
        extract_features(model, images, batch_size=bs, progress=False)

    def cached() -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cold = extract_features(model, images, cache_dir=tmp, batch_size=bs, chunk_size=args.chunk_size, progress=False)
            t1 = time.perf_counter()
            warm = extract_features(model, images, cache_dir=tmp, batch_size=bs, chunk_size=args.chunk_size, progress=False)
            t2 = time.perf_counter()
            assert np.array_equal(np.asarray(cold), np.asarray(warm))
            del cold, warm
        return t1 - t0, t2 - t1

    bare()  # warm-up: allocator, thread pool, kernels
    times: dict[str, list[float]] = {"bare forward": [], "extract (no cache)": [], "extract (cold cache)": [], "extract (warm cache)": []}
    for _ in range(args.repeats):  # round robin, so that load from other processes hits all alike
        for name, fn in (("bare forward", bare), ("extract (no cache)", nocache)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
        cold_s, warm_s = cached()
        times["extract (cold cache)"].append(cold_s)
        times["extract (warm cache)"].append(warm_s)
    results = {name: min(ts) for name, ts in times.items()}

    print(f"{model.identity} on {what}, batch {bs}, {torch.get_num_threads()} torch threads, best of {args.repeats}")
    base = results["bare forward"]
    for name, sec in results.items():
        print(f"  {name:22s} {sec:7.3f} s  {n / sec:9.1f} img/s  ratio to bare {sec / base:6.3f}")


if __name__ == "__main__":
    main()
