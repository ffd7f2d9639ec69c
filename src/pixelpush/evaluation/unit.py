"""One unit of work: one attack configuration on one pair, measured after every step.

Each unit gets a fresh platform over a private copy of the trained recommender, so units are
independent of each other and of the order (or process) they run in.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pixelpush.attacks import (
    Attack,
    AttackContext,
    BlackBoxAttack,
    GeneralPopulation,
    MinNormLeastSquares,
    PartialRankingAttack,
    PopularBlend,
    PopularSwap,
    Segment,
    SpecificUser,
    StepRecord,
    ThreatModel,
    WhiteBoxAttack,
    most_popular_in_category,
)
from pixelpush.evaluation.config import BLACK_BOX, ExperimentConfig
from pixelpush.evaluation.metrics import HR_KS, cosine, hits, ssim
from pixelpush.evaluation.pairs import Pair
from pixelpush.files import write_atomic
from pixelpush.evaluation.preparation import CampaignContext
from pixelpush.platform.evaluator import Evaluator
from pixelpush.platform.service import Platform
from pixelpush.random import derive_seed
from pixelpush.vision.memo import FeatureMemo

ACCESS = {
    "wb": "score",
    "bb-score": "score",
    "bb-rank": "rank",
    "bb-partial": "partial",
    "baseline-swap": "rank",
    "baseline-blend": "rank",
}


@dataclass(frozen=True)
class UnitSpec:
    """What one unit runs: an attack configuration of an experiment group, on one pair."""

    experiment: ExperimentConfig
    recommender: str
    attack: str
    threat_model: str
    perturbations: int
    pair: Pair
    blend_epsilon: float | None = None

    @property
    def unit_id(self) -> str:
        variant = f"d{self.perturbations}" if self.blend_epsilon is None else f"eps{self.blend_epsilon:g}"
        return f"{self.experiment.name}/{self.recommender}/{self.attack}/{self.threat_model}/{variant}/{self.pair.index:04d}"


def build_attack(spec: UnitSpec) -> Attack:
    """The attack object of a unit, from its experiment's hyperparameters."""
    e = spec.experiment
    estimator = MinNormLeastSquares(intercept=e.estimator == "min-norm-intercept")
    if spec.attack == "wb":
        return WhiteBoxAttack(epsilon=e.epsilon, steps=e.steps)
    black_box = {
        "perturbations": spec.perturbations,
        "radius": e.radius,
        "estimator": estimator,
        "rank_to_score": e.rank_to_score,
        "epsilon": e.epsilon,
        "steps": e.steps,
    }
    if spec.attack in ("bb-score", "bb-rank"):
        return BlackBoxAttack(oracle=spec.attack.removeprefix("bb-"), **black_box)
    if spec.attack == "bb-partial":
        return PartialRankingAttack(**black_box)
    if spec.attack == "baseline-swap":
        return PopularSwap(steps=e.steps)
    return PopularBlend(epsilon=float(spec.blend_epsilon or 0.05), steps=e.steps)


def build_threat_model(spec: UnitSpec) -> ThreatModel:
    """The threat model of a unit."""
    e = spec.experiment
    if spec.threat_model == "specific-user":
        return SpecificUser()
    if spec.threat_model == "segment":
        return Segment()
    return GeneralPopulation(n_mock=e.n_mock_users, percentile=e.percentile, n_eval=e.n_eval_users)


