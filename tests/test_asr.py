"""ASR backends with a tiny random wav2vec 2.0 CTC model built here (no download), and WER scoring."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from s2s_arena.asr import ASRError, get_asr, normalize_text, wer
from s2s_arena.audio import AudioError


@pytest.fixture(scope="module")
def tiny_ctc_dir(tmp_path_factory):
    """A tiny random wav2vec 2.0 CTC model built here (no download): it transcribes garbage."""
    from tiny_models import build_asr

    return build_asr(tmp_path_factory.mktemp("tiny-ctc"), blank_bias=-5.0)


def test_hf_ctc_model_transcribes_any_rate_deterministically(tiny_ctc_dir):
    asr = get_asr(f"hf:{tiny_ctc_dir}")
    assert asr.name == f"hf:{tiny_ctc_dir.name}"
    rng = np.random.default_rng(0)
    x24 = (0.1 * rng.standard_normal(24_000)).astype(np.float32)
    text = asr.transcribe(x24, 24_000, language="en")
    assert isinstance(text, str) and text  # a random model spells random letters, but spells
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz' ")
    assert asr.transcribe(x24, 24_000) == text
    from s2s_arena.audio import resample

    assert asr.transcribe(resample(x24, 24_000, 16_000), 16_000) == text  # resampled internally to 16 kHz


def test_hf_asr_rejects_bad_audio(tiny_ctc_dir):
    asr = get_asr(f"hf:{tiny_ctc_dir}")
    with pytest.raises(AudioError, match="NaN"):
        asr.transcribe(np.full(16_000, np.nan, np.float32), 16_000)


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ASRError, match="cannot load a speech-recognition model"):
        get_asr(f"hf:{tmp_path / 'no-such-model'}")


def test_bad_spec():
    with pytest.raises(ASRError, match="expected 'hf:<model id or local path>'"):
        get_asr("whisper")


@pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is not None, reason="faster-whisper installed")
def test_faster_whisper_absent_names_the_package():
    with pytest.raises(ASRError, match="'faster-whisper' is not installed"):
        get_asr("faster-whisper:tiny")


@pytest.mark.parametrize(
    "ref, hyp, expected",
    [
        ("The cat sat on the mat.", "the cat sat on the mat", 0.0),
        ("the cat sat on the mat", "the cat sat on a mat", 1 / 6),
        ("the cat sat", "", 1.0),
        ("", "", 0.0),
        ("", "noise", 1.0),
        ("Hello, world!", "hello world", 0.0),
        ("明天迈克要来", "明天迈克来", 1 / 6),  # CJK: character error rate
        ("明天迈克要来。", "明天 迈克 要来", 0.0),
    ],
)
def test_wer(ref, hyp, expected):
    assert wer(ref, hyp) == pytest.approx(expected)


def test_normalize_text():
    assert normalize_text("  Don't  STOP, now! ") == "don't stop now"
