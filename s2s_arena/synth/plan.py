"""Turn a requirement / input-cue dict (DESIGN vocabulary) into a backend-neutral rendering plan.

A plan is a list of segments spoken one after another with a pause between them. A sequence value
(``speaking_rate: [fast, normal, slow]``) gives one segment per element; the text holds the parts
separated by ``" | "`` or is repeated (``repetitions``). Each segment carries relative targets
(rate multiplier, pitch shift in semitones, pitch-range scale, loudness target, voice quality ...)
that a backend renders as well as it can. Emotions, ages and styles are approximated by prosody:
the tables below are the single place where those approximations live.
"""

from __future__ import annotations

from s2s_arena.errors import ConfigError
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from s2s_arena.schema import PART_SEPARATOR as SEGMENT_SEPARATOR
from s2s_arena.schema import validate_attributes

SEGMENT_PAUSE_S = 0.7  # between sequence segments: longer than any pause inside one (600 ms)
PAUSE_MS = 600

RATE = {"slow": 0.62, "normal": 1.0, "fast": 1.55}
PITCH_ST = {"low": -4.0, "normal": 0.0, "high": 5.0}
# Loud and quiet are rendered as vocal effort, not as gain: a listener (and the judge) often hears speech
# loudness-normalised, and what survives that is how the voice is produced. Raised effort (Lombard
# speech) has a higher F0 (2-4 st) and relatively more energy above 1 kHz (a flatter spectral tilt,
# Sluijter & van Heuven 1996; Lu & Cooke 2008); soft speech the reverse. The level keeps only a
# moderate difference (as raised speech is also louder; the dataset QA wants >= 2 LU against neutral),
# so loudness alone never carries the cue. Each entry: F0 shift (st; not when a pitch is required),
# 1 kHz high-shelf gain (dB; at least this much effort even when an emotion asks for less).
VOLUME_LUFS = {"quiet": -30.0, "normal": -24.0, "loud": -20.0}
VOLUME_EFFORT: dict[str, dict[str, float]] = {
    "quiet": {"pitch_st": -2.0, "tilt_db": -6.0},
    "normal": {},
    "loud": {"pitch_st": 2.5, "tilt_db": 6.0},
}
# Emotion as prosody and voice (after Scherer 2003 / Banse & Scherer 1996, direction of the main cues):
# rate multiplier, pitch shift (st), pitch-range scale, loudness offset (dB), spectral tilt (dB of a
# 1 kHz high shelf: vocal effort; a tense loud voice has more high-frequency energy, a lax soft one
# less) and F0 tremor depth (fraction). Loudness and tilt survive the clip's level normalisation, so
# an angry clip is louder and brighter than a sad one on its own, not only next to its neutral twin.
EMOTION: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"rate": 1.1, "pitch_st": 4.5, "range": 2.3, "volume_db": 3.0, "tilt_db": 3.0},
    "sad": {"rate": 0.74, "pitch_st": -2.5, "range": 0.45, "volume_db": -7.0, "tilt_db": -7.0},
    "angry": {"rate": 1.15, "pitch_st": 0.5, "range": 1.2, "volume_db": 7.0, "tilt_db": 10.0},
    "fearful": {"rate": 1.25, "pitch_st": 4.5, "range": 1.0, "volume_db": -3.0, "tilt_db": 0.0, "tremor": 0.06},
    "surprised": {"rate": 1.05, "pitch_st": 4.0, "range": 2.2, "volume_db": 2.0, "tilt_db": 2.0},
    "disgusted": {"rate": 0.85, "pitch_st": -2.0, "range": 1.2, "volume_db": 0.0, "tilt_db": -2.0},
    "calm": {"rate": 0.85, "pitch_st": -1.0, "range": 0.6, "volume_db": -3.0, "tilt_db": -4.0},
    "sarcastic": {"rate": 0.85, "pitch_st": 0.0, "range": 2.0, "volume_db": 0.0},
}
# Age is a speaker trait, so its pitch shift applies even when a pitch cue is given ("high" means higher
# than this child's own voice). A child also has a shorter vocal tract: "tract_st" raises pitch and
# formants together (rendered by resampling), which is how a child gets above eSpeak's pitch ceiling.
AGE: dict[str, dict[str, float]] = {
    "child": {"rate": 1.05, "pitch_st": 1.0, "range": 1.3, "tract_st": 4.0},
    "adult": {},
    "elderly": {"rate": 0.85, "pitch_st": -1.0, "range": 0.8},
}
STYLE: dict[str, dict[str, float]] = {
    "tongue_twister": {"rate": 1.15},
    "singing": {"rate": 0.7, "range": 0.3},  # plus a per-word melody, see MELODY_ST
    "reciting": {"rate": 0.9, "range": 1.3},
    "storytelling": {"rate": 0.9, "range": 1.5},
    "comedy": {"rate": 1.05, "range": 1.6},
    "sound_effect": {"rate": 0.9, "range": 2.5},
}
MELODY_ST = (0.0, 2.0, 4.0, 5.0, 7.0, 5.0, 4.0, 2.0)  # a plain major-scale phrase, one note per word
QUALITY_VOLUME_DB = {"whisper": -6.0}
# A child stays a child: emotions and caller pitch shifts may not take the age shift below this
# (semitones; only an explicit "pitch: low" cue may). Sad children were measured just under 200 Hz.
CHILD_MIN_PITCH_ST = -1.0
SEQUENCE_KEYS = ("speaking_rate", "pitch", "volume", "voice_quality", "emotion", "language", "emphasis")


