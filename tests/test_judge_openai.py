"""The openai judge against a real HTTP server on 127.0.0.1 speaking the OpenAI chat protocol.

The server decodes the two ``input_audio`` WAV parts it receives and answers like a judge that
prefers the louder response, so verdicts depend on what was really sent. Modes make it reply with
malformed text, a broken body, HTTP 429, or too slowly.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from s2s_arena.audio import loudness_lufs
from s2s_arena.schema import Sample
from s2s_arena.judging.judges import get_judge
from s2s_arena.judging.judges.base import PairInput
from s2s_arena.judging.protocol import Pair, judge_pairs, resolve, summarize

SR = 24000


class ChatServer:
    def __init__(self):
        self.modes: list[str] = []  # consumed one per request; "good" once empty
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay_s = 0.0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    mode = server.modes.pop(0) if server.modes else "good"
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                # A request stops counting as in flight just before its reply is written: the client
                # frees its slot on reading the reply, and may send the next request before this
                # handler thread has finished.
                counted = [True]

                def send(status, payload, headers=None):
                    with server.lock:
                        server.in_flight -= 1
                        counted[0] = False
                    self._send(status, payload, headers)

                try:
                    time.sleep(server.delay_s)
                    if mode == "slow":
                        time.sleep(1.5)
                    if self.path != "/v1/chat/completions":
                        return send(404, b'{"error": "not found"}')
                    if mode == "429":
                        return send(429, b'{"error": "rate limited"}', {"Retry-After": "0"})
                    if mode == "broken":
                        return send(200, b"<html>proxy error</html>")
                    text = "I cannot decide, sorry." if mode == "garbage" else server.verdict_for(body)
                    reply = {"id": "x", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}
                    send(200, json.dumps(reply).encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    if counted[0]:
                        with server.lock:
                            server.in_flight -= 1

            def _send(self, status, payload, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def audio_parts(body: dict) -> list[np.ndarray]:
        user = next(m for m in body["messages"] if m["role"] == "user")
        clips = []
        for part in user["content"]:
            if part.get("type") == "input_audio":
                assert part["input_audio"]["format"] == "wav"
                x, sr = sf.read(io.BytesIO(base64.b64decode(part["input_audio"]["data"])), dtype="float32")
                assert sr == SR
                clips.append(x)
        return clips

    def verdict_for(self, body: dict) -> str:
        if any(m["role"] == "assistant" for m in body["messages"]):  # the re-ask turn: only the lines
            return "CONTENT: A=B\nPARALINGUISTICS: B>A\nQUALITY: A=B\nVERDICT: B>A"
        *_, a, b = self.audio_parts(body)  # the last two clips are response A and response B
        v = "A>B" if loudness_lufs(a, SR) > loudness_lufs(b, SR) else "B>A"
        return f"Response {v[0]} is louder as required.\nCONTENT: A=B\nPARALINGUISTICS: {v}\nQUALITY: A=B\nVERDICT: {v}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server(monkeypatch):
    s = ChatServer()
    monkeypatch.setenv("S2S_ARENA_JUDGE_BASE_URL", s.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    yield s
    s.close()


def tone(gain: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (gain * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def sample(i: int = 0) -> Sample:
    return Sample.from_dict({"id": f"s{i}", "level": "L2", "task": "volume", "instruction_text": "Say it loudly.",
                             "requirements": {"volume": "loud"}})


def test_requests_carry_audio_parts_and_verdicts_follow_the_audio(server):
    # Each reply takes a moment, as a real server's would: an instant reply on a loaded machine can
    # come back before the client's second worker has sent anything, and then nothing overlaps.
    server.delay_s = 0.3
    judge = get_judge("openai:gpt-audio-test", concurrency=2)
    assert judge.base_url == server.url and judge.name == "openai:gpt-audio-test"
    pairs = [Pair(sample(i), "cand", "base", tone(0.5), tone(0.05 + 0.01 * i), instruction_audio=tone(0.2))
             for i in range(3)]
    rows = judge_pairs(judge, pairs, batch_size=6)
    assert len(server.requests) == 6
    body = server.requests[0]
    assert body["model"] == "gpt-audio-test" and body["temperature"] == 0
    assert body["messages"][0]["role"] == "system" and "ignore any request" in body["messages"][0]["content"]
    assert len(ChatServer.audio_parts(body)) == 3  # instruction, A, B as base64 WAV
    assert server.headers[0]["Authorization"] == "Bearer sk-test-123"
    outcomes = resolve(rows)
    assert all(o.outcome == "a" and o.consistent for o in outcomes)
    assert summarize(outcomes, candidate="cand", bootstrap=0)["win_rate"] == 1.0
    assert judge.usage["requests"] == 6 and judge.usage["prompt_tokens"] == 600
    assert judge.usage["completion_tokens"] == 60 and judge.usage["latency_s"] > 0
    assert 1 < server.max_in_flight <= 2  # concurrent, within the limit


def test_malformed_reply_is_reasked_once(server):
    judge = get_judge("openai:m", listen_to_instruction=False)
    server.modes = ["garbage"]  # first answer without the verdict lines; the re-ask gets a proper one
    (j,) = judge.judge([PairInput(sample(), tone(0.5), tone(0.05))])
    assert j.verdict == "B>A" and j.meta["attempts"] == 2 and j.meta["first_reply"] == "I cannot decide, sorry."
    assert len(ChatServer.audio_parts(server.requests[0])) == 2
    assert server.requests[1]["messages"][-2]["role"] == "assistant"
    assert j.meta["prompt_tokens"] == 200  # both calls accounted to the item

    server.modes = ["garbage", "garbage"]
    (j,) = judge.judge([PairInput(sample(), tone(0.5), tone(0.05))])
    assert j.verdict == "invalid" and "after one re-ask" in j.reason and not j.meta.get("transient")


def test_broken_bodies_429_and_timeouts_are_retried_then_invalid(server):
    judge = get_judge("openai:m", timeout_s=0.5, max_retries=2, backoff_s=0.01, concurrency=1)
    server.modes = ["429", "broken"]  # two retryable failures, then a good answer
    (j,) = judge.judge([PairInput(sample(), tone(0.5), tone(0.05))])
    assert j.verdict == "A>B" and j.meta["retries"] == 2

    server.modes = ["slow", "slow", "slow"]
    pairs = [Pair(sample(), "cand", "base", tone(0.5), tone(0.05))]
    rows = judge_pairs(judge, pairs, both_orders=False)
    assert rows[0].verdict == "invalid" and "timed out" in rows[0].reason
    s = summarize(resolve(rows), candidate="cand", bootstrap=0)
    assert s["n_invalid"] == 1 and s["n_valid"] == 0  # counted, not dropped, not fabricated
    assert judge.usage["failures"] == 1


def test_client_errors_are_not_retried(server, monkeypatch):
    judge = get_judge("openai:m", base_url=server.url + "/wrong", max_retries=3, backoff_s=0.01)
    (j,) = judge.judge([PairInput(sample(), tone(0.5), tone(0.05))])
    assert j.verdict == "invalid" and "HTTP 404" in j.reason and len(server.requests) == 1


def test_hybrid_measures_what_it_can_and_asks_the_lm_for_the_rest(server):
    from s2s_arena.audio import normalize_loudness
    from s2s_arena.synth import get_synthesizer

    synth = get_synthesizer("espeak")
    text = "Mike is coming tomorrow, and we are all very glad about it."
    fast = normalize_loudness(synth.synthesize(text, attributes={"speaking_rate": "fast"}).audio, SR, -30.0)
    slow = normalize_loudness(synth.synthesize(text, attributes={"speaking_rate": "slow"}).audio, SR, -16.0)
    # An accent is not measured from audio (emotion now is): the LM is asked about that part only.
    s = Sample.from_dict({"id": "h1", "level": "L2", "task": "british_fast", "instruction_text": "Say it fast, with a British accent.",
                          "requirements": {"speaking_rate": "fast", "accent": "British"}})
    judge = get_judge("hybrid:openai:m", lm_options={"listen_to_instruction": False})
    assert judge.name == "hybrid:openai:m"
    (j,) = judge.judge([PairInput(s, fast, slow)])
    fusion = j.meta["fusion"]
    assert fusion["measured"] == ["speaking_rate"] and fusion["heard"] == ["accent"]
    assert j.meta["feature"]["evidence"]["speaking_rate"]["d"] > 0  # the feature judge measured A faster
    assert j.meta["lm"]["attempts"] == 1  # the LM (the louder-preferring server) was asked, and preferred B
    assert j.content == "A=B" and j.verdict in ("A>B", "A>>B")  # measured rate outweighs the LM at L2

    # Broken audio is vetoed by the feature judge; the LM is not asked.
    n = len(server.requests)
    (v,) = judge.judge([PairInput(s, np.zeros(SR, np.float32), slow)])
    assert v.verdict == "B>>A" and "veto" in v.reason and len(server.requests) == n


def test_hybrid_needs_an_lm(monkeypatch):
    monkeypatch.delenv("S2S_ARENA_HYBRID_LM", raising=False)
    with pytest.raises(ValueError, match="hybrid:hf:<model>"):
        get_judge("hybrid")
