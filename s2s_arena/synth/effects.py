"""Voice changes applied to rendered speech, shared by every synthesis backend.

Praat (through ``praat-parselmouth``) changes speaker and pitch with PSOLA resynthesis ("Change gender":
formants, pitch median and range together), so one neural voice can stand for several speakers;
vocal effort is a spectral-tilt change (a loud, tense voice has more energy above 1 kHz, a soft lax
one less; Gobl & Ni Chasaide 2003), which loudness normalisation cannot undo; tremor is a slow F0
modulation (fear, old age).
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


def change_voice(x: np.ndarray, sr: int, *, formant_ratio: float = 1.0, f0_hz: float | None = None,
                 range_factor: float = 1.0) -> np.ndarray:
    """Shift formants by ``formant_ratio``, move the median F0 to ``f0_hz`` (None: keep it) and scale
    the F0 range around it by ``range_factor``; duration is unchanged."""
    from parselmouth.praat import call

    if abs(formant_ratio - 1) < 1e-3 and f0_hz is None and abs(range_factor - 1) < 1e-3:
        return np.asarray(x, np.float32)
    out = call(_sound(x, sr), "Change gender", PITCH_FLOOR_HZ, PITCH_CEILING_HZ, float(formant_ratio),
               float(f0_hz or 0.0), float(max(0.0, range_factor)), 1.0)
    y = out.values[0].astype(np.float32)
    return np.nan_to_num(y)[: len(x)] if y.shape[0] >= len(x) else np.pad(np.nan_to_num(y), (0, len(x) - y.shape[0]))


def tremor(x: np.ndarray, sr: int, rate_hz: float, depth: float) -> np.ndarray:
    """F0 modulated by ``depth`` (fraction, e.g. 0.04 = +-4 %) at ``rate_hz`` (PSOLA resynthesis)."""
    from parselmouth.praat import call

    if depth <= 0:
        return np.asarray(x, np.float32)
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


__all__ = ["EDGE_SILENCE_S", "SegmentTrack", "change_voice", "median_f0", "soft_limit", "tilt", "tremor"]
