"""The one place for audio I/O: load anything, resample, mono, trim, loudness-normalise, write, hash.

Every waveform inside S2S-Arena is a 1-D float32 numpy array in [-1, 1] at a known sampling rate
(24 kHz unless a caller asks for another). Loading accepts what users hold: a path (wav, flac, ogg,
mp3, m4a, ... through soundfile, falling back to FFmpeg), raw bytes, ``{"array", "sampling_rate"}``,
``{"path", "bytes"}`` (an undecoded ``datasets.Audio`` value), a torchcodec ``AudioDecoder`` (a decoded
``datasets`` 5 Audio value) or ``(array, sampling_rate)``.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from s2s_arena.errors import ArenaError

SAMPLE_RATE = 24_000
MAX_DURATION_S = 30 * 60  # anything longer is almost certainly a mistake (a whole podcast, a wrong file)


class AudioError(ArenaError, ValueError):
    """Audio that cannot be used. The message names the file or field and what was expected."""


def _where(src: Any, where: str | None) -> str:
    if where:
        return where
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, dict) and src.get("path"):
        return str(src["path"])
    return "audio"


def ffmpeg_path() -> str:
    path = shutil.which("ffmpeg")
    if not path:
        raise AudioError(
            "FFmpeg is not installed (needed to decode/encode this format); install the Debian package "
            "'ffmpeg' (apt-get install ffmpeg) or run `make setup`"
        )
    return path


def _decode_bytes(data: bytes, where: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not data:
        raise AudioError(f"{where}: empty file (0 bytes); expected audio data")
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return x, int(sr)
    except Exception:
        pass  # not a libsndfile format (mp3 in old libsndfile, m4a, webm, ...): let FFmpeg try
    ffmpeg = ffmpeg_path()
    proc = subprocess.run(
        [ffmpeg, "-v", "error", "-i", "pipe:0", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "1", "-ar",
         str(SAMPLE_RATE), "pipe:1"],
        input=data, capture_output=True,
    )
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"{where}: not readable as audio ({msg[-1] if msg else 'no audio stream'})")
    return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 1).copy(), SAMPLE_RATE


def _from_decoder(decoder: Any, where: str) -> tuple[np.ndarray, int]:
    try:
        samples = decoder.get_all_samples()
    except Exception as e:  # a corrupt stream inside a dataset
        raise AudioError(f"{where}: could not decode ({e})") from None
    data = samples.data.numpy() if hasattr(samples.data, "numpy") else np.asarray(samples.data)
    return np.asarray(data, dtype=np.float32).T, int(samples.sample_rate)


def read_raw(src: Any, *, where: str | None = None) -> tuple[np.ndarray, int]:
    """Decode ``src`` without resampling: (frames x channels float32, sampling rate)."""
    where = _where(src, where)
    if isinstance(src, tuple) and len(src) == 2:
        arr, sr = src
        return _as_2d(np.asarray(arr), where), _check_rate(sr, where)
    if isinstance(src, dict):
        if src.get("array") is not None:
            if "sampling_rate" not in src:
                raise AudioError(f"{where}: field 'sampling_rate' missing beside 'array'")
            return _as_2d(np.asarray(src["array"]), where), _check_rate(src["sampling_rate"], where)
        if src.get("bytes"):
            return _decode_bytes(src["bytes"], where)
        if src.get("path"):
            return read_raw(src["path"], where=where)
        raise AudioError(f"{where}: expected 'array'+'sampling_rate', 'bytes' or 'path', got keys {sorted(src)}")
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _decode_bytes(bytes(src), where)
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise AudioError(f"{where}: no such file")
        return _decode_bytes(path.read_bytes(), where)
    if hasattr(src, "get_all_samples"):
        return _from_decoder(src, where)
    if isinstance(src, np.ndarray):
        raise AudioError(f"{where}: a bare array has no sampling rate; pass (array, sampling_rate)")
    raise AudioError(f"{where}: cannot read audio from a {type(src).__name__}")


def _check_rate(sr: Any, where: str) -> int:
    try:
        sr_i = int(sr)
    except (TypeError, ValueError):
        raise AudioError(f"{where}: field 'sampling_rate' must be a positive integer, got {sr!r}") from None
    if sr_i <= 0 or sr_i > 768_000:
        raise AudioError(f"{where}: field 'sampling_rate' must be in 1..768000 Hz, got {sr!r}")
    return sr_i


def _as_2d(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim == 1:
        return arr.astype(np.float32, copy=False).reshape(-1, 1)
    if arr.ndim == 2:
        # Accept both (channels, frames) and (frames, channels): channels is the short side.
        if arr.shape[0] < arr.shape[1] and arr.shape[0] <= 16:
            arr = arr.T
        return arr.astype(np.float32, copy=False)
    raise AudioError(f"{where}: expected a 1-D or 2-D array, got shape {arr.shape}")


def to_mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(sr_in), int(sr_out))
    return resample_poly(x, sr_out // g, sr_in // g, axis=0).astype(np.float32)


def load_audio(
    src: Any, *, sr: int = SAMPLE_RATE, mono: bool = True, where: str | None = None, check: bool = True
) -> np.ndarray:
    """Load ``src`` as float32 at ``sr`` Hz (mono by default). Raises AudioError naming ``where``."""
    where = _where(src, where)
    x, sr_in = read_raw(src, where=where)
    if mono:
        x = to_mono(x)
    x = resample(x, sr_in, sr)
    if check:
        check_audio(x, sr, where=where)
    return x


def check_audio(x: np.ndarray, sr: int, *, where: str = "audio", allow_silent: bool = True) -> None:
    """Raise AudioError for audio no component can use: empty, NaN/inf, absurdly long, or silent."""
    if x.size == 0:
        raise AudioError(f"{where}: empty audio (0 samples); expected a non-empty waveform")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{where}: contains NaN or infinite samples")
    if x.shape[0] / sr > MAX_DURATION_S:
        raise AudioError(f"{where}: {x.shape[0] / sr:.0f} s long; expected at most {MAX_DURATION_S} s")
    if not allow_silent and float(np.max(np.abs(x))) < 1e-4:
        raise AudioError(f"{where}: silent (peak below -80 dBFS)")


def problems(x: np.ndarray, sr: int) -> list[str]:
    """Non-fatal defects a listener would notice: silence, clipping, very short. Empty list = fine."""
    out = []
    if x.size == 0 or float(np.max(np.abs(x))) < 1e-4:
        return ["silent"]
    if x.shape[0] / sr < 0.3:
        out.append("too_short")
    clipped = float(np.mean(np.abs(x) >= 0.999))
    if clipped > 0.001:
        out.append("clipping")
    return out


def peak_dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def _k_weighting_coefficients(sr: int) -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
    """BS.1770 K-weighting (pre-filter shelf, then RLB high-pass) for any rate.

    Uses the analogue prototypes fitted by B. De Man (as in libebur128): at 48 kHz they give the
    coefficients tabled in BS.1770-4 to ~1e-8, so a full-scale 1 kHz sine reads -3.01 LUFS.
    """
    fc, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * fc / sr)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = ([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
             [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    fc, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * fc / sr)
    a0 = 1 + k / q + k * k
    high_pass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return shelf, high_pass


def _k_weight(x: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import sosfilt

    # Both biquads in one pass (second-order sections): the same output as two lfilter calls to
    # ~1e-13 LU, in about half the time.
    (b1, a1), (b2, a2) = _k_weighting_coefficients(sr)
    return sosfilt(np.array([b1 + a1, b2 + a2], dtype=np.float64), x)


def loudness_lufs(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (BS.1770-4, gated) of a mono signal, in LUFS; -inf for silence."""
    x = to_mono(np.asarray(x, dtype=np.float64))
    block, hop = int(0.4 * sr), int(0.1 * sr)
    if x.shape[0] < block:
        x = np.pad(x, (0, block - x.shape[0]))
    y = _k_weight(x, sr)
    n = 1 + (y.shape[0] - block) // hop
    starts = hop * np.arange(n)
    if block == 4 * hop:
        # A 400 ms block is four 100 ms hops: sum each hop's energy once, then add four neighbours
        # (the same numbers as averaging each block, without a running sum over every sample).
        hops = np.einsum("ij,ij->i", *(2 * (y[: (n + 3) * hop].reshape(n + 3, hop),)))
        z = (hops[:-3] + hops[1:-2] + hops[2:-1] + hops[3:]) / block
    else:
        # Block energies from a running sum, without materialising n x block samples.
        csum = np.concatenate(([0.0], np.cumsum(y * y)))
        z = np.maximum(csum[starts + block] - csum[starts], 0.0) / block
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(z)
    z = z[lk > -70]
    if z.size == 0:
        return -math.inf
    rel = -0.691 + 10 * math.log10(float(np.mean(z))) - 10
    with np.errstate(divide="ignore"):
        z = z[-0.691 + 10 * np.log10(z) > rel]
    return -0.691 + 10 * math.log10(float(np.mean(z))) if z.size else -math.inf