@dataclass
class SegmentPlan:
    index: int
    text: str
    language: str
    rate: float = 1.0
    pitch_st: float = 0.0
    range_scale: float = 1.0
    volume: str = "normal"
    target_lufs: float = VOLUME_LUFS["normal"]
    voice_quality: str = "modal"
    emotion: str = "neutral"
    emphasis: list[str] = field(default_factory=list)
    pause_after: list[int] = field(default_factory=list)  # word indices followed by a pause
    melody: bool = False
    tract_st: float = 0.0  # pitch + formant shift of the whole voice (semitones), e.g. a child's
    tilt_db: float = 0.0  # vocal effort: high-shelf gain above 1 kHz
    tremor_depth: float = 0.0  # F0 tremor (fraction of F0), e.g. fear
    gender: str | None = None
    age: str | None = None
    accent: str | None = None

    @property
    def words(self) -> list[str]:
        return self.text.split()


@dataclass
class Plan:
    segments: list[SegmentPlan]
    approximations: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _at(value: Any, i: int) -> Any:
    if isinstance(value, list):
        return value[min(i, len(value) - 1)] if value else None
    return value


def _norm_word(w: str) -> str:
    return re.sub(r"[^\w']+", "", w.lower())


def pause_positions(words: list[str], pauses: Any, notes: list[str]) -> list[int]:
    """Word indices after which to pause: the named words (in order), or N evenly spread boundaries
    preferring those after punctuation."""
    if not pauses or len(words) < 2:
        if pauses:
            notes.append("pauses: text has fewer than two words")
        return []
    if isinstance(pauses, list):
        out, start = [], 0
        norm = [_norm_word(w) for w in words]
        for target in pauses:
            t = _norm_word(target)
            hit = next((i for i in range(start, len(words) - 1) if norm[i] == t), None)
            if hit is None:
                notes.append(f"pauses: word {target!r} not found before the end of the text")
                continue
            out.append(hit)
            start = hit + 1
        return out
    n = min(int(pauses), len(words) - 1)
    punct = [i for i, w in enumerate(words[:-1]) if w[-1] in ",.;:!?，。；：！？"]
    chosen: list[int] = []
    for k in range(n):
        ideal = (k + 1) * len(words) / (n + 1) - 1
        pool = [i for i in punct if i not in chosen] or [i for i in range(len(words) - 1) if i not in chosen]
        best = min(pool, key=lambda i: (abs(i - ideal) - (1.5 if i in punct else 0), i))
        chosen.append(best)
    return sorted(chosen)


