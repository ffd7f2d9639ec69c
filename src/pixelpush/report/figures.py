"""The report's curves (paper Figs. 2-5, HR against uploads, SSIM against steps), drawn with Agg.

Each ``*_figure`` function takes a :class:`RunData` and returns a :class:`Rendered`: a matplotlib
figure, or none and a note saying why the figure was skipped (missing runs, missing pairs).
Figures are built with :class:`matplotlib.figure.Figure` directly, so no pyplot state is touched.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pixelpush.attacks.registry import ATTACKS
from pixelpush.registry import split_variant
from pixelpush.report.load import ConfigKey, RunData, attack_key
from pixelpush.report.tables import attack_label, recommender_label, recommender_order

K = "20"
"""The k of the HR@k curves (the paper's default)."""

PAPER_SSIM = {10: 0.965, 20: 0.942, 30: 0.914}
"""Mean SSIM after 10/20/30 steps reported in the paper (§3.2)."""

ATTACK_COLORS = {
    "wb": "#1f77b4",
    "bb-score": "#ff7f0e",
    "bb-rank": "#2ca02c",
    "bb-partial": "#d62728",
    "prior-score": "#9467bd",
    "prior-rank": "#8c564b",
    "prior-partial": "#e377c2",
    "prior-probe-score": "#17becf",
    "prior-probe-rank": "#393b79",
    "prior-probe-partial": "#ad494a",
    "baseline-swap": "#7f7f7f",
    "baseline-blend": "#bcbd22",
}
BLACK_BOX = tuple(e.id for e in ATTACKS if e.black_box)


@dataclass(frozen=True)
class Rendered:
    """A report figure: `figure` is None when skipped, and `note` then says why."""

    name: str
    title: str
    caption: str
    figure: Figure | None = None
    note: str = ""


def _skip(name: str, title: str, note: str) -> Rendered:
    return Rendered(name=name, title=title, caption="", figure=None, note=note)


def curve(entry: dict[str, Any], key: str = "hr_by_step", k: str | None = K) -> list[float] | None:
    """A per-step curve of a results entry (``hr_by_step[k]`` or ``ssim_by_step``), None if absent."""
    block = entry.get(key)
    if k is not None:
        block = block.get(k) if isinstance(block, dict) else None
    if not isinstance(block, list) or not block:
        return None
    try:
        return [float("nan") if v is None else float(v) for v in block]
    except (TypeError, ValueError):
        return None


def _d(entry: dict[str, Any]) -> int:
    return int(entry.get("perturbations") or 0)


def main_perturbations(entries: Iterable[dict[str, Any]]) -> int:
    """The d' used by most black-box configurations (ties: the larger); 0 if none."""
    counts = Counter(_d(e) for e in entries if e.get("attack") in BLACK_BOX and _d(e) > 0)
    return max(counts, key=lambda d: (counts[d], d)) if counts else 0


def pick_configs(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (recommender, attack, threat model): the main d' if run, else the largest."""
    main = main_perturbations(entries)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        groups[attack_key(entry)[:3]].append(entry)
    picked = []
    for group in groups.values():
        exact = [e for e in group if _d(e) in (main, 0)]
        picked.append(exact[0] if exact else max(group, key=_d))
    return picked


def _threat(entries: Iterable[dict[str, Any]], *threats: str) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("threat_model") in threats]


def _by_recommender(entries: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        out[str(entry.get("recommender", "?"))].append(entry)
    return dict(sorted(out.items(), key=lambda kv: (recommender_order(kv[0]), kv[0])))


def _panels(names: Sequence[str], *, ylabel: str, xlabel: str = "steps") -> tuple[Figure, list[Axes]]:
    """A row of panels, one per recommender, sharing the y axis."""
    n = max(len(names), 1)
    fig = Figure(figsize=(4.6 * n + 0.6, 3.8), layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, names):
        ax.set_title(recommender_label(name))
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(ylabel)
    return fig, list(axes)


def _label(entry: dict[str, Any], *, with_d: bool = True) -> str:
    label = attack_label(str(entry.get("attack", "?")))
    return f"{label} (d'={_d(entry)})" if with_d and _d(entry) else label


def _attack_order(entry: dict[str, Any]) -> int:
    order = list(ATTACKS.ids())
    attack = split_variant(str(entry.get("attack")))[0]
    return order.index(attack) if attack in order else len(order)


def _style(entry: dict[str, Any]) -> dict[str, Any]:
    attack, variant = split_variant(str(entry.get("attack", "")))
    dashed = attack.startswith("baseline") or bool(variant)
    return {"color": ATTACK_COLORS.get(attack), "linestyle": "--" if dashed else "-", "marker": "o", "markersize": 3}


def _finish(fig: Figure, axes: Sequence[Axes], *, hr: bool = True) -> None:
    for ax in axes:
        if hr:
            ax.set_ylim(-0.02, 1.02)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")


def _finite_extreme(curves: Sequence[list[float] | None], reduce: Any, *, default: float) -> float:
    """`reduce` (np.nanmax / np.nanmin) over all finite values of `curves`, or `default` if none."""
    values = np.array([v for c in curves if c for v in c], dtype=float)
    values = values[np.isfinite(values)]
    return float(reduce(values)) if values.size else default


def hr_by_attack_figure(run: RunData) -> Rendered:
    """Paper Fig. 3: HR@20 against steps, one line per attack type (specific-user)."""
    name, title = "hr_by_attack", "HR@20 against steps per attack type (paper Fig. 3)"
    entries = [e for e in pick_configs(_threat(run.attacks, "specific-user")) if curve(e)]
    if not entries:
        return _skip(name, title, "no specific-user attack runs with per-step HR in results.json")
    groups = _by_recommender(entries)
    fig, axes = _panels(list(groups), ylabel=f"HR@{K}")
    for ax, group in zip(axes, groups.values()):
        for entry in sorted(group, key=_attack_order):
            hr = curve(entry)
            assert hr is not None
            ax.plot(range(len(hr)), hr, label=_label(entry), **_style(entry))
    _finish(fig, axes)
    caption = (
        "Specific-user attacks; HR over all (target user, pushed item) pairs; step 0 is before the attack. "
        f"Attacks run with several d' are shown at d'={main_perturbations(entries) or '-'}."
    )
    return Rendered(name, title, caption, fig)


def hr_by_perturbations_figure(run: RunData) -> Rendered:
    """Paper Fig. 2: BB-Rank HR@20 against steps, one line per number of perturbations d'."""
    name, title = "hr_by_perturbations", "BB-Rank HR@20 against steps per perturbation count d' (paper Fig. 2)"
    entries = [e for e in _threat(run.attacks, "specific-user") if e.get("attack") == "bb-rank" and curve(e)]
    if not entries:
        return _skip(name, title, "no specific-user BB-Rank runs in results.json")
    groups = _by_recommender(entries)
    fig, axes = _panels(list(groups), ylabel=f"HR@{K}")
    for ax, group in zip(axes, groups.values()):
        ds = sorted(group, key=_d)
        colors = _ramp(len(ds))
        for entry, color in zip(ds, colors):
            hr = curve(entry)
            assert hr is not None
            uploads = entry.get("uploads_per_pair")
            extra = f", {uploads:.0f} uploads/pair" if isinstance(uploads, int | float) else ""
            ax.plot(range(len(hr)), hr, color=color, marker="o", markersize=3, label=f"d'={_d(entry)}{extra}")
    _finish(fig, axes)
    n_d = len({_d(e) for e in entries})
    caption = "Specific-user BB-Rank attacks." + (" Only one d' was run." if n_d == 1 else "")
    return Rendered(name, title, caption, fig)


def _ramp(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.1 + 0.8 * i / max(n - 1, 1)) for i in range(n)]


def _nice(x: float) -> int:
    """`x` rounded to the nearest 1-2-5 number (at least 1)."""
    if x <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(x))
    return int(min((m * exp for m in (1, 2, 5, 10)), key=lambda v: abs(math.log(v / x))))


