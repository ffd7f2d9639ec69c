"""``pixelpush report`` (placeholder)."""


def report() -> None:
    """Not implemented yet."""
    raise SystemExit("pixelpush report: not implemented yet")
