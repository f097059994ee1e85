"""Acoustic conditions for stage 2: background noises and rooms, mixed at a recorded SNR.

Every condition is synthesised from a seeded generator (no downloaded noise corpora), so a build is
reproducible bit for bit and needs nothing but numpy/scipy. Babble is real speech: a bank of other
utterances rendered by the same synthesiser, overlapped, which is what makes babble hard for speech
models (speech-shaped noise alone is much easier).

``apply_condition`` returns the mix and what was done, including the *measured* SNR of the mix
(speech power over the power of everything that was added), which QA compares with the target. In a
room, the "speech" of that SNR is the reverberant speech; how much of it is reverberation is what the
impulse response's DRR and C50 (recorded beside it) say.
"""

from __future__ import annotations

from s2s_arena.errors import ConfigError
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from s2s_arena.audio import mix_at_snr


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    snr_range_db: tuple[float, float]
    rt60_s: float | None = None  # reverberant rooms: the room's decay time
    drr_db: float | None = None  # reverberant rooms: direct-to-reverberant ratio of the impulse response
    subset: str = "main"  # main (the leaderboard's default set) | robustness (noisy and reverberant variants)


# name -> description and the SNR range drawn from (a real-world range for that place). Main conditions
# are everyday places where a person still understands every word (the build's intelligibility gate
# holds them to it); robustness conditions are deliberately hard. Rooms are described by RT60 and by
# the direct-to-reverberant ratio (a talker ~1 m from the microphone in a living room is about +5 dB;
# a distant talker in a hall below 0 dB); their SNR is the reverberant speech over the room tone.
CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition("clean", "no added noise or room", (math.inf, math.inf)),
    Condition("white", "white noise (flat spectrum: fans, hiss)", (20.0, 30.0)),
    Condition("pink", "pink noise (1/f: rain, distant traffic)", (15.0, 28.0)),
    Condition("brown", "brown noise (1/f^2: engine rumble, wind)", (12.0, 25.0)),
    Condition("street", "traffic rumble with passing cars and horns", (12.0, 22.0)),
    Condition("reverb_small", "small room (RT60 0.3 s, DRR +8 dB: a near talker) with room tone", (30.0, 40.0),
              rt60_s=0.3, drr_db=8.0),
    Condition("reverb_medium", "living room (RT60 0.6 s, DRR +4 dB) with room tone", (30.0, 40.0),
              rt60_s=0.6, drr_db=4.0),
    Condition("babble", "six overlapping talkers", (4.0, 12.0), subset="robustness"),
    Condition("cafe", "talkers, cutlery and cup clinks", (5.0, 14.0), subset="robustness"),
    Condition("airport", "hall ambience, distant talkers and an announcement chime", (5.0, 14.0), subset="robustness"),
    Condition("reverb_large", "large hall (RT60 1.2 s, DRR -2 dB: a distant talker) with room tone", (25.0, 35.0),
              rt60_s=1.2, drr_db=-2.0, subset="robustness"),
)}
NOISY_CONDITIONS: tuple[str, ...] = tuple(n for n in CONDITIONS if n != "clean")
SUBSETS: tuple[str, ...] = ("main", "robustness")
# Seeds may name a noise in their input_cues with words people use; these map onto our generators.
NOISE_ALIASES: dict[str, str] = {
    "crowd": "babble", "talkers": "babble", "restaurant": "cafe", "traffic": "street", "car": "brown",
    "station": "airport", "hall": "reverb_large", "room": "reverb_small", "wind": "brown", "rain": "pink",
    "fan": "white", "hiss": "white",
}


