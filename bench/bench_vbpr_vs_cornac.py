"""Our VBPR against Cornac's VBPR on the same interactions and features: time to the same val AUC.

Both train on the same leave-one-out split and the same features (Cornac receives our
normalised features, ``(f - mean) / mean_norm``: raw SqueezeNet features make its training
unstable). Both are evaluated after every epoch with the same exact validation AUC; evaluation
time is excluded from both clocks. The target is the lower of the two best validation AUCs, and
each side's time is its optimisation time until its validation AUC first reaches the target:
wall time, CPU time of the process, and epochs times each side's fastest epoch (every epoch
does the same work, so this is the least disturbed estimate on a shared machine). Each side
runs `--repeats` times per seed, alternately (both are deterministic: a repeat must reach the
same validation AUC at the target's epoch), and each side's quickest run counts: on a shared
machine the quickest is the least disturbed, for both sides alike. Every seed
gets its own split, initialisations, negatives and Cornac run; each is reported, and the
ratios' range.

    .venv/bin/python bench/bench_vbpr_vs_cornac.py [--dataset fashion|synthetic] [--threads 1] [--seeds 0 1 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import time
from contextlib import contextmanager

import numpy as np
import torch

from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.evaluation import auc
from pixelpush.recommenders.registry import build_model
from pixelpush.recommenders.split import Split, leave_one_out
from pixelpush.recommenders.training import TrainConfig, fit

log = logging.getLogger("bench")


def load(dataset: str, cache_dir: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Interactions, raw features, users, items."""
    if dataset == "synthetic":
        from pixelpush.recommenders.synthetic import visual_interactions

        d = visual_interactions(n_users=2000, n_items=3000, n_features=512, seed=0)
        return d.interactions, d.features, d.n_users, d.n_items
    from pixelpush.data.registry import load_dataset
    from pixelpush.vision.features import extract_features
    from pixelpush.vision.models import load_image_model

    data = load_dataset(dataset)
    ic = load_image_model("squeezenet1_1", input_size=int(data.images.get(0).shape[0]))
    feats = np.array(extract_features(ic, data.images, cache_dir=cache_dir, progress=False), dtype=np.float32)
    return data.interactions, feats, data.n_users, data.n_items


class CornacView(Recommender):
    """Cornac's live VBPR tensors behind our interface, so both sides share one AUC function."""

    def __init__(self, params: list[torch.Tensor], features: torch.Tensor) -> None:
        super().__init__()
        self.p, self.features = params, features

    @property
    def n_users(self) -> int:
        return self.p[1].shape[0]

    @property
    def n_items(self) -> int:
        return self.p[0].shape[0]

    def score(self, users, items, features):
        bi, gu, gi, tu, e, bp = (t.detach() for t in self.p)
        f = self.features[items]
        return (bi[items] + (f @ bp).ravel()).unsqueeze(0) + gu[users] @ gi[items].T + tu[users] @ (f @ e).T

    def fold_in(self, history, features, *, seed):  # pragma: no cover - not needed here
        raise NotImplementedError


@contextmanager
def cornac_epoch_hook(on_epoch):
    """Call ``on_epoch(params)`` at the end of each Cornac VBPR epoch (via its progress bar)."""
    import cornac.models.vbpr.recom_vbpr as recom

    captured: list[list[torch.Tensor]] = []
    real_adam, real_tqdm = torch.optim.Adam, recom.tqdm

    class RecordingAdam(real_adam):  # type: ignore[misc, valid-type]
        def __init__(self, params, **kw):
            params = list(params)
            captured.append(params)
            super().__init__(params, **kw)

    class EpochBar(real_tqdm):  # type: ignore[misc, valid-type]
        def close(self):
            done = getattr(self, "_epoch_done", False)
            super().close()
            if captured and not done:
                self._epoch_done = True
                on_epoch(captured[-1])

    torch.optim.Adam, recom.tqdm = RecordingAdam, EpochBar
    try:
        yield
    finally:
        torch.optim.Adam, recom.tqdm = real_adam, real_tqdm


