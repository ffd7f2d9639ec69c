"""Assembling the self-contained report page (inline CSS, figures as base64 PNG, no scripts)."""

from __future__ import annotations

import base64
import html
import json
import math
from string import Template
from typing import Any

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1250px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
thead th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: #fafafa; font-weight: 600; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #8a5a00; background: #fff8e6; border-left: 3px solid #e0a800; padding: 0.3em 0.7em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="sub">$subtitle</p>
$notes
<h2>Summary (Table 2 style)</h2>
<p>HR@k after the last step; "HR@20 before" is the same pairs before the attack; SSIM@T is the mean
SSIM between original and attacked uploads at the last step; success is the fraction of pairs whose
top-20 hit rate rose above its pre-attack value; grad cos is the black-box mean cosine between the
estimated and true feature gradient.</p>
$table
$defenses
<h2>Figures</h2>
$figures
<h2>Example pairs</h2>
$pairs
<h2>Dataset and models</h2>
$dataset
$image_model
$recommenders
<h2>Run</h2>
<p>Seed: <code>$seed</code></p>
<h3>Software versions</h3>
$versions
<h3>Timings (seconds)</h3>
$timings
<h3>Configuration</h3>
<pre>$config</pre>
</body>
</html>
""")


def png_data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_html(title: str, caption: str, png: bytes, name: str) -> str:
    """A ``<figure>`` with the PNG inlined."""
    return (
        f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(title)}" src="{png_data_uri(png)}">'
        f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)}</figcaption></figure>"
    )


def number_text(value: Any, fmt: str = "{:.2f}") -> str:
    """`value` formatted with `fmt`, or "-" when it is missing, not a number, or not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return fmt.format(value)


def html_table(headers: list[str], rows: list[list[str]], *, numeric_from: int = 1, table_id: str = "") -> str:
    """A ``<table>``: `headers` escaped here, `rows` of cells already HTML-safe; columns from
    `numeric_from` on are right-aligned numbers."""
    head = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if i >= numeric_from else ""}">{c}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    ) or f'<tr><td colspan="{len(headers)}">nothing to show</td></tr>'
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def note_html(text: str) -> str:
    """A highlighted note (used for skipped figures)."""
    return f'<p class="note">{html.escape(text)}</p>'


def config_text(config: Any) -> str:
    """The configuration as escaped, indented JSON."""
    return html.escape(json.dumps(config, indent=2, sort_keys=True, default=str))


def page(**parts: str) -> str:
    """Fill the page template; every part must already be HTML-safe."""
    return PAGE.substitute(**parts)
