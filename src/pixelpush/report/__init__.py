"""The run report: ``report.html`` (self-contained) and ``figures/*.png`` from a run folder.

Everything is derived from ``results.json``, ``pairs.jsonl`` and ``images/``, so an old run can be
re-reported. :func:`table_text` renders the Table 2-style summary for the terminal.
"""

from pixelpush.report.render import render_report
from pixelpush.report.tables import table_rich, table_text

__all__ = ["render_report", "table_rich", "table_text"]