def resolve(name: str) -> str:
    """A condition name from a cue value (aliases allowed); ValueError names the known ones."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = NOISE_ALIASES.get(key, key)
    if key not in CONDITIONS:
        raise ConfigError(f"unknown noise {name!r}; expected one of {', '.join(CONDITIONS)} "
                         f"(or {', '.join(NOISE_ALIASES)})")
    return key


def _colored(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    spec /= f ** (exponent / 2)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def _lowpass(x: np.ndarray, sr: int, fc: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(4, fc, "low", fs=sr, output="sos"), x).astype(np.float32)


def _bandpass(x: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(4, [lo, hi], "band", fs=sr, output="sos"), x).astype(np.float32)


def _babble(rng: np.random.Generator, n: int, sr: int, bank: Sequence[np.ndarray], talkers: int = 6) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    if not bank:  # no speech to hand: speech-shaped noise with syllable-rate bursts
        for _ in range(talkers):
            env = _lowpass(np.abs(rng.standard_normal(n)).astype(np.float32), sr, 4.0)
            out += _bandpass(_colored(rng, n, 1.0), sr, 150, 4000) * env
        return out
    for _ in range(talkers):
        utt = bank[int(rng.integers(len(bank)))]
        start = int(rng.integers(max(1, utt.shape[0])))
        seq = np.roll(np.tile(utt, int(math.ceil(n / utt.shape[0])) + 1), -start)[:n]
        out += seq / (np.sqrt(np.mean(seq**2)) + 1e-9)
    return out


def _events(rng: np.random.Generator, n: int, sr: int, rate_per_s: float, make: Callable[[], np.ndarray]) -> np.ndarray:
    """Scatter short sounds made by ``make`` over ``n`` samples at a Poisson rate."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(rng.poisson(rate_per_s * n / sr)):
        ev = make()
        at = int(rng.integers(max(1, n - 1)))
        seg = ev[: n - at]
        out[at : at + seg.shape[0]] += seg
    return out