def rank_bins(n_items: int) -> list[tuple[int, int | None]]:
    """Pre-attack rank ranges adapted to the catalog size (3,000 items: 1-100, 101-500, 501-1000, >1000).

    >>> rank_bins(3000)
    [(1, 100), (101, 500), (501, 1000), (1001, None)]
    """
    edges = sorted({_nice(n_items / 30), _nice(n_items / 6), _nice(n_items / 3)})
    edges = [e for e in edges if e < n_items] or [max(n_items // 2, 1)]
    bins: list[tuple[int, int | None]] = []
    lo = 1
    for edge in edges:
        bins.append((lo, edge))
        lo = edge + 1
    bins.append((lo, None))
    return bins


def _bin_label(lo: int, hi: int | None) -> str:
    return f">{lo - 1}" if hi is None else f"{lo}-{hi}"


def weighted_hr_by_step(pairs: Sequence[dict[str, Any]], k: str = K) -> list[float] | None:
    """HR@k per step over pairs, each pair weighted by its number of evaluation users."""
    curves, weights = [], []
    for pair in pairs:
        hits = pair.get("hits_by_step")
        hits = hits.get(k) if isinstance(hits, dict) else None
        if isinstance(hits, list) and hits:
            curves.append(hits)
            weights.append(float(pair.get("n_eval_users") or 1))
    if not curves:
        return None
    length = min(len(c) for c in curves)
    arr = np.array([c[:length] for c in curves], dtype=float)
    w = np.array(weights)[:, None]
    return list((arr * w).sum(axis=0) / w.sum())


def hr_by_rank_range_figure(run: RunData) -> Rendered:
    """Paper Fig. 4: BB-Rank HR@20 against steps, pairs grouped by their pre-attack rank."""
    name, title = "hr_by_rank_range", "BB-Rank HR@20 against steps by pre-attack rank range (paper Fig. 4)"
    if not run.pairs:
        return _skip(name, title, "no pairs.jsonl lines: the per-pair rank ranges cannot be computed")
    configs = [e for e in pick_configs(_threat(run.attacks, "specific-user")) if e.get("attack") == "bb-rank"]
    keys: list[ConfigKey] = [attack_key(e) for e in configs]
    if not keys:  # results.json may be partial: fall back on the pairs themselves
        keys = sorted({k for p in run.pairs if (k := attack_key(p))[1:3] == ("bb-rank", "specific-user")})
    keys = sorted(keys, key=lambda k: (recommender_order(k[0]), k))
    groups = {key: run.pairs_of(key) for key in keys}
    groups = {key: pairs for key, pairs in groups.items() if pairs}
    if not groups:
        return _skip(name, title, "no specific-user BB-Rank pairs in pairs.jsonl")
    n_items = (run.results.get("dataset") or {}).get("n_items")
    if not isinstance(n_items, int) or n_items <= 0:
        ranks = [float(p.get("rank_before") or 1) for ps in groups.values() for p in ps]
        n_items = int(max((r for r in ranks if math.isfinite(r)), default=1))
    bins = rank_bins(n_items)
    fig, axes = _panels([k[0] for k in groups], ylabel=f"HR@{K}")
    colors = _ramp(len(bins))
    for ax, (key, pairs) in zip(axes, groups.items()):
        ax.set_title(f"{recommender_label(key[0])}, BB-Rank d'={key[3]}")
        for (lo, hi), color in zip(bins, colors):
            members = [p for p in pairs if _in_bin(p.get("rank_before"), lo, hi)]
            hr = weighted_hr_by_step(members)
            if hr is None:
                continue
            ax.plot(range(len(hr)), hr, color=color, marker="o", markersize=3,
                    label=f"rank {_bin_label(lo, hi)} ({len(members)} pairs)")
    _finish(fig, axes)
    caption = (
        f"Pairs grouped by the target user's pre-attack rank of the pushed item (catalog of {n_items} items); "
        "empty ranges are left out."
    )
    return Rendered(name, title, caption, fig)


def _in_bin(rank: Any, lo: int, hi: int | None) -> bool:
    if not isinstance(rank, int | float):
        return False
    return rank >= lo - 0.5 and (hi is None or rank < hi + 0.5)


def hr_segment_general_figure(run: RunData) -> Rendered:
    """Paper Fig. 5: segment and general-population attacks, with and without partial ranking."""
    name, title = "hr_segment_general", "Segment and general-population attacks (paper Fig. 5)"
    entries = [e for e in pick_configs(_threat(run.attacks, "segment", "general")) if curve(e)]
    if not entries:
        return _skip(name, title, "no segment or general-population runs in results.json")
    groups = _by_recommender(entries)
    fig, axes = _panels(list(groups), ylabel=f"HR@{K}")
    threat_colors = {"segment": "#9467bd", "general": "#8c564b"}
    for ax, group in zip(axes, groups.values()):
        for entry in sorted(group, key=lambda e: (str(e.get("threat_model")), _attack_order(e))):
            hr = curve(entry)
            assert hr is not None
            threat = str(entry.get("threat_model"))
            partial = entry.get("attack") == "bb-partial"
            ax.plot(range(len(hr)), hr, color=threat_colors.get(threat), linestyle=":" if partial else "-",
                    marker="s" if partial else "o", markersize=3, label=f"{threat}, {_label(entry)}")
    top = _finite_extreme([curve(e) for e in entries], np.nanmax, default=1.0)
    for ax in axes:
        ax.set_ylim(0, max(top * 1.1, 0.05))
        ax.legend(fontsize="small")
    caption = (
        "HR over all evaluation users of each pair. Dotted: partial ranking knowledge (BB-Partial); "
        "solid: full ranking (or scores)."
    )
    return Rendered(name, title, caption, fig)


def mean_uploads_by_step(pairs: Sequence[dict[str, Any]]) -> list[float] | None:
    """Mean cumulative uploads after each step over pairs (None if no pair records them)."""
    rows = [p["uploads_by_step"] for p in pairs if isinstance(p.get("uploads_by_step"), list) and p["uploads_by_step"]]
    if not rows:
        return None
    length = min(len(r) for r in rows)
    return list(np.array([r[:length] for r in rows], dtype=float).mean(axis=0))


def hr_by_uploads_figure(run: RunData) -> Rendered:
    """The cost curve: HR@20 when each pair may spend at most b uploads, per attack, on the same pairs."""
    name, title = "hr_by_uploads", "HR@20 against uploads spent (the cost curve)"
    entries = pick_configs(_threat(run.attacks, "specific-user"))
    lines = []
    for entry in entries:
        block = entry.get("hr_at_upload_budgets")
        if isinstance(block, dict) and isinstance(block.get("budgets"), list) and isinstance(block.get(K), list):
            lines.append((entry, [float(b) for b in block["budgets"]], [float(v) for v in block[K]]))
        elif run.pairs:  # older results: the per-step curve against the mean uploads spent
            hr, uploads = curve(entry), mean_uploads_by_step(run.pairs_of(attack_key(entry)))
            if hr is not None and uploads is not None:
                n = min(len(hr), len(uploads))
                lines.append((entry, uploads[:n], hr[:n]))
    if not lines:
        return _skip(name, title, "no specific-user configuration has HR at upload budgets or per-step uploads")
    groups: dict[str, list[Any]] = defaultdict(list)
    for line in lines:
        groups[str(line[0].get("recommender"))].append(line)
    groups = dict(sorted(groups.items(), key=lambda kv: (recommender_order(kv[0]), kv[0])))
    fig, axes = _panels(list(groups), ylabel=f"HR@{K}", xlabel="uploads per pair (budget)")
    for ax, group in zip(axes, groups.values()):
        for entry, x, y in sorted(group, key=lambda t: _attack_order(t[0])):
            ax.plot(x, y, label=_label(entry), **_style(entry))
        ax.set_xscale("symlog", linthresh=1)
        ax.axvline(640, color="grey", linewidth=0.8, linestyle=":")
    _finish(fig, axes)
    caption = ("HR@20 if every pair may spend at most b uploads (each pair's hits at its last step within b), on the "
               "same pairs for every attack; the dotted line marks the paper's 20 x 32 = 640 uploads.")
    return Rendered(name, title, caption, fig)


def ssim_by_step_figure(run: RunData) -> Rendered:
    """Mean SSIM(original, attacked) against steps, with the paper's 10/20/30-step values marked."""
    name, title = "ssim_by_step", "SSIM against steps"
    entries = [e for e in pick_configs(_threat(run.attacks, "specific-user")) if curve(e, "ssim_by_step", None)]
    if not entries:
        return _skip(name, title, "no specific-user runs with per-step SSIM in results.json")
    groups = _by_recommender(entries)
    fig, axes = _panels(list(groups), ylabel="mean SSIM")
    lo = min(PAPER_SSIM.values())
    for ax, group in zip(axes, groups.values()):
        for entry in sorted(group, key=_attack_order):
            ssim = curve(entry, "ssim_by_step", None)
            assert ssim is not None
            lo = min(lo, _finite_extreme([ssim], np.nanmin, default=lo))
            ax.plot(range(len(ssim)), ssim, label=_label(entry), **_style(entry))
        steps, values = zip(*sorted(PAPER_SSIM.items()))
        ax.plot(steps, values, linestyle="none", marker="*", markersize=11, color="black", label="paper (WSDM '21)")
        for s, v in PAPER_SSIM.items():
            ax.annotate(f"{v:.3f}", (s, v), textcoords="offset points", xytext=(4, 6), fontsize="x-small")
    for ax in axes:
        ax.set_ylim(max(lo - 0.02, 0.0), 1.005)
        ax.legend(fontsize="small")
    caption = "Stars: the paper's mean SSIM after 10, 20 and 30 steps (0.965, 0.942, 0.914)."
    return Rendered(name, title, caption, fig)


CURVE_FIGURES = (
    hr_by_attack_figure,
    hr_by_perturbations_figure,
    hr_by_rank_range_figure,
    hr_segment_general_figure,
    hr_by_uploads_figure,
    ssim_by_step_figure,
)
"""The curve figures, in report order."""
