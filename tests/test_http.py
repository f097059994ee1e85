"""The one OpenAI-compatible HTTP client: retries with jitter, Retry-After, no retry on client errors,
against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from s2s_arena.http import ApiClient, ApiError, parse_retry_after


class Server:
    """Answers each POST with the next planned (status, headers) and records when it was asked."""

    def __init__(self, plan):
        self.plan = list(plan)
        self.times: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.times.append(time.monotonic())
                status, headers = outer.plan.pop(0) if outer.plan else (200, {})
                body = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    made = []

    def make(plan):
        made.append(Server(plan))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_retry_after_is_honoured_then_success(server):
    srv = server([(429, {"Retry-After": "0.4"}), (503, {}), (200, {})])
    api = ApiClient(srv.url, "", max_retries=3, backoff_s=0.01)
    meta: dict = {}
    resp = api.post_json("/chat/completions", json={}, meta=meta)
    assert resp.json() == {"ok": True} and meta["attempts"] == 3 and meta["retries"] == 2
    assert srv.times[1] - srv.times[0] >= 0.35  # waited as told
    assert srv.times[2] - srv.times[1] < 0.3  # then the short jittered backoff


def test_client_errors_fail_at_once_and_name_the_endpoint(server):
    srv = server([(404, {})])
    api = ApiClient(srv.url, "", max_retries=3, backoff_s=0.01)
    with pytest.raises(ApiError) as e:
        api.post_json("/nowhere", json={})
    assert not e.value.retryable and e.value.status == 404 and f"HTTP 404 from {srv.url}/nowhere" in str(e.value)
    assert len(srv.times) == 1


def test_exhausted_retries_and_unreachable_endpoints(server):
    srv = server([(500, {})] * 3)
    api = ApiClient(srv.url, "", max_retries=2, backoff_s=0.01)
    with pytest.raises(ApiError, match=r"HTTP 500 .*\(after 3 attempts\)"):
        api.post_json("/x", json={})
    dead = ApiClient("http://127.0.0.1:9/v1", "", max_retries=0, timeout_s=2)
    with pytest.raises(ApiError, match="cannot reach http://127.0.0.1:9/v1"):
        dead.post_json("/x", json={})


def test_backoff_is_exponential_with_jitter_and_capped():
    api = ApiClient("http://x", "", backoff_s=1.0, max_backoff_s=5.0, rng=random.Random(0))
    for attempt, cap in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 5.0)):
        delays = [api.delay(attempt) for _ in range(200)]
        assert cap * 0.5 <= min(delays) and max(delays) <= cap and max(delays) - min(delays) > 0.2 * cap
    assert api.delay(1, retry_after=120.0) == 5.0  # a server's wish is capped too


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_base_url_and_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("S2S_ARENA_JUDGE_BASE_URL", "http://judge:8000/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    api = ApiClient(env=("S2S_ARENA_JUDGE",))
    assert api.base_url == "http://judge:8000/v1" and api.api_key == "k"
    assert ApiClient("http://given/v1", "").api_key == ""
