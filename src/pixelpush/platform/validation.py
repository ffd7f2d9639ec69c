"""What the platform checks at its boundary: uploads, candidate batches, user and item ids.

Every check raises a :class:`~pixelpush.errors.PixelpushError` subclass naming the culprit, so a
malformed call never reaches the recommender.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixelpush.errors import ImageDecodeError, PixelpushError, UnknownIdError
from pixelpush.vision.decode import validate_upload as check_upload

__all__ = [
    "AccessDeniedError",
    "InvalidRequestError",
    "check_history",
    "check_id",
    "check_ids",
    "validate_batch",
    "validate_upload",
]


class AccessDeniedError(PixelpushError, PermissionError):
    """A client called something its access level does not expose."""


class InvalidRequestError(PixelpushError, ValueError):
    """A platform call with malformed arguments (an empty history, ids of the wrong type, ...)."""


def validate_upload(item: int, image: object) -> np.ndarray:
    """Check an upload is an ``(H, W, 3)`` uint8 array; raise :class:`ImageDecodeError` naming `item`.

    Stricter than :func:`pixelpush.vision.decode.validate_upload` (which it reuses for dtype and
    size): the service takes RGB arrays only, no grayscale to stack.

    >>> validate_upload(7, np.zeros((2, 2), np.uint8))
    Traceback (most recent call last):
    ...
    pixelpush.errors.ImageDecodeError: upload for item 7: expected shape (H, W, 3), got (2, 2)
    """
    name = f"upload for item {item}"
    if isinstance(image, np.ndarray):
        if image.dtype.kind == "f" and np.isnan(image).any():
            raise ImageDecodeError(f"{name}: expected uint8 pixels, got {image.dtype} containing NaN")
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ImageDecodeError(f"{name}: expected shape (H, W, 3), got {image.shape}")
    return check_upload(image, name=name)


def validate_batch(item: int, images: object) -> np.ndarray:
    """Check candidate uploads are ``(B, H, W, 3)`` uint8 with B >= 1, naming `item` if not."""
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ImageDecodeError(f"candidate uploads for item {item}: expected (B, H, W, 3), got {shape}")
    if images.shape[0] < 1:
        raise ImageDecodeError(f"candidate uploads for item {item}: the batch is empty")
    validate_upload(item, images[0])  # dtype and per-image shape are the batch's
    return np.ascontiguousarray(images)


def check_id(value: object, limit: int, what: str) -> int:
    """`value` as an int id in ``0..limit-1``, else :class:`InvalidRequestError` / :class:`UnknownIdError`.

    >>> check_id(np.int64(3), 5, "user")
    3
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidRequestError(f"a {what} id must be an integer, got {type(value).__name__}")
    if not 0 <= int(value) < limit:
        raise UnknownIdError(f"unknown {what} {int(value)}: known {what}s are 0..{limit - 1}")
    return int(value)


def check_ids(values: object, limit: int, what: str, *, scalar_ok: bool = False) -> np.ndarray:
    """`values` as a 1-D int64 array of ids in ``0..limit-1`` (an int too, with `scalar_ok`)."""
    if scalar_ok and isinstance(values, int | np.integer) and not isinstance(values, bool):
        return np.asarray([check_id(values, limit, what)], dtype=np.int64)
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise InvalidRequestError(f"{what} ids must be a 1-D integer array, got {arr.dtype} {arr.shape}")
    bad = arr[(arr < 0) | (arr >= limit)]
    if len(bad):
        raise UnknownIdError(f"unknown {what} {int(bad[0])}: known {what}s are 0..{limit - 1}")
    return arr.astype(np.int64)


def check_history(history: np.ndarray | Sequence[int], n_items: int, *, required: bool) -> np.ndarray:
    """A history as sorted unique int64 item ids; empty is refused when `required` (a new user)."""
    if np.asarray(history).size == 0 and required:
        raise InvalidRequestError("register_user: the history is empty; a user must have consumed an item")
    return np.unique(check_ids(history, n_items, "item"))


def check_histories(histories: Sequence[np.ndarray | Sequence[int]], n_items: int) -> list[np.ndarray]:
    """:func:`check_history` of every existing user's history (empty allowed).

    Histories that are already sorted unique ids in range, as a dataset keeps them, are checked
    in one vectorised pass and copied once (at Amazon Clothing's size, 127k histories: a tenth
    of a second instead of seconds); otherwise each is checked on its own, with its message.
    """
    arrays = [np.asarray(h) for h in histories]
    if not arrays:
        return []
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    flat = np.concatenate(arrays)
    if flat.dtype.kind in "iu" and all(a.ndim == 1 for a in arrays):
        flat = flat.astype(np.int64)
        starts = np.cumsum(lengths) - lengths
        rising = np.diff(flat) > 0
        boundaries = starts[1:][(lengths[1:] > 0) & (starts[1:] > 0)]
        rising[boundaries - 1] = True  # a new history may start anywhere
        if bool(rising.all()) and (flat.size == 0 or (flat.min() >= 0 and flat.max() < n_items)):
            ends = (starts + lengths).tolist()  # slicing directly: np.split is 5x slower at 127k histories
            return [flat[a:b] for a, b in zip(starts.tolist(), ends, strict=True)]
    return [check_history(h, n_items, required=False) for h in histories]
