"""The image fetcher against a local HTTP server on 127.0.0.1 (no outside traffic)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from pixelpush.data.fetch import STATE_FILE, _locked, fetch_images, read_state
from pixelpush.errors import ConfigError
from pixelpush.vision.decode import decode_image

FAST = {"backoff": 0.01, "progress": False, "timeout": 5}


def _encode(fmt: str, size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


IMAGES = {f"im{k}": _encode("PNG" if k % 2 else "JPEG", (6 + k % 5, 4), (10 * k % 256, 50, 90)) for k in range(40)}


class Server:
    """Serves /img/NAME[?delay=s], /missing (404), /corrupt, /flaky/NAME (503 once), /down (500), /slow."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str = "image/png") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                with server.lock:
                    server.hits[url.path] += 1
                    n = server.hits[url.path]
                delay = float(parse_qs(url.query).get("delay", ["0"])[0])
                time.sleep(delay)
                name = url.path.rsplit("/", 1)[-1]
                if url.path.startswith("/img/") and name in IMAGES:
                    self._send(200, IMAGES[name])
                elif url.path.startswith("/flaky/"):
                    self._send(503, b"busy", "text/plain") if n == 1 else self._send(200, IMAGES[name])
                elif url.path == "/corrupt":
                    self._send(200, IMAGES["im1"][:40] + b"\x00" * 100)
                elif url.path == "/html":
                    self._send(200, b"<html>not an image</html>", "text/html")
                elif url.path == "/down":
                    self._send(500, b"oops", "text/plain")
                elif url.path == "/slow":
                    time.sleep(0.6)
                    self._send(200, IMAGES["im0"])
                else:
                    self._send(404, b"not found", "text/plain")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _files(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))


def test_downloads_validates_retries_and_records(server: Server, tmp_path: Path) -> None:
    urls = {
        "png": server.url("/img/im1"),
        "jpg": server.url("/img/im2"),
        "flaky": server.url("/flaky/im3"),
        "missing": server.url("/missing"),
        "corrupt": server.url("/corrupt"),
        "html": server.url("/html"),
        "down": server.url("/down"),
    }
    report = fetch_images(urls, tmp_path, workers=3, retries=2, **FAST)
    assert sorted(report.downloaded) == ["flaky", "jpg", "png"]
    assert set(report.failed) == {"missing", "corrupt", "html", "down"}
    assert "HTTP 404" in report.failed["missing"]
    assert "not a valid image" in report.failed["corrupt"] and "not a valid image" in report.failed["html"]
    assert "HTTP 500" in report.failed["down"] and "after 3 attempts" in report.failed["down"]
    assert not report.complete
    # retries: the flaky endpoint twice, the broken server 1 + 2 retries, a 404 once
    assert server.hits["/flaky/im3"] == 2 and server.hits["/down"] == 3 and server.hits["/missing"] == 1
    # files exactly as served, for the good ones only, and nothing temporary left
    assert _files(tmp_path) == ["flaky.jpg", "jpg.jpg", "png.jpg"]
    assert (tmp_path / "png.jpg").read_bytes() == IMAGES["im1"]
    assert decode_image(tmp_path / "flaky.jpg").shape == (4, 9, 3)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert report.bytes_downloaded == sum(len(IMAGES[n]) for n in ("im1", "im2", "im3"))
    state = read_state(tmp_path / STATE_FILE)
    assert {k: r["status"] for k, r in state.items()} == {
        "png": "done", "jpg": "done", "flaky": "done", "missing": "failed", "corrupt": "failed", "html": "failed",
        "down": "failed",
    }


def test_rerun_uses_the_cache_and_remembers_failures(server: Server, tmp_path: Path) -> None:
    urls = {"a": server.url("/img/im4"), "b": server.url("/img/im5"), "gone": server.url("/missing")}
    fetch_images(urls, tmp_path, **FAST)
    server.reset()
    again = fetch_images(urls, tmp_path, **FAST)
    assert sorted(again.cached) == ["a", "b"] and again.failed_before == ("gone",) and not again.downloaded
    assert sum(server.hits.values()) == 0
    retried = fetch_images(urls, tmp_path, retry_failed=True, **FAST)
    assert set(retried.failed) == {"gone"} and server.hits == Counter({"/missing": 1})
    # a recorded file that disappeared is downloaded again
    (tmp_path / "a.jpg").unlink()
    assert fetch_images(urls, tmp_path, **FAST).downloaded == ("a",)


