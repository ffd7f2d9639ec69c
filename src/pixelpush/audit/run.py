"""Running an audit: its campaign (resumable, keyed, locked), then ``audit.json`` and ``audit.html``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pixelpush
from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS
from pixelpush.audit.analysis import ItemFacts, access_label, analyse, attack_access
from pixelpush.audit.config import AuditConfig, knows_defense, load_audit_config
from pixelpush.audit.defenses import analyse_defenses
from pixelpush.data.catalog import Dataset
from pixelpush.evaluation.campaign import plan_units, run_campaign
from pixelpush.evaluation.pair_log import PairLog
from pixelpush.evaluation.preparation import prepare_inputs
from pixelpush.files import write_json_atomic
from pixelpush.outputs import check_output_dir, check_output_file

__all__ = ["AUDIT_FORMAT", "build_audit", "run_audit"]

_log = logging.getLogger(__name__)

AUDIT_FORMAT = 1

ATTACK_TEXT = {
    "wb": "knows the model and its parameters (an insider, or a model published as is): the worst case",
    "bb-score": "reads the scores the service shows, probes perturbed uploads every step (the paper's BB-Score)",
    "bb-rank": "reads only where the item ranks for its own accounts, probes perturbed uploads every step (BB-Rank)",
    "bb-partial": "sees only the top of its accounts' rankings (BB-Partial)",
    "prior-score": "fits the whole catalog's scores once, then one upload per step, no probes",
    "prior-rank": "fits its accounts' full rankings once, then one upload per step",
    "prior-partial": "fits the visible top of its accounts' rankings, then one upload per step",
}
ADAPTIVE_TEXT = "adaptive: it knows what the service does to uploads (its ingest pipeline) and attacks through it"
THREAT_TEXT = {
    "specific-user": "push an item to one chosen user (the attacker registers a copy of that user's history)",
    "segment": "push an item to the users of a segment (those who bought another item of its category)",
    "general": "push an item to everyone (the attacker registers {n_mock} accounts with one item each; measured on {n_eval} real users)",
}


def _items(dataset: Dataset) -> ItemFacts:
    return ItemFacts(dataset.item_popularity, dataset.categories, dataset.category_names, tuple(dataset.item_labels))


def build_audit(audit: AuditConfig, skipped: list[dict[str, str]], results: dict[str, Any], records: list[dict[str, Any]], dataset: Dataset) -> dict[str, Any]:
    """``audit.json`` from the audit's config, its campaign's results and records, and the dataset.

    Everything but ``defenses`` reads the undefended records only; ``defenses`` (present when
    ``[audit] defenses`` names any) sets each defense's records beside them."""
    campaign, settings = audit.campaign, audit.audit
    visible = campaign.visible_fraction
    models = {}
    for name in settings.models:
        entry = campaign.model_entry(name)
        figures = results["recommenders"].get(name, {})
        spec = campaign.model_spec(name)
        models[name] = {
            "label": entry.label,
            "source": "service" if spec is not None and spec.service else "factory" if spec is not None else "trained by pixelpush",
            "auc": figures.get("auc"),
            "visual_gain": figures.get("visual_gain"),
            "gradients": bool(entry.gradients),
            "shows": settings.access.get(name, "score"),
        }
    attacks = [
        {"id": a, "label": ATTACKS.label(a), "access": attack_access(a), "access_label": access_label(attack_access(a), visible),
         "what": "; ".join(t for t in (ATTACK_TEXT.get(a.partition(":")[0], ""), ADAPTIVE_TEXT if knows_defense(settings, a) else "") if t),
         "adaptive": knows_defense(settings, a)}
        for a in settings.attacks
    ]
    undefended = [r for r in records if r.get("defense", "none") == "none"]
    threats = [
        {"id": t, "label": THREAT_MODELS.label(t),
         "what": THREAT_TEXT.get(t, "").format(n_mock=settings.n_mock_users, n_eval=settings.n_eval_users)}
        for t in settings.threat_models
    ]
    return {
        "format": AUDIT_FORMAT,
        "pixelpush": pixelpush.__version__,
        "dataset": results["dataset"],
        "image_model": results["image_model"],
        "models": models,
        "battery": {
            "threat_models": threats,
            "attacks": attacks,
            "skipped": skipped,
            "pairs": settings.pairs,
            "steps": settings.steps,
            "perturbations": settings.perturbations,
            "visible_fraction": visible,
            "access_levels": {a: access_label(a, visible) for a in ("white-box", "score", "rank", "partial")},
        },
        **analyse(undefended, _items(dataset), models, visible_fraction=visible, top_items=settings.top_items),
        **({"defenses": analyse_defenses(
            records, [campaign.defense(d) for d in settings.defenses], figures=results.get("defenses", {}), models=models,
            adaptive={a for a in settings.attacks if knows_defense(settings, a)}, visible_fraction=visible,
        )} if settings.defenses else {}),
        "settings": settings.model_dump(mode="json"),
        "seed": campaign.seed,
    }


def run_audit(
    config_path: str | Path, out: str | Path, *, workers: int = 1, force: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) the audit of `config_path` in `out`; write and return ``audit.json``, render ``audit.html``."""
    from pixelpush.audit.report import render_audit
    from pixelpush.report import render_report

    config_path, out = Path(config_path), Path(out)
    audit, skipped = load_audit_config(config_path)
    campaign = audit.campaign
    check_output_dir(out, "--out")
    for name in ("audit.json", "audit.html"):
        check_output_file(out / name, "--out")
    inputs = prepare_inputs(campaign, progress=progress)
    results = run_campaign(campaign, out, workers=workers, force=force, config_source=config_path, progress=progress, inputs=inputs)
    expected = {u.unit_id: u.key for u in plan_units(campaign, inputs)}
    records = [r for r in PairLog(out / "pairs.jsonl").records() if expected.get(r["unit"]) == r.get("key")]
    document = build_audit(audit, skipped, results, records, inputs.dataset)
    write_json_atomic(out / "audit.json", document)
    render_report(out)
    render_audit(out)
    _log.info("audit written to %s", out / "audit.html")
    return document
