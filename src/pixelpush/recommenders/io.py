"""Save and load a trained model: kind, config, shapes and state dict in one file, written atomically."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from pixelpush.errors import DataError
from pixelpush.files import write_atomic
from pixelpush.recommenders.factor import FactorModel
from pixelpush.recommenders.registry import RECOMMENDERS, build_model

FORMAT_VERSION = 1


def save(model: FactorModel, path: str | Path) -> None:
    """Write `model` (kind, config, shapes, extra state, state dict) to `path` atomically."""
    payload = {
        "format": FORMAT_VERSION,
        "kind": model.kind,
        "config": asdict(model.config),
        "n_users": model.n_users,
        "n_items": model.n_items,
        "n_features": model.n_features,
        "extra": model.extra_state(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    write_atomic(path, lambda fh: torch.save(payload, fh))


def load(path: str | Path) -> FactorModel:
    """Read a model written by :func:`save` (in eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no model file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to unpickle means a bad file
        raise DataError(f"{path} is not a pixelpush model file: {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or payload.get("kind") not in RECOMMENDERS:
        raise DataError(f"{path} is not a pixelpush model file (format {FORMAT_VERSION})")
    model = build_model(
        payload["kind"],
        payload["n_users"],
        payload["n_items"],
        payload["n_features"],
        config=payload["config"],
        **payload["extra"],
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval()
