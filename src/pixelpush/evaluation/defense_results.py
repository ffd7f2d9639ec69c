"""The defenses' part of ``results.json``: each defense's clean AUC cost, what a reveal limit costs
genuine new users, and the upload monitor's trade-off between attack and benign streams."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from pixelpush.defenses.monitor import MonitorConfig, benign_streams, detection_curve, flag_event
from pixelpush.defenses.reveal import new_user_quality
from pixelpush.evaluation.preparation import CampaignContext, model_name
from pixelpush.random import derive_seed

__all__ = ["defense_results", "detection_results"]

THRESHOLDS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
BENIGN_UPLOADS = 3
"""Uploads per simulated honest seller: a rule needing more near-duplicates than this never flags one."""
HASH_DISTANCES = (0, 2, 4, 6, 8, 10, 12)


def _used(ctx: CampaignContext) -> dict[str, list[str]]:
    """Defense name -> the recommenders the experiments attack under it."""
    out: dict[str, list[str]] = defaultdict(list)
    for e in ctx.config.experiments:
        for d in e.defenses:
            for rec in e.recommenders:
                if rec not in out[d]:
                    out[d].append(rec)
    return dict(out)


def defense_results(ctx: CampaignContext) -> dict[str, Any]:
    """Per defense: its components, per attacked recommender the clean test AUC and its change
    against the undefended model, and for reveal limits the genuine new users' HR@10/HR@20."""
    from pixelpush.recommenders.split import leave_one_out

    split = None
    out: dict[str, Any] = {}
    for name, recs in _used(ctx).items():
        defense = ctx.config.defense(name)
        entry: dict[str, Any] = {"components": defense.config(), "models": {}}
        for rec in recs:
            m = ctx.model_metrics[model_name(rec, defense)]
            entry["models"][rec] = {"auc": m["auc"], "auc_change": float(m.get("auc_change", 0.0))}
        if defense.reveal is not None:
            if split is None:
                ds = ctx.dataset
                split = leave_one_out(ds.interactions, ds.n_users, ds.n_items, seed=derive_seed(ctx.config.seed, "split"))
            entry["new_users"] = {}
            for rec in recs:
                common = dict(n_users=ctx.config.new_user_sample, seed=derive_seed(ctx.config.seed, "new-users"),
                              pipeline=defense.pipeline)
                args = (ctx.recommenders[model_name(rec, defense)], ctx.dataset.images, ctx.image_model,
                        ctx.features_for(defense.pipeline), split.train_histories(), split.test)
                entry["new_users"][rec] = {"undefended": new_user_quality(*args, reveal=None, **common),
                                           "defended": new_user_quality(*args, reveal=defense.reveal, **common)}
        out[name] = entry
    return out


def detection_results(ctx: CampaignContext, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The monitor's TPR per attack configuration and FPR on benign re-uploads, at every threshold."""
    monitored = [r for r in records if isinstance(r.get("monitor"), dict)]
    if not monitored:
        return None
    ds = ctx.dataset
    seed = derive_seed(ctx.config.seed, "benign")
    benign = {kind: benign_streams(ds.images.get, ds.categories, n=ctx.config.benign_sellers, seed=seed, kind=kind,
                                   uploads=BENIGN_UPLOADS)
              for kind in ("replace", "touch-up")}
    everything = benign["replace"] + benign["touch-up"]
    groups: dict[tuple[str, ...], list[list[int]]] = defaultdict(list)
    for r in monitored:
        groups[(r["experiment"], r["recommender"], str(r.get("defense")), r["attack"], str(r["perturbations"]))].append(
            r["monitor"]["distances"])
    curves = []
    for key, streams in sorted(groups.items()):
        for h in HASH_DISTANCES:
            for point in detection_curve(streams, everything, hash_distance=h, thresholds=THRESHOLDS):
                fpr = {kind: float(np.mean([flag_event(s, MonitorConfig(hash_distance=h, near_duplicates=point["near_duplicates"]))
                                            is not None for s in streams_b])) for kind, streams_b in benign.items()}
                curves.append({"experiment": key[0], "recommender": key[1], "defense": key[2], "attack": key[3],
                               "perturbations": int(key[4]), **point, "fpr_replace": fpr["replace"], "fpr_touch_up": fpr["touch-up"]})
    benign_min = {kind: [min(s) if s else 64 for s in streams_b] for kind, streams_b in benign.items()}
    return {"curves": curves, "benign_sellers": ctx.config.benign_sellers, "benign_uploads": BENIGN_UPLOADS,
            "benign_min_distance": {k: {"median": float(np.median(v)), "p01": float(np.percentile(v, 1))} for k, v in benign_min.items()}}
