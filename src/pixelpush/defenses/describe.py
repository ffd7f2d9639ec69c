"""What a defense does, in words a person who has not read the paper follows (for ``audit.html``).

One phrase per component (and per ingest transform), joined into one sentence whose subject is
the service: ``describe_defense(d)`` reads "re-encodes every upload as JPEG at quality 75".
Adding a component or a transform is one entry here (an unknown one falls back to its label).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pixelpush.defenses.registry import DEFENSES, Defense

__all__ = ["describe_defense"]


def _transform(t: Any, obj: str) -> str:
    phrases: dict[str, Callable[[Any], str]] = {
        "jpeg": lambda t: f"re-encodes {obj} as JPEG at quality {t.quality}",
        "resize": lambda t: f"shrinks {obj} to {t.size} pixels on its shorter side",
        "center-crop": lambda t: f"keeps only the central {t.size}x{t.size} pixels of {obj}",
        "bit-depth": lambda t: f"keeps {t.bits} of the 8 bits per colour of {obj}",
        "median": lambda t: f"smooths {obj} with a {t.size}x{t.size} median filter",
    }
    return phrases[t.op](t) if t.op in phrases else f"applies {t.identity} to {obj}"


def _ingest(defense: Defense) -> str:
    steps = [_transform(t, "every upload" if k == 0 else "it") for k, t in enumerate(defense.pipeline.transforms)]
    return ", then ".join(steps) + " (the catalog's photos too) before the model sees it"


def _amr(cfg: Any) -> str:
    return (f"trains the model to keep its scores when the photos' features are nudged (adversarial training, AMR: "
            f"nudges of {cfg.epsilon:g} times the mean feature size, weight {cfg.weight:g})")


def _regularisation(cfg: Any) -> str:
    return (f"makes appearance weigh less in the model's scores (a penalty of {cfg.lambda_visual:g} on its visual terms "
            "at training)")


def _reveal(cfg: Any) -> str:
    parts = []
    if cfg.top_k is not None:
        parts.append(f"shows new accounts only the top {cfg.top_k} of each ranking")
    if cfg.noise:
        parts.append(f"adds random noise ({cfg.noise:g} times the spread of a user's scores) to what new accounts see")
    if cfg.max_queries is not None:
        parts.append(f"answers at most {cfg.max_queries} queries per new account")
    text = " and ".join(parts) or "shows new accounts what everyone sees"
    return text + (f" (accounts with at most {cfg.thin_history} items)" if cfg.thin_history is not None else "")


def _monitor(cfg: Any) -> str:
    rate = f", or once it gets more than {cfg.max_uploads} uploads" if cfg.max_uploads is not None else ""
    return (f"watches each item's uploads and flags the item once {cfg.near_duplicates} of them are near-copies of an "
            f"earlier photo (within {cfg.hash_distance} of 64 bits of an image fingerprint){rate}; it blocks nothing")


def describe_defense(defense: Defense) -> str:
    """One sentence (without a subject: the service) of what `defense` does.

    >>> from pixelpush.defenses import build_defense
    >>> describe_defense(build_defense("jpeg75", {"ingest": {"transforms": [{"op": "jpeg", "quality": 75}]}}))
    "re-encodes every upload as JPEG at quality 75 (the catalog's photos too) before the model sees it"
    """
    parts = []
    for component, cfg in defense.components:
        if component == "ingest":
            parts.append(_ingest(defense))
        elif component == "adversarial-training":
            parts.append(_amr(cfg))
        elif component == "visual-regularisation":
            parts.append(_regularisation(cfg))
        elif component == "reveal-limit":
            parts.append(_reveal(cfg))
        elif component == "upload-monitor":
            parts.append(_monitor(cfg))
        else:
            parts.append(f"applies {DEFENSES.get(component).label}")
    return "; ".join(parts) or "changes nothing"
