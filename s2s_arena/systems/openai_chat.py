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
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np

from ..audio import SAMPLE_RATE, AudioError, encode_wav, read_raw, to_mono
from ..schema import Sample, SystemInfo
from .base import System, SystemOutput, prompts, sample_audio

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


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
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
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
        self._client = None

    # -- HTTP ------------------------------------------------------------------------------------
    def _http(self):
        import httpx

        if self._client is None:
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout_s)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

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
        import httpx

        body = self.request_body(sample)
        start = time.perf_counter()
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            try:
                out = self._stream(body, start) if self.stream else self._whole(body, start)
                out.meta["attempts"] = attempt + 1
                return out
            except httpx.TimeoutException:
                last_error = f"timeout: no complete reply from {self.base_url} within {self.timeout_s:g} s"
            except httpx.TransportError as e:
                last_error = f"cannot reach {self.base_url}: {type(e).__name__}: {e}"
            except _RetryableStatus as e:
                last_error = str(e)
            except ReplyError as e:
                # A malformed reply is not retried: the same request tends to get the same reply.
                return SystemOutput.failed(f"malformed reply from {self.base_url}: {e}", time.perf_counter() - start, attempts=attempt + 1)
        return SystemOutput.failed(last_error, time.perf_counter() - start, attempts=self.retries + 1)

    def _check_status(self, status: int, text: str) -> None:
        if status == 200:
            return
        msg = f"HTTP {status} from {self.base_url}/chat/completions: {text[:300]}"
        if status in RETRY_STATUS:
            raise _RetryableStatus(msg)
        raise ReplyError(msg)

    def _whole(self, body: dict[str, Any], start: float) -> SystemOutput:
        resp = self._http().post("/chat/completions", json=body)
        total = time.perf_counter() - start
        self._check_status(resp.status_code, resp.text)
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

    def _stream(self, body: dict[str, Any], start: float) -> SystemOutput:
        chunks: list[bytes] = []
        transcript: list[str] = []
        first_audio: float | None = None
        with self._http().stream("POST", "/chat/completions", json=body) as resp:
            if resp.status_code != 200:
                resp.read()
                self._check_status(resp.status_code, resp.text)
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


class _RetryableStatus(Exception):
    pass


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
