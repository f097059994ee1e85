"""Measure the paralinguistics of a waveform: rate, pitch, loudness, tilt, voicing, pauses.

One analysis pass serves every caller (dataset QA, the feature judge, the Space): a 10 ms intensity
track in numpy, one Praat autocorrelation pitch track through ``praat-parselmouth``, and a long-term
spectrum of the speech frames. Optional eGeMAPS v02 functionals come from ``opensmile``.

Definitions (all times in seconds):

* *speech span*: first to last frame louder than the speech threshold (leading/trailing silence cut).
* *pause*: a stretch inside the span quieter than the threshold for at least ``MIN_PAUSE_S``
  (150 ms; shorter gaps are stop closures, not pauses).
* ``speech_s``: span minus pauses (phonation time). ``speaking_rate_sps`` = syllables / span
  (pauses included, the usual "speech rate"); ``articulation_rate_sps`` = syllables / ``speech_s``.
* syllables: counted from ``text`` when it is given and its script allows it, otherwise syllable
  nuclei (intensity peaks with a dip of at least 2 dB on both sides, voiced when the clip is voiced:
  de Jong & Wempe 2009).
* F0 in semitones re 100 Hz; range = 90th minus 10th percentile of voiced frames inside the span.
* ``spectral_tilt_db`` = energy 0-1 kHz minus energy 1-4 kHz of the speech frames (higher = steeper
  tilt; whisper and breathy voice are flatter), ``hnr_db`` from the pitch track's autocorrelation
  strength r as 10*log10(r / (1 - r)), averaged over voiced frames.

The threshold is the louder of (peak - 25 dB) and (noise floor + 6 dB, but at most peak - 12 dB), so
background noise below speech is not mistaken for speech and continuous speech is not cut.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from s2s_arena import audio
from s2s_arena.schema import PART_SEPARATOR as SEGMENT_SEPARATOR

HOP_S = 0.01
WIN_S = 0.03
MIN_PAUSE_S = 0.15
MIN_SPEECH_ISLAND_S = 0.04
PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 600.0
SYLLABLE_DIP_DB = 2.0
PITCH_SR = 8_000
PITCH_STEP_S = 0.02  # F0 statistics and voicing need no finer steps; 10 ms would double the cost


@dataclass
class Pause:
    start_s: float
    end_s: float
    duration_s: float
    after_word_index: int | None = None  # 0-based word the pause follows (only when text was given)


@dataclass
class Segment:
    """One part of an utterance (see :func:`measure_segments`)."""

    index: int
    start_s: float
    end_s: float
    speech_s: float
    syllables: float
    speaking_rate_sps: float
    articulation_rate_sps: float
    f0_median_st: float
    f0_range_st: float
    loudness_lufs: float
    rms_db: float
    voiced_fraction: float

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(dataclasses.asdict(self))


@dataclass
class Prosody:
    duration_s: float
    speech_start_s: float
    speech_end_s: float
    speech_s: float
    syllables: float
    syllable_source: str  # "text" | "acoustic" | "none"; "same words" when a pair shares one count (judge)
    syllables_acoustic: int
    speaking_rate_sps: float
    articulation_rate_sps: float
    f0_median_st: float
    f0_range_st: float
    f0_mean_hz: float
    f0_sd_st: float
    loudness_lufs: float
    rms_db: float
    peak_dbfs: float
    spectral_tilt_db: float
    voiced_fraction: float
    hnr_db: float
    pauses: list[Pause] = field(default_factory=list)
    n_pauses: int = 0
    pause_total_s: float = 0.0
    clipping_fraction: float = 0.0
    problems: list[str] = field(default_factory=list)
    egemaps: dict[str, float] | None = None

    @property
    def span_s(self) -> float:
        return max(0.0, self.speech_end_s - self.speech_start_s)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: NaN and infinities become None."""
        return _json_safe(dataclasses.asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- syllables from text ------------------------------------------------------------------------------
_VOWELS = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœāēīōūăĕĭŏŭąęįųė" "аеёиоуыэюяіїєў" "αεηιουωάέήίόύώ"
_VOWEL_RUN = re.compile(f"[{_VOWELS}]+")


def _is_syllabic_char(ch: str) -> bool:
    """CJK ideographs, kana and Hangul blocks: one character is (about) one syllable."""
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x3040 <= cp <= 0x30FF
            or 0xAC00 <= cp <= 0xD7AF or 0xF900 <= cp <= 0xFAFF)


def word_syllables(word: str, language: str | None = None) -> int | None:
    """Syllables in one written word; None when the script gives no usable cue (e.g. Arabic)."""
    w = word.lower()
    syllabic = sum(1 for ch in w if _is_syllabic_char(ch) and ch not in "ゃゅょャュョっッー")
    letters = [ch for ch in w if ch.isalpha() and not _is_syllabic_char(ch)]
    digits = sum(1 for ch in w if ch.isdigit())
    if not letters:
        return syllabic + digits if (syllabic or digits) else (0 if not any(ch.isalpha() for ch in w) else None)
    latinish = "".join(ch for ch in letters if unicodedata.name(ch, "").split(" ")[0] in
                       ("LATIN", "CYRILLIC", "GREEK"))
    if not latinish:
        return None
    n = len(_VOWEL_RUN.findall(latinish))
    # English silent final e ("make", "time") but not "-le" ("table") or a lone vowel ("the").
    english = language is None or language.lower().startswith("en")
    if english and n > 1 and latinish.endswith("e") and not latinish.endswith(("le", "ee", "ye")):
        n -= 1
    return syllabic + digits + max(1, n)