def normalize_loudness(x: np.ndarray, sr: int, target_lufs: float = -23.0, peak_ceiling: float = 0.98) -> np.ndarray:
    """Scale to ``target_lufs`` (silence is returned unchanged); never let the peak pass the ceiling."""
    lufs = loudness_lufs(x, sr)
    if not math.isfinite(lufs):
        return np.asarray(x, dtype=np.float32)
    y = np.asarray(x, dtype=np.float32) * np.float32(10 ** ((target_lufs - lufs) / 20))
    peak = float(np.max(np.abs(y)))
    if peak > peak_ceiling:
        y *= np.float32(peak_ceiling / peak)
    return y


def trim_silence(x: np.ndarray, sr: int, threshold_db: float = -45.0, pad_s: float = 0.05) -> np.ndarray:
    """Cut leading/trailing stretches quieter than ``threshold_db`` below the peak (keep ``pad_s``)."""
    if x.size == 0:
        return x
    frame = max(1, int(0.01 * sr))
    n = x.shape[0] // frame
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    ref = float(rms.max())
    loud = np.nonzero(20 * np.log10(rms / ref) > threshold_db)[0]
    if loud.size == 0:
        return x
    pad = int(pad_s * sr)
    start = max(0, loud[0] * frame - pad)
    end = min(x.shape[0], (loud[-1] + 1) * frame + pad)
    return x[start:end]


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")


