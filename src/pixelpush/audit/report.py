"""``audit.html``: the audit for someone who has not read the paper, from ``audit.json`` alone.

Self-contained (inline CSS, figures and images as base64 PNG, no scripts). Sections: the
verdict, what was tried, exposure by threat model and access level, uploads needed, popularity
and category, image distortion, the most exposed items, what the defenses change (only when the
audit ran defenses), what to do, details.
"""

from __future__ import annotations

import html
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS
from pixelpush.audit.config import ACCESS_ORDER
from pixelpush.errors import DataError
from pixelpush.files import write_atomic
from pixelpush.outputs import check_output_file
from pixelpush.report.images import load_rgb
from pixelpush.report.page import html_table, number_text, png_data_uri
from pixelpush.report.render import figure_png

__all__ = ["AUDIT_HTML", "render_audit"]

_log = logging.getLogger(__name__)

AUDIT_HTML = "audit.html"
ACCESS_COLORS = {"white-box": "#555555", "score": "#d62728", "rank": "#ff7f0e", "partial": "#2ca02c"}
RISK_COLORS = {"high": "#b00020", "moderate": "#b36b00", "low": "#2e7d32", "unknown": "#555555"}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.sub { color: #666; margin-top: 0; }
.verdict { border-left: 6px solid; padding: 0.6em 1em; background: #fafafa; margin: 1em 0; }
.badge { display: inline-block; color: #fff; border-radius: 3px; padding: 0.05em 0.5em; font-weight: 600; font-size: 0.85em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #8a5a00; background: #fff8e6; border-left: 3px solid #e0a800; padding: 0.3em 0.7em; }
.pair { display: inline-block; margin: 0 1.2em 1em 0; font-size: 0.85em; color: #444; }
.pair img { width: 112px; height: 112px; image-rendering: pixelated; border: 1px solid #ddd; margin-right: 2px; }
dt { font-weight: 600; } dd { margin: 0 0 0.5em 1.2em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _pct(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.0%}"


def _figure(fig: Figure, title: str, caption: str, name: str) -> str:
    # The title goes in the caption, not on the image: a suptitle wider than a one-column
    # figure is clipped at both edges (seen in headless Chromium).
    png = figure_png(fig)
    return (f'<figure id="fig-{_e(name)}"><img alt="{_e(title)}" src="{png_data_uri(png)}">'
            f"<figcaption><b>{_e(title)}.</b> {_e(caption)}</figcaption></figure>")


def _labels(doc: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    models = {k: v.get("label", k) for k, v in doc["models"].items()}
    access = doc["battery"]["access_levels"]
    return models, access


# -- figures -------------------------------------------------------------------------------------


def _exposure_figure(doc: dict[str, Any]) -> str:
    models, access = _labels(doc)
    threats = [t["id"] for t in doc["battery"]["threat_models"]]
    fig = Figure(figsize=(3.2 * max(1, len(threats)), 2.8 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), len(threats), squeeze=False)
    for r, model in enumerate(models):
        for c, threat in enumerate(threats):
            ax = axes[r][c]
            rows = [x for x in doc["exposure"] if x["model"] == model and x["threat_model"] == threat]
            rows.sort(key=lambda x: ACCESS_ORDER.index(x["access"]))
            xs = np.arange(len(rows))
            ax.bar(xs, [x["hr"]["20"] for x in rows], color=[ACCESS_COLORS[x["access"]] for x in rows], label="after")
            ax.bar(xs, [x["hr_before"]["20"] for x in rows], color="#dddddd", width=0.5, label="before")
            ax.set_xticks(xs, [x["access"] for x in rows], fontsize="small")
            ax.set_ylim(0, 1)
            ax.set_title(f"{models[model]} · {THREAT_MODELS.label(threat)}", fontsize="small")
            if c == 0:
                ax.set_ylabel("HR@20")
    return _figure(fig, "Exposure: share of targeted items pushed into the top 20",
                   "One bar per access level (the best attack at that level); grey: the same pairs before the attack. "
                   + "; ".join(f"{k} = {v}" for k, v in access.items()) + ".", "exposure")


def _uploads_figure(doc: dict[str, Any]) -> str | None:
    models, _ = _labels(doc)
    rows = [r for r in doc["uploads_to_top20"]["rows"] if r["access"] != "white-box"]
    if not any(r["reached"] for r in rows):
        return None
    threats = [t["id"] for t in doc["battery"]["threat_models"]]
    fig = Figure(figsize=(3.4 * max(1, len(threats)), 2.8 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), len(threats), squeeze=False)
    for r, model in enumerate(models):
        for c, threat in enumerate(threats):
            ax = axes[r][c]
            for row in rows:
                if row["model"] != model or row["threat_model"] != threat or not row["values"]:
                    continue
                values = np.sort(np.asarray(row["values"], dtype=float))
                share = np.arange(1, len(values) + 1) / row["pairs"]
                ax.step(np.maximum(values, 1), share, where="post", label=ATTACKS.label(row["attack"]),
                        color=ACCESS_COLORS[row["access"]], alpha=0.45 + 0.55 * row["attack"].startswith("prior"))
            ax.set_xscale("log")
            ax.set_ylim(0, 1)
            ax.set_title(f"{models[model]} · {THREAT_MODELS.label(threat)}", fontsize="small")
            ax.set_xlabel("uploads (log)")
            if c == 0:
                ax.set_ylabel("share of pairs in top 20")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="x-small")
    return _figure(fig, "Uploads needed to reach the top 20",
                   "For each attack, the share of pairs that had reached the top 20 within x uploads (probes count as uploads). "
                   "A curve far to the left is a cheap attack; a cap on uploads per item at x stops what lies to its right.",
                   "uploads")


def _breakdown_figure(doc: dict[str, Any], key: str, title: str, xlabel: str) -> str | None:
    models, access = _labels(doc)
    rows = [r for r in doc[key]["rows"] if r["threat_model"] == "specific-user"] or doc[key]["rows"]
    if not rows:
        return None
    fig = Figure(figsize=(7.5, 2.8 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), 1, squeeze=False)
    for r, model in enumerate(models):
        ax = axes[r][0]
        mine = [x for x in rows if x["model"] == model]
        for x in mine:
            labels = [str(b["bucket"]) for b in x["buckets"]]
            values = [b["hr20"] if b["hr20"] is not None else np.nan for b in x["buckets"]]
            ax.plot(np.arange(len(labels)), values, marker="o", color=ACCESS_COLORS[x["access"]], label=f"{x['access']} ({ATTACKS.label(x['attack'])})")
            ax.set_xticks(np.arange(len(labels)), labels)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("HR@20")
        ax.set_title(models[model], fontsize="small")
        ax.tick_params(axis="x", labelsize="small", rotation=30 if key == "by_category" else 0)
        if mine:
            ax.legend(fontsize="x-small")
    axes[-1][0].set_xlabel(xlabel)
    threat = rows[0]["threat_model"]
    return _figure(fig, title, f"{THREAT_MODELS.label(threat)} threat model, best attack per access level; a gap in a line "
                   "means no pair of that group was drawn.", key)


# -- sections ------------------------------------------------------------------------------------


def _verdict_html(doc: dict[str, Any]) -> str:
    models, _ = _labels(doc)
    parts = []
    for model, v in doc["verdict"].items():
        color = RISK_COLORS.get(v["risk"], "#555")
        findings = "".join(f"<li>{_e(f)}</li>" for f in v["findings"])
        m = doc["models"].get(model, {})
        accuracy = "" if m.get("auc") is None else (
            f' · its own accuracy: AUC {number_text(m["auc"], "{:.4f}")}'
            + ("" if m.get("visual_gain") is None else f', {number_text(m["visual_gain"], "{:+.1%}")} over the same data without images')
        )
        parts.append(
            f'<div class="verdict" style="border-color:{color}"><p><span class="badge" style="background:{color}">'
            f'{_e(v["risk"]).upper()} RISK</span> <b>{_e(models.get(model, model))}</b>{_e(accuracy)}</p><p>{_e(v["headline"])}</p>'
            f"<ul>{findings}</ul></div>"
        )
    return "".join(parts)


def _tried_html(doc: dict[str, Any]) -> str:
    b = doc["battery"]
    threats = "".join(f"<li><b>{_e(t['label'])}</b>: {_e(t['what'])}.</li>" for t in b["threat_models"])
    per_step = f"{b['perturbations']} probes per step"
    attack_rows = [[_e(a["label"]), _e(a["access_label"]), _e(a["what"])] for a in b["attacks"]]
    skipped = "".join(f"<li>{_e(s['attack'])} against {_e(s['model'])}: not run, {_e(s['why'])}.</li>" for s in b["skipped"])
    return (
        "<p>A seller cannot change your model, but can change the photo of their own product. Each attack below "
        "starts from the item's real photo and changes its pixels a little at a time (one intensity level per step, "
        f"{b['steps']} steps), keeping each change only because your system ranked the item higher for the "
        "attacker's own accounts. Pushing means: the item climbs in the recommendations of real users who never "
        "interacted with the seller. Every attacker account is registered through your service as a normal user "
        "would be, and every probe is an upload: nothing reads your model's internals except the white-box attack, "
        f"which is the worst case, not a realistic one. The paper's black-box attacks (BB) spend {per_step}; the prior "
        "attacks spend one upload per step after a single look at the whole catalog.</p>"
        f"<p>Whom the seller targets (threat models), each on {b['pairs']} randomly drawn items, the same items for every model:</p>"
        f"<ul>{threats}</ul><p>What the seller sees, and the attacks that use it:</p>"
        + html_table(["attack", "sees", "how it works"], attack_rows, numeric_from=99)
        + (f"<p>Not run:</p><ul>{skipped}</ul>" if skipped else "")
    )


def _exposure_html(doc: dict[str, Any]) -> str:
    models, access = _labels(doc)
    levels = [a for a in ACCESS_ORDER if any(r["access"] == a for r in doc["exposure"])]
    rows = []
    for model in models:
        for threat in [t["id"] for t in doc["battery"]["threat_models"]]:
            cells = []
            for level in levels:
                r = next((x for x in doc["exposure"] if x["model"] == model and x["threat_model"] == threat and x["access"] == level), None)
                cells.append("not run" if r is None else
                             f"<b>{number_text(r['hr']['20'])}</b> <small>from {number_text(r['hr_before']['20'])} · {_e(ATTACKS.label(r['best_attack']))}"
                             f" · rank {number_text(r['rank_before_median'], '{:.0f}')}→{number_text(r['rank_after_median'], '{:.0f}')}</small>")
            rows.append([_e(models[model]), _e(THREAT_MODELS.label(threat)), *cells])
    detail = [[_e(models.get(r["model"], r["model"])), _e(THREAT_MODELS.label(r["threat_model"])), _e(r["attack_label"]),
               number_text(r["hr_before"]["20"]), f"<b>{number_text(r['hr']['20'])}</b>", number_text(r["hr"]["10"]), number_text(r["hr"]["1"]), _pct(r["success_rate"]),
               f"{number_text(r['rank_before_median'], '{:.0f}')} → {number_text(r['rank_after_median'], '{:.0f}')}",
               number_text(r["uploads_per_pair"], "{:.0f}"), number_text(r["uploads_to_top20_median"], "{:.0f}")] for r in doc["attacks"]]
    return (
        "<p><b>HR@20</b> (hit ratio) is the share of (user, pushed item) pairs where the item is among the user's top 20 "
        "recommendations, after the attack (and, small, before it on the same pairs). Each cell is the best attack at that access "
        "level; <i>rank</i> is the median position of the pushed item for the users measured, before → after.</p>"
        + html_table(["model", "threat model", *(access[a] for a in levels)], rows, numeric_from=2, table_id="exposure")
        + _exposure_figure(doc)
        + "<h3>Every attack</h3><p><b>Success</b>: the share of pushed items whose HR@20 rose at all. Uploads count the doctored "
        "photo and every probe.</p>"
        + html_table(["model", "threat model", "attack", "HR@20 before", "HR@20 after", "HR@10", "HR@1", "success", "median rank",
                  "uploads per item", "median uploads to top 20"], detail, numeric_from=3, table_id="attacks")
    )


def _uploads_html(doc: dict[str, Any]) -> str:
    models, _ = _labels(doc)
    caps = doc["uploads_to_top20"]["caps"]
    rows = []
    for r in doc["uploads_to_top20"]["rows"]:
        q = r["quantiles"] or {}
        rows.append([_e(models.get(r["model"], r["model"])), _e(THREAT_MODELS.label(r["threat_model"])), _e(ATTACKS.label(r["attack"])),
                     f"{r['reached']}/{r['pairs']}", number_text(q.get("min"), "{:.0f}"), number_text(q.get("median"), "{:.0f}"),
                     number_text(q.get("max"), "{:.0f}"), *(_pct(r["reached_within"][str(c)]) for c in caps)])
    fig = _uploads_figure(doc)
    return (
        "<p>How many uploads (the doctored photo itself plus every probe) it took until the item entered the top 20. "
        "The last columns say what share of the pairs would still have succeeded under a cap on uploads per item.</p>"
        + html_table(["model", "threat model", "attack", "reached", "min", "median", "max", *(f"within {c}" for c in caps)],
                 rows, numeric_from=3, table_id="uploads")
        + (fig or '<p class="note">No attack reached the top 20: nothing to plot.</p>')
    )


def _breakdowns_html(doc: dict[str, Any]) -> str:
    ranges = doc["by_popularity"]["deciles"]
    span = ", ".join(f"{d['decile']}: {d['min']}–{d['max']}" for d in ranges if d["min"] is not None)
    pop = _breakdown_figure(doc, "by_popularity", "Exposure by the pushed item's popularity", "popularity decile (1 = least consumed)")
    cat = _breakdown_figure(doc, "by_category", "Exposure by the pushed item's category", "category")
    return (
        "<p>Are some items easier to push? Items are split into ten groups by how many users consumed them "
        f"(users per item, by decile: {_e(span)}) and by category.</p>" + (pop or "") + (cat or "")
    )


def _ssim_html(doc: dict[str, Any], run_dir: Path) -> str:
    models, _ = _labels(doc)
    rows = [[_e(models.get(r["model"], r["model"])), _e(THREAT_MODELS.label(r["threat_model"])), _e(ATTACKS.label(r["attack"])),
             number_text(r["ssim_final"]), number_text(r["ssim_final_min"]), number_text(r["ssim_at_top20_median"])] for r in doc["attacks"]]
    return (
        "<p>SSIM (structural similarity) compares the doctored photo with the original: 1 means identical; the paper's "
        "attacks stayed above 0.9 on product photos, where people rarely notice the change. Low values here mean the "
        "change is visible if someone looks: a reviewer comparing photo versions would catch it.</p>"
        + html_table(["model", "threat model", "attack", "SSIM at the end (mean)", "lowest", "SSIM when the top 20 was reached (median)"],
                 rows, numeric_from=3, table_id="ssim")
        + _examples_html(doc, run_dir)
    )


def _img(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return f'<img alt="" src="{png_data_uri(buf.getvalue())}">'


def _examples_html(doc: dict[str, Any], run_dir: Path) -> str:
    shown = []
    for row in doc["most_exposed"]:
        images = row.get("images") or {}
        before, after = load_rgb(run_dir, images.get("original")), load_rgb(run_dir, images.get("attacked"))
        if before is None or after is None or before.shape != after.shape:
            continue
        diff = np.clip(np.abs(after.astype(np.int16) - before.astype(np.int16)) * 8, 0, 255).astype(np.uint8)
        shown.append(
            f'<div class="pair">{_img(before)}{_img(after)}{_img(diff)}<br>item {_e(row["label"])} · {_e(ATTACKS.label(row["attack"]))} · '
            f'rank {number_text(row["rank_before"], "{:.0f}")} → {number_text(row["rank_after"], "{:.0f}")} · SSIM {number_text(row["ssim"])}</div>'
        )
        if len(shown) == 4:
            break
    if not shown:
        return '<p class="note">No before/after images were kept for the most exposed items (images are kept for the first pairs of each attack: [audit] images_saved).</p>'
    return "<p>Original, doctored, and their difference (×8) for exposed items whose images were kept:</p>" + "".join(shown)


def _items_html(doc: dict[str, Any]) -> str:
    models, access = _labels(doc)
    rows = [[_e(r["label"]), _e(models.get(r["model"], r["model"])), _e(r["category"]), f"{r['popularity']} (decile {r['popularity_decile']})",
             _e(THREAT_MODELS.label(r["threat_model"])), _e(ATTACKS.label(r["attack"])), number_text(r["rank_before"], "{:.0f}"),
             number_text(r["rank_after"], "{:.0f}"), number_text(r["uploads_to_top20"], "{:.0f}"), number_text(r["ssim"])] for r in doc["most_exposed"]]
    return ("<p>The pushes that reached the top 20 with the fewest uploads (black-box attacks only), then those that climbed most. "
            "Rank is the item's position for the targeted user (segment and everyone: the median over the users measured).</p>"
            + html_table(["item", "model", "category", "users who consumed it", "threat model", "attack", "rank before", "rank after",
                      "uploads to top 20", "SSIM"], rows, numeric_from=6, table_id="most-exposed"))


def _defenses_html(doc: dict[str, Any]) -> str:
    models, _ = _labels(doc)
    rows, notes = [], []
    for name, d in doc["defenses"].items():
        notes.append(f"<h3>{_e(name)}: {_e(d['label'])}</h3><p>The service {_e(d['what'])}.</p>")
        for model, m in d["models"].items():
            notes.append(f"<p>{_e(m['summary'])}</p><p class=\"note\">{_e(m['caveat'])}</p>")
            auc = "-" if m["auc"] is None else f"{m['auc']:.4f} ({number_text(m['auc_change'], '{:+.4f}')})"
            for r in m["exposure"]:
                u = r["undefended"] or {}
                attack = _e(r["attack_label"]) + (" <b>(adaptive)</b>" if r["adaptive"] else "")
                rows.append([
                    _e(models.get(model, model)), _e(name), _e(THREAT_MODELS.label(r["threat_model"])), _e(r["access_label"]), attack,
                    f"{number_text(u.get('hr', {}).get('20'))} <small>{_e(ATTACKS.label(u['attack'])) if u else ''}</small>",
                    f"<b>{number_text(r['hr']['20'])}</b> <small>from {number_text(r['hr_before']['20'])}</small>", _pct(r["success_rate"]),
                    f"{number_text(u.get('uploads_per_pair'), '{:.0f}')} → {number_text(r['uploads_per_pair'], '{:.0f}')}", auc,
                ])
    return (
        "<p>A defense is something your service does: to every uploaded photo, to how the model is trained, or to what new "
        "accounts are shown. Each audited model was attacked again under each defense below, with the same attacks on the "
        "same items; the table sets the share of targeted items pushed into the top 20 under the defense beside the share "
        "without it (the strongest attack at each access level, each way), with what the defense costs in accuracy (AUC on "
        "held-out items, and its change against the undefended model).</p>"
        + html_table(["model", "defense", "threat model", "attacker sees", "strongest attack under the defense",
                  "HR@20 without the defense", "HR@20 with it", "success with it", "uploads per item (without → with)",
                  "AUC with it (change)"], rows, numeric_from=5, table_id="defenses")
        + "<p class=\"note\">A defense counts only against an attack that knows it. The paper's attacks do not know what the "
        "service does to uploads, so a defense that stops them may still fall to an attacker who adapts to it: on pixelpush's default "
        "catalog, JPEG re-encoding at quality 75 took the paper's white-box attack from 0.97 to 0.17, and one that attacks "
        "through a stand-in of the JPEG step (EOT) back up to 0.77 (docs/defenses.md). Rows marked <b>(adaptive)</b> come from attacks that knew the defense; the others did not.</p>"
        + "".join(notes)
    )


def _actions_html(doc: dict[str, Any]) -> str:
    models, _ = _labels(doc)
    parts = []
    for model, v in doc["verdict"].items():
        items = "".join(f"<li>{_e(a)}</li>" for a in v["actions"])
        parts.append(f"<h3>{_e(models.get(model, model))}</h3><ol>{items}</ol>")
    return "".join(parts)


def _details_html(doc: dict[str, Any]) -> str:
    rows = [[_e(m.get("label", k)), _e(m["source"]), number_text(m.get("auc"), "{:.4f}"), number_text(m.get("visual_gain"), "{:+.1%}"),
             "yes" if m["gradients"] else "no", _e(m["shows"])] for k, m in doc["models"].items()]
    ds = doc["dataset"]
    glossary = {
        "AUC": "how often the model ranks a user's held-out item above an item they never consumed (0.5 = chance); measured on the campaign's held-out items.",
        "visual gain": "AUC relative to the same data without images (BPR): how much accuracy the photos buy.",
        "upload": "one image sent to the service for the pushed item, the doctored photo or a probe of it.",
        "probe": "a slightly perturbed photo uploaded only to see how the ranking reacts (BB attacks: 32 per step).",
        "threat model": "whom the seller targets and which accounts it registers to do it.",
    }
    gl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in glossary.items())
    return (
        html_table(["model", "source", "AUC", "visual gain", "gradients", "shows"], rows, numeric_from=2, table_id="models")
        + f"<p>Catalog <b>{_e(ds.get('name'))}</b>: {ds.get('n_users')} users, {ds.get('n_items')} items, "
        f"{ds.get('n_interactions')} interactions; image model {_e(doc['image_model'].get('name'))} "
        f"({doc['image_model'].get('feature_dim')} features); seed {doc.get('seed')}; pixelpush {_e(doc.get('pixelpush'))}.</p>"
        f"<dl>{gl}</dl><h3>Audit settings</h3><pre>{_e(json.dumps(doc.get('settings', {}), indent=2))}</pre>"
        "<p>The technical report of the same run (every attack configuration, curves per step) is <code>report.html</code> "
        "in this folder; every number here is recomputed from <code>pairs.jsonl</code> into <code>audit.json</code>.</p>"
    )


def _check(doc: Any, path: Path) -> dict[str, Any]:
    needed = ("models", "battery", "exposure", "attacks", "by_popularity", "by_category", "uploads_to_top20", "most_exposed", "verdict")
    if not isinstance(doc, dict) or any(k not in doc for k in needed):
        missing = [k for k in needed if not isinstance(doc, dict) or k not in doc]
        raise DataError(f"{path}: not an audit.json of this pixelpush (missing {', '.join(missing)})")
    return doc


def render_audit(run_dir: str | Path) -> Path:
    """Write ``RUN_DIR/audit.html`` from ``RUN_DIR/audit.json`` (and the kept images); returns its path."""
    run_dir = Path(run_dir)
    source = run_dir / "audit.json"
    try:
        doc = _check(json.loads(source.read_text(encoding="utf-8")), source)
    except FileNotFoundError:
        raise DataError(f"{source} not found: run `pixelpush audit CONFIG --out {run_dir}` first") from None
    except ValueError as err:
        raise DataError(f"{source}: not valid JSON ({err})") from None
    out = run_dir / AUDIT_HTML
    check_output_file(out, "audit report")
    models, _ = _labels(doc)
    title = "Visual attack audit: " + ", ".join(models.values())
    body = [
        f"<h1>{_e(title)}</h1><p class='sub'>How far can a seller push an item in your recommendations by doctoring its photo? "
        f"{len(doc['attacks'])} attack configurations on catalog {_e(doc['dataset'].get('name'))}.</p>",
        "<h2>Verdict</h2>", _verdict_html(doc),
        "<h2>What was tried</h2>", _tried_html(doc),
        "<h2>Exposure by threat model and access level</h2>", _exposure_html(doc),
        "<h2>Uploads needed to reach the top 20</h2>", _uploads_html(doc),
        "<h2>Which items are exposed</h2>", _breakdowns_html(doc),
        "<h2>How visible the doctoring is</h2>", _ssim_html(doc, run_dir),
        "<h2>Most exposed items</h2>", _items_html(doc),
        *(["<h2>What the defenses change</h2>", _defenses_html(doc)] if doc.get("defenses") else []),
        "<h2>What to do</h2>", _actions_html(doc),
        "<h2>Details</h2>", _details_html(doc),
    ]
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    write_atomic(out, page.encode("utf-8"))
    _log.info("audit report written to %s", out)
    return out
