"""s2s_arena.audio: decoding every supported container, resampling, mono, trim, loudness, errors."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from s2s_arena import audio
from s2s_arena.audio import AudioError

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def tone(freq: float = 440.0, seconds: float = 1.0, sr: int = 44_100, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.shape[0])))
    return float(np.fft.rfftfreq(x.shape[0], 1 / sr)[int(np.argmax(spec))])


@pytest.fixture(scope="module")
def stereo_tone_files(tmp_path_factory):
    """A 1 s 440 Hz tone (left) over silence (right) at 44.1 kHz in wav, flac, ogg and mp3."""
    d = tmp_path_factory.mktemp("tones")
    left = tone()
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    files = {}
    for fmt in ("wav", "flac", "ogg"):
        files[fmt] = d / f"tone.{fmt}"
        sf.write(files[fmt], stereo, 44_100)
    if shutil.which("ffmpeg"):
        files["mp3"] = d / "tone.mp3"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(files["wav"]), "-b:a", "128k", str(files["mp3"])],
                       check=True)
    return files


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_load_every_container_as_24k_mono(stereo_tone_files, fmt):
    if fmt not in stereo_tone_files:
        pytest.skip("ffmpeg not installed")
    x = audio.load_audio(stereo_tone_files[fmt])
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.shape[0] / audio.SAMPLE_RATE == pytest.approx(1.0, abs=0.06)  # mp3 adds encoder padding
    assert dominant_hz(x, audio.SAMPLE_RATE) == pytest.approx(440.0, abs=2.0)
    # Mono is the mean of the channels: the silent right channel halves the amplitude.
    rms = float(np.sqrt(np.mean(x[2400:-2400] ** 2)))
    assert rms == pytest.approx(0.25 / math.sqrt(2), rel=0.05)


def test_load_keeps_channels_and_rate_when_asked(stereo_tone_files):
    x = audio.load_audio(stereo_tone_files["flac"], sr=44_100, mono=False)
    assert x.shape == (44_100, 2)
    assert float(np.max(np.abs(x[:, 1]))) == 0.0
    raw, sr = audio.read_raw(stereo_tone_files["wav"])
    assert sr == 44_100 and raw.shape == (44_100, 2)


def test_load_from_bytes_dicts_tuples_and_decoder(stereo_tone_files):
    path = stereo_tone_files["wav"]
    ref = audio.load_audio(path)
    data = path.read_bytes()
    for src in (data, {"bytes": data, "path": "x.wav"}, {"path": str(path)},
                {"array": sf.read(path)[0], "sampling_rate": 44_100}, (sf.read(path)[0], 44_100)):
        np.testing.assert_allclose(audio.load_audio(src), ref, atol=1e-4)
    # (channels, frames) arrays are recognised by their short side.
    np.testing.assert_allclose(audio.load_audio((sf.read(path)[0].T, 44_100)), ref, atol=1e-4)
    from torchcodec.decoders import AudioDecoder

    np.testing.assert_allclose(audio.load_audio(AudioDecoder(str(path))), ref, atol=1e-3)


def test_resample_keeps_frequency_and_scales_length():
    x = tone(1000.0, 1.0, 48_000)
    y = audio.resample(x, 48_000, 24_000)
    assert y.shape[0] == 24_000 and y.dtype == np.float32
    assert dominant_hz(y, 24_000) == pytest.approx(1000.0, abs=1.0)
    z = audio.resample(tone(300.0, 1.0, 22_050), 22_050, 24_000)
    assert z.shape[0] == 24_000 and dominant_hz(z, 24_000) == pytest.approx(300.0, abs=1.0)
    assert audio.resample(x, 48_000, 48_000) is not None


def test_to_mono_averages_channels():
    st = np.stack([np.ones(10, np.float32), np.zeros(10, np.float32)], axis=1)
    np.testing.assert_allclose(audio.to_mono(st), 0.5)
    assert audio.to_mono(np.ones(5)).shape == (5,)


def test_trim_silence_keeps_the_sound_and_a_pad():
    sr = 24_000
    x = np.concatenate([np.zeros(sr), tone(440.0, 0.5, sr), np.zeros(sr)])
    y = audio.trim_silence(x, sr, pad_s=0.05)
    assert y.shape[0] / sr == pytest.approx(0.6, abs=0.02)
    assert audio.trim_silence(np.zeros(sr, np.float32), sr).shape[0] == sr  # nothing to keep: unchanged


def test_k_weighting_matches_the_bs1770_table_at_48k():
    (b1, a1), (b2, a2) = audio._k_weighting_coefficients(48_000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


def test_loudness_of_a_reference_sine():
    # BS.1770: a full-scale 1 kHz sine reads -3.01 LUFS; at amplitude 0.1 it is 20 dB lower.
    assert audio.loudness_lufs(tone(1000.0, 3.0, 48_000, amp=1.0), 48_000) == pytest.approx(-3.01, abs=0.1)
    assert audio.loudness_lufs(tone(1000.0, 3.0, 24_000, amp=0.1), 24_000) == pytest.approx(-23.01, abs=0.1)
    assert audio.loudness_lufs(np.zeros(24_000, np.float32), 24_000) == -math.inf


@pytest.mark.parametrize("target", [-30.0, -23.0, -16.0])
def test_normalize_loudness_hits_the_target(target):
    sr = 24_000
    rng = np.random.default_rng(1)
    t = np.arange(3 * sr) / sr
    speechy = (0.05 * rng.standard_normal(t.size) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    y = audio.normalize_loudness(speechy, sr, target)
    assert audio.loudness_lufs(y, sr) == pytest.approx(target, abs=0.5)
    assert float(np.max(np.abs(y))) <= 0.98 + 1e-6


def test_normalize_loudness_respects_the_peak_ceiling_and_leaves_silence():
    sr = 24_000
    spiky = np.zeros(sr, np.float32)
    spiky[::2400] = 0.5
    y = audio.normalize_loudness(spiky, sr, -10.0, peak_ceiling=0.9)
    assert float(np.max(np.abs(y))) == pytest.approx(0.9, abs=1e-6)
    silence = np.zeros(sr, np.float32)
    assert np.array_equal(audio.normalize_loudness(silence, sr), silence)


def test_corrupt_file_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    with pytest.raises(AudioError, match=r"broken\.wav.*not readable as audio"):
        audio.load_audio(bad)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.flac: empty file"):
        audio.load_audio(empty)
    with pytest.raises(AudioError, match=r"nope\.wav: no such file"):
        audio.load_audio(tmp_path / "nope.wav")


def test_nan_audio_in_a_file_is_rejected(tmp_path):
    path = tmp_path / "nan.wav"
    x = tone(seconds=0.2)
    x[100] = np.nan
    sf.write(path, x, 44_100, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: contains NaN"):
        audio.load_audio(path)


@pytest.mark.parametrize("rate", [0, -16000, "fast", 10_000_000])
def test_wrong_sampling_rate_names_the_field(rate):
    with pytest.raises(AudioError, match=r"sample\.json: field 'sampling_rate'"):
        audio.load_audio({"array": np.zeros(100, np.float32), "sampling_rate": rate}, where="sample.json")


def test_missing_rate_and_bare_arrays():
    with pytest.raises(AudioError, match="'sampling_rate' missing"):
        audio.load_audio({"array": np.zeros(10)}, where="row 3")
    with pytest.raises(AudioError, match="bare array has no sampling rate"):
        audio.load_audio(np.zeros(10))
    with pytest.raises(AudioError, match="expected a 1-D or 2-D array"):
        audio.load_audio((np.zeros((2, 2, 2)), 16_000))


def test_huge_and_empty_input_is_rejected():
    with pytest.raises(AudioError, match=r"long\.wav: 1810 s long; expected at most 1800 s"):
        audio.load_audio((np.zeros(1810 * 2000, np.float32), 2000), sr=2000, where="long.wav")
    with pytest.raises(AudioError, match="empty audio"):
        audio.load_audio((np.zeros(0, np.float32), 16_000), where="empty")


@needs_ffmpeg
@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_save_and_reload_round_trip(tmp_path, fmt):
    x = tone(440.0, 1.0, audio.SAMPLE_RATE, amp=0.3)
    path = audio.save_audio(tmp_path / f"out.{fmt}", x)
    assert path.is_file() and not list(tmp_path.glob(".*.tmp"))
    y = audio.load_audio(path)
    assert dominant_hz(y, audio.SAMPLE_RATE) == pytest.approx(440.0, abs=2.0)
    with pytest.raises(AudioError, match="expected one of wav, flac"):
        audio.encode(x, audio.SAMPLE_RATE, "aiff")


def test_problems_and_snr_mixing():
    sr = 24_000
    assert audio.problems(np.zeros(sr, np.float32), sr) == ["silent"]
    assert "too_short" in audio.problems(tone(seconds=0.1, sr=sr), sr)
    assert "clipping" in audio.problems(np.clip(tone(sr=sr, amp=3.0), -1, 1), sr)
    speech = tone(300.0, 1.0, sr, amp=0.3)
    noise = np.random.default_rng(0).standard_normal(sr // 3).astype(np.float32)
    mixed = audio.mix_at_snr(speech, noise, 10.0)
    resid = mixed - speech
    assert 10 * math.log10(np.mean(speech ** 2) / np.mean(resid ** 2)) == pytest.approx(10.0, abs=0.01)


def test_audio_hash_is_stable():
    x = tone()
    assert audio.audio_hash(x) == audio.audio_hash(x.copy()) != audio.audio_hash(x * 0.5)
    assert audio.audio_hash(b"abc") == audio.audio_hash(b"abc")