def make_plan(text: str, language: str = "en", attributes: dict[str, Any] | None = None,
              rate: float = 1.0, pitch: float = 0.0, where: str = "synthesize") -> Plan:
    attrs = validate_attributes(attributes or {}, where=where, field_name="attributes", input_side=True)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: field 'text' is empty; expected the words to speak")
    if not (0.2 <= float(rate) <= 4.0):
        raise ConfigError(f"{where}: field 'rate' must be a multiplier in 0.2..4, got {rate!r}")
    approx: list[str] = []
    unsupported: list[str] = []
    parts = [p.strip() for p in text.split(SEGMENT_SEPARATOR) if p.strip()]
    seq_lens = [len(attrs[k]) for k in SEQUENCE_KEYS if isinstance(attrs.get(k), list) and k != "emphasis"]
    emph = attrs.get("emphasis")
    n = max([len(parts), int(attrs.get("repetitions", 1))] + seq_lens)
    per_segment_emphasis = isinstance(emph, list) and len(emph) == n and n > 1
    lang_default = attrs.get("language") or language
    segs: list[SegmentPlan] = []
    for i in range(n):
        seg_text = parts[i % len(parts)]
        seg = SegmentPlan(index=i, text=seg_text, language=str(_at(lang_default, i)))
        r = RATE[_at(attrs.get("speaking_rate"), i) or "normal"] * float(rate)
        p = PITCH_ST[_at(attrs.get("pitch"), i) or "normal"] + float(pitch)
        rng = 1.0
        vol = _at(attrs.get("volume"), i) or "normal"
        vol_db = 0.0
        emotion = _at(attrs.get("emotion"), i) or "neutral"
        for table, key in ((EMOTION, emotion), (AGE, attrs.get("speaker_age")), (STYLE, attrs.get("style"))):
            preset = table.get(key or "", {})
            # An explicit rate/pitch request wins over the same cue implied by an emotion or style.
            if "rate" in preset and attrs.get("speaking_rate") is None:
                r *= preset["rate"]
            if "pitch_st" in preset and (attrs.get("pitch") is None or table is AGE):
                p += preset["pitch_st"]
            seg.tract_st += preset.get("tract_st", 0.0)
            seg.tilt_db += preset.get("tilt_db", 0.0)
            seg.tremor_depth = max(seg.tremor_depth, preset.get("tremor", 0.0))
            rng *= preset.get("range", 1.0)
            if attrs.get("volume") is None:
                vol_db += preset.get("volume_db", 0.0)
        effort = VOLUME_EFFORT[vol]
        if "tilt_db" in effort:
            # The required effort wins over an emotion's opposite one (a calm but loud voice is still
            # raised); an emotion asking for more of the same keeps its own (angry and loud).
            t = effort["tilt_db"]
            seg.tilt_db = max(seg.tilt_db, t) if t > 0 else min(seg.tilt_db, t)
        if attrs.get("pitch") is None:
            p += effort.get("pitch_st", 0.0)
        quality = _at(attrs.get("voice_quality"), i) or "modal"
        if attrs.get("volume") is None:
            vol_db += QUALITY_VOLUME_DB.get(quality, 0.0)
        if attrs.get("speaker_age") == "child" and _at(attrs.get("pitch"), i) != "low":
            p = max(p, CHILD_MIN_PITCH_ST)
        seg.rate, seg.pitch_st, seg.range_scale = r, p, rng
        seg.volume, seg.target_lufs = vol, VOLUME_LUFS[vol] + vol_db
        seg.voice_quality, seg.emotion = quality, emotion
        seg.gender, seg.age, seg.accent = attrs.get("speaker_gender"), attrs.get("speaker_age"), attrs.get("accent")
        if emph:
            seg.emphasis = [emph[i]] if per_segment_emphasis else (emph if isinstance(emph, list) else [emph])
            words = {_norm_word(w) for w in seg.words}
            for w in seg.emphasis:
                if _norm_word(w) not in words and not all(_norm_word(x) in words for x in w.split()):
                    unsupported.append(f"emphasis: {w!r} is not a word of segment {i}")
        seg.pause_after = pause_positions(seg.words, attrs.get("pauses"), unsupported)
        seg.melody = attrs.get("style") == "singing"
        segs.append(seg)
    if attrs.get("emotion") not in (None, "neutral"):
        approx.append("emotion rendered as prosody and voice (rate, pitch, pitch range, loudness, spectral tilt, tremor)")
    if attrs.get("speaker_age") in ("child", "elderly"):
        approx.append(f"speaker_age {attrs['speaker_age']}: voice variant plus pitch/rate shift")
    if attrs.get("style"):
        approx.append(f"style {attrs['style']}: prosody approximation")
    if attrs.get("noise") is not None:
        unsupported.append("noise/snr_db are mixed in by the augmentation stage, not by synthesis")
    return Plan(segs, approx, unsupported)


def renders_cues(cues: Mapping[str, Any], language: str, languages: Sequence[str],
                 unsupported: Mapping[str, Sequence[str] | None]) -> bool:
    """Whether a voice that speaks ``languages`` and cannot render ``unsupported`` (attribute -> the values it
    cannot do, None for any value) can render an instruction with these cues in this language."""
    if str(language).lower() not in languages:
        return False
    langs = cues.get("language")
    if langs is not None and any(str(v).lower() not in languages for v in (langs if isinstance(langs, list) else [langs])):
        return False
    for attr, bad in unsupported.items():
        v = cues.get(attr)
        if v is None:
            continue
        if bad is None or any(x in bad for x in (v if isinstance(v, list) else [v])):
            return False
    return True
