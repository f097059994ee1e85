"""Shared helpers for the systems / generate tests: benchmark samples and a local OpenAI-style server."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from s2s_arena.schema import Sample

SR = 24_000


def make_samples(n: int = 4, seconds: float = 0.6, seed: int = 0) -> list[Sample]:
    """Benchmark samples with real (synthetic) instruction audio, one level after another."""
    rng = np.random.default_rng(seed)
    levels = ["L0", "L1", "L2", "L3"]
    reqs = [{}, {}, {"speaking_rate": ["fast", "normal", "slow"]}, {"emotion": "happy", "language": "zh"}]
    out = []
    for i in range(n):
        t = np.arange(int(SR * seconds)) / SR
        x = (0.3 * np.sin(2 * np.pi * (180 + 40 * i) * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
        out.append(Sample(
            id=f"s{i:03d}", level=levels[i % 4], domain="daily", task="qa", language="en",
            instruction_text=f"Please answer question number {i}.", evaluation_target="Which answer is better?",
            requirements=reqs[i % 4], audio={"array": x, "sampling_rate": SR},
        ))
    return out


def wav_bytes(x: np.ndarray, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def reply_audio(seconds: float = 0.4, sr: int = 16_000) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


class OpenAIAudioServer:
    """A real HTTP server on 127.0.0.1 speaking the chat-completions audio protocol.

    ``behaviour(request_json) -> str`` picks the reply per request: "good", "malformed", "no_audio",
    "bad_base64", "slow", "fail" (HTTP 500), "reject" (HTTP 400). Requests are recorded.
    """

    def __init__(self, behaviour=lambda body: "good", slow_s: float = 2.0):
        self.behaviour = behaviour
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path == "/v1/audio/transcriptions":
                    # multipart/form-data: the test only needs to see that a WAV file arrived.
                    with server.lock:
                        server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                                "body": {"has_wav": b"RIFF" in raw and b"WAVE" in raw}})
                    return self._send(200, json.dumps({"text": "hello the answer"}).encode())
                body = json.loads(raw)
                if self.path == "/v1/audio/speech":
                    with server.lock:
                        server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                    data = wav_bytes(reply_audio(0.3, 22_050), 22_050)
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    return self.wfile.write(data)
                with server.lock:
                    server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                mode = server.behaviour(body)
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}')
                if mode == "fail":
                    return self._send(500, b'{"error": {"message": "internal error"}}')
                if mode == "reject":
                    return self._send(400, b'{"error": {"message": "audio output not supported"}}')
                if mode == "slow":
                    time.sleep(server.slow_s)
                if mode == "malformed":
                    return self._send(200, b'{"choices": [{"mess')
                if "modalities" not in body:  # a text-only chat request (the cascade's LLM stage)
                    payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "yes you speak slowly"}}]}
                    return self._send(200, json.dumps(payload).encode())
                audio = reply_audio()
                if body.get("stream"):
                    return self._stream(audio)
                msg: dict[str, Any] = {"role": "assistant", "content": None}
                if mode == "no_audio":
                    msg["content"] = "I can only type."
                elif mode == "bad_base64":
                    msg["audio"] = {"id": "a1", "data": "!!!not base64!!!", "transcript": "x"}
                elif mode == "not_audio":
                    msg["audio"] = {"id": "a1", "data": base64.b64encode(b"<html>oops</html>").decode(), "transcript": "x"}
                elif mode == "split":
                    # vLLM-Omni style: one choice with the text, another with the audio.
                    payload = {"id": "c1", "model": body.get("model"), "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "Split reply."}},
                        {"index": 1, "message": {"role": "assistant", "content": None, "audio": {
                            "id": "a1", "data": base64.b64encode(wav_bytes(audio, 16_000)).decode()}}}]}
                    return self._send(200, json.dumps(payload).encode())
                else:
                    msg["audio"] = {"id": "a1", "data": base64.b64encode(wav_bytes(audio, 16_000)).decode(),
                                    "transcript": "Hello there, here is my answer."}
                payload = {"id": "c1", "model": body.get("model"), "choices": [{"index": 0, "message": msg}],
                           "usage": {"total_tokens": 7}}
                self._send(200, json.dumps(payload).encode())

            def _send(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, audio):
                # PCM16 at 24 kHz in three deltas, transcript in two, as OpenAI streams it.
                from s2s_arena.audio import resample

                pcm = (resample(audio, 16_000, SR) * 32767).astype("<i2").tobytes()
                thirds = [pcm[: len(pcm) // 3 // 2 * 2], pcm[len(pcm) // 3 // 2 * 2 : 2 * len(pcm) // 3 // 2 * 2],
                          pcm[2 * len(pcm) // 3 // 2 * 2 :]]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                events = [{"audio": {"transcript": "Hello "}}, {"audio": {"data": base64.b64encode(thirds[0]).decode()}},
                          {"audio": {"transcript": "stream."}}, {"audio": {"data": base64.b64encode(thirds[1]).decode()}},
                          {"audio": {"data": base64.b64encode(thirds[2]).decode()}}]
                for delta in events:
                    chunk = {"choices": [{"index": 0, "delta": delta}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.02)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def audio_of(body: dict[str, Any]) -> bytes:
    """The WAV bytes a request carried as input_audio."""
    part = body["messages"][-1]["content"][0]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
    return base64.b64decode(part["input_audio"]["data"])
