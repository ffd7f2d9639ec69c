"""Upload monitoring: detect black-box probing from the stream of uploads a platform receives.

A probing attack uploads many near-identical images of one item (every probe candidate is an
upload). :class:`UploadMonitor` watches the stream: for each upload of an item it computes a
perceptual hash (64-bit DCT hash, :func:`phash`) and its Hamming distance to the nearest of the
item's previous images in a window (the catalog image included). It records those distances,
so detection rules can be evaluated afterwards at any threshold:

- near-duplicates: flag an item once at least `near_duplicates` of its uploads in the window lie
  within `hash_distance` bits of an earlier one;
- upload rate: flag an item once it received more than `max_uploads` uploads.

:func:`benign_streams` makes the streams of honest sellers to measure false positives on: a
seller replacing a photo by a genuinely different one of the same kind (another catalog image
of the item's category), or touching up the same photo once (re-encoded, brightened, cropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageEnhance
from scipy.fft import dctn

from pixelpush.errors import ConfigError
from pixelpush.random import numpy_rng

__all__ = ["MonitorConfig", "UploadMonitor", "benign_streams", "detection_curve", "flag_event", "hamming", "phash"]


def phash(image: np.ndarray) -> int:
    """The 64-bit perceptual hash of an ``(H, W, 3)`` uint8 image (DCT of a 32x32 grey thumbnail,
    its 8x8 lowest frequencies against their median; as the ``imagehash`` package computes it).

    A small brightness change keeps the hash; flipping the image changes about half its bits:

    >>> rng = np.random.default_rng(0)
    >>> img = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    >>> hamming(phash(img), phash(np.clip(img.astype(int) + 2, 0, 255).astype(np.uint8)))
    0
    >>> hamming(phash(img), phash(img[::-1].copy())) > 16
    True
    """
    grey = Image.fromarray(np.ascontiguousarray(image), "RGB").convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    low = dctn(np.asarray(grey, dtype=np.float64), type=2)[:8, :8]
    bits = (low > np.median(low)).reshape(-1)
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes."""
    return int(bin(a ^ b).count("1"))


