"""``pixelpush run`` and ``pixelpush demo`` (placeholder)."""


def run() -> None:
    """Not implemented yet."""
    raise SystemExit("pixelpush run: not implemented yet")


def demo() -> None:
    """Not implemented yet."""
    raise SystemExit("pixelpush demo: not implemented yet")
