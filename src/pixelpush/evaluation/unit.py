"""One unit of work: one attack configuration on one pair, measured after every step.

Each unit gets a fresh platform over a private copy of the trained recommender, so units are
independent of each other and of the order (or process) they run in. The attack receives an
:class:`~pixelpush.attacks.view.AttackerView` (the client, its own copy of the public image
model, the users it registered, a seed) and nothing else; the evaluation users, the evaluator
and the white-box diagnostics stay on the experimenter's side of this function.
"""

from __future__ import annotations

import copy
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixelpush.attacks import ATTACKS, Attack, AttackContext, AttackerView, StepRecord, most_popular_in_category
from pixelpush.attacks.isolation import IsolatedRunner
from pixelpush.errors import AttackError
from pixelpush.evaluation.config import ExperimentConfig
from pixelpush.evaluation.metrics import HR_KS, cosine, hit_ratio, ssim
from pixelpush.evaluation.pairs import Pair
from pixelpush.defenses.monitor import UploadMonitor
from pixelpush.evaluation.preparation import CampaignContext, model_name
from pixelpush.files import write_atomic
from pixelpush.platform.evaluator import Evaluator
from pixelpush.platform.platform import Platform
from pixelpush.random import derive_seed
from pixelpush.vision.memo import FeatureMemo

__all__ = ["UnitOutcome", "UnitSpec", "compute_unit", "run_unit"]


@dataclass(frozen=True)
class UnitSpec:
    """What one unit runs: an attack configuration of an experiment group, on one pair.

    `key` is the digest of everything that determines the unit's numbers (see
    :mod:`pixelpush.evaluation.keys`); a record is reused on resume only under the same key.
    """

    experiment: ExperimentConfig
    recommender: str
    attack: str
    threat_model: str
    sweep: tuple[tuple[str, Any], ...]
    pair: Pair
    key: str = ""
    defense: str = "none"

    @property
    def perturbations(self) -> int:
        """d' of a black-box configuration (0 for attacks without a d')."""
        return int(dict(self.sweep).get("perturbations", 0))

    @property
    def blend_epsilon(self) -> float | None:
        """ε of a blend configuration (None otherwise)."""
        return float(dict(self.sweep)["epsilon"]) if ATTACKS.get(self.attack).sweep == ("blend_epsilons", "epsilon") else None

    @property
    def unit_id(self) -> str:
        variant = f"d{self.perturbations}" if self.blend_epsilon is None else f"eps{self.blend_epsilon:g}"
        rec = self.recommender if self.defense == "none" else f"{self.recommender}@{self.defense}"
        return f"{self.experiment.name}/{rec}/{self.attack}/{self.threat_model}/{variant}/{self.pair.index:04d}"

    def build_attack(self) -> Attack:
        """The attack object of this unit."""
        return self.experiment.build_attack(self.attack, dict(self.sweep))


@dataclass(frozen=True)
class UnitOutcome:
    """What one unit produced: its ``pairs.jsonl`` record and the files it names.

    `files` maps paths relative to the run folder to their bytes (the PNG uploads of the first
    pairs). A unit never writes into the run folder itself: whoever drives the campaign saves
    the files, then appends the record, so only one process ever writes the folder (whichever
    engine ran the unit, on whichever machine).
    """

    record: dict[str, Any]
    files: dict[str, bytes]

    def save_files(self, run_dir: Path) -> None:
        """Write the unit's files into `run_dir` (atomically, each)."""
        for relative, data in sorted(self.files.items()):
            write_atomic(Path(run_dir) / relative, data)


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def run_unit(ctx: CampaignContext, spec: UnitSpec, run_dir: Path, *, runner: IsolatedRunner | None = None) -> dict[str, Any]:
    """Run one unit, save its files into `run_dir` and return its ``pairs.jsonl`` record."""
    outcome = compute_unit(ctx, spec, runner=runner)
    outcome.save_files(run_dir)
    return outcome.record


