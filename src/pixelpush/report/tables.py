"""The Table 2-style summary (recommender x attack x HR@k, ...) as rows, plain text, rich or HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS
from pixelpush.recommenders.registry import RECOMMENDERS
from pixelpush.registry import split_variant

THREAT_ORDER = THREAT_MODELS.ids()


def recommender_order(name: str) -> int:
    """Display position of a recommender (registry order: BPR, VBPR, DeepStyle, then others)."""
    order = list(RECOMMENDERS.ids())
    kind, label = split_variant(name)
    return 2 * order.index(kind) + bool(label) if kind in order else 2 * len(order)


def attack_label(attack: str) -> str:
    """Display name of an attack id (``bb-rank`` -> ``BB-Rank``, ``bb-rank:x`` -> ``BB-Rank (x)``)."""
    return ATTACKS.label(attack)


def recommender_label(name: str) -> str:
    """Display name of a recommender id (``vbpr`` -> ``VBPR``, ``vbpr:x`` -> ``VBPR (x)``)."""
    return RECOMMENDERS.label(name)


def _num(value: Any) -> float | None:
    """A finite float, or None for missing / null / non-numeric / NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _hr(key: str, k: str) -> Callable[[dict[str, Any]], float | None]:
    def get(entry: dict[str, Any]) -> float | None:
        block = entry.get(key)
        return _num(block.get(k)) if isinstance(block, dict) else None

    return get


def _last_ssim(entry: dict[str, Any]) -> float | None:
    ssim = entry.get("ssim_by_step")
    return _num(ssim[-1]) if isinstance(ssim, list) and ssim else None


@dataclass(frozen=True)
class Column:
    """One numeric column: its id (also the HTML ``data-col``), header, getter and format."""

    key: str
    header: str
    get: Callable[[dict[str, Any]], float | None]
    fmt: str = "{:.3f}"

    def text(self, entry: dict[str, Any]) -> str:
        """The formatted cell ("-" when the value is missing)."""
        value = self.get(entry)
        return "-" if value is None else self.fmt.format(value)


COLUMNS: tuple[Column, ...] = (
    Column("hr1", "HR@1", _hr("hr", "1")),
    Column("hr10", "HR@10", _hr("hr", "10")),
    Column("hr20", "HR@20", _hr("hr", "20")),
    Column("hr20_before", "HR@20 before", _hr("hr_before", "20")),
    Column("ssim", "SSIM@T", _last_ssim),
    Column("uploads", "uploads/pair", lambda e: _num(e.get("uploads_per_pair")), "{:.1f}"),
    Column("to_top20", "uploads to top 20", lambda e: _num(e.get("uploads_to_top20_median")), "{:.0f}"),
    Column("success", "success", lambda e: _num(e.get("success_rate_top20"))),
    Column("success640", "success@640", lambda e: _num(e.get("success_rate_top20_at_640"))),
    Column("grad_cos", "grad cos", lambda e: _num(e.get("gradient_cosine_mean"))),
)
"""The numeric columns, in display order."""

KEY_HEADERS = ("recommender", "attack", "threat model", "d'", "T", "pairs")


def _defense(entry: dict[str, Any]) -> str:
    """The entry's defense (``none`` when it ran undefended)."""
    return str(entry.get("defense") or "none")


def sorted_attacks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """``results['attacks']`` ordered by threat model, recommender, defense (``none`` first), attack, d'."""
    attacks = [a for a in results.get("attacks", []) if isinstance(a, dict)]
    attack_order = list(ATTACKS.ids())

    def order(entry: dict[str, Any]) -> tuple[int, int, str, bool, str, int, int]:
        threat = str(entry.get("threat_model", ""))
        attack = str(entry.get("attack", ""))
        recommender = str(entry.get("recommender", ""))
        defense = _defense(entry)
        return (
            THREAT_ORDER.index(threat) if threat in THREAT_ORDER else len(THREAT_ORDER),
            recommender_order(recommender),
            recommender,
            defense != "none",
            defense,
            attack_order.index(split_variant(attack)[0]) if attack in ATTACKS else len(attack_order),
            int(entry.get("perturbations") or 0),
        )

    return sorted(attacks, key=order)


