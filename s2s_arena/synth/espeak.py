"""eSpeak NG backend: SSML prosody, breaks and emphasis, voice variants, 100+ languages, offline.

Each plan segment is one ``espeak-ng -m`` call (so segment boundaries are known exactly and a
language change between segments is possible); segments are joined with a fixed pause. Rate goes
through ``-s`` (words per minute), pitch and pitch range through SSML ``<prosody>``, pauses through
``<break>``, emphasis through ``<emphasis>`` plus a local pitch/loudness boost. Loud and quiet are
vocal effort (plan.VOLUME_EFFORT: F0 through SSML, spectral tilt as a 1 kHz high shelf), not
eSpeak's amplitude; each segment is then scaled to its target LUFS, which keeps only a moderate
level difference. A child's shorter vocal tract (pitch and formants up together) is rendered by
having eSpeak speak slower and playing the result back faster.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from s2s_arena import audio
from s2s_arena.synth import SynthError, SynthResult, effects
from s2s_arena.synth import plan as planning
from s2s_arena.synth import voices as vx

BINARY = "espeak-ng"
BASE_WPM = 175
TIMEOUT_S = 120
EMPHASIS_PITCH_ST = 4.0
EMPHASIS_VOLUME = "+6dB"
EMPHASIS_RATE = "80%"
BREATH_DB = -6.0  # aspiration noise level re the voice, for breathy voice
# eSpeak NG clamps its pitch parameter: SSML pitch above about +100% (~ +9.5 st over the variant's
# own pitch) is ignored, so a child at +6 st asked for "high" could only gain what was left and,
# without the age shift, came out lower than neutral. Higher voices need the vocal-tract shift.


def _st_to_percent(st: float) -> float:
    """eSpeak's SSML pitch percentage for a shift in semitones (measured: +50% ~ +4.4 st,
    -50% ~ -3.6 st with en-us and Praat)."""
    pct = st / 0.09 if st >= 0 else st / 0.072
    return max(-80.0, min(300.0, pct))


def _add_breath(x: np.ndarray, sr: int, seed: int | None) -> np.ndarray:
    """Breathy voice: aspiration noise (above 1.5 kHz) riding on the voice's own envelope.

    eSpeak's breathy variants change too little to measure; real breathy phonation adds turbulent
    noise in step with the glottal airflow, which lowers HNR and flattens the spectral tilt."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(0 if seed is None else seed)
    win = max(1, int(0.01 * sr))
    env = np.convolve(np.abs(x), np.ones(win) / win, mode="same")
    noise = sosfilt(butter(4, 1500, "highpass", fs=sr, output="sos"), rng.standard_normal(x.shape[0]))
    breath = noise * env
    p_x, p_b = float(np.mean(x.astype(np.float64) ** 2)), float(np.mean(breath ** 2))
    if p_x <= 0 or p_b <= 0:
        return x
    gain = np.sqrt(p_x / p_b * 10 ** (BREATH_DB / 10))
    return (0.8 * x + gain * breath).astype(np.float32)


@lru_cache(maxsize=1)
def _binary() -> str:
    path = shutil.which(BINARY)
    if not path:
        raise SynthError(
            f"{BINARY} is not installed (the 'espeak' synthesizer needs the binary '{BINARY}' on PATH); "
            "install the Debian package 'espeak-ng' (apt-get install espeak-ng) or run `make setup`"
        )
    return path


