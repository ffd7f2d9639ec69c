"""Unit keys: a digest of everything that determines a unit's numbers.

A record in ``pairs.jsonl`` is reused on resume only if its key equals the planned unit's: the
seed, the dataset and its features (by digest), the attacked model's training recipe, the
platform's settings, the attack and threat model with all their hyperparameters, and the pair.
A rerun with any of these changed therefore never passes an old record off as a new one.

Off the CPU the device kind (``cuda``, not its index) is part of both: a GPU's numbers agree
with the CPU's within float32 rounding, not bit for bit. On the CPU it is left out, so keys
made before devices existed still match. The engine that ran a unit is never part of its key:
every engine gives the same record.

What a key does not see: changes to pixelpush's own code. After upgrading, use a new run folder
(or ``--force``) if the numbers must come from the new code.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pixelpush.evaluation.config import CampaignConfig
    from pixelpush.evaluation.unit import UnitSpec

__all__ = ["UNIT_FORMAT", "array_digest", "digest", "jsonable", "model_recipe", "unit_key"]

UNIT_FORMAT = 2
"""Bumped when what a record means changes (2: attacker views, multi-user probes, keyed units)."""


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data: NumPy scalars and arrays become numbers and lists, other objects their repr.

    >>> jsonable({"a": np.int64(3), "b": (1.5, None)})
    {'a': 3, 'b': [1.5, None]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def digest(payload: Any) -> str:
    """A 128-bit blake2b hex digest of `payload`'s canonical JSON.

    >>> digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})
    True
    """
    text = json.dumps(jsonable(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def array_digest(array: np.ndarray, *, block_rows: int = 65536) -> str:
    """Digest of an array's shape, dtype and bytes (streamed by blocks of rows: memory stays bounded)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.shape}:{array.dtype}".encode())
    for start in range(0, len(array), block_rows):
        h.update(np.ascontiguousarray(array[start : start + block_rows]).tobytes())
    return h.hexdigest()


def model_recipe(config: CampaignConfig, name: str, image_model_identity: str, defense: Any = None) -> dict[str, Any]:
    """What determines a recommender: data, features' model, its own options, epochs, seed, the
    device off the CPU, and the part of a defense that changes training (its ingest pipeline,
    AMR, ...); a loaded model: its factory or service and the factory's options instead of the
    training's."""
    out = {
        "dataset": config.dataset.model_dump(mode="json"),
        "image_model": image_model_identity,
        "model": name,
        "options": config.training.options.get(name, {}),
        "epochs": config.training.epochs,
        "seed": config.seed,
    }
    spec = config.model_spec(name)
    if spec is not None:
        out = {k: v for k, v in out.items() if k != "epochs"} | {"loaded": spec.recipe()}
    if defense is not None and defense.affects_model:
        out["defense"] = defense.model_part()
    return out | _device_entry(config)


def _device_entry(config: CampaignConfig) -> dict[str, Any]:
    """``{"device": ...}`` off the CPU, else nothing: keys made on the CPU stay what they were."""
    return {} if config.device == "cpu" else {"device": config.device.split(":")[0]}


def unit_key(config: CampaignConfig, spec: UnitSpec, *, features_digest: str, image_model_identity: str) -> str:
    """The digest of everything that determines `spec`'s record (see the module docstring)."""
    attack = spec.build_attack()
    threat = spec.experiment.build_threat_model(spec.threat_model)
    defense = config.defense(spec.defense)
    extra = {"defense": {"name": spec.defense, "config": defense.config()}} if spec.defense != "none" else {}
    return digest(
        {
            **extra,
            "format": UNIT_FORMAT,
            "seed": config.seed,
            "features": features_digest,
            "recommender": model_recipe(config, spec.recommender, image_model_identity, defense),
            "platform": {"visible_fraction": config.visible_fraction},
            "attack": {"name": spec.attack, "class": type(attack).__name__, "config": attack.key_config()},
            "threat_model": {"name": spec.threat_model, "config": threat.config()},
            "unit": spec.unit_id,
            "pair": {"index": spec.pair.index, "item": spec.pair.item, "target_user": spec.pair.target_user},
        }
        | _device_entry(config)
    )
