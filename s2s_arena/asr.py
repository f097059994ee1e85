"""Optional speech recognition for round-trip checks (dataset QA, the feature judge's content check).

``get_asr("hf:<model id or local path>")`` wraps ``transformers``' automatic-speech-recognition
pipeline (Whisper, wav2vec 2.0 CTC, ...); ``get_asr("faster-whisper:<local model dir or size>")``
uses CTranslate2 Whisper when the ``faster-whisper`` package is installed. Both transcribe a
waveform at any rate: ``asr.transcribe(x, sr, language="en") -> str``. ``wer(ref, hyp)`` scores a
transcript (character error rate for Chinese/Japanese/Korean text, which has no word spaces).
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any, Protocol

import numpy as np

from s2s_arena import audio
from s2s_arena.errors import DependencyError

ASR_SR = 16_000


class ASRError(DependencyError):
    """A speech recogniser cannot be loaded or run; the message names the spec and what is missing."""


class ASR(Protocol):
    name: str

    def transcribe(self, x: np.ndarray, sr: int, language: str | None = None) -> str: ...


def _prepare(x: Any, sr: int) -> np.ndarray:
    arr = audio.to_mono(np.asarray(x, dtype=np.float32))
    audio.check_audio(arr, int(sr), where="asr input")
    return audio.resample(arr, int(sr), ASR_SR)


class HFASR:
    """``transformers`` ASR pipeline; a Whisper model is told the language, a CTC model ignores it."""

    def __init__(self, model: str, *, device: str | int | None = None) -> None:
        from transformers import pipeline

        try:
            self._pipe = pipeline("automatic-speech-recognition", model=model, device=device)
        except Exception as e:
            raise ASRError(f"asr hf:{model}: cannot load a speech-recognition model "
                           f"(offline runs need a local path): {type(e).__name__}: {e}") from None
        self.name = f"hf:{os.path.basename(os.path.normpath(model)) or model}"
        self._is_whisper = getattr(self._pipe.model.config, "model_type", "") == "whisper"
        fe = getattr(self._pipe, "feature_extractor", None)
        self._sr = int(getattr(fe, "sampling_rate", ASR_SR) or ASR_SR)

    def transcribe(self, x: np.ndarray, sr: int, language: str | None = None) -> str:
        arr = audio.resample(_prepare(x, sr), ASR_SR, self._sr)
        kwargs: dict[str, Any] = {}
        if self._is_whisper:
            gen: dict[str, Any] = {"task": "transcribe"}
            if language:
                gen["language"] = language.split("-")[0]
            kwargs["generate_kwargs"] = gen
        out = self._pipe({"raw": arr, "sampling_rate": self._sr}, **kwargs)
        return str(out.get("text", "")).strip()


class FasterWhisperASR:
    def __init__(self, model: str, *, device: str = "cpu", compute_type: str = "int8") -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ASRError(f"asr faster-whisper:{model}: the package 'faster-whisper' is not installed "
                           "(pip install faster-whisper), or use 'hf:<whisper model path>'") from None
        try:
            self._model = WhisperModel(model, device=device, compute_type=compute_type,
                                       local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1")
        except Exception as e:
            raise ASRError(f"asr faster-whisper:{model}: cannot load the model: {type(e).__name__}: {e}") from None
        self.name = f"faster-whisper:{os.path.basename(os.path.normpath(model)) or model}"

    def transcribe(self, x: np.ndarray, sr: int, language: str | None = None) -> str:
        segments, _info = self._model.transcribe(_prepare(x, sr), language=language.split("-")[0] if language else None,
                                                 beam_size=1)
        return " ".join(s.text.strip() for s in segments).strip()


def get_asr(spec: str, **kwargs: Any) -> ASR:
    """``"hf:<model id or path>"`` or ``"faster-whisper:<model dir or size>"``."""
    backend, _, model = (spec or "").partition(":")
    if backend == "hf" and model:
        return HFASR(model, **kwargs)
    if backend in ("faster-whisper", "faster_whisper") and model:
        return FasterWhisperASR(model, **kwargs)
    raise ASRError(f"asr {spec!r}: expected 'hf:<model id or local path>' or 'faster-whisper:<model>'")


# --- scoring -------------------------------------------------------------------------------------------
def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x3040 <= cp <= 0x30FF or 0xAC00 <= cp <= 0xD7AF


def normalize_text(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (so "Hello, world!" == "hello world")."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch if (ch.isalnum() or ch.isspace() or ch == "'") else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def wer(ref: str, hyp: str) -> float:
    """Word error rate after normalisation; character error rate when the reference is CJK text.
    An empty reference scores 0 against an empty hypothesis and 1 otherwise."""
    import jiwer

    r, h = normalize_text(ref), normalize_text(hyp)
    if sum(_is_cjk(c) for c in r) > len(r.replace(" ", "")) / 2:
        r, h = r.replace(" ", ""), h.replace(" ", "")
        if not r:
            return 0.0 if not h else 1.0
        return float(jiwer.cer(r, h)) if h else 1.0
    if not r:
        return 0.0 if not h else 1.0
    return float(jiwer.wer(r, h)) if h else 1.0
