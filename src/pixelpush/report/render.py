"""``render_report``: a run folder in, ``report.html`` and ``figures/*.png`` out."""

from __future__ import annotations

import html
import io
import logging
import re
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

import pixelpush
from pixelpush.files import write_atomic
from pixelpush.outputs import check_output_dir, check_output_file
from pixelpush.report import page as page_html
from pixelpush.report.defenses import defenses_html
from pixelpush.report.figures import CURVE_FIGURES, Rendered
from pixelpush.report.images import pair_figures
from pixelpush.report.load import RunData, load_run
from pixelpush.report.tables import kv_html, recommenders_html, table_html

log = logging.getLogger(__name__)

FIGURES_DIR = "figures"
REPORT_NAME = "report.html"


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (rendered with Agg)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _emit(rendered: Rendered, fig_dir: Path) -> str:
    """Save a rendered figure as PNG and return its HTML (or the note if it was skipped)."""
    if rendered.figure is None:
        log.info("figure %s skipped: %s", rendered.name, rendered.note)
        return f"<h3>{html.escape(rendered.title)}</h3>" + page_html.note_html(f"Skipped: {rendered.note}")
    rendered.figure.suptitle(rendered.title, fontsize="medium")  # the PNG is read on its own too
    png = figure_png(rendered.figure)
    write_atomic(fig_dir / f"{rendered.name}.png", png)
    return page_html.figure_html(rendered.title, rendered.caption, png, rendered.name)


def _remove_old_figures(fig_dir: Path) -> None:
    """Drop figures of an earlier rendering, so a figure skipped now does not linger."""
    names = {f"{make.__name__.removesuffix('_figure')}.png" for make in CURVE_FIGURES}
    for path in fig_dir.glob("*.png"):
        if path.name in names or re.fullmatch(r"pair_\d+\.png", path.name):
            path.unlink()


def _subtitle(run: RunData) -> str:
    results = run.results
    ds = results.get("dataset") if isinstance(results.get("dataset"), dict) else {}
    parts = [f"run folder <code>{html.escape(str(run.run_dir))}</code>"]
    if ds:
        parts.append(
            f"dataset <b>{html.escape(str(ds.get('name', '?')))}</b> ({ds.get('n_users', '?')} users, "
            f"{ds.get('n_items', '?')} items)"
        )
    parts.append(f"{len(run.attacks)} attack configuration(s), {len(run.pairs)} pair record(s)")
    parts.append(f"rendered by pixelpush {html.escape(pixelpush.__version__)}")
    return "; ".join(parts)


def _section(results: dict[str, Any], key: str, title: str) -> str:
    value = results.get(key)
    if not isinstance(value, dict) or not value:
        return page_html.note_html(f"No '{key}' in results.json.")
    return f"<h3>{html.escape(title)}</h3>" + kv_html(value, table_id=key)


def render_report(run_dir: Path) -> Path:
    """Render ``RUN_DIR/report.html`` and ``RUN_DIR/figures/*.png`` from the run folder alone.

    Needs ``results.json`` (a missing or malformed one, or a field of the wrong type there or in
    ``pairs.jsonl``, raises :class:`pixelpush.errors.DataError` naming file, line and field);
    ``pairs.jsonl`` and ``images/`` are optional: figures that need them are skipped with a note.
    Outputs that cannot be written are refused (:class:`~pixelpush.errors.ConfigError`) before
    anything is written or an old figure removed. Returns the path of the report.
    """
    run = load_run(Path(run_dir))
    fig_dir = run.run_dir / FIGURES_DIR
    check_output_dir(fig_dir, "report figures folder")  # before anything is written or removed
    check_output_file(run.run_dir / REPORT_NAME, "report")
    fig_dir.mkdir(exist_ok=True)
    results = run.results

    _remove_old_figures(fig_dir)
    figures = [_emit(make(run), fig_dir) for make in CURVE_FIGURES]
    examples, pairs_note = pair_figures(run)
    pairs = [_emit(r, fig_dir) for r in examples] or [page_html.note_html(f"Skipped: {pairs_note}")]

    notes = "".join(page_html.note_html(n) for n in run.notes)
    report = page_html.page(
        title=html.escape(f"pixelpush report: {run.run_dir.resolve().name}"),
        subtitle=_subtitle(run),
        notes=notes,
        table=table_html(results),
        defenses=defenses_html(results),
        figures="\n".join(figures),
        pairs="\n".join(pairs),
        dataset=_section(results, "dataset", "Dataset"),
        image_model=_section(results, "image_model", "Image model"),
        recommenders="<h3>Recommenders</h3>" + recommenders_html(results),
        seed=html.escape(str(results.get("seed", "-"))),
        versions=kv_html(results["versions"], "versions") if isinstance(results.get("versions"), dict)
        else page_html.note_html("No 'versions' in results.json."),
        timings=kv_html(results["timings"], "timings") if isinstance(results.get("timings"), dict)
        else page_html.note_html("No 'timings' in results.json."),
        config=page_html.config_text(results.get("config", {})),
    )
    out = run.run_dir / REPORT_NAME
    write_atomic(out, report.encode("utf-8"))
    log.info("report written to %s", out)
    return out
