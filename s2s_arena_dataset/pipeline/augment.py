"""Stage 2 plans: which variants of a seed to render (voice, rate, pitch, acoustic condition).

A variant may change *how* the instruction sounds but never a cue the seed specifies: a "female" seed
only gets female voices, a "slow" seed only gets rate factors that keep it slow (<= 1), a seed whose
cues name a noise keeps that noise at its SNR. Plans are drawn from a generator seeded by (build seed,
seed id, variant index), so they do not change when other tasks are filtered in or out.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .conditions import CONDITIONS, resolve

# Rate factors (x the cue's own rate) and pitch shifts (semitones) that stay inside each cue.
RATE_RANGE: dict[str | None, tuple[float, float]] = {
    None: (0.9, 1.1), "normal": (0.95, 1.05), "slow": (0.9, 1.0), "fast": (1.0, 1.1),
}
PITCH_RANGE_ST: dict[str | None, tuple[float, float]] = {
    None: (-2.0, 2.0), "normal": (-1.0, 1.0), "high": (0.0, 2.0), "low": (-2.0, 0.0),
}
# Conditions a variant cycles through: every noisy one, plus clean speech in a new voice.
VARIANT_CONDITIONS: tuple[str, ...] = tuple(c for c in CONDITIONS if c != "clean") + ("clean",)
# Share of renderings given to the neural voice where it can render every cue (the rest keep eSpeak
# NG's variety of speakers): mixing voices keeps a model from learning one synthesiser, but a second,
# smaller recogniser (Whisper tiny.en) still misheard 0.41 of eSpeak's words that the gate had passed
# against 0.15 of Piper's, so eSpeak gets only what Piper cannot say plus a small share.
NEURAL_SHARE = 0.85


@dataclass(frozen=True)
class Voice:
    name: str
    gender: str | None = None  # female | male | None (unknown)
    age: str | None = None     # child | adult | elderly | None

    @property
    def neural(self) -> bool:
        return self.name.startswith(("piper:", "kokoro:"))


@dataclass(frozen=True)
class Variant:
    stage: str                # seed | augment
    index: int                # 0 for the seed rendering, k >= 1 for augment k
    voice: str | None         # None: the synthesiser's default for the cues
    rate: float
    pitch: float              # semitones
    condition: str
    snr_db: float | None
    paraphrase: bool = False

    @property
    def suffix(self) -> str:
        return "s" if self.stage == "seed" else f"a{self.index}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _espeak_speaker(variant: str) -> tuple[str | None, str | None] | None:
    """(gender, age) of an eSpeak NG speaker variant; None for variants that add a voice-quality cue."""
    from s2s_arena.synth import voices as vx

    if variant in vx.FEMALE:
        return "female", "adult"
    if variant in vx.MALE:
        return "male", "adult"
    for gender, name in vx.ELDERLY.items():
        if variant == name:
            return gender, "elderly"
    return None  # whisper, croak, klatt, ...: each would add a cue the seed does not have


def as_voices(raw: Sequence[Any]) -> list[Voice]:
    """Normalise what a synthesiser's ``voices(language)`` returns (names, dicts or objects).

    eSpeak NG names (``<language voice>+<variant>``) are reduced to the speaker variant, so the
    language voice (which carries pronunciation and accent) is still chosen from the seed's cues;
    the bare language voice is its default male speaker.
    """
    out = []
    espeak_style = any(isinstance(v, str) and "+" in v for v in raw)
    for v in raw:
        if isinstance(v, Mapping):
            out.append(Voice(str(v.get("name") or v.get("id")), v.get("gender"), v.get("age")))
        elif not isinstance(v, str):
            out.append(Voice(str(getattr(v, "name", v)), getattr(v, "gender", None), getattr(v, "age", None)))
        elif "+" in v:
            speaker = _espeak_speaker(v.split("+", 1)[1])
            if speaker is not None:
                out.append(Voice(v.split("+", 1)[1], *speaker))
        elif not espeak_style:  # a bare eSpeak language voice would override the seed's accent
            out.append(Voice(v, None, None))
    return out


def compatible_voices(voices: Sequence[Voice], cues: Mapping[str, Any]) -> list[Voice]:
    """Voices that keep the seed's speaker cues: a voice must be *known* to match a specified cue."""
    out = []
    for v in voices:
        if "speaker_gender" in cues and v.gender != cues["speaker_gender"]:
            continue
        if "speaker_age" in cues:
            if cues["speaker_age"] == "child" and v.age != "child":
                continue  # eSpeak's child is its own pitch-shifted variant (no named voice): keep its choice
            if (v.age or "adult") != cues["speaker_age"]:
                continue
        elif v.age in ("child", "elderly"):
            continue  # an unrequested elderly voice would add a cue the seed does not have
        out.append(v)
    return out


