"""The audit's exposure and defenses tables as plain text (what ``pixelpush audit`` prints at the end)."""

from __future__ import annotations

from typing import Any

from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS

__all__ = ["defenses_text", "exposure_text"]


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
    return _aligned(headers, rows, left=4)


def _aligned(headers: list[str], rows: list[list[str]], *, left: int) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def defenses_text(doc: dict[str, Any]) -> str:
    """One line per defense, model, threat model and access level: the strongest attack under the
    defense (``*``: it knew the defense), HR@20 without -> with it, uploads, the defended AUC's change;
    then each defense's one-sentence meaning. Empty when the audit ran no defense.

    >>> print(defenses_text({"models": {"m": {"label": "M"}}, "defenses": {"jpeg75": {"models": {"m": {
    ...     "auc_change": -0.001, "summary": "jpeg75 reduces the attacks tried on M.", "exposure": [{"threat_model": "segment",
    ...     "access": "white-box", "attack": "wb:bpda", "adaptive": True, "hr": {"20": 0.25}, "uploads_per_pair": 20.0,
    ...     "undefended": {"hr": {"20": 0.75}}}]}}}}}))
    defense  model  threat model  access     strongest attack  HR@20 without  HR@20 with  uploads  AUC change
    -------  -----  ------------  ---------  ----------------  -------------  ----------  -------  ----------
    jpeg75   M      segment       white-box  WB (bpda) *               0.750       0.250       20     -0.0010
    jpeg75 reduces the attacks tried on M.
    (* the attack knew the defense)
    """
    defenses = doc.get("defenses") or {}
    if not defenses:
        return ""
    headers = ["defense", "model", "threat model", "access", "strongest attack", "HR@20 without", "HR@20 with", "uploads", "AUC change"]
    rows, sentences = [], []
    for name, d in defenses.items():
        for model, m in d["models"].items():
            label = doc["models"].get(model, {}).get("label", model)
            sentences.append(m["summary"])
            for r in m["exposure"]:
                rows.append([name, label, THREAT_MODELS.label(r["threat_model"]), r["access"],
                             ATTACKS.label(r["attack"]) + (" *" if r["adaptive"] else ""),
                             _cell((r["undefended"] or {}).get("hr", {}).get("20"), "{:.3f}"), _cell(r["hr"]["20"], "{:.3f}"),
                             _cell(r["uploads_per_pair"], "{:.0f}"), _cell(m["auc_change"], "{:+.4f}")])
    return "\n".join([_aligned(headers, rows, left=5), *sentences, "(* the attack knew the defense)"])
