"""Voice changes applied to rendered speech, shared by every synthesis backend.

Praat (through ``praat-parselmouth``) changes speaker and pitch with PSOLA resynthesis ("Change gender":
formants, pitch median and range together), so one neural voice can stand for several speakers;
vocal effort is a spectral-tilt change (a loud, tense voice has more energy above 1 kHz, a soft lax
one less; Gobl & Ni Chasaide 2003), which loudness normalisation cannot undo; tremor is a slow F0
modulation (fear, old age); whisper replaces the voice source by noise (LPC resynthesis, :func:`whisper`).
"""

from __future__ import annotations

import math

import numpy as np

PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 600.0
SHELF_HZ = 1000.0


def _sound(x: np.ndarray, sr: int):
    import parselmouth

    return parselmouth.Sound(np.asarray(x, dtype=np.float64), float(sr))


def median_f0(x: np.ndarray, sr: int) -> float:
    """Median F0 of the voiced frames (Hz), NaN when nothing is voiced."""
    p = _sound(x, sr).to_pitch(0.02, PITCH_FLOOR_HZ, PITCH_CEILING_HZ).selected_array["frequency"]
    p = p[p > 0]
    return float(np.median(p)) if p.size else math.nan


def _seed_praat(seed: int) -> None:
    """Praat's overlap-add resynthesis copies noise-like stretches at random in unvoiced parts: seeded,
    the same input gives the same audio (unseeded, one sentence's two renderings differed by 0.67)."""
    from parselmouth.praat import run

    run(f"random_initializeWithSeedUnsafelyButPredictably ({int(seed) % 2_000_000_000})")


def change_voice(x: np.ndarray, sr: int, *, formant_ratio: float = 1.0, f0_hz: float | None = None,
                 range_factor: float = 1.0, seed: int = 0) -> np.ndarray:
    """Shift formants by ``formant_ratio``, move the median F0 to ``f0_hz`` (None: keep it) and scale
    the F0 range around it by ``range_factor``; duration is unchanged; ``seed`` makes it repeatable."""
    import parselmouth
    from parselmouth.praat import call

    if abs(formant_ratio - 1) < 1e-3 and f0_hz is None and abs(range_factor - 1) < 1e-3:
        return np.asarray(x, np.float32)
    # A very wide range (an emotion's and a style's widening multiplied: 5.75x around 298 Hz) can push
    # pitch points out of what Praat's overlap-add renders ("--undefined--"): it is then narrowed to 2x,
    # then to none.
    wanted = float(max(0.0, range_factor))
    tries = [wanted] + [r for r in (2.0, 1.0) if r < wanted]
    for i, rf in enumerate(tries):
        _seed_praat(seed)
        try:
            out = call(_sound(x, sr), "Change gender", PITCH_FLOOR_HZ, PITCH_CEILING_HZ, float(formant_ratio),
                       float(f0_hz or 0.0), rf, 1.0)
            break
        except parselmouth.PraatError:
            if i == len(tries) - 1:
                raise
    y = out.values[0].astype(np.float32)
    return np.nan_to_num(y)[: len(x)] if y.shape[0] >= len(x) else np.pad(np.nan_to_num(y), (0, len(x) - y.shape[0]))


