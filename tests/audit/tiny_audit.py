"""The tiny audit config of the audit tests: the embedded catalog at 32 x 32, a few training epochs."""

from __future__ import annotations

import textwrap
from pathlib import Path


def audit_toml(folder: Path, feature_cache: Path, audit: str, tables: str = "", *, epochs: int = 2) -> str:
    """Write ``folder/audit.toml`` with `audit` as its ``[audit]`` table and `tables` after it; its path."""
    path = folder / "audit.toml"
    path.write_text(textwrap.dedent(f'''
        seed = 3
        visible_fraction = 0.1
        cache_dir = "{feature_cache}"
        [dataset]
        name = "fashion"
        options = {{upload_size = 32}}
        [image_model]
        input_size = 32
        [training]
        models = ["bpr", "vbpr"]
        epochs = {epochs}
        [audit]
    ''') + textwrap.dedent(audit) + textwrap.dedent(tables))
    return str(path)