def compute_unit(ctx: CampaignContext, spec: UnitSpec, *, runner: IsolatedRunner | None = None) -> UnitOutcome:
    """Run one unit: its record (see docs/results-schema.md) and the files it names.

    With a `runner`, an attack that needs no white-box handle runs in that runner's process
    (:mod:`pixelpush.attacks.isolation`): the numbers are the same.
    """
    started = time.perf_counter()
    seed = derive_seed(ctx.config.seed, spec.unit_id)
    dataset, item, entry = ctx.dataset, spec.pair.item, ATTACKS.get(spec.attack)
    defense = ctx.config.defense(spec.defense)
    catalog = ctx.features_for(defense.pipeline)
    memo = FeatureMemo(ctx.image_model)
    monitor = None
    if spec.recommender in ctx.services:  # a live system: its session is this unit's platform
        from pixelpush.integrations.remote.targets import unit_platform

        platform: Any = unit_platform(ctx, spec.recommender, seed)
        rank_users, white_box, reader = platform.evaluation_ranks, None, None
    else:
        monitor = UploadMonitor(defense.monitor, reference=dataset.images.get) if defense.monitor is not None else None
        platform = Platform(
            copy.deepcopy(ctx.recommenders[model_name(spec.recommender, defense)]),
            dataset.images,
            ctx.image_model,
            features=catalog,
            consumed=dataset.histories,
            visible_fraction=ctx.config.visible_fraction,
            seed=seed,
            memo=memo,
            pipeline=defense.pipeline,
            reveal=defense.reveal,
            monitor=monitor,
        )
        rank_users, white_box, reader = Evaluator(platform).ranks, platform.white_box(), memo.reader()
    try:
        return _run(ctx, spec, runner, platform, defense, catalog, monitor, rank_users, white_box, reader, seed, started)
    except AttackError as err:
        raise AttackError(f"unit {spec.unit_id}: {err}") from err
    finally:
        if hasattr(platform, "close"):
            platform.close()