def tremor(x: np.ndarray, sr: int, rate_hz: float, depth: float, seed: int = 0) -> np.ndarray:
    """F0 modulated by ``depth`` (fraction, e.g. 0.04 = +-4 %) at ``rate_hz`` (PSOLA resynthesis;
    ``seed`` makes it repeatable)."""
    from parselmouth.praat import call

    if depth <= 0:
        return np.asarray(x, np.float32)
    _seed_praat(seed)
    snd = _sound(x, sr)
    manip = call(snd, "To Manipulation", 0.01, PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    tier = call(manip, "Extract pitch tier")
    call(tier, "Formula", f"self * (1 + {depth:.4f} * sin(2 * pi * {rate_hz:.3f} * x))")
    call([tier, manip], "Replace pitch tier")
    y = call(manip, "Get resynthesis (overlap-add)").values[0].astype(np.float32)
    y = np.nan_to_num(y)
    return y[: len(x)] if y.shape[0] >= len(x) else np.pad(y, (0, len(x) - y.shape[0]))


def tilt(x: np.ndarray, sr: int, gain_db: float) -> np.ndarray:
    """High shelf at 1 kHz by ``gain_db`` (RBJ cookbook, slope 1): + for effort, - for a soft voice."""
    from scipy.signal import lfilter

    if abs(gain_db) < 1e-3:
        return np.asarray(x, np.float32)
    a_lin = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * SHELF_HZ / sr
    alpha = math.sin(w0) / 2 * math.sqrt(2)
    cw, sa = math.cos(w0), 2 * math.sqrt(a_lin) * alpha
    b = [a_lin * ((a_lin + 1) + (a_lin - 1) * cw + sa), -2 * a_lin * ((a_lin - 1) + (a_lin + 1) * cw),
         a_lin * ((a_lin + 1) + (a_lin - 1) * cw - sa)]
    a = [(a_lin + 1) - (a_lin - 1) * cw + sa, 2 * ((a_lin - 1) - (a_lin + 1) * cw), (a_lin + 1) - (a_lin - 1) * cw - sa]
    return lfilter(np.asarray(b) / a[0], np.asarray(a) / a[0], np.asarray(x, np.float64)).astype(np.float32)


# 20 ms frames kept Whisper base's word error lowest on whispered Piper speech (25 and 30 ms blur the
# consonant transitions); widening the formants (poles shrunk by 0.98 per lag, ~140 Hz at 22 kHz) keeps
# narrowband noise in F1 from passing for periodicity.
WHISPER_FRAME_S = 0.020
WHISPER_HIGHPASS_HZ = 300.0
WHISPER_BANDWIDTH_GAMMA = 0.98


def _lpc(frame: np.ndarray, order: int, sr: int) -> np.ndarray:
    """All-pole coefficients ``[1, a1, .., ap]`` of one windowed frame (autocorrelation method)."""
    from scipy.linalg import solve_toeplitz

    n = frame.shape[0]
    r = np.correlate(frame, frame, "full")[n - 1: n + order]
    r[0] *= 1.0 + 1e-6  # white-noise floor: keeps silent or very tonal frames well conditioned
    # Gaussian lag window (40 Hz): the envelope, not single harmonics of a low voice, gets the poles.
    r[1:] *= np.exp(-0.5 * (2 * math.pi * 40.0 / sr * np.arange(1, order + 1)) ** 2)
    if r[0] <= 0:
        return np.concatenate([[1.0], np.zeros(order)])
    a = solve_toeplitz((r[:-1], r[:-1]), -r[1:])
    return np.concatenate([[1.0], a])


def whisper(x: np.ndarray, sr: int, *, seed: int = 0, frame_s: float = WHISPER_FRAME_S,
            highpass_hz: float = WHISPER_HIGHPASS_HZ, order: int | None = None) -> np.ndarray:
    """Whispered speech from voiced speech, the source-filter way (Fant 1960): a whisper is turbulent
    noise at the glottis shaping the same vocal tract, so each ~20 ms frame's LPC all-pole filter
    (order sr/1000 + 4) is kept and its excitation replaced by white noise, scaled so the frame keeps
    its energy; frames overlap 75 % (Hann) and are added back. With no periodic source left there is
    no F0, which is what a listener and a pitch tracker hear as whisper. A gentle high-pass takes out
    what the glottal pulses put below ``highpass_hz`` (a whisper has little energy there). Deterministic
    for a ``seed``; float32, the input's length, never louder than its peak."""
    from scipy.signal import butter, lfilter, sosfiltfilt

    x = np.asarray(x, np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, np.float32)
    p = int(order or round(sr / 1000) + 4)
    size = max(2 * p + 2, int(round(frame_s * sr)))
    hop = max(1, size // 4)
    win = np.hanning(size + 2)[1:-1]  # no zero end points: every sample has weight
    rng = np.random.default_rng(seed)
    bw = WHISPER_BANDWIDTH_GAMMA ** np.arange(p + 1)
    warm = size  # filter start-up, discarded, so each frame starts in the filter's steady state
    padded = np.pad(x, (size, size + hop))  # frames overhang both ends: every sample is covered fully
    out = np.zeros(padded.shape[0])
    norm = np.zeros(padded.shape[0])
    for start in range(0, n + size, hop):
        frame = padded[start:start + size] * win
        energy = float(np.dot(frame, frame))
        norm[start:start + size] += win ** 2
        if energy <= 1e-12:
            continue
        a = _lpc(frame, p, sr) * bw
        noise = lfilter([1.0], a, rng.standard_normal(size + warm))[warm:] * win
        e_noise = float(np.dot(noise, noise))
        if not math.isfinite(e_noise) or e_noise <= 0:
            continue
        out[start:start + size] += noise * math.sqrt(energy / e_noise)
    y = out[size:size + n] / np.maximum(norm[size:size + n], 1e-3)
    if highpass_hz and 0 < highpass_hz < sr / 2:
        sos = butter(2, highpass_hz, "highpass", fs=sr, output="sos")
        y = sosfiltfilt(sos, y, padlen=min(9, n - 1))  # 9: scipy's own padding, which a short clip lacks
    y = np.nan_to_num(y)
    peak, limit = float(np.max(np.abs(y))), max(float(np.max(np.abs(x))), 1e-9)
    if peak > min(limit, 0.99):
        y *= min(limit, 0.99) / peak
    return y.astype(np.float32)


LIMIT_AT = 0.7


def soft_limit(x: np.ndarray, knee: float = LIMIT_AT) -> np.ndarray:
    """A tanh limiter above ``knee``: a loud (angry, shouted) segment keeps its loudness without hard
    clipping; below the knee nothing changes."""
    a = np.abs(x)
    over = a > knee
    if not over.any():
        return np.asarray(x, np.float32)
    y = np.array(x, dtype=np.float32, copy=True)
    head = 0.98 - knee
    y[over] = np.sign(x[over]) * (knee + head * np.tanh((a[over] - knee) / head))
    return y


EDGE_SILENCE_S = 0.2  # before and after the speech, as a recording would have


class SegmentTrack:
    """How every backend lays out a rendering: edge silence, the segments with a pause between them, edge
    silence; ``add`` returns each segment's start and end (s) for the metadata."""

    def __init__(self, sr: int, pause_s: float, edge_s: float = EDGE_SILENCE_S) -> None:
        self.sr = sr
        self._edge = np.zeros(int(edge_s * sr), np.float32)
        self._gap = np.zeros(int(pause_s * sr), np.float32)
        self._pieces = [self._edge]
        self.t = self._edge.shape[0] / sr

    def add(self, x: np.ndarray) -> tuple[float, float]:
        if len(self._pieces) > 1:
            self._pieces.append(self._gap)
            self.t += self._gap.shape[0] / self.sr
        self._pieces.append(x)
        start = self.t
        self.t += x.shape[0] / self.sr
        return start, self.t

    def audio(self) -> np.ndarray:
        return np.concatenate(self._pieces + [self._edge]).astype(np.float32)


__all__ = ["EDGE_SILENCE_S", "SegmentTrack", "change_voice", "median_f0", "soft_limit", "tilt", "tremor", "whisper"]