def text_words(text: str) -> list[str]:
    """Words of a transcript; the segment separator and punctuation-only tokens are dropped."""
    out = []
    for tok in text.replace(SEGMENT_SEPARATOR, " ").split():
        if any(ch.isalnum() for ch in tok):
            out.append(tok)
        elif any(_is_syllabic_char(ch) for ch in tok):
            out.append(tok)
    # Unspaced CJK text: one "word" per character so pause positions can still be placed.
    if len(out) <= 2 and sum(_is_syllabic_char(ch) for ch in text) > 4:
        out = [ch for ch in text if _is_syllabic_char(ch) or ch.isalnum()]
    return out


def count_syllables(text: str, language: str | None = None) -> int | None:
    """Syllables in a transcript, or None when some word's script gives no cue. Vowel-letter groups
    for Latin/Cyrillic/Greek scripts (English silent-e rule unless ``language`` is not English),
    one per CJK character, kana or Hangul block."""
    total = 0
    for w in text_words(text):
        n = word_syllables(w, language)
        if n is None:
            return None
        total += n
    return total


# --- analysis ----------------------------------------------------------------------------------------
@dataclass
class Analysis:
    """The tracks one waveform yields (from :func:`analyse`); :func:`measure` and
    :func:`measure_segments` both read them, so a caller needing both analyses the clip once."""

    sr: int
    x: np.ndarray
    db: np.ndarray  # per 10 ms frame, dBFS (mean square)
    speech: np.ndarray  # bool per frame: inside speech (short gaps filled)
    loud: np.ndarray  # bool per frame: above threshold (raw)
    threshold_db: float
    f0: np.ndarray  # Hz per frame, 0 = unvoiced (on the same 10 ms grid)
    strength: np.ndarray
    spans: list[tuple[int, int]]  # frame index ranges [a, b) of pauses


def _frame_times(n: int) -> np.ndarray:
    return np.arange(n) * HOP_S + WIN_S / 2


