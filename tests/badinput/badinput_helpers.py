"""Building blocks of the bad-input corpus: a case type, setup steps, and a folder snapshot.

A setup step is a function of the case's folder (``tmp``); build a case's setup from the steps
below (``file_``, ``config_file``, ``run_folder``, ``movielens``, ``amazon``, ...), which each
return such a function. Text in a case's argv and culprit may name ``{tmp}`` (the case's folder,
which is also the working directory) and ``{unwritable}`` (a folder nothing can be written to).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import stat
import textwrap
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: how to set it up, the command line, the exit code and the culprit's text."""

    id: str
    setup: Sequence[Setup]
    argv: str
    """The command line after ``pixelpush``; split like a shell would (quote paths with spaces)."""
    code: int
    culprit: str
    """A substring of stderr that names what is wrong."""
    xfail: str = ""
    """Non-empty: a known gap (the reason), expected to fail until someone fixes it."""
    marks: tuple[Any, ...] = field(default_factory=tuple)

    def param(self) -> Any:
        marks = (*self.marks, *([pytest.mark.xfail(reason=self.xfail, strict=True)] if self.xfail else []))
        return pytest.param(self, id=self.id, marks=marks)


# ---- setup steps -------------------------------------------------------------------------------


def file_(rel: str, text: str = "") -> Setup:
    """A regular file at ``tmp/rel`` (its folders created)."""

    def make(tmp: Path) -> None:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return make


def folder(rel: str) -> Setup:
    """An empty folder at ``tmp/rel``."""
    return lambda tmp: (tmp / rel).mkdir(parents=True, exist_ok=True)


def config_file(rel: str, toml: str) -> Setup:
    """A campaign config at ``tmp/rel`` from a TOML string (dedented; not checked here)."""
    return file_(rel, textwrap.dedent(toml).lstrip("\n"))


ATTACK_ENTRY: dict[str, Any] = {
    "experiment": "t", "recommender": "vbpr", "attack": "bb-rank", "threat_model": "specific-user",
    "perturbations": 8, "blend_epsilon": None, "steps": 2, "pairs": 1, "eval_users": 1,
    "hr_before": {"1": 0.0, "10": 0.0, "20": 0.0}, "hr": {"1": 0.0, "10": 1.0, "20": 1.0},
    "hr_by_step": {"1": [0.0, 0.0, 0.0], "10": [0.0, 0.0, 1.0], "20": [0.0, 1.0, 1.0]},
    "ssim_by_step": [1.0, 0.99, 0.98], "uploads_by_step": [0.0, 9.0, 18.0],
    "uploads_per_pair": 18.0, "queries_per_pair": 18.0, "uploads_to_top20_median": 9.0,
    "success_rate_top20": 1.0, "gradient_cosine_mean": 0.2, "pixel_gradient_cosine_mean": 0.3,
    "uninformative_step_rate": 0.0, "rank_before": [40.0],
}
"""A results.json attack entry as a campaign writes it (docs/results-schema.md)."""

PAIR_RECORD: dict[str, Any] = {
    "unit": "t/vbpr/bb-rank/specific-user/d8/0000", "experiment": "t", "recommender": "vbpr", "attack": "bb-rank",
    "threat_model": "specific-user", "perturbations": 8, "blend_epsilon": None, "steps": 2, "pair": 0, "item": 7,
    "target_user": 3, "segment_item": None, "n_eval_users": 1, "rank_before": 40.0,
    "hits_by_step": {"1": [0.0, 0.0, 0.0], "10": [0.0, 0.0, 1.0], "20": [0.0, 1.0, 1.0]},
    "rank_by_step": [40.0, 15.0, 8.0], "ssim_by_step": [1.0, 0.99, 0.98], "uploads": 18, "queries": 18,
    "setup_uploads": 0, "setup_queries": 1, "stopped": "completed", "uploads_by_step": [0, 9, 18],
    "uploads_to_top20": 9, "gradient_cosine": [0.2, 0.2], "pixel_gradient_cosine": [0.3, 0.3],
    "uninformative_steps": 0, "images": None, "seconds": 0.1,
}
"""A pairs.jsonl record as a campaign writes it (docs/results-schema.md)."""