def run_cornac(split: Split, scaled: np.ndarray, epochs: int, seed: int) -> list[tuple[int, float, float, float]]:
    """Cornac VBPR with its default lr and batch size; ``(epoch, val AUC, opt seconds, opt CPU s)`` per epoch."""
    import cornac
    from cornac.data import Dataset, ImageModality

    uid = {u: u for u in range(split.n_users)}
    iid = {i: i for i in range(split.n_items)}
    train = Dataset.build([(int(u), int(i), 1.0) for u, i in split.train], global_uid_map=uid, global_iid_map=iid, seed=seed)
    assert all(train.uid_map[u] == u for u in list(train.uid_map)[:50]), "cornac remapped ids"
    image = ImageModality(features=scaled, ids=list(range(split.n_items)), normalized=False).build(id_map=train.iid_map)
    train.add_modalities(item_image=image)
    order = np.array([train.iid_map[i] for i in range(split.n_items)])
    feats = torch.from_numpy(scaled[np.argsort(order)] if not np.array_equal(order, np.arange(len(order))) else scaled)
    # Our per-triple L2 weight 0.05 on a mean loss = Cornac's lambda/2 on a summed loss.
    model = cornac.models.VBPR(k=10, k2=10, n_epochs=epochs, lambda_w=0.1, lambda_b=0.1, lambda_e=0.0,
                               verbose=True, seed=seed)
    history: list[tuple[int, float, float, float]] = []
    clock = {"start": time.perf_counter(), "eval": 0.0, "cpu_start": time.process_time(), "cpu_eval": 0.0}

    def on_epoch(params):
        t0, c0 = time.perf_counter(), time.process_time()
        val = auc(CornacView(params, feats), feats, split.val, split.all_positives)
        history.append((len(history) + 1, val, t0 - clock["start"] - clock["eval"],
                        c0 - clock["cpu_start"] - clock["cpu_eval"]))
        clock["eval"] += time.perf_counter() - t0
        clock["cpu_eval"] += time.process_time() - c0

    with cornac_epoch_hook(on_epoch):
        clock["start"], clock["cpu_start"] = time.perf_counter(), time.process_time()
        model.fit(train)
    return history


def train_ours(
    split: Split, raw: np.ndarray, seed: int, epochs: int | None = None
) -> tuple[Recommender, list[tuple[int, float, float, float]]]:
    """Our VBPR with the library's defaults (at most `epochs`); ``(epoch, val AUC, opt seconds, opt CPU s)`` per epoch."""
    ours = build_model("vbpr", split.n_users, split.n_items, raw.shape[1], seed=seed)
    config = TrainConfig(seed=seed, progress=False) if epochs is None else TrainConfig(seed=seed, progress=False, epochs=epochs)
    result = fit(ours, raw, split, config)
    return ours, [(e, v, s, c) for (e, v, s), c in zip(result.history, result.cpu_seconds)]


def fastest_epoch(history) -> float:
    """Wall seconds of the quickest epoch (every epoch does the same work; on a shared machine
    the quickest is the least disturbed: epochs x fastest epoch is the noise-robust time)."""
    seconds = [h[2] for h in history]
    return min(b - a for a, b in zip([0.0, *seconds], seconds))