def _tone(sr: int, freqs: Sequence[float], dur: float, decay: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(dur * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs)
    return (np.asarray(x) * np.exp(-t / decay)).astype(np.float32)


def make_noise(name: str, n: int, sr: int, rng: np.random.Generator, bank: Sequence[np.ndarray] = ()) -> np.ndarray:
    """``n`` samples of the named background (before SNR scaling)."""
    if name == "white":
        return _colored(rng, n, 0.0)
    if name == "pink" or CONDITIONS[name].rt60_s is not None:  # rooms get a pink room tone
        return _colored(rng, n, 1.0)
    if name == "brown":
        return _colored(rng, n, 2.0)
    if name == "babble":
        return _babble(rng, n, sr, bank)
    if name == "street":
        rumble = _lowpass(_colored(rng, n, 2.0), sr, 400)
        t = np.arange(n) / sr
        swell = np.zeros(n, dtype=np.float32)
        for _ in range(rng.poisson(0.3 * n / sr) + 1):  # cars passing: a bell-shaped swell of broadband noise
            c, w = rng.uniform(0, n / sr), rng.uniform(0.8, 2.5)
            swell += np.exp(-(((t - c) / w) ** 2)).astype(np.float32)
        cars = _bandpass(_colored(rng, n, 1.0), sr, 80, 3000) * swell
        horns = _events(rng, n, sr, 0.05, lambda: 0.6 * _tone(sr, (440.0, 554.0), 0.5, 0.4, rng))
        return rumble + cars + horns
    if name == "airport":
        hall = _lowpass(_colored(rng, n, 1.0), sr, 2000)
        chime = _events(rng, n, sr, 0.08, lambda: np.concatenate(
            [_tone(sr, (784.0,), 0.6, 0.5, rng), _tone(sr, (659.0,), 0.9, 0.6, rng)]))
        return hall + 0.5 * _babble(rng, n, sr, bank, talkers=10) / 3 + chime
    if name == "cafe":
        clinks = _events(rng, n, sr, 0.7, lambda: 0.8 * _tone(sr, tuple(rng.uniform(2500, 6000, 3)), 0.15, 0.03, rng))
        return _babble(rng, n, sr, bank, talkers=4) / 2 + 0.3 * _colored(rng, n, 1.0) + clinks
    raise ConfigError(f"unknown condition {name!r}; expected one of {', '.join(CONDITIONS)}")


DIRECT_S = 0.0025  # the direct sound: the first 2.5 ms of the impulse response (ISO 3382 style)


def room_impulse_response(rt60_s: float, sr: int, rng: np.random.Generator, drr_db: float | None = None) -> np.ndarray:
    """A synthetic RIR: direct path, sparse early reflections, exponentially decaying diffuse tail.

    With ``drr_db`` the reflections and tail are scaled so the direct-to-reverberant ratio is that value
    (how far the talker stands from the microphone, independent of the room's decay time)."""
    n = int(rt60_s * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60_s)  # -60 dB at rt60
    tail = _lowpass(tail.astype(np.float32), sr, 6000)
    h = 0.35 * tail
    for _ in range(8):
        h[int(rng.uniform(0.004, 0.03) * sr)] += rng.uniform(0.2, 0.6) * rng.choice([-1, 1])
    d = max(1, int(DIRECT_S * sr))
    h[:d] = 0.0
    if drr_db is not None:
        h *= np.sqrt(1.0 / (float(np.sum(h[d:] ** 2)) * 10 ** (drr_db / 10)))
    h[0] = 1.0
    return (h / np.sqrt(np.sum(h**2))).astype(np.float32)


def rir_stats(h: np.ndarray, sr: int) -> dict[str, float]:
    """Direct-to-reverberant ratio and clarity C50 (early 50 ms over late energy) of an RIR, in dB."""
    e = np.asarray(h, np.float64) ** 2
    peak = int(np.argmax(e))
    d = peak + max(1, int(DIRECT_S * sr))
    c = peak + int(0.05 * sr)
    late, rest = float(np.sum(e[c:])), float(np.sum(e[d:]))
    return {"drr_db": round(10 * math.log10(float(np.sum(e[:d])) / rest), 2) if rest > 0 else math.inf,
            "c50_db": round(10 * math.log10(float(np.sum(e[:c])) / late), 2) if late > 0 else math.inf}


def measured_snr_db(speech: np.ndarray, mix: np.ndarray) -> float:
    """SNR of ``mix`` against the clean ``speech`` it was made from (same scale), in dB."""
    added = mix.astype(np.float64) - speech.astype(np.float64)
    p_n = float(np.mean(added**2))
    p_s = float(np.mean(speech.astype(np.float64) ** 2))
    if p_n <= 0:
        return math.inf
    return 10 * math.log10(p_s / p_n)


def apply_condition(
    speech: np.ndarray, sr: int, name: str, snr_db: float | None, rng: np.random.Generator,
    bank: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Put ``speech`` into condition ``name`` at ``snr_db``.

    Returns (mix, reference, info): ``reference`` is the speech as it reaches the microphone (after the
    room, before the noise); ``info`` records the condition, target and measured SNR and the room.
    """
    cond = CONDITIONS[resolve(name)]
    info: dict = {"noise": None if cond.name == "clean" else cond.name, "snr_db": None, "rir": None}
    if cond.name == "clean":
        return speech.astype(np.float32), speech.astype(np.float32), {**info, "snr_measured_db": None}
    ref = speech.astype(np.float32)
    if cond.rt60_s is not None:
        from scipy.signal import fftconvolve

        h = room_impulse_response(cond.rt60_s, sr, rng, cond.drr_db)
        ref = fftconvolve(ref, h)[: ref.shape[0] + int(0.5 * cond.rt60_s * sr)].astype(np.float32)
        info["rir"] = {"kind": "synthetic", "rt60_s": cond.rt60_s, **rir_stats(h, sr)}
    noise = make_noise(cond.name, ref.shape[0], sr, rng, bank)
    assert snr_db is not None and math.isfinite(snr_db), "a noisy condition needs a finite SNR"
    mix = mix_at_snr(ref, noise, float(snr_db))
    info["snr_db"] = round(float(snr_db), 2)
    info["snr_measured_db"] = round(measured_snr_db(ref, mix), 2)
    return mix, ref, info
