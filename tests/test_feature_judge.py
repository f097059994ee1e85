"""The `feature` judge on rendered pairs whose winner is known (eSpeak NG renderings, real prosody)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2s_arena.audio import trim_silence
from s2s_arena.schema import Sample, SchemaError, flip_verdict
from s2s_arena.synth import get_synthesizer
from s2s_arena.judging.judges import PairInput, get_judge
from s2s_arena.judging.judges.feature import FeatureJudge, content_compliance, repetition_count, word_f1
from s2s_arena.judging.protocol import Pair, judge_pairs, resolve

TEXT = "The weather is lovely today, and I think we should go for a long walk in the park."
SR = 24000


@pytest.fixture(scope="module")
def synth():
    return get_synthesizer("espeak")


@pytest.fixture(scope="module")
def judge():
    return get_judge("feature")


def sample(requirements: dict, sid: str = "s1", **kw) -> Sample:
    return Sample(id=sid, level="L2", domain="test", task="test", language="en",
                  instruction_text=kw.pop("instruction_text", "Please say the sentence."),
                  evaluation_target="Does the response follow the requested delivery?",
                  requirements=requirements, reference_response=kw.pop("reference_response", TEXT), **kw)


def render(synth, attrs: dict, text: str = TEXT) -> np.ndarray:
    out = synth.synthesize(text, attributes=attrs, seed=3)
    assert out.sr == SR
    return out.audio


def decide(judge, smp, a, b):
    ab, ba = judge.judge([PairInput(smp, a, b), PairInput(smp, b, a)])
    return ab, ba


# (requirements, attributes of the response that should win, of the one that should lose)
KNOWN_WINNERS = {
    "slow_vs_fast": ({"speaking_rate": "slow"}, {"speaking_rate": "slow"}, {"speaking_rate": "fast"}),
    "fast_vs_normal": ({"speaking_rate": "fast"}, {"speaking_rate": "fast"}, {}),
    "whisper_vs_modal": ({"voice_quality": "whisper"}, {"voice_quality": "whisper"}, {}),
    "high_vs_low_pitch": ({"pitch": "high"}, {"pitch": "high"}, {"pitch": "low"}),
    "low_vs_high_pitch": ({"pitch": "low"}, {"pitch": "low"}, {"pitch": "high"}),
    "pause_present_vs_absent": ({"pauses": ["weather", "today"]}, {"pauses": ["weather", "today"]}, {}),
    "loud_vs_quiet": ({"volume": "loud"}, {"volume": "loud"}, {"volume": "quiet"}),
    "quiet_vs_normal": ({"volume": "quiet"}, {"volume": "quiet"}, {}),
    "whisper_and_quiet_vs_modal": ({"voice_quality": "whisper", "volume": "quiet"},
                                   {"voice_quality": "whisper", "volume": "quiet"}, {}),
    "emphasis_vs_none": ({"emphasis": "walk"}, {"emphasis": "walk"}, {}),
    "happy_vs_neutral": ({"emotion": "happy"}, {"emotion": "happy"}, {}),
    "sad_vs_angry": ({"emotion": "sad"}, {"emotion": "sad"}, {"emotion": "angry"}),
    "child_vs_adult": ({"speaker_age": "child"}, {"speaker_age": "child"}, {}),
    "elderly_vs_adult": ({"speaker_age": "elderly"}, {"speaker_age": "elderly"}, {}),
    "sequence_vs_flat": ({"speaking_rate": ["fast", "normal", "slow"]},
                         {"speaking_rate": ["fast", "normal", "slow"]}, {"repetitions": 3}),
}


@pytest.mark.parametrize("case", sorted(KNOWN_WINNERS))
def test_known_winner_wins_in_both_orders(synth, judge, case):
    req, good, bad = KNOWN_WINNERS[case]
    text = TEXT if case != "sequence_vs_flat" else "One, two, three. | Four, five, six, seven. | Eight, nine, ten."
    smp = sample(req, reference_response=text)
    a, b = render(synth, good, text), render(synth, bad, text)
    ab, ba = decide(judge, smp, a, b)
    assert ab.verdict in ("A>B", "A>>B"), ab.reason
    assert ab.paralinguistics in ("A>B", "A>>B")
    # Symmetric: the swapped order is the exact mirror image.
    assert ba.verdict == flip_verdict(ab.verdict), (ab.reason, ba.reason)
    assert ba.paralinguistics == flip_verdict(ab.paralinguistics)
    # The reason states the numbers it used; the same words, heard by the bundled recogniser, tie on content.
    attr = next(iter(req))
    assert attr in ab.reason and any(ch.isdigit() for ch in ab.reason)
    assert "content" not in ab.meta["abstained"] and ab.content == "A=B", ab.reason
    assert ab.meta["evidence"][attr]["d"] == pytest.approx(-ba.meta["evidence"][attr]["d"])


def test_wrong_direction_loses(synth, judge):
    """The same two clips under the opposite requirement: the verdict flips."""
    fast, slow = render(synth, {"speaking_rate": "fast"}), render(synth, {"speaking_rate": "slow"})
    (want_fast, _) = decide(judge, sample({"speaking_rate": "fast"}), fast, slow)
    (want_slow, _) = decide(judge, sample({"speaking_rate": "slow"}), fast, slow)
    assert want_fast.verdict in ("A>B", "A>>B") and want_slow.verdict in ("B>A", "B>>A")


def test_identical_audio_ties(synth, judge):
    x = render(synth, {"pitch": "high"})
    for req in ({"pitch": "high"}, {"speaking_rate": ["slow", "fast"]}, {}, {"pauses": 2, "volume": "loud"}):
        (j,) = judge.judge([PairInput(sample(req), x, x.copy())])
        assert j.verdict == "A=B" and j.paralinguistics == "A=B", j.reason


def test_nothing_measurable_required_is_a_tie_that_says_why(synth, judge):
    a, b = render(synth, {}), render(synth, {"pitch": "high"})
    (j,) = judge.judge([PairInput(sample({"emotion": "sarcastic", "accent": "scottish"}), a, b)])
    assert j.verdict == "A=B"
    assert "accent" in j.meta["abstained"] and "content" not in j.meta["abstained"]
    assert "not measured: emotion, accent" in j.reason


def _truncate_mid_speech(x: np.ndarray) -> np.ndarray:
    frame = SR // 100
    n = x.shape[0] // frame
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.nonzero(rms > 0.5 * rms.max())[0]
    cut = loud[len(loud) // 2] * frame + frame // 2  # in the middle of a loud stretch
    return x[:cut].copy()


@pytest.mark.parametrize("defect", ["silent", "clipping", "truncated", "too_short", "empty", "nan"])
def test_broken_audio_is_vetoed(synth, judge, defect):
    good = render(synth, {"speaking_rate": "slow"})
    bad = {
        "silent": lambda: np.zeros(SR * 2, np.float32),
        "clipping": lambda: np.clip(good * 30.0, -1.0, 1.0).astype(np.float32),
        "truncated": lambda: _truncate_mid_speech(good),
        "too_short": lambda: trim_silence(render(synth, {}, "Hi there."), SR)[: int(0.25 * SR)],
        "empty": lambda: np.zeros(0, np.float32),
        "nan": lambda: np.full(SR, np.nan, np.float32),
    }[defect]()
    # Even when the broken clip would win on the requirement (it is the slow one), it loses.
    smp = sample({"speaking_rate": "slow"})
    ab, ba = decide(judge, smp, bad, good)
    assert ab.verdict == "B>>A", ab.reason
    assert ba.verdict == "A>>B"
    assert ab.quality == "B>>A" and "quality veto" in ab.reason
    expected = {"empty": "unusable", "nan": "unusable"}.get(defect, defect)
    assert any(expected in b for b in ab.meta["veto"]["a"]), ab.meta
    assert ab.meta["veto"]["b"] == []
    (both,) = judge.judge([PairInput(smp, bad, np.zeros(SR, np.float32))])
    assert both.verdict == "both_bad"


def test_clean_rendering_is_not_vetoed(synth, judge):
    for attrs in ({}, {"speaking_rate": "fast"}, {"volume": "loud"}, {"voice_quality": "whisper"}):
        m = judge.measure(render(synth, attrs), SR)
        assert m.broken == [], (attrs, m.broken)


def test_measurements_are_cached_by_audio_hash(synth):
    j = FeatureJudge()
    a, b = render(synth, {"pitch": "high"}), render(synth, {"pitch": "low"})
    smp = sample({"pitch": "high"})
    j.judge([PairInput(smp, a, b), PairInput(smp, b, a), PairInput(smp, a.copy(), b)])
    assert len(j._cache) == 2  # two distinct clips, measured once each


def test_worker_processes_give_the_same_judgements(synth, judge):
    smp = sample({"speaking_rate": ["slow", "fast"], "pitch": "high"})
    a, b = render(synth, {"speaking_rate": ["slow", "fast"]}), render(synth, {"pitch": "high"})
    items = [PairInput(smp, a, b), PairInput(smp, b, a)]
    parallel = FeatureJudge(workers=2)
    try:
        got = parallel.judge(items)
        assert len(parallel._cache) == 2 and all(2 in m.segments for m in parallel._cache.values())
    finally:
        parallel.close()
    want = FeatureJudge().judge(items)
    assert [(j.verdict, j.reason) for j in got] == [(j.verdict, j.reason) for j in want]


def test_through_the_protocol_both_orders_are_consistent(synth, judge):
    smp = sample({"pitch": "high"})
    hi, lo = render(synth, {"pitch": "high"}), render(synth, {"pitch": "low"})
    rows = judge_pairs(judge, [Pair(smp, "good", "bad", hi, lo), Pair(smp, "bad", "good", lo, hi)])
    assert [r.order for r in rows] == ["ab", "ba", "ab", "ba"]
    outcomes = resolve(rows)
    assert len(outcomes) == 1 and outcomes[0].consistent is True  # one unordered pair, both orders agree
    winner = outcomes[0].system_a if outcomes[0].outcome == "a" else outcomes[0].system_b
    assert winner == "good"


def test_rules_are_data_and_change_the_config_hash():
    base = FeatureJudge()
    stricter = FeatureJudge(overrides={"decision": {"tie_below": 2.0}})
    assert base.config_hash() != stricter.config_hash()
    assert base.config_hash() == FeatureJudge().config_hash()
    with pytest.raises(SchemaError, match="decision.nonsense"):
        FeatureJudge(overrides={"decision": {"nonsense": 1}})
    with pytest.raises(SchemaError, match="attributes.pitch.jnd"):
        FeatureJudge(overrides={"attributes": {"pitch": {"jnd": 0}}})


def test_content_scores_from_transcripts():
    smp = sample({}, instruction_text="What should I pack for a beach holiday?",
                 reference_response="Pack sunscreen, a hat, swimwear and a towel.")
    answer = content_compliance("you should pack sunscreen a hat swimwear and a towel", smp)
    echo = content_compliance("what should I pack for a beach holiday", smp)
    off = content_compliance("the capital of france is paris", smp)
    assert answer > 0.6 and answer > off + 0.3 and answer > echo + 0.3
    assert echo < 0  # repeating the question is worse than saying nothing related
    assert word_f1("", "anything") == 0.0
    assert repetition_count("red lorry yellow lorry red lorry yellow lorry") == 2


def test_unknown_option_is_a_clear_error():
    with pytest.raises(TypeError, match="temprature"):
        get_judge("feature", temprature=0)


def test_sequences_measure_only_the_per_part_fields_they_compare(synth):
    j = FeatureJudge()
    rate_seq = sample({"speaking_rate": ["fast", "normal", "slow"]})
    a = render(synth, {"speaking_rate": ["fast", "normal", "slow"]})
    b = render(synth, {})
    j.judge([PairInput(rate_seq, a, b)])
    m = j.measure(a, SR)
    assert m.segment_fields[3] == {"articulation_rate_sps"}
    assert all(math.isnan(s.loudness_lufs) and math.isnan(s.f0_median_st) for s in m.segments[3])
    # The same clip judged later on a volume sequence: its parts are re-measured with loudness too,
    # and the verdict equals that of a judge that never saw the rate sequence.
    vol_seq = sample({"volume": ["quiet", "normal", "loud"]}, sid="s2")
    got = j.judge([PairInput(vol_seq, a, b)])[0]
    assert m.segment_fields[3] == {"articulation_rate_sps", "loudness_lufs"}
    assert all(math.isfinite(s.loudness_lufs) for s in m.segments[3])
    want = FeatureJudge().judge([PairInput(vol_seq, a, b)])[0]
    assert (got.verdict, got.reason) == (want.verdict, want.reason)


def test_clipping_below_full_scale_is_vetoed(synth, judge):
    """Flat tops at 60% of full scale: no sample reaches 1.0, yet the clip is clipped."""
    from s2s_arena.judging.judges.feature import flat_top_fraction

    good = render(synth, {})
    peak = float(np.max(np.abs(good)))
    clipped = np.clip(good * 2.0, -0.6 * peak, 0.6 * peak).astype(np.float32)
    assert float(np.max(np.abs(clipped))) < 0.99 and flat_top_fraction(good) < 1e-3 < flat_top_fraction(clipped)
    ab, ba = decide(judge, sample({}), good, clipped)
    assert ab.verdict == "A>>B" and "clipping" in ab.meta["veto"]["b"], ab.reason
    assert ba.verdict == "B>>A"


def test_integer_pcm_is_rescaled_not_misread(synth, judge):
    x = render(synth, {"speaking_rate": "slow"})
    pcm = np.round(x * 32767).astype(np.int16)
    (as_int,) = judge.judge([PairInput(sample({"speaking_rate": "slow"}), pcm, render(synth, {"speaking_rate": "fast"}))])
    assert as_int.verdict in ("A>B", "A>>B") and "veto" not in as_int.meta, as_int.reason
    (same,) = judge.judge([PairInput(sample({}), pcm, x)])
    assert same.verdict == "A=B", same.reason


def test_repetitions_counted_acoustically_without_a_transcript(synth):
    """Without a recogniser the judge still counts repetitions: the opening phrase's sound recurring."""
    from s2s_arena.judging.judges.feature import acoustic_repetition_count

    once = "Red lorry, yellow lorry."
    thrice = " ".join([once] * 3)
    other = "A headache can come from dehydration, stress, too little sleep or eye strain. Drink some water."
    for seed in (1, 5):
        assert acoustic_repetition_count(synth.synthesize(once, seed=seed).audio, SR) == 1
        assert acoustic_repetition_count(synth.synthesize(thrice, seed=seed).audio, SR) == 3
        assert acoustic_repetition_count(synth.synthesize(other, seed=seed).audio, SR) == 1
    assert acoustic_repetition_count(np.zeros(SR, np.float32), SR) == 0
    judge = FeatureJudge(asr="none")
    smp = sample({"repetitions": 3}, reference_response=thrice)
    ab, ba = decide(judge, smp, render(synth, {}, thrice), render(synth, {}, once))
    assert ab.verdict in ("A>B", "A>>B") and "acoustic" in ab.reason, ab.reason
    assert ba.verdict in ("B>A", "B>>A"), ba.reason


