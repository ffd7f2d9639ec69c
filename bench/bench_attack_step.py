"""One BB-Rank step vs the image model's irreducible work, side by side in one process.

The attack's irreducible cost per step is the image model's forward of d' + 1 images and one
backward (design §5). This bench interleaves, on the same model and upload size:

* bare   the forward of d' perturbed uploads (inference mode) + the forward of one upload with
         a graph + one vector-Jacobian product through it;
* step   one full BB-Rank step through the real Platform (perturbations, features shared with
         the platform's memo, d' probes + 1 rank query, the solve, the VJP, the upload);

after a warm-up, repeated, and prints the medians and their ratio (goal ≤ 1.15). Usage::

    python bench/bench_attack_step.py [--perturbations 32] [--size 112] [--repeats 15]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np
import torch

from pixelpush.attacks import AttackContext, BlackBoxAttack, SpecificUser
from pixelpush.data.catalog import ImageStore
from pixelpush.platform.platform import Platform
from pixelpush.random import numpy_rng
from pixelpush.vision.image_model import ImageModel


class SyntheticImages(ImageStore):
    """Deterministic smooth uploads generated on demand (no catalog held in memory)."""

    def __init__(self, n: int, size: int, seed: int = 0) -> None:
        self.n, self.size, self.seed = n, size, seed

    def __len__(self) -> int:
        return self.n

    def get(self, item: int) -> np.ndarray:
        rng = numpy_rng(self.seed, "bench-image", item)
        coarse = rng.uniform(30, 225, size=(8, 8, 3))
        img = np.kron(coarse, np.ones((self.size // 8, self.size // 8, 1)))
        img = img + rng.normal(0, 8, size=img.shape)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def load_model(size: int) -> ImageModel:
    """SqueezeNet 1.1 at `size` (packaged weights, else random weights)."""
    try:
        from pixelpush.vision.models import load_image_model

        return load_image_model("squeezenet1_1", input_size=size)
    except Exception as err:  # noqa: BLE001 - any failure: fall back to random weights
        logging.warning("packaged squeezenet unavailable (%s); using random torchvision weights", err)
        from pixelpush.vision.torchvision_compat import import_torchvision

        tv = import_torchvision()

        class _Squeeze(ImageModel):
            name, feature_dim = "squeezenet1_1-random", 512

            def __init__(self) -> None:
                super().__init__(input_size=size)
                self.features = tv.models.squeezenet1_1(weights=None).features
                self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255)
                self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255)

            def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
                return (rgb - self.mean) / self.std

            def embed(self, x: torch.Tensor) -> torch.Tensor:
                return self.features(x).mean(dim=(2, 3))

        return _Squeeze().freeze()


def build_platform(model: ImageModel, size: int, n_items: int, n_users: int) -> tuple[Platform, SyntheticImages, list[np.ndarray]]:
    """A VBPR platform over synthetic uploads; catalog features drawn to match the model's scale."""
    from pixelpush.recommenders.vbpr import VBPR

    images = SyntheticImages(n_items, size)
    sample = model.extract(images.many(range(16)))
    rng = numpy_rng(0, "bench-features")
    rows = rng.integers(0, len(sample), size=n_items)
    feats = (sample[rows] * rng.uniform(0.7, 1.3, size=(n_items, sample.shape[1]))).astype(np.float32)
    feats[:16] = sample
    histories = [np.sort(rng.choice(n_items, size=8, replace=False)) for _ in range(n_users)]
    rec = VBPR(n_users, n_items, feats.shape[1], seed=0)
    rec.set_feature_scale(float(np.linalg.norm(feats, axis=1).mean()))
    return Platform(rec, images, model, features=feats, consumed=histories, seed=0), images, histories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perturbations", type=int, default=32)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    d = args.perturbations

    model = load_model(args.size)
    platform, images, histories = build_platform(model, args.size, args.items, n_users=50)
    client = platform.client("rank")

    class _Data:
        categories = np.zeros(args.items, dtype=np.int64)
        n_users = len(histories)

    _Data.histories = histories  # type: ignore[attr-defined]
    candidates = np.setdiff1d(np.arange(16), histories[0])
    targeting = SpecificUser().prepare(client, int(candidates[0]), _Data(), seed=0, user=0)  # type: ignore[arg-type]
    ranks = np.array([int(platform.rank(targeting.user, int(i))[0]) for i in candidates])
    item = int(candidates[np.argsort(ranks)[len(ranks) // 2]])  # a middle-ranked item with real features
    ctx = AttackContext(
        client=client, item=item, image=images.get(item), targeting=targeting,
        image_model=model, memo=platform.memo, seed=0,
    )
    attack = BlackBoxAttack(oracle="rank", perturbations=d, steps=args.warmup + args.repeats)
    steps = attack.iterate(ctx)

    rng = numpy_rng(1, "bench-bare")
    base = images.get(item)
    batch = np.clip(base[None].astype(np.int16) + rng.integers(-7, 8, size=(d, *base.shape)), 0, 255).astype(np.uint8)
    weights = torch.from_numpy(rng.normal(size=(1, model.feature_dim)).astype(np.float32))

    def bare() -> None:
        with torch.inference_mode():
            model(torch.from_numpy(batch))
        pixels = torch.from_numpy(base[None].astype(np.float32)).requires_grad_(True)
        torch.autograd.grad(model(pixels), pixels, grad_outputs=weights)

    t_step, t_bare, uninformative = [], [], 0
    for k in range(args.warmup + args.repeats):
        t0 = time.perf_counter()
        record = next(steps)
        t1 = time.perf_counter()
        bare()
        t2 = time.perf_counter()
        if k >= args.warmup:
            t_bare.append(t2 - t1)
            if record.uninformative:  # no backward in that step: not comparable
                uninformative += 1
            else:
                t_step.append(t1 - t0)
    step, ref = statistics.median(t_step), statistics.median(t_bare)
    print(f"model {model.identity}, upload {args.size}x{args.size}, d'={d}, N={args.items}, torch threads {torch.get_num_threads()}")
    print(f"bare forward {d}+1 and one backward: median {ref * 1e3:8.1f} ms")
    print(f"BB-Rank step (platform, memo):       median {step * 1e3:8.1f} ms  ({uninformative} uninformative left out)")
    print(f"pushed item {item}: rank {int(platform.rank(targeting.user, item)[0])} of {args.items} for the clone after the run")
    print(f"ratio step/bare: {step / ref:.3f}  (goal <= 1.15); memo misses {platform.memo.misses}, hits {platform.memo.hits}")


if __name__ == "__main__":
    main()