def first_reaching(history, target: float) -> tuple[int, float, float]:
    """(epoch, seconds, CPU seconds) of the first evaluation at or above `target`."""
    for epoch, val, secs, cpu in history:
        if val >= target:
            return epoch, secs, cpu
    raise AssertionError(f"target {target} never reached")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="fashion", help="fashion (needs the embedded asset) or synthetic")
    ap.add_argument("--cache-dir", default=".cache/features")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both sides")
    ap.add_argument("--cornac-epochs", type=int, default=40)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each side per seed (the later ones up to the target's epoch); each side's quickest counts")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    torch.set_num_threads(args.threads)
    pairs, raw, n_users, n_items = load(args.dataset, args.cache_dir)
    print(f"dataset {args.dataset}: {n_users} users x {n_items} items, {len(pairs)} interactions, "
          f"{raw.shape[1]}-d features, {args.threads} thread(s)", flush=True)
    rows = []
    for seed in args.seeds:
        split = leave_one_out(pairs, n_users, n_items, seed=seed)
        ours, ours_hist = train_ours(split, raw, seed)
        scaled = ours.normalise(torch.from_numpy(raw)).numpy()
        cornac_hist = run_cornac(split, scaled, args.cornac_epochs, seed)
        best_ours, best_cornac = max(h[1] for h in ours_hist), max(h[1] for h in cornac_hist)
        target = min(best_ours, best_cornac)
        ho, hc = first_reaching(ours_hist, target), first_reaching(cornac_hist, target)
        fo, fc = fastest_epoch(ours_hist), fastest_epoch(cornac_hist)
        for _ in range(args.repeats - 1):  # both sides again up to the target's epoch; each keeps its quickest
            again_ours = train_ours(split, raw, seed, epochs=ho[0])[1]
            again_cornac = run_cornac(split, scaled, hc[0], seed)
            if again_ours[ho[0] - 1][1] != ours_hist[ho[0] - 1][1] or again_cornac[hc[0] - 1][1] != cornac_hist[hc[0] - 1][1]:
                raise AssertionError(f"seed {seed}: a repeat reached another validation AUC (training is not deterministic)")
            ro, rc = first_reaching(again_ours, target), first_reaching(again_cornac, target)
            ho, hc = (ho[0], min(ho[1], ro[1]), min(ho[2], ro[2])), (hc[0], min(hc[1], rc[1]), min(hc[2], rc[2]))
            fo, fc = min(fo, fastest_epoch(again_ours)), min(fc, fastest_epoch(again_cornac))
        row = {
            "seed": seed, "best_ours": best_ours, "best_cornac": best_cornac, "target": target,
            "epochs_ours": ho[0], "s_ours": ho[1], "epochs_cornac": hc[0], "s_cornac": hc[1],
            "ratio": ho[1] / hc[1], "cpu_ratio": ho[2] / hc[2], "fastest_ours": fo, "fastest_cornac": fc,
            "fastest_ratio": ho[0] * fo / (hc[0] * fc),
            "test_ours": auc(ours, torch.from_numpy(raw), split.test, split.all_positives),
        }
        rows.append(row)
        print(f"seed {seed}: ours best val {best_ours:.4f} ({len(ours_hist)} epochs), cornac {best_cornac:.4f}; "
              f"target {target:.4f}: ours epoch {ho[0]} {ho[1]:.2f} s, cornac epoch {hc[0]} {hc[1]:.2f} s; "
              f"ratio {row['ratio']:.3f} (CPU {row['cpu_ratio']:.3f}, fastest epochs {row['fastest_ratio']:.3f})",
              flush=True)
    columns = [("seed", "seed", "{}"), ("best_ours", "best val ours", "{:.4f}"), ("best_cornac", "cornac", "{:.4f}"),
               ("target", "target", "{:.4f}"), ("epochs_ours", "ours epochs", "{}"), ("s_ours", "s", "{:.2f}"),
               ("epochs_cornac", "cornac epochs", "{}"), ("s_cornac", "s", "{:.2f}"), ("ratio", "ratio", "{:.3f}"),
               ("cpu_ratio", "CPU-time ratio", "{:.3f}"), ("fastest_ours", "fastest epoch ours s", "{:.3f}"),
               ("fastest_cornac", "cornac s", "{:.3f}"), ("fastest_ratio", "ratio by fastest epochs", "{:.3f}"),
               ("test_ours", "test AUC ours", "{:.4f}")]
    print()
    print(" | ".join(label for _, label, _ in columns))
    for row in rows:
        print(" | ".join(fmt.format(row[key]) for key, _, fmt in columns))
    for key in ("ratio", "cpu_ratio", "fastest_ratio"):
        values = [row[key] for row in rows]
        print(f"{key:14s} ours/cornac: {min(values):.3f}-{max(values):.3f} over seeds {args.seeds}")


if __name__ == "__main__":
    main()
