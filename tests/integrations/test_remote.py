"""A live system as a platform: the same campaign through the loopback HTTP adapter gives the same
numbers as in process; timeouts, retries, the request cap, rank-only and score-only services.

All traffic goes to 127.0.0.1; every server runs in a thread of the test and stops with it."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from tiny_campaign import TINY_CAMPAIGN

from pixelpush.errors import BudgetExceededError, UnknownIdError
from pixelpush.evaluation.campaign import run_campaign
from pixelpush.evaluation.config import parse_config
from pixelpush.evaluation.preparation import prepare
from pixelpush.integrations.remote import FunctionService, HttpService, RemotePlatform, ServiceError, serve
from pixelpush.integrations.remote.targets import platform_service
from pixelpush.platform.budget import Budget
from pixelpush.platform.validation import AccessDeniedError

pytestmark = pytest.mark.slow

COMPARED = ("unit", "item", "target_user", "n_eval_users", "hits_by_step", "rank_by_step", "ssim_by_step", "uploads",
            "queries", "setup_uploads", "uploads_by_step", "uploads_to_top20", "stopped")


def _config(feature_cache, tiny_campaign, model: dict) -> dict:
    return {
        **{k: TINY_CAMPAIGN[k] for k in ("seed", "visible_fraction", "dataset", "image_model")},
        "cache_dir": str(feature_cache),
        "training": {"models": ["bpr"], "epochs": 2},
        "models": {"shop": model},
        "experiments": [
            {"name": "remote", "recommenders": ["shop"], "attacks": ["bb-score", "bb-rank", "bb-partial", "prior-rank"],
             "threat_models": ["specific-user", "general"], "perturbations": [4], "steps": 3, "pairs": 2,
             "n_mock_users": 8, "n_eval_users": 25, "images_saved": 0},
        ],
    }


def _records(run_dir):
    rows = [json.loads(line) for line in (run_dir / "pairs.jsonl").read_text().splitlines()]
    return {r["unit"]: {k: r[k] for k in COMPARED} for r in rows}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, feature_cache, tiny_campaign):
    """The tiny campaign's VBPR loaded by a factory, attacked in process."""
    model = {"factory": "pixelpush.integrations.factory:load_pixelpush_model",
             "options": {"path": str(tiny_campaign[0] / "models" / "vbpr.pt")}}
    config = parse_config(_config(feature_cache, tiny_campaign, model))
    out = tmp_path_factory.mktemp("in-process")
    (out / "models").mkdir()
    for name in ("bpr.pt", "bpr.json"):
        (out / "models" / name).write_bytes((tiny_campaign[0] / "models" / name).read_bytes())
    run_campaign(config, out, progress=False)
    return config, out


def test_a_campaign_through_the_loopback_http_adapter_gives_the_in_process_numbers(in_process, feature_cache, tiny_campaign, tmp_path) -> None:
    config, out = in_process
    ctx = prepare(config, out, progress=False)
    with serve(platform_service(ctx, "shop")) as server:
        assert server.url.startswith("http://127.0.0.1:")
        remote = parse_config(_config(feature_cache, tiny_campaign, {"service": server.url, "timeout": 20.0}))
        (tmp_path / "models").mkdir()
        for name in ("bpr.pt", "bpr.json"):
            (tmp_path / "models" / name).write_bytes((tiny_campaign[0] / "models" / name).read_bytes())
        results = run_campaign(remote, tmp_path, progress=False)
    here, there = _records(out), _records(tmp_path)
    assert set(here) == set(there) and len(here) == 16
    for unit in here:
        assert here[unit] == there[unit], unit
    assert results["recommenders"]["shop"]["source"] == "service"
    assert any(r["rank_by_step"][-1] < r["rank_by_step"][0] for r in there.values()), "the attacks moved something"


