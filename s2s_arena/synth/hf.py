"""``transformers`` text-to-audio backend: any local TTS model the pipeline can load (VITS / MMS-TTS,
Bark, SpeechT5 with its vocoder, ...), spec ``"hf:<model id or local path>"``.

Neural TTS models rarely take prosody controls, so the plan is rendered from the outside where it can
be: segments and requested pauses become separately synthesised pieces joined by silence, loudness
targets are applied by gain, and speaking rate goes to the model when it has a ``speaking_rate``
(VITS). What cannot be rendered (pitch, emphasis, voice quality, ...) is listed in
``meta["unsupported"]`` so quality checks know not to expect it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from s2s_arena import audio
from s2s_arena.synth import SynthError, SynthResult, effects
from s2s_arena.synth import plan as planning

RENDERED = ("speaking_rate", "volume", "pauses", "repetitions", "language")


class HFSynthesizer:
    def __init__(self, model: str, *, device: str | int | None = None, dtype: Any = None,
                 language: str | None = None) -> None:
        if not model:
            raise SynthError("hf: synthesizer needs a model id or a local path, e.g. 'hf:./models/mms-tts-eng'")
        try:
            from transformers import pipeline
        except ImportError as e:  # pragma: no cover - transformers is a core dependency
            raise SynthError(f"hf:{model}: transformers is not importable ({e})") from None
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
        try:
            self._pipe = pipeline("text-to-audio", model=model, device=device, dtype=dtype)
        except Exception as e:
            hint = " (offline: give a local path holding the model)" if offline or not os.path.exists(model) else ""
            raise SynthError(f"hf:{model}: cannot load a text-to-audio model{hint}: {type(e).__name__}: {e}") from None
        self.model_path = model
        self.name = f"hf:{os.path.basename(os.path.normpath(model)) or model}"
        import transformers

        self.version = f"transformers {transformers.__version__}"
        cfg = self._pipe.model.config
        self._language = language or getattr(self._pipe.tokenizer, "language", None) or getattr(cfg, "language", None)
        self._has_rate = hasattr(self._pipe.model, "speaking_rate")

    def languages(self) -> list[str]:
        return [self._language] if self._language else []

    def voices(self, language: str = "en") -> list[str]:
        return [self.name]

    def _piece(self, text: str, rate: float, seed: int | None) -> np.ndarray:
        import torch

        if seed is not None:
            torch.manual_seed(int(seed))  # VITS samples noise: the same seed gives the same audio
        params: dict[str, Any] = {}
        if self._has_rate:
            params["speaking_rate"] = float(rate)
        with torch.inference_mode():
            out = self._pipe(text, forward_params=params) if params else self._pipe(text)
        x = np.asarray(out["audio"], dtype=np.float32).reshape(-1)
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise SynthError(f"{self.name}: the model returned no usable audio for {text[:60]!r}")
        return audio.resample(x, int(out["sampling_rate"]), audio.SAMPLE_RATE)

    def synthesize(self, text: str, language: str = "en", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult:
        plan = planning.make_plan(text, language, attributes, rate=rate, pitch=pitch)
        notes = list(plan.unsupported)
        for key in (attributes or {}):
            if key not in RENDERED:
                notes.append(f"{key}: not rendered by {self.name}")
        model_lang = (self._language or "").lower()
        for seg in plan.segments:
            if model_lang and seg.language.lower().split("-")[0] not in (model_lang, model_lang[:2]):
                notes.append(f"language {seg.language}: {self.name} speaks {self._language}")
                break
        if pitch:
            notes.append(f"pitch {pitch:+g} st: not rendered by {self.name}")
        if not self._has_rate and any(abs(s.rate - 1) > 1e-6 for s in plan.segments):
            notes.append(f"speaking_rate: {self.name} has no rate control")
        sr = audio.SAMPLE_RATE
        pause = np.zeros(int(planning.PAUSE_MS / 1000 * sr), np.float32)
        gap = np.zeros(int(planning.SEGMENT_PAUSE_S * sr), np.float32)
        pieces: list[np.ndarray] = []
        segments_meta = []
        t = 0.0
        for seg in plan.segments:
            words = seg.words
            cuts = [0] + [i + 1 for i in seg.pause_after] + [len(words)]
            parts = [" ".join(words[a:b]) for a, b in zip(cuts, cuts[1:]) if b > a]
            chunk: list[np.ndarray] = []
            for k, part in enumerate(parts):
                if k:
                    chunk.append(pause)
                chunk.append(audio.trim_silence(self._piece(part, seg.rate, seed), sr, pad_s=0.02))
            # Vocal effort (loud/quiet, emotion) as spectral tilt; the model has no F0 control.
            x = effects.tilt(np.concatenate(chunk), sr, seg.tilt_db)
            x = audio.normalize_loudness(x, sr, seg.target_lufs)
            if pieces:
                pieces.append(gap)
                t += gap.shape[0] / sr
            pieces.append(x)
            segments_meta.append({"index": seg.index, "text": seg.text, "start_s": round(t, 3),
                                  "end_s": round(t + x.shape[0] / sr, 3), "rate": round(seg.rate, 3),
                                  "target_lufs": seg.target_lufs, "pause_after_words": seg.pause_after})
            t += x.shape[0] / sr
        y = np.concatenate(pieces).astype(np.float32)
        meta = {"backend": self.name, "model": self.model_path, "version": self.version, "seed": seed,
                "attributes": dict(attributes or {}), "segments": segments_meta,
                "approximations": plan.approximations, "unsupported": notes}
        spoken = f" {planning.SEGMENT_SEPARATOR} ".join(s.text for s in plan.segments)
        return SynthResult(audio=y, sr=sr, text=spoken, voice=voice or self.name, meta=meta)
