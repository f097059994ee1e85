"""Prosody measurements on audio with known properties: synthetic tones and real eSpeak NG speech."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from s2s_arena import audio, prosody
from s2s_arena.audio import AudioError

SR = 24_000
TEXT = "The quick brown fox jumps over the lazy dog near the river bank today."

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def harmonic(f0: np.ndarray | float, seconds: float, sr: int = SR, syllable_hz: float = 4.0) -> np.ndarray:
    """A voiced-like signal: 5 harmonics of ``f0`` (constant or a per-sample track), amplitude-
    modulated at ``syllable_hz`` like a string of syllables."""
    n = int(seconds * sr)
    f = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 6))
    t = np.arange(n) / sr
    env = 0.55 + 0.45 * np.sin(2 * np.pi * syllable_hz * t - np.pi / 2)
    return (0.3 * x * env).astype(np.float32)


@pytest.fixture(scope="module")
def synth():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from s2s_arena.synth import get_synthesizer

    return get_synthesizer("espeak")


def test_constant_f0_is_measured_in_semitones_re_100_hz():
    p = prosody.measure(harmonic(150.0, 2.0), SR)
    assert p.f0_median_st == pytest.approx(12 * math.log2(1.5), abs=0.2)
    assert p.f0_mean_hz == pytest.approx(150.0, rel=0.02)
    assert p.f0_range_st < 0.5
    assert p.voiced_fraction > 0.9
    assert p.hnr_db > 15  # a pure harmonic complex is far more periodic than speech


def test_f0_glide_gives_the_10_to_90_percentile_range():
    n = int(3.0 * SR)
    glide = 100.0 * 2 ** (np.linspace(0, 12, n) / 12)  # one octave, linear in semitones
    p = prosody.measure(harmonic(glide, 3.0), SR)
    assert p.f0_range_st == pytest.approx(0.8 * 12, abs=1.0)
    assert p.f0_median_st == pytest.approx(6.0, abs=0.7)


def test_inserted_pause_is_found_with_its_duration_position_and_word(synth):
    first, second = "The quick brown fox jumps", "over the lazy dog."
    a = audio.trim_silence(synth.synthesize(first).audio, SR, pad_s=0.0)
    b = audio.trim_silence(synth.synthesize(second).audio, SR, pad_s=0.0)
    gap = np.zeros(int(0.6 * SR), np.float32)
    x = np.concatenate([a, gap, b])
    p = prosody.measure(x, SR, text=f"{first} {second}")
    long_pauses = [q for q in p.pauses if q.duration_s > 0.3]
    assert len(long_pauses) == 1, p.pauses
    q = long_pauses[0]
    assert q.duration_s == pytest.approx(0.6, abs=0.06)
    assert q.start_s == pytest.approx(a.shape[0] / SR, abs=0.06)
    assert q.after_word_index == 4  # after "jumps"
    assert p.n_pauses == len(p.pauses)
    assert p.speech_s == pytest.approx(p.span_s - p.pause_total_s, abs=1e-6)


def test_measures_survive_white_noise_at_20_db_snr(synth):
    r = synth.synthesize(TEXT, attributes={"pauses": ["fox"]})
    clean = prosody.measure(r.audio, SR, text=TEXT)
    noise = np.random.default_rng(0).standard_normal(r.audio.size).astype(np.float32)
    noisy = prosody.measure(audio.mix_at_snr(r.audio, noise, 20.0), SR, text=TEXT)
    assert noisy.speaking_rate_sps == pytest.approx(clean.speaking_rate_sps, rel=0.05)
    assert noisy.f0_median_st == pytest.approx(clean.f0_median_st, abs=0.5)
    assert [q.after_word_index for q in noisy.pauses] == [3]
    assert noisy.pauses[0].duration_s == pytest.approx(0.6, abs=0.06)
    assert noisy.spectral_tilt_db < clean.spectral_tilt_db  # white noise flattens the spectrum


def test_slow_and_fast_speech_differ_in_rate_with_and_without_text(synth):
    slow = synth.synthesize(TEXT, rate=0.6)
    fast = synth.synthesize(TEXT, rate=1.6)
    ps, pf = prosody.measure(slow.audio, SR, text=TEXT), prosody.measure(fast.audio, SR, text=TEXT)
    assert ps.syllable_source == pf.syllable_source == "text"
    assert ps.syllables == pf.syllables == prosody.count_syllables(TEXT)
    assert pf.speaking_rate_sps > 1.8 * ps.speaking_rate_sps
    assert pf.articulation_rate_sps > 1.8 * ps.articulation_rate_sps
    # Without the transcript the rate comes from syllable nuclei and must still separate them.
    qs, qf = prosody.measure(slow.audio, SR), prosody.measure(fast.audio, SR)
    assert qs.syllable_source == "acoustic"
    assert qf.speaking_rate_sps > 1.5 * qs.speaking_rate_sps
    assert abs(qs.syllables_acoustic - ps.syllables) <= 0.3 * ps.syllables


def test_whisper_has_almost_no_voiced_frames_and_a_flatter_spectrum(synth):
    modal = prosody.measure(synth.synthesize(TEXT).audio, SR)
    whisper = prosody.measure(synth.synthesize(TEXT, voice="en-us+whisper").audio, SR)
    assert modal.voiced_fraction > 0.6
    assert whisper.voiced_fraction < 0.1
    assert math.isnan(whisper.f0_median_st)
    assert whisper.spectral_tilt_db < modal.spectral_tilt_db - 5


def test_gain_changes_loudness_and_rms_by_the_same_decibels(synth):
    x = synth.synthesize(TEXT).audio
    loud, quiet = prosody.measure(x, SR), prosody.measure(x * np.float32(10 ** (-10 / 20)), SR)
    assert loud.loudness_lufs - quiet.loudness_lufs == pytest.approx(10.0, abs=0.05)
    assert loud.rms_db - quiet.rms_db == pytest.approx(10.0, abs=0.3)
    assert quiet.speech_s == pytest.approx(loud.speech_s, abs=0.05)  # thresholds are relative


def test_low_pass_noise_has_a_steeper_tilt_than_white_noise():
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(0)
    white = (0.1 * rng.standard_normal(2 * SR)).astype(np.float32)
    dark = sosfilt(butter(4, 800, fs=SR, output="sos"), white).astype(np.float32)
    assert prosody.measure(dark, SR).spectral_tilt_db > prosody.measure(white, SR).spectral_tilt_db + 15


def test_silence_measures_as_no_speech_and_serialises_without_nan():
    p = prosody.measure(np.zeros(SR, np.float32), SR)
    assert p.speech_s == 0 and p.syllables == 0 and p.speaking_rate_sps == 0
    assert math.isnan(p.f0_median_st) and p.loudness_lufs == -math.inf
    assert "silent" in p.problems
    d = p.to_dict()
    assert d["f0_median_st"] is None and d["loudness_lufs"] is None
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize("n", [1, 500, 1300, 2400])
def test_very_short_clips_measure_without_error(n):
    x = harmonic(200.0, n / SR)
    p = prosody.measure(x, SR)
    assert "too_short" in p.problems
    assert p.duration_s == pytest.approx(n / SR, abs=1e-4)
    assert len(prosody.measure_segments(x, SR, 2)) == 2


def test_clipping_is_reported():
    x = np.clip(harmonic(200.0, 1.0) * 8, -1, 1)
    p = prosody.measure(x, SR)
    assert p.clipping_fraction > 0.01
    assert "clipping" in p.problems


def test_stereo_is_averaged_to_mono_and_other_rates_work():
    x = harmonic(180.0, 1.5)
    mono = prosody.measure(x, SR)
    stereo = prosody.measure(np.stack([x, x], axis=1), SR)
    assert stereo.f0_median_st == pytest.approx(mono.f0_median_st, abs=1e-6)
    at16k = prosody.measure(audio.resample(x, SR, 16_000), 16_000)
    assert at16k.f0_median_st == pytest.approx(mono.f0_median_st, abs=0.1)


@pytest.mark.parametrize(
    "x, sr, expected",
    [
        (np.array([], np.float32), SR, "empty"),
        (np.array([0.1, np.nan] * 1000, np.float32), SR, "NaN"),
        (np.zeros(100, np.float32), 0, "sampling rate"),
        (np.zeros((2, 2, 2), np.float32), SR, "expected a 1-D"),
    ],
)
def test_bad_input_raises_audio_error_naming_where(x, sr, expected):
    with pytest.raises(AudioError, match=expected) as e:
        prosody.measure(x, sr, where="resp/sys/s1.wav")
    assert "resp/sys/s1.wav" in str(e.value)


def test_segments_follow_a_fast_normal_slow_sequence(synth):
    r = synth.synthesize(TEXT, attributes={"speaking_rate": ["fast", "normal", "slow"]})
    segs = prosody.measure_segments(r.audio, SR, 3, text=r.text)
    assert [s.index for s in segs] == [0, 1, 2]
    rates = [s.speaking_rate_sps for s in segs]
    assert rates[0] > 1.2 * rates[1] > 1.2 * 1.2 * rates[2], rates
    # The cuts fall in the rendered gaps between the segments.
    for seg, meta in zip(segs, r.meta["segments"]):
        assert seg.start_s == pytest.approx(meta["start_s"], abs=0.1)
        assert seg.end_s == pytest.approx(meta["end_s"], abs=0.1)
    # Without text, nuclei give the same ordering.
    acoustic = prosody.segment_rates(r.audio, SR, 3)
    assert acoustic[0] > acoustic[1] > acoustic[2]
    json.dumps([s.to_dict() for s in segs], allow_nan=False)


def test_segments_split_evenly_by_speech_time_without_pauses():
    x = harmonic(150.0, 4.0)  # continuous: no pause to cut at
    segs = prosody.measure_segments(x, SR, 2)
    assert len(segs) == 2
    assert segs[0].speech_s == pytest.approx(segs[1].speech_s, abs=0.1)
    assert segs[0].end_s <= segs[1].start_s + 0.05
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        prosody.measure_segments(x, SR, 0)


def test_egemaps_functionals_are_added_on_request():
    p = prosody.measure(harmonic(150.0, 2.0), SR, egemaps=True)
    assert p.egemaps is not None and len(p.egemaps) == 88
    assert p.egemaps["F0semitoneFrom27.5Hz_sma3nz_amean"] == pytest.approx(12 * math.log2(150 / 27.5), abs=1.0)
    assert prosody.measure(harmonic(150.0, 1.0), SR).egemaps is None


@pytest.mark.parametrize(
    "text, n",
    [("The quick brown fox", 4), ("beautiful table", 5), ("make time", 2), ("明天迈克要来", 6),
     ("Hola, ¿cómo estás?", 6), ("안녕하세요", 5), ("Привет мир", 3), ("fast | normal | slow", 4)],
)
def test_syllable_count_from_text(text, n):
    assert prosody.count_syllables(text) == n


def test_english_silent_e_rule_only_for_english():
    assert prosody.count_syllables("grande", "en") == 1
    assert prosody.count_syllables("grande", "es") == 2


def test_syllables_unknown_for_scripts_without_vowel_letters(synth):
    assert prosody.count_syllables("مرحبا بالعالم") is None
    r = synth.synthesize("مرحبا بالعالم", language="ar")
    assert prosody.measure(r.audio, SR, text="مرحبا بالعالم").syllable_source == "acoustic"


def test_one_analysis_serves_measure_and_segments(synth):
    r = synth.synthesize(TEXT, attributes={"speaking_rate": ["fast", "normal", "slow"]})
    a = prosody.analyse(r.audio, SR)
    assert prosody.measure(r.audio, SR, analysis=a).to_dict() == prosody.measure(r.audio, SR).to_dict()
    assert ([s.to_dict() for s in prosody.measure_segments(r.audio, SR, 3, analysis=a)]
            == [s.to_dict() for s in prosody.measure_segments(r.audio, SR, 3)])
    with pytest.raises(ValueError, match="analysis is at 24000 Hz, the waveform at 16000 Hz"):
        prosody.measure(r.audio, 16_000, analysis=a)


def test_silence_cropped_before_pitch_analysis_leaves_the_track_unchanged(synth, monkeypatch):
    speech = synth.synthesize(TEXT).audio
    x = np.concatenate([np.zeros(int(1.3 * SR), np.float32), speech, np.zeros(int(0.9 * SR), np.float32)])
    # Clips whose pitch-frame count is a whole number are analysed whole by design; avoid that length.
    while abs((f := prosody._pitch_frames(math.ceil(x.shape[0] / 3) / prosody.PITCH_SR)) - round(f)) < 1e-3:
        x = np.concatenate([x, np.zeros(3, np.float32)])
    db = prosody._intensity_db(x, SR)
    kept, start_s = prosody._crop_silence(audio.resample(x, SR, prosody.PITCH_SR), prosody.PITCH_SR, db)
    assert start_s > 0.9 and kept.shape[0] / prosody.PITCH_SR < x.shape[0] / SR - 1.5  # both ends were cut
    f0, strength = prosody._pitch(x, SR, db)
    monkeypatch.setattr(prosody, "_crop_silence", lambda y, sr, db: (y, 0.0))
    f0_whole, strength_whole = prosody._pitch(x, SR, db)
    assert (f0 > 0).sum() > 50
    np.testing.assert_allclose(f0, f0_whole, atol=1e-6)
    np.testing.assert_allclose(strength, strength_whole, atol=1e-6)


def test_a_cut_that_would_move_praat_frames_falls_back_to_the_whole_clip(synth, monkeypatch):
    speech = synth.synthesize(TEXT).audio
    x = np.concatenate([np.zeros(int(1.0 * SR), np.float32), speech, np.zeros(int(1.0 * SR), np.float32)])
    db = prosody._intensity_db(x, SR)
    monkeypatch.setattr(prosody, "_crop_silence", lambda y, sr, db: (y, 0.0))
    whole = prosody._pitch(x, SR, db)
    half_step = int(prosody.PITCH_STEP_S * prosody.PITCH_SR / 2)  # a cut off Praat's frame grid
    monkeypatch.setattr(prosody, "_crop_silence", lambda y, sr, db: (y[half_step:], half_step / sr))
    np.testing.assert_allclose(prosody._pitch(x, SR, db)[0], whole[0], atol=1e-6)


def test_segments_measure_only_the_fields_asked_for(synth):
    r = synth.synthesize(TEXT, attributes={"speaking_rate": ["fast", "normal", "slow"]})
    a = prosody.analyse(r.audio, SR)
    full = prosody.measure_segments(r.audio, SR, 3, analysis=a)
    rate_only = prosody.measure_segments(r.audio, SR, 3, analysis=a, fields=["articulation_rate_sps"])
    loud_only = prosody.measure_segments(r.audio, SR, 3, analysis=a, fields="loudness_lufs")
    assert all(math.isfinite(s.loudness_lufs) and math.isfinite(s.f0_median_st) for s in full)
    for f, r_, l_ in zip(full, rate_only, loud_only):
        # What is measured is the same number whatever else is asked for; the rest is NaN.
        for seg in (r_, l_):
            assert (seg.start_s, seg.end_s, seg.syllables, seg.articulation_rate_sps, seg.voiced_fraction) == (
                f.start_s, f.end_s, f.syllables, f.articulation_rate_sps, f.voiced_fraction)
            assert math.isnan(seg.f0_median_st) and math.isnan(seg.f0_range_st) and math.isnan(seg.rms_db)
        assert math.isnan(r_.loudness_lufs)
        assert l_.loudness_lufs == f.loudness_lufs
    with pytest.raises(ValueError, match="fields: unknown Segment field.*'loudness'"):
        prosody.measure_segments(r.audio, SR, 3, analysis=a, fields=["loudness"])


def test_pitch_resampling_gives_the_samples_of_audio_resample():
    # The pitch track's resampler designs its filter once per rate pair; the samples must not move.
    rng = np.random.default_rng(1)
    for sr in (24_000, 44_100, 16_000, 22_050):
        x = (0.3 * rng.standard_normal(int(1.3 * sr))).astype(np.float32)
        assert np.array_equal(prosody._resample(x, sr, prosody.PITCH_SR), audio.resample(x, sr, prosody.PITCH_SR))
        x64 = x.astype(np.float64)
        assert np.array_equal(prosody._resample(x64, sr, prosody.PITCH_SR), audio.resample(x64, sr, prosody.PITCH_SR))


@needs_espeak
def test_measure_without_level_and_tilt_leaves_only_those_two_out(synth):
    x = synth.synthesize(TEXT).audio
    a = prosody.analyse(x, SR)
    full = prosody.measure(x, SR, analysis=a).to_dict()
    lean = prosody.measure(x, SR, analysis=a, level_and_tilt=False).to_dict()
    assert full["loudness_lufs"] is not None and full["spectral_tilt_db"] is not None
    assert lean.pop("loudness_lufs") is None and lean.pop("spectral_tilt_db") is None  # NaN
    assert {k: v for k, v in full.items() if k not in ("loudness_lufs", "spectral_tilt_db")} == lean
