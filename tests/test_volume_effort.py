"""Loud and quiet as vocal effort: the judge ties pure gain and the synthesizers render effort.

Real eSpeak NG renderings measured by the real feature judge (content off: the words are the same, and
the question here is only how they are spoken)."""

from __future__ import annotations

import numpy as np
import pytest

from s2s_arena import audio, prosody
from s2s_arena.judging.judges import PairInput
from s2s_arena.judging.judges.feature import FeatureJudge
from s2s_arena.schema import Sample, flip_verdict
from s2s_arena.synth import get_synthesizer
from s2s_arena.synth.plan import VOLUME_EFFORT, make_plan

TEXT = "Dinner is ready! Everyone to the table, please, and bring the blue plates with you."
SR = audio.SAMPLE_RATE


@pytest.fixture(scope="module")
def synth():
    return get_synthesizer("espeak")


@pytest.fixture(scope="module")
def judge():
    return FeatureJudge(asr="none")


@pytest.fixture(scope="module")
def clips(synth):
    """Each delivery once (seed 3: one voice for all)."""
    attrs = {"neutral": {}, "loud": {"volume": "loud"}, "quiet": {"volume": "quiet"},
             "whisper": {"voice_quality": "whisper", "volume": "quiet"}, "high": {"pitch": "high"},
             "f3": {}}
    out = {}
    for name, a in attrs.items():
        r = synth.synthesize(TEXT, attributes=a, seed=3, voice="f3" if name == "f3" else None)
        assert r.sr == SR
        out[name] = r.audio
    return out


def sample(requirements: dict) -> Sample:
    return Sample(id="v1", level="L2", domain="test", task="test", language="en",
                  instruction_text="Tell everyone dinner is ready.", evaluation_target="delivery",
                  requirements=requirements, reference_response=TEXT)


def both(judge, req, a, b):
    ab, ba = judge.judge([PairInput(sample(req), a, b), PairInput(sample(req), b, a)])
    assert ba.verdict == flip_verdict(ab.verdict), (ab.reason, ba.reason)  # swap-symmetric
    return ab


def level(x: np.ndarray, lufs: float) -> np.ndarray:
    return audio.normalize_loudness(x, SR, lufs, peak_ceiling=10.0)


@pytest.mark.parametrize("value", ["loud", "quiet"])
@pytest.mark.parametrize("clip", ["neutral", "loud", "quiet"])
@pytest.mark.parametrize("gain_db", [6.0, -6.0, 1.0])
def test_pure_gain_of_the_same_clip_ties(judge, clips, value, clip, gain_db):
    x = clips[clip] * np.float32(0.45 / max(1e-9, float(np.max(np.abs(clips[clip])))))  # room for +6 dB
    v = both(judge, {"volume": value}, x, x * np.float32(10 ** (gain_db / 20)))
    assert v.verdict == "A=B", v.reason
    assert v.meta["evidence"]["volume"]["d"] == pytest.approx(0.0, abs=0.05)
    assert "level not used" in v.reason


@pytest.mark.parametrize("value,good,bad", [("loud", "loud", "neutral"), ("quiet", "quiet", "neutral"),
                                            ("loud", "loud", "quiet"), ("quiet", "quiet", "loud")])
def test_required_effort_wins_after_loudness_normalisation(judge, clips, value, good, bad):
    # Both at the same loudness (what the Space plays), in both level orders: only the effort is left.
    for la, lb in ((-23.0, -23.0), (-30.0, -18.0), (-18.0, -30.0)):
        v = both(judge, {"volume": value}, level(clips[good], la), level(clips[bad], lb))
        assert v.verdict in ("A>B", "A>>B"), v.reason
        assert v.meta["evidence"]["volume"]["d"] >= 1.5, v.reason


