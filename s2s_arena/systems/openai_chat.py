"""``openai:<model>``: an OpenAI-compatible chat endpoint that listens and speaks.

Speaks the Chat Completions audio protocol (``modalities: ["text", "audio"]``, ``input_audio`` in,
``message.audio.data`` + ``transcript`` out) that OpenAI's gpt-audio models and vLLM-Omni servers
(Qwen2.5-Omni / Qwen3-Omni) share. With ``stream=True`` audio arrives as base64 PCM16 deltas, which
is what makes a real time-to-first-audio measurable; without it, first audio = total latency.
Base URL and key come from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` unless given.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np

from ..audio import SAMPLE_RATE, AudioError, encode_wav, read_raw, to_mono
from ..http import DEFAULT_BASE_URL, RETRY_STATUS, ApiClient, ApiError
from ..schema import Sample, SystemInfo
from .base import System, SystemOutput, prompts, sample_audio

__all__ = ["DEFAULT_BASE_URL", "RETRY_STATUS", "OpenAIChatSystem", "ReplyError"]


class ReplyError(Exception):
    """The endpoint answered, but not with a usable audio reply."""


class OpenAIChatSystem(System):
    def __init__(
        self,
        model: str,
        *,
        name: str,
        spec: str = "",
        base_url: str | None = None,
        api_key: str | None = None,
        voice: str = "alloy",
        stream: bool = False,
        timeout_s: float = 120.0,
        retries: int = 2,
        parallel: int = 4,
        system_prompt: str | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        **info: Any,
    ):
        self.model = model
        self.api = ApiClient(base_url, api_key, timeout_s=timeout_s, max_retries=retries, backoff_s=0.5,
                             max_backoff_s=8.0)
        self.base_url = self.api.base_url
        self.voice = voice
        self.stream = bool(stream)
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.parallel = max(1, int(parallel))
        self.system_prompt = prompts()["voice_assistant"] if system_prompt is None else system_prompt
        self.max_tokens = max_tokens
        self.seed = seed
        info.setdefault("architecture", "end-to-end")
        info.setdefault("backbone", model)
        self.info = SystemInfo(name=name, spec=spec, **info)

    def close(self) -> None:
        self.api.close()

    def request_body(self, sample: Sample) -> dict[str, Any]:
        wav = base64.b64encode(encode_wav(sample_audio(sample), SAMPLE_RATE)).decode("ascii")
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}]})
        body: dict[str, Any] = {
            "model": self.model,
            "modalities": ["text", "audio"],
            # Streaming deltas are raw PCM16 (the only streamable format); whole replies are WAV.
            "audio": {"voice": self.voice, "format": "pcm16" if self.stream else "wav"},
            "messages": messages,
        }
        if self.stream:
            body["stream"] = True
        if self.max_tokens:
            body["max_completion_tokens"] = int(self.max_tokens)
        if self.seed is not None:
            body["seed"] = int(self.seed)
        return body

    def respond(self, batch: list[Sample]) -> list[SystemOutput]:
        # Requests are I/O bound: a few in flight at once per worker; Ray adds workers on top.
        if len(batch) <= 1 or self.parallel == 1:
            return super().respond(batch)
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(batch))) as pool:
            return [out for chunk in pool.map(lambda s: super(OpenAIChatSystem, self).respond([s]), batch) for out in chunk]

    def respond_one(self, sample: Sample) -> SystemOutput:
        body = self.request_body(sample)
        start = time.perf_counter()
        meta: dict[str, Any] = {}
        try:
            out = self.api.call(lambda http: self._stream(http, body, start) if self.stream else self._whole(http, body, start),
                                meta=meta)
        except ApiError as e:
            return SystemOutput.failed(str(e), time.perf_counter() - start, attempts=meta.get("attempts", 1))
        except ReplyError as e:
            # A malformed reply is not retried: the same request tends to get the same reply.
            return SystemOutput.failed(f"malformed reply from {self.base_url}: {e}", time.perf_counter() - start,
                                       attempts=meta.get("attempts", 1))
        out.meta["attempts"] = meta.get("attempts", 1)
        return out

    def _check_status(self, resp) -> None:
        try:
            self.api.check(resp, "/chat/completions")
        except ApiError as e:
            if e.retryable:
                raise
            raise ReplyError(str(e)) from None

    def _whole(self, http, body: dict[str, Any], start: float) -> SystemOutput:
        resp = http.post("/chat/completions", json=body)
        total = time.perf_counter() - start
        self._check_status(resp)
        try:
            data = resp.json()
            messages = [c["message"] for c in data["choices"]]
            if not messages or not all(isinstance(m, dict) for m in messages):
                raise TypeError
        except (ValueError, KeyError, IndexError, TypeError):
            raise ReplyError(f"expected JSON with choices[].message, got {resp.text[:200]!r}") from None
        # OpenAI puts text and audio in one message; vLLM-Omni returns one choice per output modality.
        message = next((m for m in messages if isinstance(m.get("audio"), dict)), messages[0])
        audio = message.get("audio")
        if not isinstance(audio, dict) or not isinstance(audio.get("data"), str) or not audio["data"]:
            raise ReplyError("no choices[].message.audio.data: the model did not speak (does it support audio output?)")
        try:
            raw = base64.b64decode(audio["data"], validate=True)
        except ValueError:
            raise ReplyError("choices[].message.audio.data is not base64") from None
        try:
            x, sr = read_raw(raw, where="choices[].message.audio.data")
        except AudioError as e:
            raise ReplyError(str(e)) from None
        text = audio.get("transcript") or next((m["content"] for m in messages if isinstance(m.get("content"), str) and m["content"]), "")
        return SystemOutput(
            audio=to_mono(x), sr=sr, text=text if isinstance(text, str) else "", latency_first_audio_s=total,
            latency_total_s=total, meta={"model": data.get("model", self.model), "usage": data.get("usage") or {}},
        )

    def _stream(self, http, body: dict[str, Any], start: float) -> SystemOutput:
        chunks: list[bytes] = []
        transcript: list[str] = []
        first_audio: float | None = None
        with http.stream("POST", "/chat/completions", json=body) as resp:
            if resp.status_code != 200:
                resp.read()
                self._check_status(resp)
            for event in _sse_events(resp.iter_lines()):
                try:
                    choices = event["choices"]
                    delta = (choices[0].get("delta") or {}) if choices else {}  # a final usage event has none
                except (KeyError, IndexError, TypeError, AttributeError):
                    raise ReplyError(f"stream event without choices[].delta: {str(event)[:200]}") from None
                audio = delta.get("audio") or {}
                if audio.get("data"):
                    try:
                        chunks.append(base64.b64decode(audio["data"], validate=True))
                    except ValueError:
                        raise ReplyError("a stream delta's audio.data is not base64") from None
                    if first_audio is None:
                        first_audio = time.perf_counter() - start
                if audio.get("transcript"):
                    transcript.append(audio["transcript"])
                elif isinstance(delta.get("content"), str):
                    transcript.append(delta["content"])
        total = time.perf_counter() - start
        pcm = b"".join(chunks)
        if not pcm:
            raise ReplyError("the stream carried no audio deltas: the model did not speak")
        if len(pcm) % 2:
            raise ReplyError(f"streamed PCM16 audio has an odd byte count ({len(pcm)})")
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return SystemOutput(audio=x, sr=SAMPLE_RATE, text="".join(transcript), latency_first_audio_s=first_audio,
                            latency_total_s=total, meta={"model": self.model, "streamed": True})


def _sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """JSON payloads of a server-sent-event stream, up to ``data: [DONE]``."""
    for line in lines:
        line = line.strip()
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            yield json.loads(payload)
        except json.JSONDecodeError:
            raise ReplyError(f"stream event is not JSON: {payload[:200]!r}") from None
