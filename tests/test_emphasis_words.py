"""Emphasis on the required word: its prominence against the other words of the same response, located
with the bundled recogniser's word timings. Real eSpeak NG clips (the required word emphasised, the
same sentence neutral, the emphasis on another word) judged with the real bundled Whisper; nothing
mocked. The recogniser-free parts (word finding, in-order assignment) run without it."""

from __future__ import annotations

import numpy as np
import pytest

from s2s_arena import prosody
from s2s_arena.judging.judges import PairInput
from s2s_arena.judging.judges.feature import FeatureJudge, _emphasis_parts
from s2s_arena.schema import Sample, flip_verdict

SR = 24000
FRIDAY = "The boiler must be repaired by Friday."
THIRD = "At the roundabout, take the third exit."
TWICE = "My sister bought a new car. | My sister bought a new car."


def sample(requirements: dict, reference: str, sid: str = "e1") -> Sample:
    return Sample(id=sid, level="L2", domain="home", task="emphasis", language="en",
                  instruction_text="Read the sentence, stressing the word I name.",
                  evaluation_target="Is the named word stressed?", requirements=requirements,
                  reference_response=reference)


# --- finding the word (no recogniser needed) -----------------------------------------------------
def test_find_word_exact_ignores_case_and_punctuation():
    assert prosody.find_word("Friday", ["by", "friday.", "Friday?"]) == ([1, 2], "exact")


def test_find_word_numbers_written_in_digits():
    assert prosody.find_word("eighty", ["Bake", "at", "180", "degrees"]) == ([2], "number")
    assert prosody.find_word("fifteenth", ["the", "15th", "of", "June"]) == ([1], "number")
    assert prosody.find_word("twenty-second", ["on", "the", "22nd."]) == ([2], "number")
    # "six" is not in "16" (sixteen)
    assert prosody.find_word("six", ["from", "16", "6", "tonight"]) == ([2], "number")


def test_find_word_misheard_alike_and_absent():
    assert prosody.find_word("stopped", ["a", "stop", "to", "vehicle"]) == ([1], "similar")
    assert prosody.find_word("tonight", ["to", "the", "party", "to", "die?"]) == ([], "")


def test_digits_count_their_spoken_syllables():
    assert prosody._token_syllables("2", "en") == prosody._token_syllables("two", "en") == 1
    assert prosody._token_syllables("80", "en") == prosody._token_syllables("eighty", "en") == 2


def test_in_order_assignment_of_a_sequence():
    # [red, him] in "She gave HIM the red book. She gave him the RED book.": the in-order reading
    # (red at 4, him at 7) scores low although each word is prominent somewhere.
    cands = [[4, 10], [2, 7]]
    vals = [{4: 0.1, 10: 3.0}, {2: 3.0, 7: 0.2}]
    assert prosody._ordered_pick(cands, vals) == [4, 7]
    # no in-order assignment: each word where it stands out most
    assert prosody._ordered_pick([[5], [2]], [{5: 1.0}, {2: 2.0}]) == [5, 2]
    assert prosody._ordered_pick([[5], []], [{5: 1.0}, {}]) == [5, None]


def test_parts_of_a_sequence_follow_the_reference():
    assert _emphasis_parts(sample({"emphasis": ["red", "him"], "repetitions": 2},
                                  "She gave him the RED book. | She gave HIM the red book."), 2) == 2
    assert _emphasis_parts(sample({"emphasis": ["red", "him"]}, "She gave HIM the RED book."), 2) == 1
    assert _emphasis_parts(sample({"emphasis": ["Tuesday"]}, "On Tuesday."), 1) == 1


# --- real clips, real recogniser -------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth():
    from s2s_arena.synth import get_synthesizer

    try:
        return get_synthesizer("espeak")
    except Exception as e:  # noqa: BLE001 - no eSpeak NG binary: nothing to render
        pytest.skip(f"eSpeak NG not available: {e}")


@pytest.fixture(scope="module")
def judge():
    from s2s_arena.asr import default_asr

    if default_asr() is None:
        pytest.skip("no bundled recogniser installed (pip install 's2s-arena[asr]')")
    return FeatureJudge()