def run_folder(
    rel: str = "run", *, attack: dict[str, Any] | None = None, pair: dict[str, Any] | None = None,
    results_text: str | None = None, extra_lines: Sequence[str] = (),
) -> Setup:
    """A minimal finished run folder (one attack entry, one pair record) at ``tmp/rel``.

    `attack` / `pair` override fields of :data:`ATTACK_ENTRY` / :data:`PAIR_RECORD`;
    `results_text` replaces results.json's text; `extra_lines` are appended to pairs.jsonl as is.
    """

    def make(tmp: Path) -> None:
        run = tmp / rel
        run.mkdir(parents=True, exist_ok=True)
        entry = {**copy.deepcopy(ATTACK_ENTRY), **(attack or {})}
        results = {
            "dataset": {"name": "fashion", "n_users": 10, "n_items": 50}, "recommenders": {"vbpr": {"auc": 0.8}},
            "attacks": [entry], "config": {}, "seed": 0, "versions": {"pixelpush": "0.1.0"},
        }
        text = results_text if results_text is not None else json.dumps(results)
        (run / "results.json").write_text(text, encoding="utf-8")
        record = {**copy.deepcopy(PAIR_RECORD), **(pair or {})}
        lines = [json.dumps(record), *extra_lines]
        (run / "pairs.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    return make


MOVIELENS_GENRES = ("unknown", "Action", "Comedy")


def movielens(rel: str = "ml", *, extra_ratings: Sequence[str] = ()) -> Setup:
    """A tiny MovieLens-100K folder (5 movies with posters, 2 users who like all) plus raw ``u.data`` lines."""

    def make(tmp: Path) -> None:
        from PIL import Image

        root = tmp / rel
        base, posters = root / "ml-100k", root / "posters"
        base.mkdir(parents=True)
        posters.mkdir()
        (base / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(MOVIELENS_GENRES)))
        movies = range(1, 6)
        items = [f"{m}|Movie {m} (1995)|01-Jan-1995||http://x|0|{m % 2}|{1 - m % 2}" for m in movies]
        (base / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
        for m in movies:
            Image.new("RGB", (8, 12), (40 * m, 10, 200)).save(posters / f"{m}.jpg")
        ratings = [f"{u}\t{m}\t5\t88125094{m}" for u in (1, 2) for m in movies]
        (base / "u.data").write_text("\n".join([*ratings, *extra_ratings]) + "\n")

    return make


AMAZON_CATEGORY = "Clothing_Shoes_and_Jewelry"


def amazon(rel: str = "amazon", *, reviews: Sequence[str]) -> Setup:
    """An Amazon 2014 folder whose reviews file holds exactly the JSON `reviews` lines (and a metadata file)."""

    def make(tmp: Path) -> None:
        root = tmp / rel
        root.mkdir(parents=True)
        with gzip.open(root / f"reviews_{AMAZON_CATEGORY}.json.gz", "wt", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in reviews))
        with gzip.open(root / f"meta_{AMAZON_CATEGORY}.json.gz", "wt", encoding="utf-8") as fh:
            fh.write(json.dumps({"asin": "B001", "imUrl": "http://x/B001.jpg"}) + "\n")

    return make


def review(overall: str) -> str:
    """A review line of U1 for B001 with `overall` written into the JSON as is (``NaN``, ``"5"``, ...)."""
    return f'{{"reviewerID": "U1", "asin": "B001", "overall": {overall}}}'


# ---- paths that cannot be written --------------------------------------------------------------


def _can_create_in(folder: Path) -> bool:
    probe = folder / f".probe-{uuid.uuid4().hex}"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


def unwritable_folder(tmp: Path) -> Path:
    """A folder path that cannot be created or written: under a read-only folder, else under /proc.

    chmod has no effect for root (as in CI containers); /proc refuses new entries even for root.
    """
    locked = tmp / "read-only"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if not _can_create_in(locked):
        return locked / "out"
    locked.chmod(stat.S_IRWXU)
    locked.rmdir()
    if Path("/proc/self").is_dir() and not _can_create_in(Path("/proc")):
        return Path(f"/proc/pixelpush-badinput-{uuid.uuid4().hex[:8]}") / "out"
    pytest.skip("no unwritable folder here: chmod has no effect and there is no /proc")
    raise AssertionError  # pragma: no cover - pytest.skip raises


# ---- what a failed command must leave untouched -----------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under `root` (hidden ones too): its type and mode, and a file's size, mtime and digest.

    A folder's own mtime is left out: trying a write (and removing the probe) touches it.
    """
    state: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            info = path.lstat()
            entry: tuple[Any, ...] = (stat.S_IFMT(info.st_mode), info.st_mode & 0o7777)
            if stat.S_ISREG(info.st_mode):
                entry += (info.st_size, info.st_mtime_ns, hashlib.blake2b(path.read_bytes()).hexdigest())
            state[str(path.relative_to(root))] = entry
    return state


def describe_changes(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[str]:
    """Paths added, removed or changed between two snapshots."""
    return sorted(
        [f"new: {p}" for p in after.keys() - before.keys()]
        + [f"removed: {p}" for p in before.keys() - after.keys()]
        + [f"changed: {p}" for p in before.keys() & after.keys() if before[p] != after[p]]
    )