def test_existing_unrecorded_files_are_validated(server: Server, tmp_path: Path) -> None:
    (tmp_path / "good.jpg").write_bytes(IMAGES["im6"])  # put there by hand: kept without a download
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # invalid: replaced
    urls = {"good": server.url("/img/im6"), "bad": server.url("/img/im7")}
    report = fetch_images(urls, tmp_path, **FAST)
    assert report.cached == ("good",) and report.downloaded == ("bad",)
    assert server.hits == Counter({"/img/im7": 1})
    assert (tmp_path / "bad.jpg").read_bytes() == IMAGES["im7"]


def test_timeouts_bad_urls_and_keys(server: Server, tmp_path: Path) -> None:
    urls = {"slow": server.url("/slow"), "ftp": "ftp://example.invalid/x.jpg", "junk": "http://"}
    report = fetch_images(urls, tmp_path, retries=0, backoff=0.0, timeout=0.15, progress=False)
    assert set(report.failed) == {"slow", "ftp", "junk"}
    assert "timed out" in report.failed["slow"].lower()
    assert "unsupported URL" in report.failed["ftp"]
    assert _files(tmp_path) == []
    for key in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(ConfigError, match="file-name safe"):
            fetch_images({key: server.url("/img/im0")}, tmp_path, progress=False)
    with pytest.raises(ConfigError, match="workers"):
        fetch_images({}, tmp_path, workers=0)


def test_one_fetch_per_folder_and_cut_state_lines(server: Server, tmp_path: Path) -> None:
    with _locked(tmp_path), pytest.raises(ConfigError, match="another fetch"):
        fetch_images({"a": server.url("/img/im0")}, tmp_path, **FAST)
    # a state line cut by a kill is ignored and does not corrupt the next record
    (tmp_path / STATE_FILE).write_text('{"key": "a", "status": "do')
    fetch_images({"a": server.url("/img/im0")}, tmp_path, **FAST)
    lines = (tmp_path / STATE_FILE).read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["status"] == "done"


def test_resume_after_kill(server: Server, tmp_path: Path) -> None:
    urls = {name: server.url(f"/img/{name}?delay=0.04") for name in IMAGES}
    (tmp_path / "urls.json").write_text(json.dumps(urls))
    dest = tmp_path / "images"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "pixelpush.data.fetch", str(tmp_path / "urls.json"), str(dest), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        state = dest / STATE_FILE
        while time.monotonic() < deadline and proc.poll() is None:
            if state.is_file() and len(state.read_text().splitlines()) >= 8:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the fetch finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = {k for k, r in read_state(dest / STATE_FILE).items() if r["status"] == "done"}
    assert 8 <= len(before) < len(IMAGES)
    server.reset()
    report = fetch_images(urls, dest, workers=2, **FAST)
    assert report.complete
    assert before <= set(report.cached) and not before & set(report.downloaded)
    assert len(report.cached) + len(report.downloaded) == len(IMAGES)
    # finished keys were not fetched again; at most the ones in flight at the kill are re-requested or re-validated
    assert not any(server.hits[f"/img/{k}"] for k in before)
    assert sum(server.hits.values()) == len(report.downloaded) <= len(IMAGES) - len(before)
    assert _files(dest) == sorted(f"{k}.jpg" for k in IMAGES)
    assert not list(dest.glob("*.tmp")) and not list(dest.glob(".*.tmp"))
    for key, data in IMAGES.items():
        assert (dest / f"{key}.jpg").read_bytes() == data
    done = [json.loads(line)["key"] for line in (dest / STATE_FILE).read_text().splitlines()
            if line.startswith("{") and line.endswith("}") and json.loads(line)["status"] == "done"]
    assert sorted(done) == sorted(IMAGES)  # each key recorded done exactly once
    assert np.array_equal(decode_image(dest / "im3.jpg"), decode_image(IMAGES["im3"]))