@dataclass(frozen=True)
class KeyLayout:
    """Which identifying columns a table shows: a defense column when some entry ran under a
    defense, an experiment column when two rows would otherwise read the same."""

    defense: bool
    experiment: bool

    @classmethod
    def of(cls, entries: list[dict[str, Any]]) -> KeyLayout:
        """The layout `entries` need."""
        defense = any(_defense(e) != "none" for e in entries)
        plain = cls(defense=defense, experiment=False)
        cells = [tuple(plain.cells(e)) for e in entries]
        return cls(defense=defense, experiment=len(set(cells)) < len(cells))

    def headers(self) -> list[str]:
        """The key headers, in display order."""
        out = list(KEY_HEADERS)
        if self.defense:
            out.insert(1, "defense")
        if self.experiment:
            out.insert(0, "experiment")
        return out

    def cells(self, entry: dict[str, Any]) -> list[str]:
        """The identifying cells of `entry`, matching :meth:`headers`."""
        out = key_cells(entry)
        if self.defense:
            out.insert(1, _defense(entry))
        if self.experiment:
            out.insert(0, str(entry.get("experiment", "-")))
        return out


def key_cells(entry: dict[str, Any]) -> list[str]:
    """The identifying cells of a row: recommender, attack, threat model, d', T, pairs."""
    d = int(entry.get("perturbations") or 0)
    return [
        recommender_label(str(entry.get("recommender", "?"))),
        attack_label(str(entry.get("attack", "?")))
        + (f" ε={entry['blend_epsilon']:g}" if entry.get("blend_epsilon") is not None else ""),
        str(entry.get("threat_model", "?")),
        str(d) if d else "-",
        str(entry.get("steps", "-")),
        str(entry.get("pairs", "-")),
    ]


def table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The table's headers and rows of strings: key cells (:class:`KeyLayout`) then :data:`COLUMNS`."""
    entries = sorted_attacks(results)
    layout = KeyLayout.of(entries)
    headers = layout.headers() + [c.header for c in COLUMNS]
    return headers, [layout.cells(e) + [c.text(e) for c in COLUMNS] for e in entries]


def table_text(results: dict[str, Any]) -> str:
    """The Table 2-style table as aligned plain text (for the terminal)."""
    headers, rows = table_rows(results)
    if not rows:
        return "(no attack results)"
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    n_key = len(headers) - len(COLUMNS)

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i < n_key else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def table_rich(results: dict[str, Any]) -> Table:
    """The same table as a :class:`rich.table.Table`."""
    table = Table(title="Attack efficacy (Table 2 style)")
    headers, rows = table_rows(results)
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i >= len(headers) - len(COLUMNS) else "left")
    for row in rows:
        table.add_row(*row)
    return table


def table_html(results: dict[str, Any]) -> str:
    """The table as an HTML ``<table id="summary">``; numeric cells carry ``data-col``."""
    entries = sorted_attacks(results)
    layout = KeyLayout.of(entries)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in layout.headers())
    head += "".join(f'<th class="num">{html.escape(c.header)}</th>' for c in COLUMNS)
    body = []
    for entry in entries:
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in layout.cells(entry))
        cells += "".join(
            f'<td class="num" data-col="{c.key}">{html.escape(c.text(entry))}</td>' for c in COLUMNS
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(KEY_HEADERS) + len(COLUMNS)}">no attack results</td></tr>')
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def kv_html(mapping: dict[str, Any], table_id: str = "") -> str:
    """A two-column key/value HTML table (values formatted compactly)."""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_value(v))}</td></tr>" for k, v in mapping.items()
    )
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f'<table class="kv"{ident}>{rows}</table>'


def format_value(value: Any) -> str:
    """A compact display of a scalar or small container."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " x ".join(format_value(v) for v in value) if all(isinstance(v, int) for v in value) else str(value)
    return str(value)


def recommenders_html(results: dict[str, Any]) -> str:
    """The recommenders' AUC and visual gain as an HTML table."""
    recs = results.get("recommenders")
    if not isinstance(recs, dict) or not recs:
        return "<p class='note'>No recommender figures in results.json.</p>"
    rows = []
    for name, info in recs.items():
        info = info if isinstance(info, dict) else {}
        auc, gain = _num(info.get("auc")), _num(info.get("visual_gain"))
        rows.append(
            f"<tr><td>{html.escape(recommender_label(str(name)))}</td>"
            f'<td class="num" data-col="auc">{"-" if auc is None else f"{auc:.4f}"}</td>'
            f'<td class="num" data-col="visual_gain">{"-" if gain is None else f"{gain:+.4f}"}</td></tr>'
        )
    return (
        '<table id="recommenders"><thead><tr><th>recommender</th><th class="num">AUC</th>'
        f'<th class="num">visual gain (AUC)</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