def _true_gradients(platform: Platform, user: int, item: int, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The white-box ∂s/∂f and ∂s/∂p at `image` (diagnostics only; never shown to an attack)."""
    pixels = torch.from_numpy(image.astype(np.float32)).requires_grad_(True)
    feats = platform.image_model(pixels[None])
    feats_leaf = feats.detach().requires_grad_(True)
    score = platform.recommender.score(torch.tensor([user]), torch.tensor([item]), feats_leaf)[0, 0]
    (g_feat,) = torch.autograd.grad(score, feats_leaf)
    (g_pix,) = torch.autograd.grad(feats, pixels, grad_outputs=g_feat)
    return g_feat[0].numpy(), g_pix.numpy()


def _save_png(path: Path, image: np.ndarray) -> None:
    write_atomic(path, lambda fh: Image.fromarray(image).save(fh, format="PNG"))


def run_unit(ctx: CampaignContext, spec: UnitSpec, run_dir: Path) -> dict[str, Any]:
    """Run one unit and return its ``pairs.jsonl`` record (see docs/results-schema.md)."""
    started = time.perf_counter()
    seed = derive_seed(ctx.config.seed, spec.unit_id)
    dataset, item = ctx.dataset, spec.pair.item
    recommender = copy.deepcopy(ctx.recommenders[spec.recommender])
    memo = FeatureMemo(ctx.image_model)
    platform = Platform(
        recommender,
        dataset.images,
        ctx.image_model,
        features=ctx.features,
        consumed=dataset.histories,
        visible_fraction=ctx.config.visible_fraction,
        seed=seed,
        memo=memo,
    )
    client = platform.client(ACCESS[spec.attack])
    targeting = build_threat_model(spec).prepare(
        client, item, dataset, seed=derive_seed(ctx.config.seed, "threat", spec.pair.index), user=spec.pair.target_user
    )
    eval_users = np.asarray(targeting.evaluation_users, dtype=np.int64)
    evaluator = Evaluator(platform)
    original = platform.current_image(item)
    setup_uploads, setup_queries = client.uploads, client.queries

    popular = None
    if spec.attack.startswith("baseline"):
        pop_item = most_popular_in_category(item, dataset.categories, dataset.item_popularity)
        popular = dataset.images.get(pop_item)
    attack = build_attack(spec)
    is_bb = spec.attack in BLACK_BOX
    white_box = platform.white_box() if spec.attack == "wb" else None

    def measure() -> tuple[np.ndarray, dict[str, float]]:
        ranks = evaluator.ranks(eval_users, item) if len(eval_users) else np.zeros(0, np.int64)
        return ranks, {str(k): float(hits(ranks, k).mean()) if len(ranks) else 0.0 for k in HR_KS}

    ranks0, hits0 = measure()
    hits_by_step = {k: [v] for k, v in hits0.items()}
    rank_summary = (lambda r: float(np.median(r)) if len(r) else float("nan"))
    rank_by_step = [rank_summary(ranks0)]
    ssim_by_step = [1.0]
    uploads_by_step = [0]
    grad_cos: list[float] = []
    pixel_cos: list[float] = []
    uninformative = 0
    current = original

    def on_step(record: StepRecord) -> None:
        nonlocal current, uninformative
        if is_bb:
            target_user = record.user if record.user is not None else record.attacked_user
            if record.uninformative or record.feature_gradient is None:
                uninformative += 1
            elif target_user is not None:
                true_f, true_p = _true_gradients(platform, int(target_user), item, record.previous)
                grad_cos.append(cosine(record.feature_gradient, true_f))
                if record.pixel_gradient is not None:
                    pixel_cos.append(cosine(record.pixel_gradient, true_p))
        current = record.image
        ranks, h = measure()
        for k, v in h.items():
            hits_by_step[k].append(v)
        rank_by_step.append(rank_summary(ranks))
        ssim_by_step.append(ssim(original, current))
        uploads_by_step.append(client.uploads - setup_uploads)

    ctx_attack = AttackContext(
        client=client,
        item=item,
        image=original,
        targeting=targeting,
        image_model=ctx.image_model,
        memo=memo,
        white_box=white_box,
        popular_image=popular,
        seed=seed,
    )
    result = attack.run(ctx_attack, on_step)

    # A run the budget stopped early keeps its last state for the remaining steps.
    while len(ssim_by_step) < attack.steps + 1:
        for k in hits_by_step:
            hits_by_step[k].append(hits_by_step[k][-1])
        rank_by_step.append(rank_by_step[-1])
        ssim_by_step.append(ssim_by_step[-1])
        uploads_by_step.append(uploads_by_step[-1])

    first_gain = next((t for t, v in enumerate(hits_by_step["20"]) if v > hits_by_step["20"][0]), None)
    images = None
    if spec.pair.index < spec.experiment.images_saved:
        stem = spec.unit_id.replace("/", "_")
        images = {"original": f"images/{stem}_original.png", "attacked": f"images/{stem}_attacked.png"}
        _save_png(run_dir / images["original"], original)
        _save_png(run_dir / images["attacked"], current)
    info = getattr(targeting, "info", {}) or {}
    return {
        "unit": spec.unit_id,
        "experiment": spec.experiment.name,
        "recommender": spec.recommender,
        "attack": spec.attack,
        "threat_model": spec.threat_model,
        "perturbations": spec.perturbations,
        "blend_epsilon": spec.blend_epsilon,
        "steps": attack.steps,
        "pair": spec.pair.index,
        "item": item,
        "target_user": spec.pair.target_user,
        "segment_item": info.get("segment_item"),
        "n_eval_users": int(len(eval_users)),
        "rank_before": rank_by_step[0] if spec.pair.target_user is None else float(ranks0[0]),
        "hits_by_step": hits_by_step,
        "rank_by_step": rank_by_step,
        "ssim_by_step": ssim_by_step,
        "uploads": int(result.uploads),
        "queries": int(result.queries),
        "setup_uploads": int(setup_uploads),
        "setup_queries": int(setup_queries),
        "uploads_by_step": uploads_by_step,
        "uploads_to_top20": uploads_by_step[first_gain] if first_gain is not None else None,
        "gradient_cosine": grad_cos if is_bb else None,
        "pixel_gradient_cosine": pixel_cos if is_bb else None,
        "uninformative_steps": uninformative if is_bb else None,
        "stopped": result.stopped,
        "images": images,
        "seconds": round(time.perf_counter() - started, 3),
    }