def _rng(build_seed: int, seed_id: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(build_seed), zlib.crc32(seed_id.encode("utf-8")), index])


def _cue(cues: Mapping[str, Any], attr: str) -> str | None:
    v = cues.get(attr)
    return None if isinstance(v, list) else v


def _pick_voice(rng: np.random.Generator, candidates: Sequence[Voice], neural_ok: bool,
                language: str = "en") -> str | None:
    neural = [v for v in candidates if v.neural] if neural_ok else []
    other = [v for v in candidates if not v.neural]
    # outside English, eSpeak NG is the fallback only: Whisper does not understand its Japanese at all
    share = NEURAL_SHARE if str(language).lower().startswith("en") else 1.0
    pool = neural if neural and (not other or rng.random() < share) else other
    return pool[int(rng.integers(len(pool)))].name if pool else None


def _neural_ok(cues: Mapping[str, Any], language: str) -> bool:
    from s2s_arena.synth import kokoro_ja, piper

    return piper.supports(cues, language) or kokoro_ja.supports(cues, language)


def seed_variant(cues: Mapping[str, Any], voices: Sequence[Voice] = (), build_seed: int = 0, seed_id: str = "",
                 language: str = "en") -> Variant:
    """Stage 1: a voice that fits the cues (drawn per seed, so seeds spread over speakers and backends),
    at the cue's own rate and pitch, clean unless the cues name a noise."""
    voice = _pick_voice(_rng(build_seed, seed_id, 10_000), compatible_voices(voices, cues), _neural_ok(cues, language),
                        language)
    noise = cues.get("noise")
    if noise is not None:
        cond = resolve(noise)
        snr = float(cues.get("snr_db", CONDITIONS[cond].snr_range_db[0]))
        return Variant("seed", 0, voice, 1.0, 0.0, cond, snr)
    return Variant("seed", 0, voice, 1.0, 0.0, "clean", None)


def plan_variants(
    seed_id: str, cues: Mapping[str, Any], voices: Sequence[Voice], n: int, build_seed: int,
    paraphrase: bool = False, language: str = "en",
) -> list[Variant]:
    """``n`` stage-2 variants for one seed; deterministic for (build_seed, seed_id)."""
    order = _rng(build_seed, seed_id, 0).permutation(len(VARIANT_CONDITIONS))
    candidates = compatible_voices(voices, cues)
    neural_ok = _neural_ok(cues, language)
    out = []
    for k in range(1, n + 1):
        rng = _rng(build_seed, seed_id, k)
        voice = _pick_voice(rng, candidates, neural_ok, language)
        lo, hi = RATE_RANGE[_cue(cues, "speaking_rate")]
        rate = round(float(rng.uniform(lo, hi)), 3)
        lo, hi = PITCH_RANGE_ST[_cue(cues, "pitch")]
        pitch = round(float(rng.uniform(lo, hi)), 2)
        if cues.get("noise") is not None:
            base = seed_variant(cues)
            cond, snr = base.condition, base.snr_db
        else:
            cond = VARIANT_CONDITIONS[int(order[(k - 1) % len(order)])]
            lo, hi = CONDITIONS[cond].snr_range_db
            snr = None if math.isinf(lo) else round(float(rng.uniform(lo, hi)), 1)
        out.append(Variant("augment", k, voice, rate, pitch, cond, snr, paraphrase and bool(rng.random() < 0.5)))
    return out


def milder(variant: Mapping[str, Any], cues: Mapping[str, Any]) -> tuple[str, float | None]:
    """The condition a re-rendering falls back to: clean speech, unless the noise is the seed's cue
    (then the same noise, 6 dB less of it)."""
    if cues.get("noise") is not None and variant.get("snr_db") is not None:
        return variant["condition"], round(float(variant["snr_db"]) + 6.0, 1)
    return "clean", None


def alternative_voice(current: str | None, voices: Sequence[Voice], cues: Mapping[str, Any], language: str,
                      rng: np.random.Generator) -> str | None:
    """Another voice that keeps the cues, for a rendering that failed the intelligibility gate: the
    neural voice's plainest fitting speaker first, else any other fitting voice; None when there is none."""
    candidates = [v for v in compatible_voices(voices, cues) if v.name != current]
    neural = [v for v in candidates if v.neural] if _neural_ok(cues, language) else []
    if neural:
        plain = [v for v in neural if v.name in ("piper:joe", "piper:joe-f1", "piper:joe-child")]
        return (plain or neural)[int(rng.integers(len(plain or neural)))].name
    other = [v for v in candidates if not v.neural]
    return other[int(rng.integers(len(other)))].name if other else None
