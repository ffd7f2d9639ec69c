"""A :class:`RecommenderService` over HTTP: the wire protocol, a client, and a loopback server.

Wire protocol (``docs/remote-service.md``): ``POST /v1/<method>`` with a JSON object of the
method's arguments; the answer is ``{"result": ...}`` (200) or ``{"error": {"kind", "message"}}``
(4xx: the request was wrong, never retried; 5xx: the service failed, retried). Images travel as
base64 PNG (lossless: the service sees exactly the pixels the attacker made). ``register_user``
and ``upload_image`` carry a ``request_id``: a retried one is answered from the server's memory
instead of being applied twice.

:class:`HttpService` is the client (standard library only): per-request timeout, retries with
exponential backoff, and a hard cap on requests (a bound on any loop). :func:`serve` runs a
server for any service on ``127.0.0.1`` only, in a thread (tests, ``pixelpush serve``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

from pixelpush.errors import BudgetExceededError, ConfigError, ImageDecodeError, PixelpushError, UnknownIdError
from pixelpush.integrations.remote.service import RecommenderService, ServiceError
from pixelpush.platform.validation import AccessDeniedError, InvalidRequestError

__all__ = ["HttpService", "ServiceServer", "decode_image", "encode_image", "serve"]

_log = logging.getLogger(__name__)

METHODS = ("info", "open_session", "close_session", "register_user", "upload_image", "image", "scores",
           "probe_scores", "ranks", "probe_ranks", "ranking")
MUTATING = ("register_user", "upload_image", "open_session")
ERROR_KINDS: dict[str, type[PixelpushError]] = {
    "unknown-id": UnknownIdError,
    "invalid": InvalidRequestError,
    "image": ImageDecodeError,
    "budget": BudgetExceededError,
    "access": AccessDeniedError,
    "config": ConfigError,
    "service": ServiceError,
}
MAX_BODY = 64 * 2**20
"""Largest request body the server reads (a probe of 64 uploads of 1024 x 1024 fits)."""


def encode_image(image: np.ndarray) -> str:
    """An ``(H, W, 3)`` uint8 image as base64 PNG text."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_image(text: str) -> np.ndarray:
    """The image of :func:`encode_image` text (ImageDecodeError if it is not one)."""
    from pixelpush.vision.decode import decode_image as decode

    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, AttributeError) as err:
        raise ImageDecodeError(f"an image that is not base64 text: {err}") from None
    return decode(data, name="uploaded image")


def _kind(err: PixelpushError) -> str:
    for kind, cls in ERROR_KINDS.items():
        if isinstance(err, cls):
            return kind
    return "invalid"


# -- the client ----------------------------------------------------------------------------------