def encode_wav(x: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes with no metadata chunks (safe to serve anonymously)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, to_pcm16(to_mono(x)), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def encode(x: np.ndarray, sr: int = SAMPLE_RATE, fmt: str = "wav") -> bytes:
    """Encode as wav, flac (soundfile) or mp3 / ogg / opus (FFmpeg), metadata stripped."""
    fmt = fmt.lower()
    if fmt == "wav":
        return encode_wav(x, sr)
    if fmt == "flac":
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, to_pcm16(to_mono(x)), sr, format="FLAC", subtype="PCM_16")
        return buf.getvalue()
    codec = {"mp3": ["-f", "mp3", "-b:a", "64k"], "ogg": ["-f", "ogg", "-c:a", "libopus"],
             "opus": ["-f", "ogg", "-c:a", "libopus"]}.get(fmt)
    if codec is None:
        raise AudioError(f"format {fmt!r}: expected one of wav, flac, mp3, ogg, opus")
    proc = subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "s16le", "-ar", str(sr), "-ac", "1", "-i", "pipe:0",
         "-map_metadata", "-1", *codec, "pipe:1"],
        input=to_pcm16(to_mono(x)).tobytes(), capture_output=True,
    )
    if proc.returncode != 0:
        raise AudioError(f"FFmpeg could not encode {fmt}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


# Read once: os.umask can only be read by setting it, which is not thread-safe to do per write.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write via a temporary file and rename, so an interrupted run never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; give the file the mode open() would (0644 under the usual umask), so
        # outputs can be shared, served and uploaded like any other file.
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_audio(path: str | os.PathLike, x: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Write ``x`` atomically; the format follows the suffix (.wav default)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "wav"
    return atomic_write_bytes(path, encode(x, sr, fmt))


def audio_hash(x: np.ndarray | bytes) -> str:
    """A stable content hash (sha1 hex) of a waveform or of encoded bytes."""
    if isinstance(x, (bytes, bytearray)):
        return hashlib.sha1(x).hexdigest()
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` (tiled/cut to length) under ``speech`` at ``snr_db`` (mean power over the clip)."""
    if noise.shape[0] < speech.shape[0]:
        noise = np.tile(noise, int(math.ceil(speech.shape[0] / max(1, noise.shape[0]))))
    noise = noise[: speech.shape[0]].astype(np.float32)
    p_s = float(np.mean(speech.astype(np.float64) ** 2))
    p_n = float(np.mean(noise.astype(np.float64) ** 2))
    if p_s <= 0 or p_n <= 0:
        return speech.astype(np.float32)
    gain = math.sqrt(p_s / (p_n * 10 ** (snr_db / 10)))
    return (speech + gain * noise).astype(np.float32)
