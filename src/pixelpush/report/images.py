"""Example pairs: original upload, attacked upload, their difference, and the rank trajectory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter
from PIL import Image, UnidentifiedImageError

from pixelpush.report.figures import Rendered
from pixelpush.report.load import RunData
from pixelpush.report.tables import attack_label, recommender_label

log = logging.getLogger(__name__)

MAX_EXAMPLES = 4


def load_rgb(run_dir: Path, rel: Any) -> np.ndarray | None:
    """An RGB uint8 array from a path relative to `run_dir`; None if missing, outside or unreadable."""
    if not isinstance(rel, str) or not rel:
        return None
    root = run_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as err:
        log.warning("cannot read %s: %s", path, err)
        return None


def pick_examples(pairs: list[dict[str, Any]], limit: int = MAX_EXAMPLES) -> list[dict[str, Any]]:
    """Up to `limit` pairs with images, one per (recommender, attack, d') first, then the rest."""
    with_images = [p for p in pairs if isinstance(p.get("images"), dict)]
    seen: set[tuple[Any, ...]] = set()
    first, rest = [], []
    for pair in with_images:
        key = (pair.get("recommender"), pair.get("attack"), pair.get("threat_model"), pair.get("perturbations"))
        (rest if key in seen else first).append(pair)
        seen.add(key)
    return (first + rest)[:limit]


def _pair_title(pair: dict[str, Any]) -> str:
    d = int(pair.get("perturbations") or 0)
    attack = attack_label(str(pair.get("attack", "?"))) + (f" d'={d}" if d else "")
    who = pair.get("target_user")
    target = f"user {who}" if who is not None else str(pair.get("threat_model", "?"))
    return (
        f"{recommender_label(str(pair.get('recommender', '?')))}, {attack}, pair {pair.get('pair', '?')}: "
        f"item {pair.get('item', '?')} pushed to {target}"
    )


def pair_figure(run: RunData, pair: dict[str, Any], index: int) -> Rendered:
    """A row of four panels for one pair: original, attacked, signed difference, rank by step."""
    name = f"pair_{index:02d}"
    title = _pair_title(pair)
    images = pair.get("images") or {}
    original = load_rgb(run.run_dir, images.get("original"))
    attacked = load_rgb(run.run_dir, images.get("attacked"))
    if original is None or attacked is None:
        return Rendered(name, title, "", None, note=f"images of this pair are missing or unreadable: {images}")
    fig = Figure(figsize=(13, 3.4), layout="constrained")
    ax_o, ax_a, ax_d, ax_r = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1.2, 1.6]})
    ax_o.imshow(original)
    ax_o.set_title("original upload")
    ax_a.imshow(attacked)
    ssim = pair.get("ssim_by_step")
    ssim_text = f" (SSIM {ssim[-1]:.3f})" if isinstance(ssim, list) and ssim and isinstance(ssim[-1], int | float) else ""
    ax_a.set_title(f"attacked upload{ssim_text}")
    if original.shape == attacked.shape:
        diff = attacked.astype(np.int16) - original.astype(np.int16)
        signed = diff.mean(axis=2)
        bound = max(float(np.abs(signed).max()), 1.0)
        shown = ax_d.imshow(signed, cmap="RdBu_r", vmin=-bound, vmax=bound)
        fig.colorbar(shown, ax=ax_d, shrink=0.85, label="pixel change")
        ax_d.set_title(f"attacked - original (max |diff| {int(np.abs(diff).max())})", fontsize="small")
    else:
        ax_d.text(0.5, 0.5, f"shapes differ:\n{original.shape} vs {attacked.shape}", ha="center", va="center")
    for ax in (ax_o, ax_a, ax_d):
        ax.set_xticks([])
        ax.set_yticks([])
    ranks = pair.get("rank_by_step")
    if isinstance(ranks, list) and ranks and all(isinstance(r, int | float) for r in ranks):
        ax_r.plot(range(len(ranks)), ranks, marker="o", markersize=3, color="#2ca02c")
        ax_r.axhline(20, color="grey", linestyle="--", linewidth=1, label="top-20")
        ax_r.set_yscale("log")
        ax_r.invert_yaxis()
        _plain_log_ticks(ax_r, ranks)
        ax_r.set_xlabel("steps")
        ax_r.set_ylabel("rank (log)")
        who = "target user" if pair.get("target_user") is not None else "median over users"
        ax_r.set_title(f"rank of the item ({who})")
        ax_r.grid(True, which="both", alpha=0.3)
        ax_r.legend(fontsize="small")
    else:
        ax_r.set_axis_off()
        ax_r.text(0.5, 0.5, "no rank_by_step", ha="center", va="center")
    caption = (
        f"Rank {_fmt_rank(ranks, 0)} before, {_fmt_rank(ranks, -1)} after {pair.get('steps', '?')} steps; "
        f"{pair.get('uploads', '?')} uploads. Red: pixels brightened, blue: darkened (mean over channels)."
    )
    return Rendered(name, title, caption, fig)


def _plain_log_ticks(ax: Axes, ranks: list[float]) -> None:
    """Label a log rank axis with plain numbers (minor ticks too when it spans under two decades)."""
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    lo, hi = max(min(min(ranks), 20), 1e-9), max(max(ranks), 20)
    ax.yaxis.set_minor_formatter(plain if hi / lo < 100 else NullFormatter())
    ax.tick_params(axis="y", which="minor", labelsize="x-small")


def _fmt_rank(ranks: Any, i: int) -> str:
    if isinstance(ranks, list) and ranks and isinstance(ranks[i], int | float):
        return f"{ranks[i]:.0f}"
    return "?"


def pair_figures(run: RunData) -> tuple[list[Rendered], str]:
    """The example-pair figures and, if there are none, a note saying why."""
    if not run.pairs:
        return [], "no pairs.jsonl lines: no example pairs"
    examples = pick_examples(run.pairs)
    if not examples:
        return [], "no pair in pairs.jsonl has saved images (images/ not written for this run)"
    return [pair_figure(run, pair, i) for i, pair in enumerate(examples)], ""