def say(synth, text: str, emphasis=None) -> np.ndarray:
    out = synth.synthesize(text, language="en", attributes={"emphasis": emphasis} if emphasis else {}, seed=1)
    assert out.sr == SR
    return out.audio


def both_orders(judge, smp, a, b):
    ab, ba = judge.judge([PairInput(smp, a, b, sr=SR), PairInput(smp, b, a, sr=SR)])
    assert ba.verdict == flip_verdict(ab.verdict), (ab.reason, ba.reason)  # swap-symmetric
    return ab


@pytest.mark.parametrize("text,word,other", [(FRIDAY, "Friday", "boiler"), (THIRD, "third", "roundabout")])
def test_the_required_word_stressed_beats_neutral_and_the_wrong_word(synth, judge, text, word, other):
    smp = sample({"emphasis": word}, text)
    right = say(synth, text, word)
    for rival in (say(synth, text), say(synth, text, other)):
        j = both_orders(judge, smp, right, rival)
        assert j.verdict in ("A>B", "A>>B"), j.reason
        assert "word prominence from word timings" in j.reason and f"{word!r} at " in j.reason, j.reason
        ev = j.meta["evidence"]["emphasis"]
        assert ev["a"] > ev["b"] + 1.0, ev  # more than a jnd of mean prominence apart


def test_a_pure_gain_change_ties(synth, judge):
    smp = sample({"emphasis": "Friday"}, FRIDAY)
    for x in (say(synth, FRIDAY, "Friday"), say(synth, FRIDAY)):
        for gain_db in (6.0, -10.0):
            j = both_orders(judge, smp, x, x * np.float32(10 ** (gain_db / 20)))
            assert j.verdict == "A=B", j.reason
            assert abs(j.meta["evidence"]["emphasis"]["d"]) < 1.0, j.reason


def test_a_sequence_of_emphases_is_judged_word_by_word(synth, judge):
    smp = sample({"emphasis": ["sister", "car"], "repetitions": 2}, TWICE)
    right = say(synth, TWICE, ["sister", "car"])
    for rival in (say(synth, TWICE, ["car", "sister"]), say(synth, TWICE)):
        j = both_orders(judge, smp, right, rival)
        assert j.verdict in ("A>B", "A>>B"), j.reason
        assert "per part" in j.reason and "'sister' at" in j.reason and "'car' at" in j.reason, j.reason


def test_word_not_heard_falls_back_to_the_acoustic_measure_and_says_so(synth, judge):
    smp = sample({"emphasis": "Saturday"}, FRIDAY)
    j = both_orders(judge, smp, say(synth, FRIDAY, "Friday"), say(synth, FRIDAY))
    assert "acoustic fallback, a required word not found" in j.reason and "'Saturday'" in j.reason, j.reason
    assert "emphasis" in j.meta["evidence"]


def test_without_a_recogniser_single_words_fall_back_and_sequences_abstain(synth):
    j = FeatureJudge(asr="none")
    x, y = say(synth, FRIDAY, "Friday"), say(synth, FRIDAY)
    one = j.judge([PairInput(sample({"emphasis": "Friday"}, FRIDAY), x, y, sr=SR)])[0]
    assert "acoustic fallback, no word timings" in one.reason, one.reason
    seq = j.judge([PairInput(sample({"emphasis": ["boiler", "Friday"]}, FRIDAY), x, y, sr=SR)])[0]
    assert "emphasis" in seq.meta["abstained"] and "emphasis" not in seq.meta.get("evidence", {}), seq.reason


def test_word_prominence_is_deterministic(synth, judge):
    from s2s_arena.asr import default_asr

    x = say(synth, THIRD, "third")
    words = default_asr().transcribe_full(x, SR, language="en", words=True).words
    a = prosody.word_prominence(x, SR, words, ["third"], language="en")
    b = prosody.word_prominence(x.copy(), SR, words, ["third"], language="en")
    assert a == b and a[0] is not None and a[0].prominence > 1.0, a
