"""``openai:<model>``: a judge behind any OpenAI-compatible chat endpoint that takes audio input.

Works with OpenAI's audio models (gpt-audio, gpt-4o-audio-preview) and with a vLLM server
(``vllm serve Qwen/Qwen2.5-Omni-7B``): the user turn carries the instruction and both responses as
``input_audio`` parts (base64 WAV). The base URL comes from ``base_url=``, else
``S2S_ARENA_JUDGE_BASE_URL``, else ``OPENAI_BASE_URL``, else OpenAI's; the key from ``api_key=``, else
``S2S_ARENA_JUDGE_API_KEY``, else ``OPENAI_API_KEY`` (a local server may need none). Requests run
concurrently; timeouts, connection errors, 429 and 5xx are retried by the shared client
(``s2s_arena.http``: jittered exponential backoff, Retry-After honoured); every
item records its latency and token usage, and the judge keeps running totals in ``usage``.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from s2s_arena.audio import encode_wav
from s2s_arena.http import DEFAULT_BASE_URL, RETRY_STATUS, ApiClient, ApiError

from ..parsing import ParseError, judgement_from_reply
from ..prompts import DEFAULT_PROMPT, load_prompt, render_pairwise
from .base import Judge, Judgement, PairInput

__all__ = ["DEFAULT_BASE_URL", "RETRY_STATUS", "EndpointError", "OpenAIJudge"]
EndpointError = ApiError  # the endpoint failed; kept under the name judging code has used


class OpenAIJudge(Judge):
    version = "1"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 1.0,
                 max_tokens: int = 1024, max_tokens_field: str = "max_tokens", prompt: str = DEFAULT_PROMPT,
                 listen_to_instruction: bool = True, extra_body: dict[str, Any] | None = None, seed: int = 0):
        self.model = model
        self.name = f"openai:{model}"
        self.concurrency = max(1, int(concurrency))
        self.api = ApiClient(base_url, api_key, env=("S2S_ARENA_JUDGE",), timeout_s=timeout_s,
                             max_retries=max_retries, backoff_s=backoff_s, max_connections=self.concurrency)
        self.base_url = self.api.base_url
        self.timeout_s = self.api.timeout_s
        self.max_retries = self.api.max_retries
        self.max_tokens = int(max_tokens)
        self.max_tokens_field = max_tokens_field
        self.template = load_prompt(prompt)
        self.listen_to_instruction = listen_to_instruction
        self.extra_body = dict(extra_body or {})
        self.seed = seed
        self.usage = {"requests": 0, "retries": 0, "failures": 0, "prompt_tokens": 0, "completion_tokens": 0,
                      "latency_s": 0.0}
        self._lock = threading.Lock()

    def config(self) -> Any:
        # The endpoint is part of the identity: the same model name on two servers may differ.
        return {"model": self.model, "base_url": self.base_url, "prompt": self.template.text_for_hash(),
                "max_tokens": self.max_tokens, "instruction_audio": self.listen_to_instruction,
                "extra_body": self.extra_body}

    @property
    def listens_to_instruction(self) -> bool:
        return self.listen_to_instruction

    def __getstate__(self):  # picklable for Ray: the lock is rebuilt on the other side
        state = dict(self.__dict__)
        state["_lock"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- one request -------------------------------------------------------------------------------------
    def _messages(self, item: PairInput) -> list[dict]:
        with_instr = self.listen_to_instruction and item.instruction_audio is not None
        clips = {"instruction": item.instruction_audio, "a": item.audio_a, "b": item.audio_b}
        content = []
        for kind, value in render_pairwise(item.sample, with_instruction_audio=with_instr, template=self.template):
            if kind == "text":
                content.append({"type": "text", "text": value})
            else:
                data = base64.b64encode(encode_wav(clips[value], item.sr)).decode("ascii")
                content.append({"type": "input_audio", "input_audio": {"data": data, "format": "wav"}})
        return [{"role": "system", "content": self.template.system}, {"role": "user", "content": content}]

    @staticmethod
    def _reply(resp) -> tuple[str, dict]:
        try:
            data = resp.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            # a garbage body from an overloaded proxy is worth another attempt
            raise ApiError(f"malformed response body (not an OpenAI chat completion): {resp.text[:200]!r}",
                           retryable=True) from None
        if isinstance(text, list):  # some servers return content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        return text or "", data.get("usage") or {}

    def _chat(self, messages: list[dict], meta: dict) -> str:
        """One chat completion with retries; returns the reply text or raises ApiError."""
        body = {"model": self.model, "messages": messages, "temperature": 0, "seed": self.seed,
                self.max_tokens_field: self.max_tokens, **self.extra_body}
        calls: dict[str, Any] = {}
        try:
            text, usage = self.api.post_json("/chat/completions", json=body, parse=self._reply, meta=calls)
        finally:
            meta["retries"] = meta.get("retries", 0) + calls.get("retries", 0)
            meta["latency_s"] = meta.get("latency_s", 0.0) + calls.get("latency_s", 0.0)
            with self._lock:
                self.usage["requests"] += calls.get("attempts", 0)
                self.usage["retries"] += calls.get("retries", 0)
                self.usage["latency_s"] += calls.get("latency_s", 0.0)
        for key in ("prompt_tokens", "completion_tokens"):
            n = int(usage.get(key) or 0)
            meta[key] = meta.get(key, 0) + n
            with self._lock:
                self.usage[key] += n
        return text

    def judge_one(self, item: PairInput) -> Judgement:
        meta: dict[str, Any] = {}
        try:
            messages = self._messages(item)
            reply = self._chat(messages, meta)
            try:
                return judgement_from_reply(reply, attempts=1, **meta)
            except ParseError as first_error:
                messages = messages + [{"role": "assistant", "content": reply},
                                       {"role": "user", "content": self.template.reask}]
                second = self._chat(messages, meta)
                try:
                    return judgement_from_reply(second, attempts=2, first_reply=reply, **meta)
                except ParseError as e:
                    return Judgement.invalid(f"unparseable reply after one re-ask ({first_error}; then {e})",
                                             attempts=2, raw=[reply, second], **meta)
        except ApiError as e:
            with self._lock:
                self.usage["failures"] += 1
            return Judgement.invalid(str(e), transient=True, **meta)
        except Exception as e:  # noqa: BLE001 - one bad item never ends the batch
            return Judgement.invalid(f"{type(e).__name__}: {e}", transient=True, **meta)

    def judge(self, items: list[PairInput]) -> list[Judgement]:
        if len(items) <= 1 or self.concurrency == 1:
            return [self.judge_one(it) for it in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(self.judge_one, items))

    def close(self) -> None:
        self.api.close()
