"""Quality checks on every rendered instruction: are the cues really in the audio?

A cue is judged against the *same voice's neutral rendering of the same text* wherever the cue is
relative ("slow" means slower than this voice usually speaks), and against absolute limits where it is
not (whisper has almost no voiced frames). Every check records what was expected and what was
measured, so the build report can show distributions and a reviewer can see why a sample was dropped.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from s2s_arena.prosody import Prosody, text_words

# Thresholds. Relative ones are ratios/differences against the neutral rendering.
RATE_SLOW_MAX_RATIO = 0.92    # articulation rate, cue / neutral
RATE_FAST_MIN_RATIO = 1.08
PITCH_MIN_DELTA_ST = 1.0      # median F0 difference, semitones
VOLUME_MIN_DELTA_DB = 2.0     # integrated loudness difference, LU
WHISPER_MAX_VOICED = 0.15     # fraction of speech frames with F0
PAUSE_MIN_S = 0.25            # a pause a listener hears as deliberate
PAUSE_MIN_EXTRA_S = 0.2       # inserted pause time over the neutral rendering
FEMALE_MIN_F0_HZ = 145.0
MALE_MAX_F0_HZ = 180.0
CHILD_MIN_F0_HZ = 200.0
SNR_TOLERANCE_DB = 1.0
MAX_CLIPPING_FRACTION = 0.001
MIN_DURATION_S = 0.5
MAX_DURATION_S = 60.0
MAX_SECONDS_PER_WORD = 3.0    # longer means the synthesiser hung on something
# The intelligibility gate (bundled Whisper on the stored audio): the main set must be understood
# nearly word for word; robustness variants may be harder, never garbage.
DEFAULT_MAX_WER = 0.34        # two slips in a seven-word instruction
ROBUSTNESS_MAX_WER = 0.5
GATE_TRIES = 3                # the planned rendering, another voice, a milder condition

# Cues that shift one measure away from the same voice's neutral rendering:
# attribute -> (Prosody field, the value that raises it, minimum shift, what is compared, unit).
_SHIFT_CUES = {
    "pitch": ("f0_median_st", "high", PITCH_MIN_DELTA_ST, "F0 - neutral F0", "st"),
    "volume": ("loudness_lufs", "loud", VOLUME_MIN_DELTA_DB, "loudness - neutral", "LU"),
}
MEASURED_FIELDS = ("duration_s", "speech_s", "speaking_rate_sps", "articulation_rate_sps", "f0_median_st",
                   "f0_range_st", "f0_mean_hz", "loudness_lufs", "spectral_tilt_db", "voiced_fraction",
                   "hnr_db", "n_pauses", "pause_total_s", "clipping_fraction")


def summarize(p: Prosody) -> dict[str, Any]:
    """The measured attributes kept in the ``qa`` column (JSON-safe; pauses as [start, end])."""
    d = p.to_dict()
    out = {k: (round(d[k], 4) if isinstance(d.get(k), float) else d.get(k)) for k in MEASURED_FIELDS}
    out["pauses"] = [[round(q["start_s"], 3), round(q["end_s"], 3)] for q in d["pauses"]]
    return out


def _check(name: str, expected: Any, measured: Any, ok: bool | None) -> dict[str, Any]:
    """ok None = recorded but not checkable (the sample is not dropped for it)."""
    if hasattr(measured, "item"):  # numpy scalar
        measured = measured.item()
    if isinstance(measured, float):
        measured = round(measured, 3) if math.isfinite(measured) else None
    return {"name": name, "expected": expected, "measured": measured, "pass": None if ok is None else bool(ok)}


def _finite(*xs: float) -> bool:
    return all(x is not None and isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


def _rate(p: Prosody) -> float:
    return p.articulation_rate_sps if _finite(p.articulation_rate_sps) and p.articulation_rate_sps > 0 else p.speaking_rate_sps


def _long_pauses(p: Prosody) -> list:
    return [q for q in p.pauses if q.duration_s >= PAUSE_MIN_S]


def check_cues(cues: Mapping[str, Any], p: Prosody, neutral: Prosody | None, text: str,
               stored_lufs: float | None = None) -> list[dict[str, Any]]:
    """One check per cue; relative cues need ``neutral`` (None: only absolute checks are made).
    ``stored_lufs``: loudness of the clip as stored (level-normalised), for the absolute emotion check."""
    checks: list[dict[str, Any]] = []
    for attr, value in cues.items():
        if isinstance(value, list) and attr != "pauses" and attr != "emphasis":
            checks.append(_check(attr, value, "a sequence inside one instruction is not measured", None))
            continue
        if attr == "speaking_rate" and value != "normal":
            if neutral is None or not _finite(_rate(p), _rate(neutral)) or _rate(neutral) <= 0:
                checks.append(_check("speaking_rate", value, None, None if neutral is None else False))
                continue
            ratio = _rate(p) / _rate(neutral)
            ok = ratio <= RATE_SLOW_MAX_RATIO if value == "slow" else ratio >= RATE_FAST_MIN_RATIO
            bound = f"<= {RATE_SLOW_MAX_RATIO}" if value == "slow" else f">= {RATE_FAST_MIN_RATIO}"
            checks.append(_check("speaking_rate", f"{value}: rate / neutral rate {bound}", ratio, ok))
        elif attr in _SHIFT_CUES and value != "normal":
            field, up, min_delta, what, unit = _SHIFT_CUES[attr]
            here, ref = getattr(p, field), None if neutral is None else getattr(neutral, field)
            if neutral is None or not _finite(here, ref):
                checks.append(_check(attr, value, None, None if neutral is None else False))
                continue
            delta = here - ref
            ok = delta >= min_delta if value == up else delta <= -min_delta
            sign = ">= +" if value == up else "<= -"
            checks.append(_check(attr, f"{value}: {what} {sign}{min_delta} {unit}", delta, ok))
        elif attr == "voice_quality" and value == "whisper":
            checks.append(_check("voice_quality", f"whisper: voiced fraction <= {WHISPER_MAX_VOICED}",
                                 p.voiced_fraction, _finite(p.voiced_fraction) and p.voiced_fraction <= WHISPER_MAX_VOICED))
        elif attr == "voice_quality" and value == "modal":
            checks.append(_check("voice_quality", f"modal: voiced fraction > {WHISPER_MAX_VOICED}",
                                 p.voiced_fraction, _finite(p.voiced_fraction) and p.voiced_fraction > WHISPER_MAX_VOICED))
        elif attr == "pauses":
            checks.append(_check_pauses(value, p, neutral, text))
        elif attr == "emotion":
            checks.append(check_emotion(value, p, stored_lufs))
        elif attr == "speaker_gender" and _voiced(p, cues):
            f0 = p.f0_mean_hz
            ok = _finite(f0) and (f0 >= FEMALE_MIN_F0_HZ if value == "female" else f0 <= MALE_MAX_F0_HZ)
            bound = f">= {FEMALE_MIN_F0_HZ:g}" if value == "female" else f"<= {MALE_MAX_F0_HZ:g}"
            checks.append(_check("speaker_gender", f"{value}: mean F0 {bound} Hz", f0, ok))
        elif attr == "speaker_age" and value == "child" and _voiced(p, cues):
            f0 = p.f0_mean_hz
            checks.append(_check("speaker_age", f"child: mean F0 >= {CHILD_MIN_F0_HZ:g} Hz", f0,
                                 _finite(f0) and f0 >= CHILD_MIN_F0_HZ))
        elif attr in ("noise", "snr_db"):
            continue  # checked on the mix by check_snr
        else:
            checks.append(_check(attr, value, "not measurable from prosody; left to listeners and judges", None))
    return checks


def _voiced(p: Prosody, cues: Mapping[str, Any]) -> bool:
    """Gender/age are judged from F0, which a whisper or a pitch cue deliberately moves."""
    return cues.get("voice_quality") != "whisper" and cues.get("pitch") in (None, "normal")


def _check_pauses(value: Any, p: Prosody, neutral: Prosody | None, text: str) -> dict[str, Any]:
    long = _long_pauses(p)
    extra = p.pause_total_s - (neutral.pause_total_s if neutral is not None else 0.0)
    if isinstance(value, int):
        ok = len(long) >= value and (neutral is None or extra >= PAUSE_MIN_EXTRA_S)
        return _check("pauses", f">= {value} pause(s) of >= {PAUSE_MIN_S} s, +{PAUSE_MIN_EXTRA_S} s over neutral",
                      {"long_pauses": len(long), "extra_pause_s": round(extra, 3)}, ok)
    words = [w.lower().strip(".,;:!?\"'") for w in text_words(text)]
    after = {q.after_word_index for q in long if q.after_word_index is not None}
    missing = []
    for w in value:
        idx = [i for i, t in enumerate(words) if t == w.lower()]
        # the pause may be placed one word off: syllable timing is estimated, not aligned
        if not any(i + d in after for i in idx for d in (-1, 0, 1)):
            missing.append(w)
    ok = not missing and (neutral is None or extra >= PAUSE_MIN_EXTRA_S)
    return _check("pauses", f"a pause of >= {PAUSE_MIN_S} s after each of {value}",
                  {"missing_after": missing, "extra_pause_s": round(extra, 3)}, ok)


# Emotion judged on the one clip a model hears, with absolute criteria (no neutral twin): the loudness of
# the stored clip, whose neutral speech sits at TARGET_LUFS (-23), and for happy the F0 range. Only the
# labels an independent single-clip classifier separates are kept as input cues (see
# benchmarks/bench_emotion_classifier.py); the others are recorded, not checked.
EMOTION_ABSOLUTE: dict[str, dict[str, tuple[float, float]]] = {
    "neutral": {"loudness_lufs": (-25.5, -20.5)},
    "happy": {"loudness_lufs": (-22.5, -17.5), "f0_range_st": (6.0, math.inf)},
    "angry": {"loudness_lufs": (-20.0, math.inf)},
    "sad": {"loudness_lufs": (-math.inf, -27.0)},
    "fearful": {"loudness_lufs": (-30.0, -23.5)},
    "calm": {"loudness_lufs": (-math.inf, -24.5)},
}


def check_emotion(value: str, p: Prosody, stored_lufs: float | None) -> dict[str, Any]:
    rules = EMOTION_ABSOLUTE.get(value)
    if rules is None or stored_lufs is None or not _finite(stored_lufs):
        return _check("emotion", value, "not separable from one clip by prosody; left to listeners and judges"
                      if rules is None else None, None)
    measured = {"loudness_lufs": stored_lufs, "f0_range_st": p.f0_range_st}
    ok = all(_finite(measured[k]) and lo <= measured[k] <= hi for k, (lo, hi) in rules.items())
    bounds = ", ".join(f"{k} in [{lo:g}, {hi:g}]" for k, (lo, hi) in rules.items())
    return _check("emotion", f"{value}: {bounds} (one clip, no reference)",
                  {k: (round(float(v), 2) if _finite(v) else None) for k, v in measured.items() if k in rules}, ok)


def check_signal(duration_s: float, clipping_fraction: float, speech_s: float, text: str,
                 target_snr_db: float | None, measured_snr_db: float | None) -> list[dict[str, Any]]:
    """Checks on the stored mix: SNR as recorded, no clipping, a sane duration with speech in it."""
    checks = []
    if target_snr_db is not None:
        ok = measured_snr_db is not None and abs(measured_snr_db - target_snr_db) <= SNR_TOLERANCE_DB
        checks.append(_check("snr", f"{target_snr_db} dB +- {SNR_TOLERANCE_DB}", measured_snr_db, ok))
    checks.append(_check("clipping", f"clipped fraction <= {MAX_CLIPPING_FRACTION}", clipping_fraction,
                         clipping_fraction <= MAX_CLIPPING_FRACTION))
    n_words = max(1, len(text_words(text)))
    max_s = min(MAX_DURATION_S, MAX_SECONDS_PER_WORD * n_words + 2.0)
    checks.append(_check("duration", f"{MIN_DURATION_S} to {max_s:g} s with speech", duration_s,
                         MIN_DURATION_S <= duration_s <= max_s and speech_s > 0))
    return checks


def check_asr(reference: str, hypothesis: str, wer: float, max_wer: float = DEFAULT_MAX_WER) -> dict[str, Any]:
    out = _check("asr_wer", f"WER <= {max_wer}", wer, _finite(wer) and wer <= max_wer)
    out["asr_text"] = hypothesis
    return out


def verdict(checks: list[dict[str, Any]]) -> tuple[bool, list[str]]:
    """Pass when no check failed; the reasons are the names of failed checks (for the report)."""
    reasons = [c["name"] for c in checks if c["pass"] is False]
    return not reasons, reasons


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))
    if n < 10000 and n % 1000 == 0:
        return _ONES[n // 1000] + " thousand"
    return str(n)


def spoken_english(text: str) -> str:
    """Digits as words, so "10:30" and "ten thirty" score alike: Whisper writes numbers as digits, our
    instructions mostly as words, and neither is a listening error."""
    import re

    text = re.sub(r"(\d+):(\d\d)", lambda m: f"{m.group(1)} {'' if m.group(2) == '00' else m.group(2)}", text)
    text = re.sub(r"(\d+)%", r"\1 percent", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text)
    return re.sub(r"\d+", lambda m: _number_words(int(m.group())) if len(m.group()) <= 4 else m.group(), text)


def intelligibility_wer(reference: str, hypothesis: str, language: str) -> float:
    """WER (CER for CJK) of a transcript against the spoken text; sequence separators are not words."""
    from s2s_arena.asr import wer

    ref = reference.replace("|", " ")
    if str(language).lower().startswith("en"):
        ref, hypothesis = spoken_english(ref), spoken_english(hypothesis)
    return float(wer(ref, hypothesis))
