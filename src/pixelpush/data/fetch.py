"""Download item images once, validated, atomically and resumably (stdlib ``urllib``, no other client).

``fetch_images(urls, dest)`` writes ``dest/{key}{suffix}`` for every ``key -> url``:

- cache: a file already recorded as done in the state file is trusted and skipped; a file that is
  present but unrecorded (an interrupted run, or put there by hand) is decoded and kept if valid;
- retries: connection errors, timeouts, HTTP 408/425/429 and 5xx are retried ``retries`` times with
  exponential backoff (``backoff * 2**attempt`` seconds); other HTTP errors (404, 403, ...) fail
  at once;
- validation: every download is decoded with :func:`pixelpush.vision.decode.decode_image`; a bad
  image is a recorded failure and leaves no file (the bytes are stored as served, not re-encoded);
- atomic writes: bytes go to a hidden ``.tmp`` file in `dest`, then ``os.replace``;
- resumable: ``dest/.fetch-state.jsonl`` gets one JSON line per finished key (``done`` or
  ``failed``), appended and flushed as each finishes, so a re-run after a kill skips them; keys
  that failed before are not retried unless ``retry_failed=True``.

One fetch at a time per `dest` (a lock file enforces it); stale ``.tmp`` files of a killed run are
removed at start. Command line: ``python -m pixelpush.data.fetch URLS.json DEST`` with URLS.json a
JSON object ``{key: url}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pixelpush import __version__
from pixelpush.errors import ConfigError, ImageDecodeError, PixelpushError
from pixelpush.files import write_atomic
from pixelpush.progress import progress_bar

logger = logging.getLogger(__name__)

STATE_FILE = ".fetch-state.jsonl"
LOCK_FILE = ".fetch.lock"
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
_RETRY_HTTP = {408, 425, 429}


@dataclass(frozen=True)
class FetchReport:
    """What one :func:`fetch_images` call did, by key."""

    downloaded: tuple[str, ...]
    cached: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)
    failed_before: tuple[str, ...] = ()
    bytes_downloaded: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every requested key now has a valid file."""
        return not self.failed and not self.failed_before

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{len(self.downloaded)} downloaded ({self.bytes_downloaded / 1e6:.1f} MB), {len(self.cached)} cached, "
            f"{len(self.failed)} failed, {len(self.failed_before)} failed before (not retried) in {self.seconds:.1f} s"
        )


class _Transient(Exception):
    """A failure worth retrying."""


class _Permanent(Exception):
    """A failure not worth retrying."""


