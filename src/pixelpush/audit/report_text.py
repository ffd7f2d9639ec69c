"""The audit's exposure table as plain text (what ``pixelpush audit`` prints at the end)."""

from __future__ import annotations

from typing import Any

from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS

__all__ = ["exposure_text"]


def _cell(value: Any, fmt: str) -> str:
    return "-" if not isinstance(value, int | float) else fmt.format(value)


def exposure_text(doc: dict[str, Any]) -> str:
    """One line per model, threat model and access level: best attack, HR@20 before -> after, success, uploads.

    >>> print(exposure_text({"models": {"m": {"label": "M"}}, "exposure": [{"model": "m", "threat_model": "segment",
    ...     "access": "rank", "best_attack": "bb-rank", "hr_before": {"20": 0.0}, "hr": {"20": 0.5}, "success_rate": 0.5,
    ...     "uploads_to_top20_median": 99.0, "ssim_final": 0.9}]}))
    model  threat model  access  best attack  HR@20 before  HR@20  success  uploads to top 20  SSIM
    -----  ------------  ------  -----------  ------------  -----  -------  -----------------  ----
    M      segment       rank    BB-Rank             0.000  0.500    0.500                 99  0.90
    """
    headers = ["model", "threat model", "access", "best attack", "HR@20 before", "HR@20", "success", "uploads to top 20", "SSIM"]
    rows = [
        [doc["models"].get(r["model"], {}).get("label", r["model"]), THREAT_MODELS.label(r["threat_model"]), r["access"],
         ATTACKS.label(r["best_attack"]), _cell(r["hr_before"]["20"], "{:.3f}"), _cell(r["hr"]["20"], "{:.3f}"),
         _cell(r["success_rate"], "{:.3f}"), _cell(r["uploads_to_top20_median"], "{:.0f}"), _cell(r["ssim_final"], "{:.2f}")]
        for r in doc["exposure"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    left = 4

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])