def test_requirements_without_level_or_tilt_judge_the_same_when_both_are_measured(synth, monkeypatch):
    # Rate, pitch and pause requirements skip the whole clip's loudness and tilt; their judgements
    # must be those of a judge that measures everything (a branch that starts reading either must
    # leave feature._NO_LEVEL_OR_TILT).
    import s2s_arena.judging.judges.feature as F

    clips = [render(synth, {"speaking_rate": ["slow", "fast"]}), render(synth, {"pitch": "high"}),
             render(synth, {"pauses": 2}), render(synth, {"speaking_rate": "fast", "pitch": "low"})]
    items = [PairInput(sample(req), a, b) for req in
             ({"speaking_rate": ["slow", "fast"]}, {"pitch": "high"}, {"pauses": 2},
              {"speaking_rate": "slow", "pitch": ["low", "high"]})
             for a, b in ((clips[0], clips[1]), (clips[2], clips[3]), (clips[3], clips[0]))]
    lean = FeatureJudge(asr="none")
    got = lean.judge(items)
    assert not any(m.level_and_tilt for m in lean._cache.values())
    monkeypatch.setattr(F, "_needs_level_and_tilt", lambda s: True)
    want = FeatureJudge(asr="none").judge(items)
    assert [(j.verdict, j.reason) for j in got] == [(j.verdict, j.reason) for j in want]
    # A clip cached without them and judged later for its volume or an emphasis gets them measured.
    monkeypatch.undo()
    later = [PairInput(sample({"volume": "loud"}), clips[0], clips[3]),
             PairInput(sample({"emphasis": "walk"}), clips[1], clips[2])]
    assert [j.reason for j in lean.judge(later)] == [j.reason for j in FeatureJudge(asr="none").judge(later)]


def test_a_worker_measures_clips_from_the_shared_buffer_as_this_process_does(synth):
    import mmap
    import multiprocessing as mp

    import s2s_arena.judging.judges.feature as F

    clips = [render(synth, {"speaking_rate": ["slow", "fast"]}), render(synth, {"pitch": "high"})]
    veto, needs = FeatureJudge(asr="none").rules["veto"], ((2, ("articulation_rate_sps",)),)
    buf, counter = mmap.mmap(-1, 1 << 22), mp.get_context("fork").Value("l", 0)
    descs, offset = [], 0
    for x in clips:
        np.frombuffer(buf, np.float32, x.size, offset)[:] = x
        descs.append((offset, x.size, SR, needs, False))
        offset += 4 * x.size
    F._init_worker(buf, counter)  # what a forked worker runs first
    try:
        got = dict(F._measure_shared(descs, veto))
    finally:
        F._WORKER_SHARED = None
    assert sorted(got) == [0, 1] and counter.value == 2
    for i, x in enumerate(clips):
        want = F.measure_clip(x, SR, veto, needs, False)
        assert repr((got[i].prosody, got[i].segments)) == repr((want.prosody, want.segments))
    buf.close()