def _run(args: list[str], stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run([_binary(), *args], input=stdin, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SynthError(f"{BINARY} {' '.join(args[:4])}: no answer within {TIMEOUT_S} s") from None
    if proc.returncode != 0:
        raise SynthError(f"{BINARY} {' '.join(args[:4])} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


class EspeakSynthesizer:
    name = "espeak-ng"

    def __init__(self) -> None:
        _binary.cache_clear()
        _binary()  # fail now, with the install hint, rather than at the first sample
        out = _run(["--version"]).decode(errors="replace")
        self.version = out.split(":", 1)[-1].split()[0] if ":" in out else out.strip()
        self._languages: set[str] | None = None
        self._files: dict[str, str] = {}

    # --- catalogue -------------------------------------------------------------------------------
    def _available(self) -> set[str]:
        if self._languages is None:
            langs, files = set(), {}
            # Columns: Pty Language Age/Gender VoiceName File [Other languages]
            for line in _run(["--voices"]).decode(errors="replace").splitlines()[1:]:
                cols = line.split()
                if len(cols) >= 2:
                    langs.add(cols[1].lower())
                if len(cols) >= 5:
                    files.setdefault(cols[1].lower(), cols[4])  # the first listed is eSpeak's own choice
            self._languages, self._files = langs, files
        return self._languages

    def _espeak_voice(self, voice: str) -> str:
        """The ``-v`` argument for a voice named by language tag (``fr-fr+f3`` -> ``roa/fr+f3``).

        eSpeak NG finds ``-v fr-fr`` through the language list but then silently drops a ``+variant``
        (also ``en-gb``): the French "female" voice came out as the 100 Hz male default. The voice
        file path always keeps the variant, so the tag is swapped for it on the command line only."""
        base, plus, variant = voice.partition("+")
        self._available()
        path = self._files.get(base.lower())
        return f"{path}{plus}{variant}" if path else voice

    def languages(self) -> list[str]:
        return sorted(self._available())

    def voices(self, language: str = "en") -> list[str]:
        base = self._language_voice(language)
        return [base] + [f"{base}+{v}" for v in vx.VARIANTS]

    def _language_voice(self, language: str) -> str:
        v = vx.language_voice(str(language), self._available())
        if v is None:
            raise SynthError(f"language {language!r}: eSpeak NG has no voice for it; "
                             f"expected one of {', '.join(self.languages()[:40])} ...")
        return v

    # --- rendering -------------------------------------------------------------------------------
    def _voice_for(self, seg: planning.SegmentPlan, voice: str | None, seed: int | None,
                   notes: list[str]) -> str:
        base, variant = None, None
        if voice:
            base, _, variant = voice.partition("+")
            if base in vx.VARIANTS or base.lower() in {v.lower() for v in vx.VARIANTS}:
                base, variant = None, base  # just a variant name ("f3")
            variant = variant or None
        if base is None:
            base = self._language_voice(seg.language)
            if seg.accent and seg.language.lower().startswith("en"):
                acc = vx.accent_voice(seg.accent)
                if acc and acc in self._available():
                    base = acc
                else:
                    notes.append(f"accent {seg.accent!r}: no eSpeak NG voice; spoken with {base}")
        wanted = vx.variant_for(gender=seg.gender, age=seg.age, quality=seg.voice_quality, seed=seed)
        if variant is None or seg.voice_quality in vx.QUALITY:
            variant = wanted or variant
        return f"{base}+{variant}" if variant else base

    def _ssml(self, seg: planning.SegmentPlan, lift_st: float = 0.0) -> str:
        """``lift_st``: the language voice's register correction (voices.voice_pitch_st)."""
        words = seg.words
        base_st = seg.pitch_st + lift_st
        emph = {planning._norm_word(w) for w in seg.emphasis}
        emph_phrases = [w for w in seg.emphasis if len(w.split()) > 1]
        out = []
        for i, word in enumerate(words):
            tok = escape(word)
            if seg.melody:
                st = base_st + planning.MELODY_ST[i % len(planning.MELODY_ST)]
                tok = f'<prosody pitch="{_st_to_percent(st):+.0f}%">{tok}</prosody>'
            is_emph = planning._norm_word(word) in emph or any(
                planning._norm_word(word) in {planning._norm_word(x) for x in p.split()} for p in emph_phrases)
            if is_emph:
                st = base_st + EMPHASIS_PITCH_ST
                tok = (f'<emphasis level="strong"><prosody pitch="{_st_to_percent(st):+.0f}%" '
                       f'volume="{EMPHASIS_VOLUME}" rate="{EMPHASIS_RATE}">{tok}</prosody></emphasis>')
            out.append(tok)
            if i in seg.pause_after:
                out.append(f'<break time="{planning.PAUSE_MS}ms"/>')
        attrs = []
        if not seg.melody and abs(base_st) > 1e-6:
            attrs.append(f'pitch="{_st_to_percent(base_st):+.0f}%"')
        if abs(seg.range_scale - 1.0) > 1e-6:
            attrs.append(f'range="{max(-90.0, (seg.range_scale - 1.0) * 100):+.0f}%"')
        body = " ".join(out)
        if attrs:
            body = f"<prosody {' '.join(attrs)}>{body}</prosody>"
        return f'<speak xml:lang="{escape(seg.language)}">{body}</speak>'

    def _render(self, ssml: str, voice: str, wpm: int, tract_st: float = 0.0) -> np.ndarray:
        """Speak ``ssml`` at ``wpm``; ``tract_st`` > 0 shortens the vocal tract: eSpeak speaks slower by
        the same factor and the audio is played back faster, so pitch and formants rise together and
        the speaking rate is unchanged."""
        factor = 2.0 ** (tract_st / 12.0)
        espeak_wpm = int(round(min(450, max(70, wpm / factor))))
        wav = _run(["-m", "-v", self._espeak_voice(voice), "-s", str(espeak_wpm), "--stdout"],
                   stdin=ssml.encode("utf-8"))
        if len(wav) <= 44:
            raise SynthError(f"{BINARY} -v {voice}: produced no audio for {ssml[:80]!r}")
        x, sr = audio.read_raw(wav, where=f"{BINARY} -v {voice}")
        # A rate rounded to 100 Hz keeps the polyphase resampler's up/down factors small (<= 240).
        played_at = sr if tract_st == 0 else int(round(sr * factor / 100.0)) * 100
        return audio.resample(audio.to_mono(x), played_at, audio.SAMPLE_RATE)

    def synthesize(self, text: str, language: str = "en", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult:
        """Speak ``text`` (parts separated by " | ") in ``language`` with the cues in ``attributes``.

        ``voice`` is an eSpeak voice ("en-gb+f3") or a variant ("f3"); ``rate`` multiplies the speaking
        rate, ``pitch`` shifts the pitch in semitones, ``seed`` picks among fitting speaker variants
        and seeds the breath noise. Audio is float32 mono at 24 kHz.
        """
        plan = planning.make_plan(text, language, attributes, rate=rate, pitch=pitch)
        notes = list(plan.unsupported)
        track = effects.SegmentTrack(audio.SAMPLE_RATE, planning.SEGMENT_PAUSE_S)
        segments_meta = []
        voices_used = []
        for seg in plan.segments:
            v = self._voice_for(seg, voice, seed, notes)
            wpm = int(round(min(450, max(70, BASE_WPM * seg.rate))))
            ssml = self._ssml(seg, vx.voice_pitch_st(v))
            # eSpeak pads with silence of its own; trim it so segment times in meta are speech times.
            x = audio.trim_silence(self._render(ssml, v, wpm, seg.tract_st), audio.SAMPLE_RATE, pad_s=0.02)
            if seg.voice_quality == "breathy":
                x = _add_breath(x, audio.SAMPLE_RATE, seed)
            if seg.tremor_depth > 0 and seg.voice_quality != "whisper":
                x = effects.tremor(x, audio.SAMPLE_RATE, 6.5, seg.tremor_depth)
            x = effects.tilt(x, audio.SAMPLE_RATE, seg.tilt_db)
            x = audio.normalize_loudness(x, audio.SAMPLE_RATE, seg.target_lufs, peak_ceiling=10.0)
            x = effects.soft_limit(x)
            start, end = track.add(x)
            segments_meta.append({
                "index": seg.index, "text": seg.text, "voice": v, "start_s": round(start, 3),
                "end_s": round(end, 3), "wpm": wpm, "pitch_st": round(seg.pitch_st, 2),
                "range_scale": round(seg.range_scale, 2), "tract_st": round(seg.tract_st, 2),
                "target_lufs": round(seg.target_lufs, 1),
                "voice_quality": seg.voice_quality, "emotion": seg.emotion, "emphasis": seg.emphasis,
                "pause_after_words": seg.pause_after, "ssml": ssml,
            })
            voices_used.append(v)
        y = track.audio()
        if not np.all(np.isfinite(y)) or y.size == 0:
            raise SynthError(f"{BINARY}: rendered invalid audio for {text[:60]!r}")
        spoken = f" {planning.SEGMENT_SEPARATOR} ".join(s.text for s in plan.segments)
        meta = {
            "backend": self.name, "version": self.version, "seed": seed, "attributes": dict(attributes or {}),
            "rate": rate, "pitch": pitch, "segments": segments_meta, "segment_pause_s": planning.SEGMENT_PAUSE_S,
            "approximations": plan.approximations, "unsupported": notes,
        }
        used = voices_used[0] if len(set(voices_used)) == 1 else ",".join(dict.fromkeys(voices_used))
        return SynthResult(audio=y, sr=audio.SAMPLE_RATE, text=spoken, voice=used, meta=meta)


def is_available() -> bool:
    return shutil.which(BINARY) is not None


__all__ = ["EspeakSynthesizer", "is_available"]
