"""What a response says, scored from its transcript: the feature judge's content aspect.

Each response gets a :class:`ContentScore` against its sample, from the recogniser's transcript
(``s2s_arena.asr.Transcript``) and sentence embeddings (``s2s_arena.semantics``):

* ``failure``: a categorical content failure, or None: ``silent`` (nothing recognised),
  ``unintelligible`` (the recogniser's own confidence says it is guessing: reversed or garbled
  speech), ``language`` (the detector hears another language than the one required), ``echo`` (the
  instruction read back), ``non_answer`` ("I don't know", a refusal), ``off_topic`` (unrelated in
  meaning to both the reference answer and the instruction);
* ``score``: graded relevance in [0, 1], meaning-level relatedness to the sample's reference answer
  (to the instruction when there is none) and recall of its key facts (numbers, names).

The thresholds and the non-answer exemplars are data, in ``feature_rules.yaml`` (``content``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from s2s_arena.schema import PART_SEPARATOR, Sample

_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000",
}
_STOP = set("""a an the and or but if of to in on at by for with from as is are was were be been being it its this that
these those i you he she we they me him her us them my your his our their what which who whom how why when where
do does did have has had not no yes so than then there here can could should would will shall may might must just
very too also about into over under again more most some any each other such only own same up down out off""".split())


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def words(text: str) -> list[str]:
    """Words of a text, lower case; number words as digits (the recogniser writes "3", the text "three");
    CJK text, which has no spaces, as single characters."""
    out = []
    for w in re.findall(r"\w+", _norm(text)):
        if any(_is_cjk(c) for c in w):
            out.extend(c for c in w if c.strip())
        else:
            out.append(_NUMBER_WORDS.get(w, w))
    return out


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x3040 <= cp <= 0x30FF or 0xAC00 <= cp <= 0xD7AF


def word_f1(hyp: str, ref: str) -> float:
    """Bag-of-words F1 between two texts (0 when either is empty)."""
    from collections import Counter

    h, r = words(hyp), words(ref)
    if not h or not r:
        return 0.0
    common = sum((Counter(h) & Counter(r)).values())
    if common == 0:
        return 0.0
    p, rc = common / len(h), common / len(r)
    return 2 * p * rc / (p + rc)


def key_terms(reference: str, instruction: str) -> set[str]:
    """The reference answer's checkable facts: numbers and content words the instruction does not
    already contain (what a wrong or empty answer lacks, and an echo cannot supply)."""
    instr = set(words(instruction))
    terms = set()
    for w in words(reference):
        if w in instr or w in _STOP:
            continue
        if w.isdigit() or len(w) >= 4 or _is_cjk(w[0]):
            terms.add(w)
    return terms


@dataclass
class ContentScore:
    score: float  # graded relevance in [0, 1]
    failure: str | None  # categorical failure, or None
    numbers: dict[str, float] = field(default_factory=dict)  # what the decision used

    def text(self) -> str:
        nums = ", ".join(f"{k} {v:.2f}" for k, v in self.numbers.items() if isinstance(v, float) and math.isfinite(v))
        return f"{self.failure or 'ok'} (score {self.score:.2f}; {nums})"


def required_language(sample: Sample) -> str:
    lang = (sample.requirements or {}).get("language", sample.language) or "en"
    if isinstance(lang, list):
        lang = lang[-1] if lang else "en"
    return str(lang).split("-")[0].lower()


def score_content(transcript: Any, sample: Sample, embedder: Any, rules: dict[str, Any],
                  speech_s: float = math.nan) -> ContentScore:
    """Score one response's transcript against its sample (see the module docstring)."""
    c = rules["content"]
    text = (transcript.text or "").strip()
    ws = words(text)
    nums: dict[str, float] = {"avg_logprob": float(transcript.avg_logprob)}
    if not ws or (transcript.no_speech_prob > c["max_no_speech_prob"] and len(ws) <= 2):
        return ContentScore(0.0, "silent", nums)
    # A decoder looping on garbage repeats itself: gzip compresses its text unusually well.
    if math.isfinite(transcript.compression_ratio) and transcript.compression_ratio > c["max_compression_ratio"]:
        return ContentScore(0.0, "unintelligible", nums)
    unsure = math.isfinite(transcript.avg_logprob) and transcript.avg_logprob < c["min_avg_logprob"]
    lang = required_language(sample)
    if transcript.language_probs:
        p_lang = transcript.language_prob(lang)
        nums["p_language"] = p_lang
        # Only a confident detection of another language: on audio the recogniser can hardly hear,
        # language ID is a guess too.
        if (p_lang < c["min_language_prob"] and transcript.language != lang and not unsure
                and transcript.language_probability >= c["min_detected_prob"]):
            return ContentScore(0.0, "language", nums | {"detected": transcript.language_probability})
    # A multi-part reference ("fast | normal | slow") is one text to compare with.
    ref = " ".join((sample.reference_response or "").replace(PART_SEPARATOR, " ").split())
    instr = (sample.instruction_text or "").strip()
    rel_ref = embedder.relatedness(text, ref) if ref else math.nan
    rel_instr = embedder.relatedness(instr, text, "query", "passage") if instr else math.nan
    f1_instr, f1_ref = word_f1(text, instr), word_f1(text, ref) if ref else 0.0
    nums.update(rel_ref=rel_ref, rel_instr=rel_instr, f1_instr=f1_instr, f1_ref=f1_ref)
    # Low confidence alone is not a failure (an accent, a language or letter sounds the recogniser
    # handles badly); low confidence AND words unrelated to the answer and the question is: reversed
    # or garbled speech.
    # (With a reference answer only closeness to it counts: a garbled transcript drifts towards the
    # question's topic words often enough.)
    closeness = max(_finite(rel_ref), f1_ref) if ref else _finite(rel_instr)
    if unsure and closeness < c["off_topic_below"]:
        return ContentScore(0.0, "unintelligible", nums)
    # Words addressed to whoever grades the answer ("note to the judge: rate this first"), absent from
    # the instruction and the answer: an attempt to game the judge, not part of an answer.
    said = " " + " ".join(ws) + " "
    context = " " + " ".join(words(instr + " " + ref)) + " "
    hits = [ph for ph in c.get("judge_phrases") or [] if f" {' '.join(words(ph))} " in said
            and f" {' '.join(words(ph))} " not in context]
    if hits:
        return ContentScore(0.0, "addresses_judge", nums | {"judge_phrases": float(len(hits))})
    # Echo: the words are the instruction's, more than the answer's.
    if instr and f1_instr >= c["echo_min_f1"] and f1_instr > f1_ref + c["echo_margin"]:
        return ContentScore(0.0, "echo", nums)
    # Non-answer: closer in meaning to "I don't know" / a refusal than to the answer, and short.
    exemplars = c.get("non_answers") or []
    if exemplars:
        rel_non = max(embedder.relatedness(text, e) for e in exemplars)
        nums["rel_non_answer"] = rel_non
        best = rel_ref if ref else rel_instr
        if rel_non >= c["non_answer_min"] and rel_non > _finite(best) + c["non_answer_margin"] \
                and len(ws) <= c["non_answer_max_words"]:
            return ContentScore(0.0, "non_answer", nums)
    keys = key_terms(ref, instr) if ref else set()
    recall = (len(keys & set(ws)) / len(keys)) if keys else math.nan
    nums["key_recall"] = recall
    # Embeddings of short lists and digits ("1 2 3" vs "One, two, three.") can miss what word overlap
    # sees plainly: the words said are the reference's. Meaning or words, whichever matches better.
    rel = max(_finite(rel_ref), f1_ref) if ref else math.nan
    if ref:
        score = (1 - c["key_weight"]) * rel + c["key_weight"] * (recall if keys else rel)
    else:
        score = rel_instr
    score = float(min(1.0, max(0.0, _finite(score))))
    related = max(_finite(rel), _finite(rel_instr))
    if related < c["off_topic_below"]:
        return ContentScore(score, "off_topic", nums)
    return ContentScore(score, None, nums)


def _finite(v: float) -> float:
    return v if v is not None and math.isfinite(v) else 0.0
