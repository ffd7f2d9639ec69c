"""``pixelpush train`` (placeholder)."""


def train() -> None:
    """Not implemented yet."""
    raise SystemExit("pixelpush train: not implemented yet")