class _ScoreOnly:
    """A scorer that sees images through a fixed linear map: a user's function, not a platform."""

    def __init__(self, n_items: int = 40, n_users: int = 6, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n_items = n_items
        self.base = rng.integers(0, 256, size=(n_items, 8, 8, 3)).astype(np.uint8)
        self.w = rng.normal(size=(8 * 8 * 3,))
        self.taste = list(rng.normal(size=n_users))
        self.histories = [np.sort(rng.choice(n_items, 3, replace=False)) for _ in range(n_users)]

    def image(self, item):
        return self.base[item]

    def register(self, history):
        self.taste.append(float(np.mean(history)) / self.n_items)
        return len(self.taste) - 1

    def score(self, users, items, images):
        visual = images.reshape(len(images), -1).astype(np.float64) @ self.w / 1e4
        return np.asarray(self.taste)[users][:, None] * visual[None, :] + items[None, :] * 1e-3


def test_ranks_of_a_score_only_service_are_derived_from_its_scores() -> None:
    fake = _ScoreOnly()
    service = FunctionService(n_items=fake.n_items, images=fake.image, register=fake.register, score=fake.score)
    platform = RemotePlatform(service, seed=0, consumed=fake.histories, visible_fraction=0.1)
    client = platform.client("rank")
    user = client.register_user([1, 2])
    all_items = np.arange(fake.n_items)
    row = fake.score(np.asarray([user]), all_items, fake.base)[0]
    for item in (0, 5, 17):
        higher = row > row[item]
        higher[[1, 2]] = False
        assert client.rank(user, item)[0] == (0 if item in (1, 2) else 1 + int(higher.sum()))
    ranking = client.ranking(user)
    assert set(ranking) == set(all_items) - {1, 2} and list(row[ranking]) == sorted(row[ranking], reverse=True)
    brighter = np.full((2, 8, 8, 3), 255, np.uint8)
    probed = client.probe_ranks(user, 5, brighter)
    client.upload_image(5, brighter[0])
    assert client.rank(user, 5)[0] == probed[0]
    assert platform.uploads == 3 and platform.client("partial").rank(user, 5)[0] in (0, probed[0])


def test_a_rank_only_service_refuses_score_access_and_counts_against_the_budget() -> None:
    fake = _ScoreOnly()

    def rank(users, item, images):
        return np.ones((len(users), len(images)), np.int64)

    service = FunctionService(n_items=fake.n_items, images=fake.image, register=fake.register, rank=rank)
    platform = RemotePlatform(service, seed=0, consumed=fake.histories, budget=Budget(max_uploads=3))
    with pytest.raises(AccessDeniedError, match="shows no scores"):
        platform.client("score")
    client = platform.client("rank")
    client.probe_ranks(0, 4, np.zeros((3, 8, 8, 3), np.uint8))
    with pytest.raises(BudgetExceededError):
        client.upload_image(4, np.zeros((8, 8, 3), np.uint8))
    assert platform.uploads == 3


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests of each path, then a fixed info; or stalls."""

    failures = 2
    seen: dict = {}
    stall = 0.0

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        count = _Flaky.seen[self.path] = _Flaky.seen.get(self.path, 0) + 1
        if _Flaky.stall:
            time.sleep(_Flaky.stall)
        code, body = (503, b'{"error": {"kind": "service", "message": "busy"}}') if count <= _Flaky.failures else (
            200, b'{"result": {"n_items": 3, "shows": ["ranks"]}}')
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def flaky():
    _Flaky.seen, _Flaky.failures, _Flaky.stall = {}, 2, 0.0
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_retries_a_busy_service_then_gives_up_and_caps_requests(flaky) -> None:
    client = HttpService(flaky, retries=2, backoff=0.01)
    assert client.info() == {"n_items": 3, "shows": ["ranks"]} and client.requests == 3 and client.retried == 2
    _Flaky.seen, _Flaky.failures = {}, 5
    with pytest.raises(ServiceError, match=r"answered 503: busy \(after 2 attempts\)"):
        HttpService(flaky, retries=1, backoff=0.01).info()
    _Flaky.failures = 100
    capped = HttpService(flaky, retries=10, backoff=0.0, max_requests=4)
    with pytest.raises(ServiceError, match="request budget of 4 requests"):
        capped.info()
    assert capped.requests == 4


def test_a_stalled_service_times_out(flaky) -> None:
    _Flaky.stall, _Flaky.failures = 2.0, 0
    started = time.perf_counter()
    with pytest.raises(ServiceError, match="cannot reach"):
        HttpService(flaky, timeout=0.3, retries=1, backoff=0.0).info()
    assert time.perf_counter() - started < 1.8


def test_nothing_listens_and_errors_come_back_with_their_kind() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ServiceError, match="cannot reach"):
        HttpService(f"http://127.0.0.1:{port}", retries=0, timeout=2).info()
    fake = _ScoreOnly()
    service = FunctionService(n_items=fake.n_items, images=fake.image, register=fake.register, score=fake.score)
    with serve(service) as server:
        client = HttpService(server.url, retries=0)
        with pytest.raises(UnknownIdError, match="unknown item 99"):
            client.image("live", 99)
        uid = client.register_user("live", np.asarray([1, 2]))
        assert uid == len(fake.histories) and client.info()["shows"] == ["scores"]