def _intensity_db(x: np.ndarray, sr: int, win_s: float = WIN_S, hop_s: float = HOP_S) -> np.ndarray:
    win, hop = int(round(win_s * sr)), int(round(hop_s * sr))
    if x.shape[0] < win:
        x = np.pad(x, (0, win - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    ms = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / win
    return 10 * np.log10(ms + 1e-12)


def _runs(mask: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """[start, end) index ranges where ``mask == value``."""
    m = mask if value else ~mask
    d = np.diff(np.concatenate(([False], m, [False])).astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


_LEVELS_MEMO: tuple = (None, None)  # (intensity track, its levels): one analysis's three callers share them


def _levels(db: np.ndarray) -> tuple[float, float] | None:
    """(99th percentile of the audible frames, 10th percentile of all frames) of an intensity track,
    or None when no frame is audible. Remembered for the last track: the speech mask (twice) and the
    silence crop of one analysis all ask for the same two percentiles."""
    global _LEVELS_MEMO
    memo = _LEVELS_MEMO  # one tuple, replaced whole: safe to share between threads
    if memo[0] is db:
        return memo[1]
    finite = db[db > -110]
    out = None if finite.size == 0 else (float(np.percentile(finite, 99)), float(np.percentile(db, 10)))
    _LEVELS_MEMO = (db, out)
    return out


def _speech_mask(db: np.ndarray, voiced: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Speech frames: louder than the threshold, or voiced and clearly above the noise floor (in
    noise, weak voiced stretches fall under a level threshold that must stay above the noise)."""
    levels = _levels(db)
    if levels is None:
        return np.zeros_like(db, bool), np.zeros_like(db, bool), math.inf
    peak, floor = levels
    threshold = max(peak - 25.0, min(floor + 6.0, peak - 12.0))
    loud = db > threshold
    speech = loud.copy()
    if voiced is not None:
        speech |= voiced & (db > max(peak - 35.0, floor + 2.0))
    min_island = int(round(MIN_SPEECH_ISLAND_S / HOP_S))
    for a, b in _runs(speech, True):
        if b - a < min_island:
            speech[a:b] = False
    on = np.nonzero(speech)[0]
    if on.size:
        first, last = on[0], on[-1]
        min_pause = int(round(MIN_PAUSE_S / HOP_S))
        for a, b in _runs(speech[first:last + 1], False):
            if b - a < min_pause:
                speech[first + a:first + b] = True
    return speech, loud, threshold


def _pitch(x: np.ndarray, sr: int, db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, 0 = unvoiced) and autocorrelation strength on the 10 ms intensity grid ``db``."""
    n_frames = db.shape[0]
    if x.shape[0] / sr < 3.0 / PITCH_FLOOR_HZ + PITCH_STEP_S:
        return np.zeros(n_frames), np.zeros(n_frames)  # shorter than one analysis window: Praat refuses
    if sr > PITCH_SR:
        # The autocorrelation needs nothing above ~2 kHz for F0 <= 600 Hz: a third of the samples.
        x, sr = _resample(x, sr, PITCH_SR), PITCH_SR
    kept, offset_s = _crop_silence(x, sr, db)
    pitch = _praat_pitch(kept, sr)
    times = np.asarray(pitch.xs()) + offset_s
    if offset_s or kept.shape[0] < x.shape[0]:
        # The cut must leave Praat's frames where the whole clip has them; otherwise analyse it all.
        shift = abs(times[0] - _first_frame_s(x.shape[0] / sr)) % PITCH_STEP_S if times.size else math.inf
        if min(shift, PITCH_STEP_S - shift) > 1e-6:
            pitch = _praat_pitch(x, sr)
            times = np.asarray(pitch.xs())
    sel = pitch.selected_array
    if times.size == 0:
        return np.zeros(n_frames), np.zeros(n_frames)
    # Each grid frame takes the nearest pitch frame (pitch frames are PITCH_STEP_S apart).
    grid = _frame_times(n_frames)
    nearest = np.clip(np.round((grid - times[0]) / PITCH_STEP_S).astype(int), 0, times.size - 1)
    inside = np.abs(times[nearest] - grid) <= PITCH_STEP_S / 2 + 1e-9
    f0 = np.where(inside, sel["frequency"][nearest], 0.0)
    strength = np.where(inside, sel["strength"][nearest], 0.0)
    return f0, strength


@lru_cache(maxsize=8)
def _resample_filter(up: int, down: int, dtype: str) -> np.ndarray:
    """The anti-aliasing filter scipy's resample_poly designs by default (Kaiser, beta 5, 10 zero
    crossings per side), in the waveform's dtype as resample_poly casts it."""
    from scipy.signal import firwin

    m = max(up, down)
    h = firwin(2 * 10 * m + 1, 1.0 / m, window=("kaiser", 5.0)).astype(dtype)
    h.setflags(write=False)
    return h


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """The samples of audio.resample, with the filter designed once per rate pair instead of per clip."""
    from scipy.signal import resample_poly

    g = math.gcd(int(sr_in), int(sr_out))
    up, down = int(sr_out) // g, int(sr_in) // g
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        return audio.resample(x, sr_in, sr_out)
    return resample_poly(x, up, down, axis=0, window=_resample_filter(up, down, x.dtype.str)).astype(np.float32)


def _praat_pitch(x: np.ndarray, sr: int) -> Any:
    import parselmouth

    snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=float(sr))
    return snd.to_pitch_ac(time_step=PITCH_STEP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)


def _pitch_frames(duration_s: float) -> float:
    """Praat's frame count before flooring: (duration - window) / step."""
    return (duration_s - 3.0 / PITCH_FLOOR_HZ) / PITCH_STEP_S


def _first_frame_s(duration_s: float) -> float:
    """Where Praat centres its first pitch frame (Sampled_shortTermAnalysis)."""
    n = math.floor(_pitch_frames(duration_s)) + 1
    return (duration_s - (n - 1) * PITCH_STEP_S) / 2


def _crop_silence(x: np.ndarray, sr: int, db: np.ndarray) -> tuple[np.ndarray, float]:
    """Drop leading and trailing near-silence before the pitch analysis (the costliest step), keeping
    a margin of a window plus 100 ms. Whole pitch steps are cut from each end, so Praat's frames
    fall on the same times as for the whole clip and the track inside is the same (Praat's path
    search can move a median F0 by a few thousandths of a semitone); only frames at the quietest
    level of the clip (below the noise floor + 2 dB) are ever dropped. Returns the kept samples and
    their start time."""
    levels = _levels(db)
    if levels is None:
        return x, 0.0
    level = min(levels[0] - 35.0, levels[1] + 2.0)
    audible = np.nonzero(db > level)[0]
    if audible.size == 0:
        return x, 0.0
    margin = 3.0 / PITCH_FLOOR_HZ + 0.1
    dur, step = x.shape[0] / sr, int(round(PITCH_STEP_S * sr))
    head = max(0, int((audible[0] * HOP_S - margin) // PITCH_STEP_S))
    tail = max(0, int((dur - (audible[-1] * HOP_S + WIN_S + margin)) // PITCH_STEP_S))
    frames = _pitch_frames(dur)
    # Praat floors (duration - window) / step: near a whole number the rounding of the shorter clip
    # could move every frame by half a step, so such clips are analysed whole.
    if abs(frames - round(frames)) < 1e-6:
        return x, 0.0
    too_short = (x.shape[0] - (head + tail) * step) / sr < 3.0 / PITCH_FLOOR_HZ + 4 * PITCH_STEP_S
    if abs(PITCH_STEP_S * sr - step) > 1e-9 or head + tail == 0 or too_short:
        return x, 0.0
    return x[head * step: x.shape[0] - tail * step], head * step / sr


def _analyse(x: np.ndarray, sr: int) -> Analysis:
    x = np.asarray(x, dtype=np.float32)
    db = _intensity_db(x, sr)
    speech, loud, thr = _speech_mask(db)
    if speech.any():
        f0, strength = _pitch(x, sr, db)
        speech, loud, thr = _speech_mask(db, f0 > 0)
    else:
        f0, strength = np.zeros_like(db), np.zeros_like(db)
    pauses: list[tuple[int, int]] = []
    on = np.nonzero(speech)[0]
    if on.size:
        first, last = on[0], on[-1]
        pauses = [(first + a, first + b) for a, b in _runs(speech[first:last + 1], False)]
    return Analysis(sr, x, db, speech, loud, thr, f0, strength, pauses)


def analyse(x: Any, sr: int, *, where: str = "audio") -> Analysis:
    """Validate a waveform and compute its intensity, speech and pitch tracks (see :func:`measure`)."""
    return _analyse(_prepare(x, sr, where), int(sr))


def _analysis_for(x: Any, sr: int, where: str, analysis: Analysis | None) -> tuple[np.ndarray, Analysis]:
    if analysis is None:
        arr = _prepare(x, sr, where)
        return arr, _analyse(arr, int(sr))
    if analysis.sr != int(sr):
        raise ValueError(f"{where}: analysis is at {analysis.sr} Hz, the waveform at {sr} Hz")
    return analysis.x, analysis


def _semitones(hz: np.ndarray) -> np.ndarray:
    return 12 * np.log2(hz / 100.0)


def _f0_stats(f0: np.ndarray) -> tuple[float, float, float, float]:
    v = f0[f0 > 0]
    if v.size < 3:
        return math.nan, math.nan, math.nan, math.nan
    st = _semitones(v)
    p10, p50, p90 = np.percentile(st, [10, 50, 90])
    return float(p50), float(p90 - p10), float(np.mean(v)), float(np.std(st))


def _nuclei_frames(t: Analysis, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Frames of syllable nuclei: intensity peaks inside speech with >= 2 dB dips around them
    (and voiced nearby when the clip is voiced at all), after de Jong & Wempe (2009)."""
    from scipy.signal import find_peaks

    hi = t.db.shape[0] if hi is None else hi
    if hi - lo < 3:
        return np.zeros(0, int)
    # Smooth over ~50 ms: the 30 ms frames alone split vowels at their formant transitions.
    db = np.convolve(t.db, np.ones(5) / 5, mode="same")[lo:hi]
    peaks, _ = find_peaks(db, prominence=SYLLABLE_DIP_DB, distance=5, height=t.threshold_db)
    peaks = peaks[t.speech[lo:hi][peaks]]
    voiced = (t.f0 > 0)[t.speech]
    if peaks.size and voiced.size and voiced.mean() > 0.2:
        # Voiced neighbourhood (+-20 ms): a peak on a fricative is not a syllable nucleus.
        voiced_near = np.convolve((t.f0[lo:hi] > 0).astype(np.int32), np.ones(5, np.int32))[2:hi - lo + 2] > 0
        peaks = peaks[voiced_near[peaks]]
    return peaks + lo


def _syllable_nuclei(t: Analysis, lo: int = 0, hi: int | None = None) -> int:
    return int(_nuclei_frames(t, lo, hi).size)


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


def _tilt_db(x: np.ndarray, sr: int, frames: np.ndarray) -> float:
    """Energy 0-1 kHz minus 1-4 kHz over the given 10 ms frames (long-term average spectrum)."""
    win, hop = int(round(WIN_S * sr)), int(round(HOP_S * sr))
    idx = np.nonzero(frames)[0]
    if idx.size == 0:
        return math.nan
    if idx.size > 200:  # a long-term spectrum is stable with 2 s of frames spread over the clip
        idx = idx[np.linspace(0, idx.size - 1, 200).astype(int)]
    if x.shape[0] < win:
        x = np.pad(x, (0, win - x.shape[0]))
    from scipy import fft

    all_frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    # float32 throughout: the band energies agree with a float64 FFT to ~1e-5 dB at a third of the cost.
    seg = all_frames[idx[idx < all_frames.shape[0]]] * _hann(win)
    nfft = 1 << (win - 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1 / sr)
    # Only the bins below 4 kHz are summed: the power of the others is not computed (each bin's
    # mean over frames is the same number either way).
    spec = fft.rfft(seg, n=nfft, axis=1)[:, : int(np.searchsorted(freqs, 4000))]
    power = np.mean(spec.real ** 2 + spec.imag ** 2, axis=0, dtype=np.float64)
    freqs = freqs[: power.shape[0]]
    low = float(np.sum(power[(freqs >= 50) & (freqs < 1000)]))
    high = float(np.sum(power[(freqs >= 1000) & (freqs < 4000)]))
    if low <= 0 or high <= 0:
        return math.nan
    return 10 * math.log10(low / high)


def _hnr_db(strength: np.ndarray, voiced: np.ndarray) -> float:
    r = np.clip(strength[voiced], 1e-6, 1 - 1e-6)
    if r.size < 3:
        return math.nan
    return float(np.mean(10 * np.log10(r / (1 - r))))


def _rms_db(x: np.ndarray, sr: int, frames: np.ndarray) -> float:
    hop = int(round(HOP_S * sr))
    idx = np.nonzero(frames)[0]
    if idx.size == 0:
        return -math.inf
    mask = np.zeros(x.shape[0], bool)
    for a, b in _runs(frames, True):
        mask[a * hop:min(x.shape[0], b * hop + int(round(WIN_S * sr)))] = True
    ms = float(np.mean(np.square(x[mask], dtype=np.float64))) if mask.any() else 0.0
    return 10 * math.log10(ms) if ms > 0 else -math.inf


def _pause_word_indices(t: Analysis, words: list[str]) -> list[int | None]:
    """Place each pause after the word whose cumulative syllable count matches the share of
    syllable nuclei heard before the pause (nuclei are robust to phrase-final lengthening, which
    skews a share of speech time); speech time stands in when no nuclei were found."""
    counts = [word_syllables(w) or 1 for w in words]
    if len(counts) < 2 or not t.spans:
        return [None] * len(t.spans)
    cum = np.cumsum(counts)
    nuclei = _nuclei_frames(t)
    speech_cum = np.cumsum(t.speech)
    out: list[int | None] = []
    for a, _b in t.spans:
        if nuclei.size:
            frac = float(np.sum(nuclei < a)) / nuclei.size
        else:
            frac = float(speech_cum[a - 1]) / float(speech_cum[-1]) if a > 0 else 0.0
        out.append(int(np.argmin(np.abs(cum[:-1] - frac * cum[-1]))))
    return out


def _egemaps(x: np.ndarray, sr: int) -> dict[str, float]:
    smile = _smile()
    df = smile.process_signal(x, sr)
    return {str(k): float(v) for k, v in df.iloc[0].items()}


@lru_cache(maxsize=1)
def _smile():
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


def _prepare(x: Any, sr: int, where: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 2:
        arr = audio.to_mono(audio._as_2d(arr, where))
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 1:
        raise audio.AudioError(f"{where}: expected a 1-D waveform, got shape {arr.shape}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= int(sr) <= 768_000:
        raise audio.AudioError(f"{where}: sampling rate must be an integer in 1000..768000 Hz, got {sr!r}")
    audio.check_audio(arr, int(sr), where=where)
    return arr


def measure(x: Any, sr: int, *, text: str | None = None, egemaps: bool = False, where: str = "audio",
            language: str | None = None, analysis: Analysis | None = None, level_and_tilt: bool = True) -> Prosody:
    """Measure a waveform (1-D float array at ``sr`` Hz; 2-D is averaged to mono).

    ``text`` (the words spoken) makes the syllable count exact-ish and places pauses after words;
    ``language`` (BCP-47) refines the syllable count; ``egemaps=True`` adds the 88 eGeMAPS v02
    functionals (slower: ~10x); ``analysis`` (from :func:`analyse` of the same waveform) skips the
    analysis; ``level_and_tilt=False`` leaves the integrated loudness and the spectral tilt NaN (2.4
    of about 17 ms CPU for a 5 s clip, for callers that use neither). Silence yields a Prosody
    with zero speech and NaN pitch; empty, NaN or absurdly long input raises AudioError naming
    ``where``.
    """
    x, t = _analysis_for(x, sr, where, analysis)
    sr = int(sr)
    n = t.db.shape[0]
    on = np.nonzero(t.speech)[0]
    times = _frame_times(n)
    pauses: list[Pause] = []
    if on.size:
        start_s = max(0.0, times[on[0]] - WIN_S / 2)
        end_s = min(x.shape[0] / sr, times[on[-1]] + WIN_S / 2)
        words = text_words(text) if text else []
        after = _pause_word_indices(t, words) if words else [None] * len(t.spans)
        for (a, b), w in zip(t.spans, after):
            # A frame is quiet only when its whole window is: widen by half a window to get the gap.
            p0, p1 = times[a] - WIN_S / 2 + HOP_S / 2, times[b - 1] + WIN_S / 2 - HOP_S / 2
            pauses.append(Pause(round(float(p0), 3), round(float(p1), 3), round(float(p1 - p0), 3), w))
    else:
        start_s = end_s = 0.0
    span = end_s - start_s
    pause_total = sum(p.duration_s for p in pauses)
    speech_s = max(0.0, span - pause_total)

    nuclei = _syllable_nuclei(t) if on.size else 0
    text_syll = count_syllables(text, language) if text else None
    if text_syll is not None and on.size:
        syllables, source = float(text_syll), "text"
    elif on.size:
        syllables, source = float(nuclei), "acoustic"
    else:
        syllables, source = 0.0, "none"

    voiced_in_speech = (t.f0 > 0) & t.speech
    f0_med, f0_rng, f0_mean, f0_sd = _f0_stats(t.f0[voiced_in_speech])
    vf = float(voiced_in_speech.sum() / t.speech.sum()) if t.speech.any() else math.nan

    return Prosody(
        duration_s=round(x.shape[0] / sr, 4),
        speech_start_s=round(float(start_s), 3),
        speech_end_s=round(float(end_s), 3),
        speech_s=round(float(speech_s), 3),
        syllables=syllables,
        syllable_source=source,
        syllables_acoustic=nuclei,
        speaking_rate_sps=syllables / span if span > 0 else 0.0,
        articulation_rate_sps=syllables / speech_s if speech_s > 0 else 0.0,
        f0_median_st=f0_med,
        f0_range_st=f0_rng,
        f0_mean_hz=f0_mean,
        f0_sd_st=f0_sd,
        loudness_lufs=audio.loudness_lufs(x, sr) if level_and_tilt else math.nan,
        rms_db=_rms_db(t.x, t.sr, t.speech),
        peak_dbfs=audio.peak_dbfs(x),
        spectral_tilt_db=_tilt_db(t.x, t.sr, t.speech) if level_and_tilt else math.nan,
        voiced_fraction=vf,
        hnr_db=_hnr_db(t.strength, voiced_in_speech),
        pauses=pauses,
        n_pauses=len(pauses),
        pause_total_s=round(pause_total, 3),
        clipping_fraction=float(np.mean(np.abs(x) >= 0.999)),
        problems=audio.problems(x, sr),
        egemaps=_egemaps(x, sr) if egemaps else None,
    )


def _segment_bounds(t: Analysis, n: int) -> list[tuple[int, int]]:
    """Frame ranges of ``n`` segments: cut at the n-1 longest pauses, else evenly by speech time."""
    on = np.nonzero(t.speech)[0]
    first, last = int(on[0]), int(on[-1]) + 1
    if n <= 1:
        return [(first, last)]
    if len(t.spans) >= n - 1:
        cuts = sorted(sorted(t.spans, key=lambda s: s[1] - s[0], reverse=True)[: n - 1])
        bounds, a = [], first
        for p0, p1 in cuts:
            bounds.append((a, p0))
            a = p1
        bounds.append((a, last))
        return bounds
    speech_cum = np.cumsum(t.speech[first:last])
    total = speech_cum[-1]
    edges = [first] + [first + int(np.searchsorted(speech_cum, total * k / n)) for k in range(1, n)] + [last]
    return [(edges[k], edges[k + 1]) for k in range(n)]


# Per-part measures that cost more than the rate: a caller that needs only some names them in
# ``measure_segments(fields=...)``; the others are left NaN.
SEGMENT_OPTIONAL_FIELDS = frozenset({"f0_median_st", "f0_range_st", "loudness_lufs", "rms_db"})


def measure_segments(x: Any, sr: int, n: int, *, text: str | None = None, where: str = "audio",
                     analysis: Analysis | None = None, fields: Any = None) -> list[Segment]:
    """Split the speech into ``n`` consecutive segments and measure each.

    Cuts fall in the ``n - 1`` longest pauses (a "fast, then normal, then slow" response has its
    repetitions separated by pauses); with fewer pauses the speech time is split evenly. Syllables per
    segment come from ``text`` when it holds ``n`` parts separated by ``" | "``; otherwise from
    syllable nuclei, rescaled to the text's total syllable count when ``text`` is given. A silent
    clip yields ``n`` empty segments. ``analysis`` (from :func:`analyse`) skips the analysis.
    ``fields`` (Segment field names; None = all) limits the optional measures (median and range of
    F0, loudness, RMS level) to those named; the rest are NaN. Times, syllables, rates and the voiced
    fraction are always measured, and a measured field has the same value whatever ``fields`` is.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected an int >= 1 segments, got {n!r}")
    if fields is None:
        wanted = SEGMENT_OPTIONAL_FIELDS
    else:
        wanted = frozenset([fields] if isinstance(fields, str) else fields)
        unknown = wanted - {f.name for f in dataclasses.fields(Segment)}
        if unknown:
            raise ValueError(f"fields: unknown Segment field(s) {sorted(unknown)}; expected some of "
                             f"{sorted(f.name for f in dataclasses.fields(Segment))}")
    want_f0 = bool(wanted & {"f0_median_st", "f0_range_st"})
    x, t = _analysis_for(x, sr, where, analysis)
    if not t.speech.any():
        nan = math.nan
        return [Segment(k, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, nan, nan, -math.inf, -math.inf, nan) for k in range(n)]
    bounds = _segment_bounds(t, n)
    nuclei = [_syllable_nuclei(t, a, b) for a, b in bounds]
    parts = [p for p in (text or "").split(SEGMENT_SEPARATOR) if p.strip()]
    part_syll = [count_syllables(p) for p in parts] if len(parts) == n else []
    total_text = count_syllables(text) if text else None
    if part_syll and all(s is not None for s in part_syll):
        syll = [float(s) for s in part_syll]
    elif total_text and sum(nuclei) > 0:
        syll = [total_text * k / sum(nuclei) for k in nuclei]
    else:
        syll = [float(k) for k in nuclei]
    hop, win = int(round(HOP_S * t.sr)), int(round(WIN_S * t.sr))
    nan = math.nan
    out = []
    for k, ((a, b), s) in enumerate(zip(bounds, syll)):
        start, end = a * HOP_S, b * HOP_S + WIN_S - HOP_S
        span = max(end - start, 1e-9)
        inner_pause = sum((q1 - q0) * HOP_S for q0, q1 in t.spans if q0 >= a and q1 <= b)
        speech_s = max(span - inner_pause, 1e-9)
        frames = t.speech[a:b]
        voiced = (t.f0[a:b] > 0) & frames
        med, rng, _, _ = _f0_stats(t.f0[a:b][voiced]) if want_f0 else (nan, nan, nan, nan)
        # The part's own samples (a view): the last frame's window ends at b * hop + win.
        seg = t.x[a * hop:b * hop + win]
        out.append(Segment(
            index=k, start_s=round(float(start), 3), end_s=round(float(end), 3), speech_s=round(float(speech_s), 3),
            syllables=round(float(s), 2), speaking_rate_sps=float(s / span), articulation_rate_sps=float(s / speech_s),
            f0_median_st=med if "f0_median_st" in wanted else nan,
            f0_range_st=rng if "f0_range_st" in wanted else nan,
            loudness_lufs=audio.loudness_lufs(seg, t.sr) if "loudness_lufs" in wanted else nan,
            rms_db=_rms_db(seg, t.sr, frames) if "rms_db" in wanted else nan,
            voiced_fraction=float(voiced.sum() / frames.sum()) if frames.any() else nan,
        ))
    return out


def segment_rates(x: Any, sr: int, k: int, *, text: str | None = None) -> list[float]:
    """Speaking rate (syllables/s) of each of ``k`` consecutive segments (see measure_segments)."""
    return [s.speaking_rate_sps for s in measure_segments(x, sr, k, text=text)]


# --- word prominence (emphasis) ---------------------------------------------------------------------
@dataclass
class WordProminence:
    """How far one required word stands out from the other words of the same response.

    Each cue is the word's value minus the median of the other words' (the words that are not a
    required word): RMS level of its speech frames (dB), its F0 peak (90th percentile of its voiced
    frames, semitones) and log2 of its duration per syllable (speech frames inside the recogniser's
    word span). ``prominence`` averages the available cues, each divided by its jnd and capped."""

    word: str  # the required word
    heard: str  # the transcript word it was found as
    match: str  # exact | number | similar
    start_s: float
    end_s: float
    loudness_db: float
    f0_st: float
    duration_log2: float
    prominence: float

    def text(self) -> str:
        dur = f"x{2 ** self.duration_log2:.2f}" if math.isfinite(self.duration_log2) else "nan"
        heard = "" if self.match == "exact" else f" (heard {self.heard!r}, {self.match})"
        f = (lambda v, nd=1: "nan" if not math.isfinite(v) else f"{v:+.{nd}f}")
        return (f"{self.word!r}{heard} at {self.start_s:.2f}-{self.end_s:.2f} s: {f(self.loudness_db)} dB, "
                f"{f(self.f0_st)} st, {dur} duration/syllable -> {f(self.prominence, 2)} jnd")


_ONES_EN = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen").split()
_TENS_EN = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
_ORDINAL_EN = {"first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
               "ninth": "nine", "twelfth": "twelve"}


def _spoken_number(n: int) -> list[str]:
    """An integer below a million as English words ("180" -> one hundred eighty)."""
    if n < 20:
        return [_ONES_EN[n]]
    if n < 100:
        return [_TENS_EN[n // 10]] + ([_ONES_EN[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES_EN[n // 100], "hundred"] + (_spoken_number(n % 100) if n % 100 else [])
    return _spoken_number(n // 1000) + ["thousand"] + (_spoken_number(n % 1000) if n % 1000 else [])


def _cardinal_words(word: str) -> list[str]:
    """An English number word as cardinal words ("twenty-second" -> twenty two); [] when it is none."""
    out = []
    for part in word.split("-"):
        p = _ORDINAL_EN.get(part, part)
        if p not in _ONES_EN and p not in _TENS_EN.values():
            p = p[:-4] + "y" if p.endswith("ieth") else (p[:-2] if p.endswith("th") else p)
        if p not in _ONES_EN and p not in _TENS_EN.values():
            return []
        out.append(p)
    return out


def _norm_token(w: str) -> str:
    w = unicodedata.normalize("NFKC", w).lower()
    return re.sub(r"[^\w'-]+", "", w).strip("'-")


def _token_syllables(word: str, language: str | None) -> int | None:
    """Syllables of a recognised word; a number in digits ("80", "15th") as its English words, so "2"
    and "two" measure alike; None for other tokens with digits."""
    m = re.fullmatch(r"(\d{1,6})(st|nd|rd|th)?", _norm_token(word))
    if m:
        return sum(word_syllables(w, "en") or 1 for w in _spoken_number(int(m.group(1))))
    return None if any(ch.isdigit() for ch in word) else word_syllables(word, language)


def find_word(target: str, heard: list[str]) -> tuple[list[int], str]:
    """Where ``target`` occurs among recognised words: (indices, how it matched). Exact (case and
    punctuation aside); else a number the recogniser wrote in digits ("eighty" in "180", "fifteenth"
    as "15th"); else words that sound alike as spelled (difflib ratio >= 0.75, or one word the
    other's start with 4+ letters: "stop" for "stopped"), the closest only. ([], "") when absent."""
    t = _norm_token(target)
    toks = [_norm_token(w) for w in heard]
    hits = [i for i, w in enumerate(toks) if w and (w == t or w.replace("-", "") == t.replace("-", ""))]
    if hits:
        return hits, "exact"
    card = _cardinal_words(t)
    if card:
        k = len(card)
        for i, w in enumerate(toks):
            groups = re.findall(r"\d+", w)
            spoken = [s for g in groups if len(g) < 7 for s in _spoken_number(int(g))]
            if any(spoken[j:j + k] == card for j in range(len(spoken) - k + 1)):
                hits.append(i)
        if hits:
            return hits, "number"
    from difflib import SequenceMatcher

    scores = []
    for i, w in enumerate(toks):
        if not w or any(ch.isdigit() for ch in w):
            continue
        r = SequenceMatcher(None, t, w).ratio()
        short, long_ = sorted((t, w), key=len)
        if r >= 0.75 or (len(short) >= 4 and long_.startswith(short)):
            scores.append((r, i))
    if not scores:
        return [], ""
    best = max(r for r, _ in scores)
    return [i for r, i in scores if r == best], "similar"


def word_prominence(x: Any, sr: int, words: Any, targets: list[str], *, language: str | None = None,
                    analysis: Analysis | None = None, jnd_db: float = 2.0, jnd_st: float = 1.5,
                    jnd_duration: float = 0.3, cap: float = 4.0, duration_cap: float = 2.0,
                    where: str = "audio") -> list[WordProminence | None]:
    """How much each of ``targets`` (the required words, in order) stands out in the clip, from word
    timings ``words`` = [(word, start_s, end_s, probability), ...] (a recogniser's).

    A word that occurs more than once is taken where it stands out most; in a sequence of required
    words each is looked for after the previous one (``[red, him]``: "RED ... HIM"), else anywhere.
    None for a target not heard, or when fewer than two other words can be measured. Each cue is
    capped at ``cap`` jnds, duration at ``duration_cap``: word boundaries are only good to ~50 ms, and
    a word the recogniser dropped leaves its time to the next one ("I went" heard as "went")."""
    x, t = _analysis_for(x, sr, where, analysis)
    words = [(str(w[0]), float(w[1]), float(w[2])) for w in words]
    n = t.db.shape[0]
    cues = np.full((len(words), 3), np.nan)
    for i, (w, s, e) in enumerate(words):
        a = max(0, int(round((s - WIN_S / 2) / HOP_S)))
        b = min(n, int(round((e - WIN_S / 2) / HOP_S)))
        fr = np.arange(a, b)
        fr = fr[t.speech[fr]] if fr.size else fr
        if fr.size < 3:  # under 30 ms of speech: nothing to measure
            continue
        cues[i, 0] = 10 * np.log10(np.mean(np.power(10.0, t.db[fr] / 10)))
        v = t.f0[fr]
        v = v[v > 0]
        if v.size >= 3:
            cues[i, 1] = float(np.percentile(_semitones(v), 90))
        syl = _token_syllables(w, language)
        if syl:
            cues[i, 2] = math.log2(fr.size * HOP_S / syl)
    found = [find_word(tg, [w for w, _, _ in words]) for tg in targets]
    taken = {i for idx, _ in found for i in idx}
    base = [i for i in range(len(words)) if i not in taken]
    med = np.full(3, np.nan)
    for c in range(3):
        vals = cues[base, c]
        vals = vals[np.isfinite(vals)]
        if vals.size >= 2:
            med[c] = float(np.median(vals))
    jnds = np.array([jnd_db, jnd_st, jnd_duration])
    caps = np.array([cap, cap, duration_cap])

    def score(i: int) -> tuple[float, np.ndarray]:
        rel = cues[i] - med
        ok = np.isfinite(rel)
        return (float(np.mean(np.clip(rel[ok] / jnds[ok], -caps[ok], caps[ok]))) if ok.any() else math.nan), rel

    scored = [{i: sc for i in idx if math.isfinite((sc := score(i))[0])} for idx, _ in found]
    pick = _ordered_pick([sorted(c) for c in scored], [{i: c[i][0] for i in c} for c in scored])
    out: list[WordProminence | None] = []
    for tg, (_, how), cands, i in zip(targets, found, scored, pick):
        if i is None:
            out.append(None)
            continue
        p, rel = cands[i]
        w, s, e = words[i]
        out.append(WordProminence(tg, w, how, round(s, 3), round(e, 3), float(rel[0]), float(rel[1]),
                                  float(rel[2]), p))
    return out


def part_spans(x: Any, sr: int, n: int, *, analysis: Analysis | None = None,
               where: str = "audio") -> list[tuple[int, int]]:
    """Sample ranges of ``n`` consecutive parts of a clip (the parts :func:`measure_segments`
    measures: cut in the ``n - 1`` longest pauses), each cut in the middle of its pause, so that
    together they cover the clip. A response that says a sentence twice is recognised part by part:
    Whisper, decoding with timestamps, drops a sentence that repeats the previous one."""
    x, t = _analysis_for(x, sr, where, analysis)
    if n <= 1 or not t.speech.any():
        return [(0, x.shape[0])]
    hop, win = int(round(HOP_S * t.sr)), int(round(WIN_S * t.sr))
    bounds = _segment_bounds(t, n)
    cuts = [int((b0 * hop + win + a1 * hop) // 2) for (_, b0), (a1, _) in zip(bounds[:-1], bounds[1:])]
    edges = [0] + [min(max(c, 0), x.shape[0]) for c in cuts] + [x.shape[0]]
    return [(edges[k], edges[k + 1]) for k in range(n)]


def _ordered_pick(cands: list[list[int]], value: list[dict[int, float]]) -> list[int | None]:
    """One occurrence per required word: the in-order assignment (each word after the previous one's)
    with the largest total prominence, so "RED ... HIM" scores for [red, him] and "HIM ... RED" does
    not; when no in-order assignment exists (a word missing, or said in another order), each word's
    most prominent occurrence. Ties go to the earlier occurrence."""
    best: dict[int, tuple[float, list[int]]] = {-1: (0.0, [])}  # last index -> (total, picks)
    for c, val in zip(cands, value):
        nxt: dict[int, tuple[float, list[int]]] = {}
        for last, (tot, picks) in best.items():
            for i in c:
                if i > last and (i not in nxt or tot + val[i] > nxt[i][0]):
                    nxt[i] = (tot + val[i], picks + [i])
        best = nxt
        if not best:
            break
    if best:
        return max(best.values(), key=lambda z: (z[0], [-i for i in z[1]]))[1]
    return [max(c, key=lambda i: (val[i], -i)) if c else None for c, val in zip(cands, value)]


def onset_asymmetry(x: Any, sr: int, *, floor_db: float = 40.0) -> float:
    """Skewness of the frame-to-frame level changes of a clip's speech (5 ms hops, 20 ms windows):
    positive for speech, whose syllables start fast and fade slowly; negative for speech played
    backwards. Measured on the 40 reference-system clips of the demo build: Piper +0.9 (5th percentile)
    forwards against -0.9 (95th) backwards; eSpeak NG's flatter envelopes +0.6 against -0.6 (medians).
    NaN for a clip without speech."""
    arr = np.asarray(x, dtype=np.float32).reshape(-1)
    if arr.shape[0] < int(0.03 * sr):
        return math.nan
    db = _intensity_db(arr, sr, win_s=0.02, hop_s=0.005)  # finer steps than the 10 ms grid: onsets are fast
    loud = db > db.max() - floor_db
    d = np.diff(db)[loud[1:] | loud[:-1]]
    if d.shape[0] < 10:
        return math.nan
    d = d - d.mean()
    sd = math.sqrt(float(np.mean(d * d)))
    return float(np.mean(d ** 3) / sd ** 3) if sd > 0 else math.nan
