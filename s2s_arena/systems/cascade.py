"""``cascade:<asr>+<llm>+<tts>``: the paper's cascade baseline, speech -> text -> text -> speech.

Each stage is a ``transformers`` pipeline (``automatic-speech-recognition``, chat
``text-generation``, ``text-to-audio``) loaded from a model id or local path, or, written
``openai:<model>``, an OpenAI-compatible endpoint (``/audio/transcriptions``, ``/chat/completions``,
``/audio/speech``). A cascade hears no voice, only words: that is exactly the paralinguistic gap the
benchmark measures. The speech stage gets the requirements as a style prompt where it takes one
(``instructions`` of the speech endpoint); transformers text-to-audio models take text only, which
``meta["style_prompt"]`` records.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..audio import SAMPLE_RATE, AudioError, encode_wav, read_raw, resample, to_mono
from ..schema import Sample, SchemaError, SystemInfo
from .base import System, SystemOutput, prompts, requirements_style_prompt, sample_audio

API_PREFIX = "openai:"


def _device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _Api:
    """One OpenAI-compatible endpoint shared by the API stages (the project's one HTTP client)."""

    def __init__(self, base_url: str | None, api_key: str | None, timeout_s: float, retries: int = 2):
        from ..http import ApiClient

        self.client = ApiClient(base_url, api_key, timeout_s=timeout_s, max_retries=retries)
        self.base_url = self.client.base_url

    def post(self, path: str, **kw: Any):
        from ..http import ApiError

        try:
            return self.client.post_json(path, **kw)
        except ApiError as e:
            raise RuntimeError(str(e)) from None


class CascadeSystem(System):
    def __init__(
        self,
        parts: str,
        *,
        name: str,
        spec: str = "",
        device: str | None = None,
        max_new_tokens: int = 160,
        do_sample: bool = False,
        seed: int = 0,
        style_prompt: bool = True,
        voice: str = "alloy",
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 2,
        language: str | None = None,
        **info: Any,
    ):
        stages = [p.strip() for p in parts.split("+")]
        if len(stages) != 3 or not all(stages):
            raise SchemaError("--system", "spec", f"cascade:{parts!r}: expected cascade:<asr>+<llm>+<tts> (three parts)")
        self.asr_spec, self.llm_spec, self.tts_spec = stages
        self.device = device
        self.max_new_tokens = int(max_new_tokens)
        self.do_sample = bool(do_sample)
        self.seed = int(seed)
        self.style_prompt = bool(style_prompt)
        self.voice = voice
        self.language = language
        self._api_args = (base_url, api_key, float(timeout_s), int(retries))
        self._api: _Api | None = None
        self._asr = self._llm = self._tts = None
        info.setdefault("architecture", "cascade")
        info.setdefault("backbone", self.llm_spec.removeprefix(API_PREFIX))
        info.setdefault("description", f"ASR {self.asr_spec} -> LLM {self.llm_spec} -> TTS {self.tts_spec}")
        self.info = SystemInfo(name=name, spec=spec, **info)

    # -- loading (lazy: the driver only needs ``info``; workers load the models) -----------------
    def api(self) -> _Api:
        if self._api is None:
            self._api = _Api(*self._api_args)
        return self._api

    def _pipeline(self, task: str, model: str):
        from transformers import pipeline

        return pipeline(task, model=model, device=_device(self.device))

    def load(self) -> None:
        if self._asr is None and not self.asr_spec.startswith(API_PREFIX):
            self._asr = self._pipeline("automatic-speech-recognition", self.asr_spec)
        if self._llm is None and not self.llm_spec.startswith(API_PREFIX):
            self._llm = self._pipeline("text-generation", self.llm_spec)
        if self._tts is None and not self.tts_spec.startswith(API_PREFIX):
            self._tts = self._pipeline("text-to-audio", self.tts_spec)

    def close(self) -> None:
        if self._api is not None:
            self._api.client.close()
        self._api = self._asr = self._llm = self._tts = None

    # -- stages ----------------------------------------------------------------------------------
    def transcribe(self, x: np.ndarray) -> str:
        if self.asr_spec.startswith(API_PREFIX):
            # bytes, not a file object: a retried request must send the whole file again
            files = {"file": ("instruction.wav", encode_wav(x, SAMPLE_RATE), "audio/wav")}
            data = {"model": self.asr_spec[len(API_PREFIX):]}
            reply = self.api().post("/audio/transcriptions", files=files, data=data).json()
            if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
                raise RuntimeError(f"/audio/transcriptions: expected JSON with 'text', got {str(reply)[:200]}")
            return reply["text"].strip()
        sr = int(getattr(self._asr.feature_extractor, "sampling_rate", 16_000))
        out = self._asr({"raw": resample(x, SAMPLE_RATE, sr), "sampling_rate": sr})
        return str(out.get("text", "")).strip()

    def chat(self, transcript: str) -> str:
        messages = [{"role": "system", "content": prompts()["cascade_llm"]}, {"role": "user", "content": transcript}]
        if self.llm_spec.startswith(API_PREFIX):
            body = {"model": self.llm_spec[len(API_PREFIX):], "messages": messages, "seed": self.seed,
                    "max_completion_tokens": self.max_new_tokens}
            reply = self.api().post("/chat/completions", json=body).json()
            try:
                content = reply["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                raise RuntimeError(f"/chat/completions: expected choices[0].message.content, got {str(reply)[:200]}") from None
            return (content or "").strip()
        import torch

        torch.manual_seed(self.seed)
        out = self._llm(messages, max_new_tokens=self.max_new_tokens, do_sample=self.do_sample, return_full_text=False)
        generated = out[0]["generated_text"]
        if isinstance(generated, list):  # some versions return the whole conversation
            generated = generated[-1]["content"]
        return str(generated).strip()

    def speak(self, text: str, style: str) -> tuple[np.ndarray, int, bool]:
        """(waveform, rate, whether the style prompt reached the model)."""
        if self.tts_spec.startswith(API_PREFIX):
            body: dict[str, Any] = {"model": self.tts_spec[len(API_PREFIX):], "input": text, "voice": self.voice,
                                    "response_format": "wav"}
            if style:
                body["instructions"] = f"Speak with this delivery: {style}."
            raw = self.api().post("/audio/speech", json=body).content
            try:
                x, sr = read_raw(raw, where="/audio/speech reply")
            except AudioError as e:
                raise RuntimeError(str(e)) from None
            return to_mono(x), sr, bool(style)
        import torch

        tokenizer = getattr(self._tts, "tokenizer", None)
        if tokenizer is not None and len(tokenizer(text)["input_ids"]) == 0:
            raise RuntimeError(f"the TTS model {self.tts_spec} finds nothing to pronounce in {text[:80]!r}")
        torch.manual_seed(self.seed)
        out = self._tts(text)
        x = np.asarray(out["audio"], dtype=np.float32).reshape(-1)
        return x, int(out["sampling_rate"]), False

    def respond_one(self, sample: Sample) -> SystemOutput:
        self.load()
        x = sample_audio(sample)
        start = time.perf_counter()
        transcript = self.transcribe(x)
        t_asr = time.perf_counter()
        answer = self.chat(transcript or "(silence)")
        t_llm = time.perf_counter()
        if not answer:
            return SystemOutput.failed("the text model produced an empty answer", t_llm - start, asr_text=transcript)
        style = requirements_style_prompt(sample) if self.style_prompt else ""
        audio, sr, styled = self.speak(answer, style)
        end = time.perf_counter()
        return SystemOutput(
            audio=audio, sr=sr, text=answer, latency_first_audio_s=end - start, latency_total_s=end - start,
            meta={"asr_text": transcript, "style_prompt": style if styled else "",
                  "stage_s": {"asr": round(t_asr - start, 4), "llm": round(t_llm - t_asr, 4), "tts": round(end - t_llm, 4)}},
        )