def _run(
    ctx: CampaignContext,
    spec: UnitSpec,
    runner: IsolatedRunner | None,
    platform: Any,
    defense: Any,
    catalog: np.ndarray,
    monitor: UploadMonitor | None,
    rank_users: Any,
    white_box: Any,
    reader: Any,
    seed: int,
    started: float,
) -> UnitOutcome:
    """The unit on its platform: `rank_users` is the experimenter's uncounted ranks of real users;
    `white_box` the white-box handle (None for a service); `reader` the attacker's feature memo;
    `catalog` the catalog's features as the platform computes them (under the defense's pipeline)."""
    dataset, item, entry = ctx.dataset, spec.pair.item, ATTACKS.get(spec.attack)
    isolated = runner is not None and not entry.white_box
    attack = spec.build_attack()
    knows = getattr(attack, "knows_defense", False) and bool(defense.pipeline)
    view = AttackerView(
        platform.client(entry.access),
        copy.deepcopy(ctx.image_model),
        seed=seed,
        features=None if isolated else reader,
        catalog=None if isolated else catalog,
        pipeline=defense.pipeline if knows else None,
        surrogate=getattr(attack, "surrogate", "identity"),
    )
    prep = spec.experiment.build_threat_model(spec.threat_model).prepare(
        view, item, dataset, seed=derive_seed(ctx.config.seed, "threat", spec.pair.index), user=spec.pair.target_user
    )
    eval_users = np.asarray(prep.evaluation_users, dtype=np.int64)
    original = platform.current_image(item)
    setup_uploads, setup_queries = platform.uploads, platform.queries

    popular = None
    if entry.popular_image:
        popular = dataset.images.get(most_popular_in_category(item, dataset.categories, dataset.item_popularity))

    def measure() -> tuple[np.ndarray, dict[str, float]]:
        ranks = rank_users(eval_users, item) if len(eval_users) else np.zeros(0, np.int64)
        return ranks, {str(k): hit_ratio(ranks, k) for k in HR_KS}

    ranks0, hits0 = measure()
    hits_by_step = {k: [v] for k, v in hits0.items()}
    rank_summary = (lambda r: float(np.median(r)) if len(r) else float("nan"))
    rank_by_step = [rank_summary(ranks0)]
    ssim_by_step = [1.0]
    uploads_by_step = [0]
    grad_cos: list[float] = []
    pixel_cos: list[float] = []
    cos_by_step: list[float | None] = []
    uninformative = 0
    current = original

    def on_step(record: StepRecord) -> None:
        nonlocal current, uninformative
        if entry.black_box:
            target_user = record.user if record.user is not None else record.attacked_user
            cos_by_step.append(None)
            if record.uninformative or record.feature_gradient is None:
                uninformative += 1
            elif target_user is not None and white_box is not None:
                true_f, true_p = white_box.gradients_at(int(target_user), item, record.previous)
                grad_cos.append(cosine(record.feature_gradient, true_f))
                cos_by_step[-1] = grad_cos[-1]
                if record.pixel_gradient is not None:
                    pixel_cos.append(cosine(record.pixel_gradient, true_p))
        current = record.image
        ranks, h = measure()
        for k, v in h.items():
            hits_by_step[k].append(v)
        rank_by_step.append(rank_summary(ranks))
        ssim_by_step.append(ssim(original, current))
        uploads_by_step.append(platform.uploads - setup_uploads)

    if isolated:
        assert runner is not None
        result = runner.run(
            attack,
            client=view.client,
            image_model=ctx.image_model,
            model_key=ctx.image_model.identity,
            catalog=catalog,
            catalog_key=f"{ctx.features_digest}|{defense.pipeline.identity}",
            pipeline=defense.pipeline if knows else None,
            surrogate=getattr(attack, "surrogate", "identity"),
            seed=seed,
            users=view.registered(),
            item=item,
            image=original,
            targeting=prep.targeting,
            popular_image=popular,
            on_step=on_step,
        )
    else:
        ctx_attack = AttackContext(
            view=view,
            item=item,
            image=original,
            targeting=prep.targeting,
            white_box=white_box if entry.white_box else None,
            popular_image=popular,
        )
        result = attack.run(ctx_attack, on_step)

    # A run the budget stopped early keeps its last state for the remaining steps.
    while len(ssim_by_step) < attack.steps + 1:
        cos_by_step.append(None)
        for k in hits_by_step:
            hits_by_step[k].append(hits_by_step[k][-1])
        rank_by_step.append(rank_by_step[-1])
        ssim_by_step.append(ssim_by_step[-1])
        uploads_by_step.append(uploads_by_step[-1])

    first_gain = next((t for t, v in enumerate(hits_by_step["20"]) if v > hits_by_step["20"][0]), None)
    images, files = None, {}
    if spec.pair.index < spec.experiment.images_saved:
        stem = spec.unit_id.replace("/", "_")
        images = {"original": f"images/{stem}_original.png", "attacked": f"images/{stem}_attacked.png"}
        files = {images["original"]: _png_bytes(original), images["attacked"]: _png_bytes(current)}
    is_bb = entry.black_box
    extra: dict[str, Any] = {}
    if spec.defense != "none":
        extra["defense"] = spec.defense
    if monitor is not None:
        distances = monitor.distances(item)
        extra["monitor"] = {"distances": distances, "first_flag": monitor.first_flag(item)}
    record = {
        **extra,
        "unit": spec.unit_id,
        "key": spec.key,
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
        "segment_item": prep.info.get("segment_item"),
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
        "gradient_cosine_by_step": cos_by_step if is_bb else None,
        "pixel_gradient_cosine": pixel_cos if is_bb else None,
        "uninformative_steps": uninformative if is_bb else None,
        "stopped": result.stopped,
        "images": images,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return UnitOutcome(record, files)