def test_a_higher_voice_alone_is_not_louder(judge, clips):
    # F0 is a capped cue: a pitch raised by 5 st with the same tilt never decides volume on its own.
    p_hi, p_n = prosody.measure(clips["high"], SR), prosody.measure(clips["neutral"], SR)
    assert p_hi.f0_median_st > p_n.f0_median_st + 3
    v = both(judge, {"volume": "loud"}, clips["high"], clips["neutral"])
    assert abs(v.meta["evidence"]["volume"]["d"]) < 1.0 + abs(p_hi.spectral_tilt_db - p_n.spectral_tilt_db) / 2
    # ... nor does another speaker of the same effort (a female variant, ~12 st higher)
    w = both(judge, {"volume": "loud"}, clips["f3"], clips["neutral"])
    assert "F0 cue +0.75" in w.reason and w.verdict == "A=B", w.reason
    cap = judge.rules["attributes"]["volume"]["f0_cap"]
    assert cap < judge.rules["decision"]["tie_below"]


def test_whisper_is_quiet_not_loud(judge, clips):
    # A whisper's tilt is flat from noise (it would read as "loud"); voicing decides instead.
    p = prosody.measure(clips["whisper"], SR)
    assert p.voiced_fraction < judge.rules["attributes"]["volume"]["min_voiced_for_tilt"]
    quiet = both(judge, {"volume": "quiet"}, clips["whisper"], level(clips["neutral"], -40.0))
    assert quiet.verdict in ("A>B", "A>>B") and "voiced fraction" in quiet.reason, quiet.reason
    loud = both(judge, {"volume": "loud"}, clips["whisper"], clips["neutral"])
    assert loud.verdict in ("B>A", "B>>A"), loud.reason
    both_whisper = both(judge, {"volume": "quiet", "voice_quality": "whisper"}, clips["whisper"],
                        clips["whisper"] * np.float32(2.0))
    assert both_whisper.verdict == "A=B", both_whisper.reason


def test_plan_renders_effort_and_the_required_effort_beats_an_emotions_opposite():
    loud, quiet = (make_plan("Hello there.", attributes={"volume": v}).segments[0] for v in ("loud", "quiet"))
    assert loud.tilt_db == VOLUME_EFFORT["loud"]["tilt_db"] > 0 and loud.pitch_st == VOLUME_EFFORT["loud"]["pitch_st"] > 0
    assert quiet.tilt_db < 0 and quiet.pitch_st < 0
    assert 2.0 <= loud.target_lufs - make_plan("Hello there.").segments[0].target_lufs <= 6.0
    calm_loud = make_plan("Hello there.", attributes={"volume": "loud", "emotion": "calm"}).segments[0]
    assert calm_loud.tilt_db == VOLUME_EFFORT["loud"]["tilt_db"]  # calm's lax voice does not undo "loud"
    angry_loud = make_plan("Hello there.", attributes={"volume": "loud", "emotion": "angry"}).segments[0]
    assert angry_loud.tilt_db > VOLUME_EFFORT["loud"]["tilt_db"]  # more of the same effort is kept
    low_loud = make_plan("Hello there.", attributes={"volume": "loud", "pitch": "low"}).segments[0]
    assert low_loud.pitch_st == make_plan("Hello there.", attributes={"pitch": "low"}).segments[0].pitch_st
    seq = make_plan("One. | Two. | Three.", attributes={"volume": ["quiet", "normal", "loud"]}).segments
    assert [s.tilt_db for s in seq] == [VOLUME_EFFORT["quiet"]["tilt_db"], 0.0, VOLUME_EFFORT["loud"]["tilt_db"]]
    assert seq[0].target_lufs < seq[1].target_lufs < seq[2].target_lufs


def test_volume_sequence_rendered_with_effort_wins_and_ignores_whole_clip_gain(synth, judge):
    text = "One, two, three. | Four, five, six. | Seven, eight, nine."
    req = {"volume": ["quiet", "normal", "loud"]}
    good = synth.synthesize(text, attributes=req, seed=3).audio
    flat = synth.synthesize(text, seed=3).audio
    smp = Sample(id="v2", level="L2", domain="test", task="test", language="en", instruction_text="Count up.",
                 evaluation_target="delivery", requirements=req, reference_response=text)
    ab, ba = judge.judge([PairInput(smp, good, flat), PairInput(smp, flat, good)])
    assert ab.verdict in ("A>B", "A>>B") and ba.verdict == flip_verdict(ab.verdict), ab.reason
    g = good * np.float32(0.45 / float(np.max(np.abs(good))))
    (same,) = judge.judge([PairInput(smp, g, g * np.float32(2.0))])
    assert same.verdict == "A=B", same.reason