def _download(url: str, *, timeout: float, max_bytes: int) -> bytes:
    if not url.lower().startswith(("http://", "https://")):
        raise _Permanent(f"unsupported URL {url!r} (http or https only)")
    request = urllib.request.Request(url, headers={"User-Agent": f"pixelpush/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as e:
        reason = f"HTTP {e.code} {e.reason}"
        raise (_Transient(reason) if e.code in _RETRY_HTTP or e.code >= 500 else _Permanent(reason)) from None
    except ValueError as e:  # malformed URL
        raise _Permanent(str(e)) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:  # includes timeouts
        raise _Transient(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from None
    if len(data) > max_bytes:
        raise _Permanent(f"larger than {max_bytes} bytes")
    return data


def _valid(data: bytes, name: str) -> str | None:
    """None when `data` decodes as an image, else the reason."""
    from pixelpush.vision.decode import decode_image

    try:
        decode_image(data, name=name)
    except ImageDecodeError as e:
        return str(e)
    return None


def _fetch_one(
    key: str, url: str, path: Path, *, retries: int, timeout: float, backoff: float, max_bytes: int
) -> tuple[str, int | str]:
    """``("cached", size)``, ``("done", size)`` or ``("failed", reason)`` for one key (runs in a worker)."""
    if path.is_file():
        data = path.read_bytes()
        reason = _valid(data, str(path))
        if reason is None:
            return "cached", len(data)
        logger.warning("%s: existing file is not a valid image (%s); downloading again", path, reason)
        path.unlink(missing_ok=True)
    for attempt in range(retries + 1):
        try:
            data = _download(url, timeout=timeout, max_bytes=max_bytes)
            break
        except _Permanent as e:
            return "failed", str(e)
        except _Transient as e:
            if attempt == retries:
                return "failed", f"{e} (after {retries + 1} attempts)"
            logger.debug("%s: %s; retry %d of %d", url, e, attempt + 1, retries)
            time.sleep(backoff * 2**attempt)
    reason = _valid(data, url)
    if reason is not None:
        return "failed", f"not a valid image: {reason}"
    write_atomic(path, data)
    return "done", len(data)


def read_state(path: Path) -> dict[str, dict]:
    """The last record per key of a state file; unreadable lines (a line cut by a kill) are ignored."""
    state: dict[str, dict] = {}
    if not path.is_file():
        return state
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("key"), str):
            state[record["key"]] = record
    return state


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(dest / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{dest}: another fetch is writing into this folder") from None
        yield


def _open_state(path: Path) -> IO[str]:
    """The state file for appending; a last line cut by a kill is terminated first."""
    f = open(path, "a+", encoding="utf-8")
    if f.tell() > 0:
        f.seek(f.tell() - 1)
        if f.read(1) != "\n":
            f.write("\n")
    return f


def fetch_images(
    urls: Mapping[str, str],
    dest: Path,
    *,
    workers: int = 4,
    retries: int = 3,
    timeout: float = 10,
    progress: bool = True,
    suffix: str = ".jpg",
    backoff: float = 0.5,
    max_bytes: int = 32 * 2**20,
    retry_failed: bool = False,
) -> FetchReport:
    """Download ``urls`` (key -> url) into ``dest/{key}{suffix}``; see the module docstring.

    Keys become file names: letters, digits, ``._-`` only, not starting with a dot.
    """
    if workers < 1 or retries < 0 or timeout <= 0 or backoff < 0:
        raise ConfigError(f"need workers >= 1, retries >= 0, timeout > 0, backoff >= 0; got {workers}, {retries}, "
                          f"{timeout}, {backoff}")
    bad = [k for k in urls if not _KEY.fullmatch(k)]
    if bad:
        raise ConfigError(f"keys must be file-name safe ([A-Za-z0-9._-], not starting with '.'): {bad[:5]}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with _locked(dest):
        for stale in dest.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        state = read_state(dest / STATE_FILE)
        cached, failed_before, todo = [], [], []
        for key in urls:
            status = state.get(key, {}).get("status")
            if status == "done" and (dest / f"{key}{suffix}").is_file():
                cached.append(key)
            elif status == "failed" and not retry_failed:
                failed_before.append(key)
            else:
                todo.append(key)
        if failed_before:
            logger.info("%s: %d keys failed in an earlier run and are not retried (retry_failed=True retries them)",
                        dest, len(failed_before))
        downloaded: list[str] = []
        failed: dict[str, str] = {}
        n_bytes = 0
        with (
            _open_state(dest / STATE_FILE) as log,
            progress_bar(total=len(urls), initial=len(cached) + len(failed_before), unit="img", desc="fetch",
                         enabled=progress) as bar,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool,
        ):
            keys = iter(todo)
            pending: dict[Future, str] = {}
            try:
                while True:
                    while len(pending) < 4 * workers and (key := next(keys, None)) is not None:
                        job = pool.submit(_fetch_one, key, urls[key], dest / f"{key}{suffix}", retries=retries,
                                          timeout=timeout, backoff=backoff, max_bytes=max_bytes)
                        pending[job] = key
                    if not pending:
                        break
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for job in finished:
                        key = pending.pop(job)
                        status, info = job.result()
                        record = {"key": key, "url": urls[key], "status": "failed" if status == "failed" else "done"}
                        if status == "failed":
                            failed[key] = str(info)
                            record["error"] = str(info)
                            logger.warning("%s: %s: %s", key, urls[key], info)
                        else:
                            (downloaded if status == "done" else cached).append(key)
                            n_bytes += int(info) if status == "done" else 0
                            record["bytes"] = int(info)
                        log.write(json.dumps(record) + "\n")
                        log.flush()
                        bar.update(1)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    report = FetchReport(tuple(downloaded), tuple(cached), failed, tuple(failed_before), n_bytes,
                         time.perf_counter() - start)
    logger.info("fetch into %s: %s", dest, report.summary())
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m pixelpush.data.fetch URLS.json DEST``: exit 0 when complete, 1 when some failed, 2 on errors."""
    parser = argparse.ArgumentParser(prog="python -m pixelpush.data.fetch", description=main.__doc__)
    parser.add_argument("urls", type=Path, help="JSON object {key: url}")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--retry-failed", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        urls = json.loads(args.urls.read_text(encoding="utf-8"))
        if not isinstance(urls, dict) or not all(isinstance(v, str) for v in urls.values()):
            raise ConfigError(f"{args.urls}: expected a JSON object of key -> url strings")
        report = fetch_images(urls, args.dest, workers=args.workers, retries=args.retries, timeout=args.timeout,
                              progress=not args.no_progress, retry_failed=args.retry_failed)
    except (PixelpushError, OSError, ValueError) as e:
        logger.error("%s", e)
        return 2
    return 0 if report.complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