@dataclass(frozen=True)
class MonitorConfig:
    """The upload monitor's rules (see the module docstring)."""

    hash_distance: int = 4
    """Two uploads of an item are near-duplicates within this many of the hash's 64 bits."""
    near_duplicates: int = 3
    """Flag an item at this many near-duplicate uploads within the window."""
    window: int = 64
    """How many of the item's latest images a new upload is compared with."""
    max_uploads: int | None = None
    """Also flag an item past this many uploads (None: no rate rule)."""

    def __post_init__(self) -> None:
        for name, value, low in (("hash_distance", self.hash_distance, 0), ("near_duplicates", self.near_duplicates, 1),
                                 ("window", self.window, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.max_uploads is not None and (isinstance(self.max_uploads, bool) or self.max_uploads < 1):
            raise ConfigError(f"max_uploads must be a positive integer or None, got {self.max_uploads!r}")


@dataclass
class _ItemStream:
    hashes: list[int] = field(default_factory=list)
    distances: list[int] = field(default_factory=list)


class UploadMonitor:
    """Observes every upload and probe candidate of a platform (it only records, never blocks).

    Args:
        config: the rules.
        reference: each item's catalog image hash is computed on its first upload from this
            function ``item -> image`` (the platform's current image), so a first near-copy counts.
    """

    def __init__(self, config: MonitorConfig, reference: object = None) -> None:
        self.config = config
        self._reference = reference
        self._streams: dict[int, _ItemStream] = {}

    def observe(self, item: int, images: np.ndarray) -> None:
        """Record uploads ``(B, H, W, 3)`` of `item` (a probe batch or one upload)."""
        stream = self._streams.get(item)
        if stream is None:
            stream = self._streams[item] = _ItemStream()
            if callable(self._reference):
                stream.hashes.append(phash(self._reference(item)))
        for image in images:
            h = phash(image)
            recent = stream.hashes[-self.config.window :]
            stream.distances.append(min((hamming(h, r) for r in recent), default=64))
            stream.hashes.append(h)

    def distances(self, item: int) -> list[int]:
        """For each upload of `item` so far, the Hamming distance to the nearest earlier image in the window."""
        stream = self._streams.get(item)
        return list(stream.distances) if stream else []

    def first_flag(self, item: int) -> int | None:
        """The 1-based upload of `item` at which the rules flag it (None: never so far)."""
        return flag_event(self.distances(item), self.config)


def flag_event(distances: Sequence[int], config: MonitorConfig) -> int | None:
    """The 1-based upload at which a stream with these distances is flagged, or None.

    >>> flag_event([0, 30, 1, 2], MonitorConfig(hash_distance=2, near_duplicates=3))
    4
    """
    near = 0
    window: list[bool] = []
    for k, d in enumerate(distances, start=1):
        window.append(d <= config.hash_distance)
        near += window[-1]
        if len(window) > config.window:
            near -= window.pop(0)
        if near >= config.near_duplicates or (config.max_uploads is not None and k > config.max_uploads):
            return k
    return None


def benign_streams(
    images: object, categories: np.ndarray, *, n: int, seed: int, kind: str = "replace", uploads: int = 3
) -> list[list[int]]:
    """Distance streams of `n` honest sellers (see the module docstring).

    `images` is ``item -> (H, W, 3) uint8`` (the catalog). ``kind="replace"``: each seller uploads
    `uploads` photos of other items of the same category, one after the other; ``"touch-up"``:
    each uploads the same photo `uploads` times, edited once more each time (JPEG at 90,
    brightness +/-8%, a 4% crop resized back), as a seller fixing a photo would.
    """
    if kind not in ("replace", "touch-up"):
        raise ConfigError(f"kind must be 'replace' or 'touch-up', got {kind!r}")
    rng = numpy_rng(seed, "benign", kind)
    n_items = len(categories)
    out = []
    for item in rng.choice(n_items, size=min(n, n_items), replace=False):
        monitor = UploadMonitor(MonitorConfig(window=64), reference=images)
        current = images(int(item))
        for k in range(uploads):
            if kind == "replace":
                same = np.flatnonzero(categories == categories[item])
                current = images(int(rng.choice(same[same != item])))
            else:
                current = _touch_up(current, k, rng)
            monitor.observe(int(item), current[None])
        out.append(monitor.distances(int(item)))
    return out


def _touch_up(image: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    import io

    pil = Image.fromarray(image, "RGB")
    edit = k % 3
    if edit == 0:
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=90)
        buf.seek(0)
        pil = Image.open(buf).convert("RGB")
    elif edit == 1:
        pil = ImageEnhance.Brightness(pil).enhance(1.0 + float(rng.choice([-0.08, 0.08])))
    else:
        h, w = image.shape[:2]
        m = max(1, round(0.02 * h))
        pil = pil.crop((m, m, w - m, h - m)).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(pil, dtype=np.uint8)


def detection_curve(
    attack_streams: Sequence[Sequence[int]], benign: Sequence[Sequence[int]], *, hash_distance: int, thresholds: Sequence[int]
) -> list[dict[str, float]]:
    """TPR (attack streams flagged) and FPR (benign streams flagged) at each near-duplicate threshold."""
    out = []
    for t in thresholds:
        cfg = MonitorConfig(hash_distance=hash_distance, near_duplicates=int(t))
        tpr = float(np.mean([flag_event(s, cfg) is not None for s in attack_streams])) if attack_streams else float("nan")
        fpr = float(np.mean([flag_event(s, cfg) is not None for s in benign])) if benign else float("nan")
        out.append({"hash_distance": hash_distance, "near_duplicates": int(t), "tpr": tpr, "fpr": fpr})
    return out
