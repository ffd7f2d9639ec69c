"""The tiny real campaign the campaign and report tests share (see ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

TINY_CAMPAIGN = {
    "seed": 3,
    "visible_fraction": 0.1,  # 300 of 3,000 items: BB-Partial gets footholds
    "dataset": {"name": "fashion", "options": {"upload_size": 32}},
    "image_model": {"input_size": 32},
    # 4 epochs of the default 1024-triple batches: ~170 Adam steps, enough for VBPR to lean on
    # appearance (2 epochs left one pair's rank unmoved by the attacks)
    "training": {"models": ["bpr", "vbpr"], "epochs": 4},
    "experiments": [
        {
            "name": "table",
            "recommenders": ["vbpr"],
            "attacks": ["wb", "bb-score", "bb-rank", "bb-partial"],
            "perturbations": [4, 8],
            "steps": 3,
            "pairs": 3,
            "images_saved": 1,
        },
        {
            "name": "population",
            "recommenders": ["vbpr"],
            "attacks": ["bb-rank", "bb-partial"],
            "threat_models": ["segment", "general"],
            "perturbations": [8],
            "steps": 3,
            "pairs": 2,
            "n_mock_users": 10,
            "n_eval_users": 30,
            "images_saved": 0,
        },
        {
            "name": "baselines",
            "recommenders": ["vbpr"],
            "attacks": ["baseline-swap", "baseline-blend"],
            "blend_epsilons": [0.05, 0.1],
            "steps": 1,
            "pairs": 2,
            "images_saved": 0,
        },
    ],
}


def tiny_config(cache: Path, **overrides):
    """The tiny campaign's config with its feature cache in `cache` (top-level keys overridable)."""
    from pixelpush.evaluation.config import parse_config

    return parse_config({**TINY_CAMPAIGN, "cache_dir": str(cache), **overrides})


def _toml_value(value) -> str:
    import json

    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # numbers, and strings as TOML basic strings


def to_toml(config: dict) -> str:
    """A campaign config dict as TOML: scalars, then one table per section, then [[experiments]]."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict | list)]
    for key, section in config.items():
        if isinstance(section, dict):
            lines += ["", f"[{key}]", *(f"{k} = {_toml_value(v)}" for k, v in section.items())]
    for experiment in config.get("experiments", []):
        lines += ["", "[[experiments]]", *(f"{k} = {_toml_value(v)}" for k, v in experiment.items())]
    return "\n".join(lines) + "\n"


def tiny_toml(cache: Path, **overrides) -> str:
    """The tiny campaign as a TOML file's text (what ``pixelpush run`` reads)."""
    return to_toml({**TINY_CAMPAIGN, "cache_dir": str(cache), **overrides})