class HttpService:
    """A remote :class:`RecommenderService` at `url` (e.g. ``http://127.0.0.1:8765``).

    Args:
        url: the service's base URL.
        timeout: seconds to wait for one answer.
        retries: retries of a request that timed out, could not connect or got a 5xx answer.
        backoff: seconds before the first retry (doubled each time).
        max_requests: requests this client may send at most (then :class:`ServiceError`).
    """

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 2, backoff: float = 0.05, max_requests: int = 1_000_000) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"service URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout, self.retries, self.backoff, self.max_requests = float(timeout), int(retries), float(backoff), int(max_requests)
        self.requests = 0
        self.retried = 0

    def __repr__(self) -> str:
        return f"HttpService({self.url!r}, timeout={self.timeout}, retries={self.retries})"

    def call(self, method: str, **params: Any) -> Any:
        """``POST /v1/<method>`` with `params`; the result, or the service's error re-raised."""
        if method in MUTATING:
            params["request_id"] = uuid.uuid4().hex
        body = json.dumps(params).encode("utf-8")
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if self.requests >= self.max_requests:
                raise ServiceError(f"{method}: the request budget of {self.max_requests} requests to {self.url} is spent")
            self.requests += 1
            if attempt:
                self.retried += 1
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(f"{self.url}/v1/{method}", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - a URL the user configured
                    return json.loads(answer.read().decode("utf-8"))["result"]
            except urllib.error.HTTPError as err:
                payload = self._error_payload(err)
                if err.code < 500:
                    raise ERROR_KINDS.get(payload.get("kind", ""), InvalidRequestError)(payload.get("message", str(err))) from None
                last = ServiceError(f"{method}: {self.url} answered {err.code}: {payload.get('message', err.reason)}")
            except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError) as err:
                last = ServiceError(f"{method}: cannot reach {self.url}: {getattr(err, 'reason', err)}")
            except (ValueError, KeyError) as err:
                last = ServiceError(f"{method}: {self.url} answered something that is not the protocol's JSON: {err}")
            _log.debug("%s failed (attempt %d of %d): %s", method, attempt + 1, self.retries + 1, last)
        assert last is not None
        raise ServiceError(f"{last} (after {self.retries + 1} attempts)")

    @staticmethod
    def _error_payload(err: urllib.error.HTTPError) -> dict[str, Any]:
        try:
            payload = json.loads(err.read().decode("utf-8")).get("error", {})
            return payload if isinstance(payload, dict) else {}
        except (ValueError, AttributeError, OSError):
            return {}

    # -- RecommenderService --------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return dict(self.call("info"))

    def open_session(self, seed: int) -> str:
        return str(self.call("open_session", seed=int(seed)))

    def close_session(self, session: str) -> None:
        self.call("close_session", session=session)

    def register_user(self, session: str, history: np.ndarray) -> int:
        return int(self.call("register_user", session=session, history=np.asarray(history, np.int64).tolist()))

    def upload_image(self, session: str, item: int, image: np.ndarray) -> None:
        self.call("upload_image", session=session, item=int(item), image=encode_image(image))

    def image(self, session: str, item: int) -> np.ndarray:
        return decode_image(self.call("image", session=session, item=int(item)))

    def scores(self, session: str, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = self.call("scores", session=session, users=np.asarray(users, np.int64).tolist(), items=np.asarray(items, np.int64).tolist())
        return np.asarray(out, dtype=np.float64).reshape(len(users), len(items))

    def probe_scores(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        out = self.call("probe_scores", session=session, users=np.asarray(users, np.int64).tolist(), item=int(item),
                        images=[encode_image(im) for im in images])
        return np.asarray(out, dtype=np.float64).reshape(len(users), len(images))

    def ranks(self, session: str, users: np.ndarray, item: int) -> np.ndarray:
        out = self.call("ranks", session=session, users=np.asarray(users, np.int64).tolist(), item=int(item))
        return np.asarray(out, dtype=np.int64).reshape(len(users))

    def probe_ranks(self, session: str, users: np.ndarray, item: int, images: np.ndarray) -> np.ndarray:
        out = self.call("probe_ranks", session=session, users=np.asarray(users, np.int64).tolist(), item=int(item),
                        images=[encode_image(im) for im in images])
        return np.asarray(out, dtype=np.int64).reshape(len(users), len(images))

    def ranking(self, session: str, user: int, k: int) -> np.ndarray:
        return np.asarray(self.call("ranking", session=session, user=int(user), k=int(k)), dtype=np.int64)


# -- the server ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def dispatch(service: RecommenderService, method: str, params: dict[str, Any]) -> Any:
    """Call `method` of `service` with JSON `params` (images decoded); the JSON-ready result."""
    if method not in METHODS:
        raise InvalidRequestError(f"unknown method {method!r}; the protocol has {', '.join(METHODS)}")
    params = {k: v for k, v in params.items() if k != "request_id"}
    if method in ("upload_image",):
        params["image"] = decode_image(params["image"])
    if method in ("probe_scores", "probe_ranks"):
        if not isinstance(params.get("images"), list) or not params["images"]:
            raise InvalidRequestError(f"{method}: images must be a non-empty list of base64 PNG")
        params["images"] = np.stack([decode_image(t) for t in params["images"]])
    for key in ("users", "items", "history"):
        if key in params:
            params[key] = np.asarray(params[key], dtype=np.int64)
    try:
        result = getattr(service, method)(**params)
    except TypeError as err:
        raise InvalidRequestError(f"{method}: bad arguments {sorted(params)}: {err}") from None
    if method == "image":
        return encode_image(result)
    return _jsonable(result)


class _Handler(BaseHTTPRequestHandler):
    server: ServiceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        _log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        method = self.path.removeprefix("/v1/")
        length = int(self.headers.get("Content-Length") or 0)
        if not self.path.startswith("/v1/") or length > MAX_BODY:
            self._send(404 if length <= MAX_BODY else 413, {"error": {"kind": "invalid", "message": f"no such endpoint {self.path}"}})
            return
        try:
            params = json.loads(self.rfile.read(length).decode("utf-8") or "{}")
            if not isinstance(params, dict):
                raise InvalidRequestError("the request body must be a JSON object")
            request_id = params.get("request_id")
            remembered = self.server.remembered(method, request_id)
            if remembered is not None:
                self._send(200, remembered)
                return
            answer = {"result": dispatch(self.server.service, method, params)}
            self.server.remember(method, request_id, answer)
            self._send(200, answer)
        except PixelpushError as err:
            self._send(400, {"error": {"kind": _kind(err), "message": str(err)}})
        except (ValueError, KeyError) as err:
            self._send(400, {"error": {"kind": "invalid", "message": f"{type(err).__name__}: {err}"}})
        except Exception as err:  # noqa: BLE001 - the service failed: a 5xx the client may retry
            _log.exception("%s failed", method)
            self._send(500, {"error": {"kind": "service", "message": f"{type(err).__name__}: {err}"}})


class ServiceServer(ThreadingHTTPServer):
    """An HTTP server for one service, bound to ``127.0.0.1`` (see :func:`serve`)."""

    daemon_threads = True

    def __init__(self, service: RecommenderService, port: int = 0, *, remember: int = 4096) -> None:
        super().__init__(("127.0.0.1", int(port)), _Handler)
        self.service = service
        self._answers: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._limit = int(remember)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def remembered(self, method: str, request_id: Any) -> dict[str, Any] | None:
        if not isinstance(request_id, str):
            return None
        with self._lock:
            return self._answers.get((method, request_id))

    def remember(self, method: str, request_id: Any, answer: dict[str, Any]) -> None:
        if not isinstance(request_id, str):
            return
        with self._lock:
            self._answers[(method, request_id)] = answer
            while len(self._answers) > self._limit:
                self._answers.popitem(last=False)


@contextlib.contextmanager
def serve(service: RecommenderService, port: int = 0) -> Iterator[ServiceServer]:
    """Serve `service` on ``127.0.0.1:port`` (0: a free port) in a thread while the block runs."""
    server = ServiceServer(service, port)
    thread = threading.Thread(target=server.serve_forever, name="pixelpush-service", daemon=True)
    thread.start()
    _log.info("serving %s on %s", type(service).__name__, server.url)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
