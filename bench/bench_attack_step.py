"""One BB-Rank step vs the image model's irreducible work, side by side, for each attacker setting.

The attack's irreducible cost per step is the image model's forward of d' + 1 images and one
backward (design §5). This bench interleaves, on the same model and upload size:

* bare      the forward of d' perturbed uploads (inference mode) + the forward of one upload with
            a graph + one vector-Jacobian product through it;
* shared    one full BB-Rank step through the real Platform, the attacker's view reading public
            features through the platform's compute-only memo (each probe pushed through the
            model once, for both sides; the campaign's default, one process);
* own       the same with the attacker computing features with its own model copy only: the
            platform pushes the probes through the model again (what no sharing costs);
* isolated  the attack in its own process (``isolation = "process"``), every call a message;
* prior-rank, prior-probe-rank   the query-efficient attacks' steps (shared features), and the
            one-off cost of fitting the prior on the catalog (a ridge fit with GCV).

After a warm-up, repeated; prints the medians and their ratios to bare. Usage::

    python bench/bench_attack_step.py [--perturbations 32] [--size 112] [--repeats 15] [--modes shared,own,isolated]
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time

import numpy as np
import torch

from pixelpush.attacks import AttackContext, AttackerView, BBRank, SpecificUser
from pixelpush.attacks.isolation import IsolatedRunner
from pixelpush.attacks.prior import PriorProbeRank, PriorRank
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


def _bare(model: ImageModel, base: np.ndarray, d: int):
    rng = numpy_rng(1, "bench-bare")
    batch = np.clip(base[None].astype(np.int16) + rng.integers(-7, 8, size=(d, *base.shape)), 0, 255).astype(np.uint8)
    weights = torch.from_numpy(rng.normal(size=(1, model.feature_dim)).astype(np.float32))

    def bare() -> None:
        with torch.inference_mode():
            model(torch.from_numpy(batch))
        pixels = torch.from_numpy(base[None].astype(np.float32)).requires_grad_(True)
        torch.autograd.grad(model(pixels), pixels, grad_outputs=weights)

    return bare


def measure(mode: str, model: ImageModel, args: argparse.Namespace, runner: IsolatedRunner) -> tuple[list[float], list[float], int]:
    """Per-step seconds of `mode` and of the bare reference, interleaved; uninformative steps left out."""
    d = args.perturbations
    platform, images, histories = build_platform(model, args.size, args.items, n_users=50)

    class _Data:
        categories = np.zeros(args.items, dtype=np.int64)
        n_users = len(histories)

    _Data.histories = histories  # type: ignore[attr-defined]
    features = platform.memo.reader() if mode != "own" and mode != "isolated" else None
    view = AttackerView(platform.client("rank"), copy.deepcopy(model), seed=0, features=features,
                        catalog=platform.current_features().numpy())
    candidates = np.setdiff1d(np.arange(16), histories[0])
    prep = SpecificUser().prepare(view, int(candidates[0]), _Data(), seed=0, user=0)  # type: ignore[arg-type]
    user = prep.targeting.user
    ranks = np.array([int(platform.rank(user, int(i))[0]) for i in candidates])
    item = int(candidates[np.argsort(ranks)[len(ranks) // 2]])  # a middle-ranked item with real features
    steps = args.warmup + args.repeats
    attack = {"prior-rank": lambda: PriorRank(steps=steps), "prior-probe-rank": lambda: PriorProbeRank(steps=steps)}.get(
        mode, lambda: BBRank(perturbations=d, steps=steps))()
    bare = _bare(model, images.get(item), d)
    t_step, t_bare, state = [], [], {"t": 0.0, "k": 0, "uninformative": 0}

    def on_step(record) -> None:
        t1 = time.perf_counter()
        bare()
        t2 = time.perf_counter()
        if state["k"] >= args.warmup:
            t_bare.append(t2 - t1)
            if record.uninformative:  # no backward in that step: not comparable
                state["uninformative"] += 1
            else:
                t_step.append(t1 - state["t"])
        state["k"] += 1
        state["t"] = time.perf_counter()

    state["t"] = time.perf_counter()
    if mode == "isolated":
        runner.run(attack, client=view.client, image_model=model, model_key=model.identity, seed=0, users=view.registered(),
                   item=item, image=images.get(item), targeting=prep.targeting, on_step=on_step)
    else:
        attack.run(AttackContext(view=view, item=item, image=images.get(item), targeting=prep.targeting), on_step)
    return t_step, t_bare, state["uninformative"]


def fit_prior_once(model: ImageModel, args: argparse.Namespace) -> None:
    """The prior's one-off fit on the catalog against one step's bare image-model work."""
    from pixelpush.attacks.priors import ridge_fit

    platform, images, _ = build_platform(model, args.size, args.items, n_users=50)
    feats = platform.current_features().numpy()
    targets = numpy_rng(2, "bench-targets").normal(size=len(feats))
    bare = _bare(model, images.get(0), args.perturbations)
    bare()
    t0 = time.perf_counter()
    bare()
    t1 = time.perf_counter()
    ridge_fit(feats, targets)
    t2 = time.perf_counter()
    print(f"prior fit on {len(feats)} items x {feats.shape[1]} features: {(t2 - t1) * 1e3:.1f} ms, "
          f"{(t2 - t1) / (t1 - t0):.2f}x one bare step (once per attacked user)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perturbations", type=int, default=32)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--modes", default="shared,own,isolated,prior-rank,prior-probe-rank")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # as a campaign's units (and the isolated attacker's process)
    model = load_model(args.size)
    print(f"model {model.identity}, upload {args.size}x{args.size}, d'={args.perturbations}, N={args.items}, torch threads 1")
    fit_prior_once(model, args)
    with IsolatedRunner() as runner:
        for mode in args.modes.split(","):
            steps, bares, uninformative = measure(mode, model, args, runner)
            step, ref = statistics.median(steps), statistics.median(bares)
            print(f"{mode:9s} step median {step * 1e3:7.1f} ms, bare {ref * 1e3:7.1f} ms: ratio {step / ref:.3f}"
                  f"  ({uninformative} uninformative left out)")


if __name__ == "__main__":
    main()
