"""The project's exceptions. The CLI turns any `PixelpushError` into a one-line message and exit 2."""


class PixelpushError(Exception):
    """Base class: a problem the user can fix (bad input, bad config, exhausted budget)."""


class ConfigError(PixelpushError, ValueError):
    """A configuration value is missing, malformed or out of range."""


class DataError(PixelpushError, ValueError):
    """A dataset file is missing, malformed or inconsistent."""


class ImageDecodeError(PixelpushError, ValueError):
    """An image could not be decoded or failed validation (corrupt, truncated, too large, ...)."""


class UnknownIdError(PixelpushError, KeyError):
    """A user or item id that the platform or dataset does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BudgetExceededError(PixelpushError, RuntimeError):
    """The platform refused an upload or query beyond the configured budget."""


class MissingDependencyError(PixelpushError, ImportError):
    """An optional dependency (an extra such as ``scale``) that a chosen option needs is not installed."""


class AttackError(PixelpushError, RuntimeError):
    """An attack computed something it cannot use (a non-finite gradient estimate): a bug in the
    attack, or a model whose scores are not finite."""
