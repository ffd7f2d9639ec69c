"""``pixelpush features`` (placeholder)."""


def features() -> None:
    """Not implemented yet."""
    raise SystemExit("pixelpush features: not implemented yet")
