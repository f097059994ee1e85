"""What a response says, scored from its transcript: the feature judge's content aspect.

Each response gets a :class:`ContentScore` against its sample, from the recogniser's transcript
(``s2s_arena.asr.Transcript``) and sentence embeddings (``s2s_arena.semantics``):

* ``failure``: a categorical content failure, or None: ``silent`` (nothing recognised),
  ``unintelligible`` (the recogniser's own confidence says it is guessing: reversed or garbled
  speech), ``language`` (the detector hears another language than the one required), ``echo`` (the
  instruction read back), ``non_answer`` ("I don't know", a refusal), ``truncated`` (the answer's own
  words stopping well before its end), ``off_topic`` (unrelated in
  meaning to both the reference answer and the instruction), ``wrong_facts`` (the reference answer
  with a number, name or date put in place of its own: ``fact_conflicts``);
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

import numpy as np

from s2s_arena.asr import looping
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
    CJK text, which has no spaces, as single characters. A time is one token, however it is written:
    "ten fifteen", "10:15" and "10.15" are all "1015" (the recogniser writes any of them, or "1015"),
    "twenty five" is "25"; a count ("1 2 3", "one, two, three") stays a list."""
    out: list[str] = []
    spelled: list[bool] = []  # whether out[i] came from number words
    joins: list[bool] = []  # whether out[i] continues the number before it
    end = 0
    norm = _norm(text)
    for m in re.finditer(r"\w+", norm):
        w, sep = m.group(), norm[end:m.start()]
        end = m.end()
        if any(_is_cjk(c) for c in w):
            for c in w:
                if c.strip():
                    out.append(c)
                    spelled.append(False)
                    joins.append(bool(out[:-1]) and c.isdigit() and out[-2].isdigit())
            continue
        spaced = bool(out) and sep.strip() in ("", "-")
        if spaced and spelled[-1] and w in _UNITS and 0 < _UNITS[w] < 10 and out[-1] in _TENS_DIGITS:
            out[-1] = str(int(out[-1]) + _UNITS[w])  # "twenty five"
            continue
        tok = _NUMBER_WORDS.get(w, _TENS_DIGITS_OF.get(w, w))
        is_spelled = tok != w
        prev_hour = bool(out) and out[-1].isdigit() and int(out[-1]) <= 12
        time_spelled = spaced and is_spelled and spelled[-1] and prev_hour and int(tok) >= 10
        time_digits = bool(out) and sep in (":", ".") and w.isdigit() and out[-1].isdigit() and len(w) == 2
        out.append(tok)
        spelled.append(is_spelled)
        joins.append(time_spelled or time_digits)
    merged: list[str] = []
    for w, join in zip(out, joins):
        if join and merged and merged[-1].isdigit():
            merged[-1] += w
        else:
            merged.append(w)
    return merged


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
    # How well the audio carries the reference's facts and its other words (``heard_facts``): the
    # recogniser's probability of each fact, and the median over the other words; empty when not measured.
    facts_heard: tuple[float, ...] = ()
    words_heard: float = math.nan
    # Mean log-probability per word token of the reference's own words given the clip (teacher-forced,
    # ``reference_fit``): how well the answer's words explain the audio, whatever free decoding heard.
    reference_fit: float = math.nan

    def text(self) -> str:
        nums = ", ".join(f"{k} {v:.2f}" for k, v in self.numbers.items() if isinstance(v, float) and math.isfinite(v))
        return f"{self.failure or 'ok'} (score {self.score:.2f}; {nums})"


def required_language(sample: Sample) -> str:
    lang = (sample.requirements or {}).get("language", sample.language) or "en"
    if isinstance(lang, list):
        lang = lang[-1] if lang else "en"
    return str(lang).split("-")[0].lower()


def reference_text(sample: Sample) -> str:
    """The sample's reference answer as one text (a multi-part "fast | normal | slow" answer joined)."""
    return " ".join((sample.reference_response or "").replace(PART_SEPARATOR, " ").split())


def score_content(transcript: Any, sample: Sample, embedder: Any, rules: dict[str, Any],
                  speech_s: float = math.nan, asymmetry: Any = math.nan) -> ContentScore:
    """Score one response's transcript against its sample (see the module docstring). ``asymmetry``
    is the clip's ``prosody.onset_asymmetry`` (or a function giving it, called only when needed)."""
    c = rules["content"]
    text = (transcript.text or "").strip()
    ws = words(text)
    nums: dict[str, float] = {"avg_logprob": float(transcript.avg_logprob)}
    if not ws or (transcript.no_speech_prob > c["max_no_speech_prob"] and len(ws) <= 2):
        return ContentScore(0.0, "silent", nums)
    if getattr(transcript, "heard_in", None):
        nums["second_hearing"] = 1.0  # decoded again in the required language (s2s_arena.asr.hear_expected)
    # A decoder that loops repeats itself: gzip compresses its text unusually well. It may loop on
    # garbage, or run on after hearing the right words (a spelled word, "Vroom! Vroom!"): the loop is
    # cut to one pass and what remains is scored; a loop that is neither on a word of the answer or
    # the question nor leaves words close to the answer is unintelligible.
    garbage_loop = False
    if looping(transcript, c["max_compression_ratio"]):
        nums["looped"] = 1.0
        garbage_loop = not _loops_on_context(ws, sample)
        if garbage_loop:  # a loop on the answer's own words may be the speaker's repetition: kept whole
            ws = _deloop(ws)
            text = " ".join(ws)
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
    ref = reference_text(sample)
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
    if (unsure or garbage_loop) and closeness < c["off_topic_below"]:
        return ContentScore(0.0, "unintelligible", nums)
    # Backwards speech that the recogniser hears as loosely related words: less than sure of them, few
    # words in common with the answer or the question, and the sound itself runs backwards (syllables
    # that swell and stop abruptly instead of starting abruptly and fading).
    g = c.get("garbled") or {}
    if g and math.isfinite(transcript.avg_logprob) and transcript.avg_logprob < g["max_avg_logprob"] \
            and max(f1_ref, f1_instr) < g["max_word_f1"]:
        asym = asymmetry() if callable(asymmetry) else asymmetry
        nums["onset_asymmetry"] = float(asym)
        # Loosely related in meaning and sounding backwards, or clearly backwards whatever the words
        # seem to mean (a hallucinated sentence on the question's topic is still a hallucination).
        related = max(_finite(rel_ref), _finite(rel_instr))
        if math.isfinite(asym) and ((asym < g["max_onset_asymmetry"] and related < g["max_relatedness"])
                                    or asym < g["clearly_backwards"]):
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
    # Wrong facts: the reference's answer with a number, name or date changed. Meaning and word overlap
    # barely move, so the facts are compared slot by slot, and only on a response close enough to the
    # reference to be "the same answer" and heard confidently enough for its facts to be the speaker's.
    f = c.get("facts") or {}
    if ref and f and f1_ref >= f["min_f1_ref"] and not (
            math.isfinite(transcript.avg_logprob) and transcript.avg_logprob < f["min_avg_logprob"]):
        n_facts, wrong = fact_conflicts(ref, text, sample.language or lang, f["max_slot"], f["noise_ratio"])
        if n_facts:
            nums.update(facts=float(n_facts), facts_contradicted=float(wrong))
        if wrong:
            return ContentScore(0.0, "wrong_facts", nums)
    # Truncated: the reference's own answer, said in its order, that stops well before its end (an
    # answer cut off at a word boundary, which the acoustic mid-sound veto cannot hear). Only for a
    # response made of the reference's words; a reworded answer is never compared this way.
    t = c.get("truncation") or {}
    if ref and t and "looped" not in nums:  # a looping decoder's words say nothing of where speech stopped
        head, tail, precision, trailing = prefix_coverage(ref, text)
        if not math.isnan(head):
            nums.update(head_recall=head, tail_recall=tail)
            if head >= t["min_head_recall"] and tail <= t["max_tail_recall"] and precision >= t["min_precision"] \
                    and trailing <= t["max_trailing"]:
                return ContentScore(0.0, "truncated", nums)
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


_TENS_DIGITS_OF = {"sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90"}
_TENS_DIGITS = {str(v) for v in range(20, 100, 10)}


def _deloop(ws: list[str], max_n: int = 12) -> list[str]:
    """The words with every immediate repetition of a run of up to ``max_n`` words cut to one."""
    out = list(ws)
    changed = True
    while changed:
        changed = False
        for n in range(1, max_n + 1):
            i = 0
            while i + 2 * n <= len(out):
                if out[i:i + n] == out[i + n:i + 2 * n]:
                    del out[i + n:i + 2 * n]
                    changed = True
                else:
                    i += 1
    return out


def _loops_on_context(ws: list[str], sample: Sample) -> bool:
    """Whether a transcript's most repeated content word is a word of the sample's answer or question."""
    from collections import Counter

    counts = Counter(w for w in ws if w not in _STOP)
    if not counts:
        return False
    from difflib import get_close_matches

    top, _n = counts.most_common(1)[0]
    context = set(words(reference_text(sample) + " " + (sample.instruction_text or "")))
    # Onomatopoeia is misheard too ("Vroom!" as "ROOM"): a close spelling counts.
    return top in context or bool(get_close_matches(top, list(context), n=1, cutoff=0.75))


def prefix_coverage(reference: str, response: str, head: float = 0.5, tail: float = 0.3,
                    min_words: int = 6) -> tuple[float, float, float, float]:
    """(recall of the reference's first ``head`` share of words, recall of its last ``tail`` share,
    share of the response's words that follow the reference, the response's words after its last
    word that follows the reference), from one in-order alignment; NaNs for a reference shorter than
    ``min_words``."""
    from difflib import SequenceMatcher

    rw, hw = words(reference), words(response)
    if len(rw) < min_words or not hw:
        return math.nan, math.nan, math.nan, math.nan
    matched = [False] * len(rw)
    n_hw, last = 0, 0
    for a, b, size in SequenceMatcher(None, rw, hw, autojunk=False).get_matching_blocks():
        for i in range(a, a + size):
            matched[i] = True
        n_hw += size
        if size:
            last = b + size
    n_head, n_tail = max(1, round(len(rw) * head)), max(1, round(len(rw) * tail))
    return (sum(matched[:n_head]) / n_head, sum(matched[-n_tail:]) / n_tail, n_hw / len(hw), float(len(hw) - last))


def _finite(v: float) -> float:
    return v if v is not None and math.isfinite(v) else 0.0


# --- facts: numbers, names, dates and times, and whether a response contradicts the reference's ------
_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# Capitalisation marks a name only where common nouns are lower case (German capitalises every noun).
_NAME_LANGUAGES = {"en", "es", "fr", "it", "pt", "nl"}
_CLOSED_NAMES = (set("monday tuesday wednesday thursday friday saturday sunday".split()),
                 set("january february march april may june july august september october november december".split()))


@dataclass(frozen=True)
class Fact:
    kind: str  # "number" or "name" (weekdays, months and places are names)
    value: str  # digits for numbers, lower case for names
    pos: int  # index in the token list it came from
    span: tuple[int, int] = field(default=(0, 0), compare=False)  # characters of the text it was read from


def fact_tokens(text: str, language: str = "en") -> tuple[list[str], list[Fact]]:
    """Tokens of ``text`` for alignment (lower case; numbers, digits or spelled out in English, as
    their value; CJK as single characters) and the facts among them."""
    text = unicodedata.normalize("NFKC", text or "")
    toks: list[str] = []
    facts: list[Fact] = []
    names_ok = language.split("-")[0].lower() in _NAME_LANGUAGES
    pending: list[int] = []  # the value of a spelled-out number being read ("ninety five", "two hundred")
    pending_span = [0, 0]

    def flush() -> None:
        if pending:
            v = str(sum(pending))
            facts.append(Fact("number", v, len(toks), (pending_span[0], pending_span[1])))
            toks.append(v)
            pending.clear()

    for m in re.finditer(r"\w+", text):
        w, low = m.group(), m.group().lower()
        if any(_is_cjk(c) for c in w):
            flush()
            for part in re.finditer(r"\d+|\S", w):
                if part.group().isdigit():
                    facts.append(Fact("number", str(int(part.group())), len(toks),
                                      (m.start() + part.start(), m.start() + part.end())))
                toks.append(part.group())
            continue
        if low in _UNITS or low in _TENS or low in _SCALES:
            # Tens take a following unit ("ninety-five"); a scale multiplies what precedes it. Anything
            # else starts a new number: "ten fifteen" is two numbers (a time), not 25.
            if low in _SCALES and pending:
                pending[-1] *= _SCALES[low]
            elif low in _UNITS and pending and pending[-1] % 100 in _TENS.values() and _UNITS[low] < 10:
                pending[-1] += _UNITS[low]
            elif pending and pending[-1] >= 100 and pending[-1] % 100 == 0 and low not in _SCALES:
                pending[-1] += _UNITS.get(low, _TENS.get(low, 0))
            else:
                flush()
                pending_span[0] = m.start()
                pending.append(_UNITS.get(low, _TENS.get(low, _SCALES.get(low, 0))))
            pending_span[1] = m.end()
            continue
        if low == "and" and pending and pending[-1] >= 100:
            continue  # "two hundred and five"
        flush()
        if w.isdigit():
            v = str(int(w)) if len(w) < 19 else w
            facts.append(Fact("number", v, len(toks), m.span()))
            toks.append(v)
            continue
        before = text[:m.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?:;\"“«¿¡|"
        # A word in capitals of five letters or more is emphasis ("we DOUBLED it"), not an acronym.
        shouted = len(w) >= 5 and w.isupper()
        # A weekday or a month is a date wherever it stands ("Thursday morning." opens a sentence);
        # not "May" or "March", which open sentences as common words.
        dated = any(low in c for c in _CLOSED_NAMES) and low not in ("may", "march")
        if names_ok and w[0].isupper() and (not sentence_start or dated) and low != "i" and not shouted:
            facts.append(Fact("name", low, len(toks), m.span()))
        toks.append(low)
    flush()
    return toks, facts


def fact_conflicts(reference: str, response: str, language: str = "en", max_slot: int = 3,
                   noise_ratio: float = 0.75) -> tuple[int, int]:
    """(reference facts, contradicted ones): a reference fact is contradicted when the response says the
    same thing around it (aligned words before or after) but puts another fact of the same kind in its
    place, and neither says the other's value anywhere (a reordering or a repetition is no contradiction).
    The slot is at most ``max_slot`` tokens each side, so a freely reworded answer is never compared.
    A slot whose two sides sound alike (spelled out, letter similarity >= ``noise_ratio``) or hold the
    same digits is the recogniser's noise, not a contradiction."""
    from difflib import SequenceMatcher, get_close_matches

    rt, rf = fact_tokens(reference, language)
    ht, hf = fact_tokens(response, language)
    if not rf:
        return 0, 0
    r_at = {f.pos: f for f in rf}
    h_at = {f.pos: f for f in hf}
    r_vals, h_vals = set(rt), set(ht)
    r_groups, h_groups = _number_groups(rt, r_at), _number_groups(ht, h_at)
    ops = SequenceMatcher(None, rt, ht, autojunk=False).get_opcodes()
    homophones = _NUMBER_HOMOPHONES.get(language.split("-")[0].lower(), {})
    bad = 0
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag != "replace":
            continue
        # Where the answer says a number, a word that sounds like one is heard as that number ("four
        # nil" is heard as "for Nell", "two" as "to"): a recogniser writes the likelier word.
        if any(r_at[i].kind == "number" for i in range(i1, i2) if i in r_at):
            for j in range(j1, j2):
                if j not in h_at and ht[j] in homophones:
                    h_at[j] = Fact("number", homophones[ht[j]], j)
        # A slot holds facts and at most `max_slot` other words a side ("at ten fifteen" -> "at 4.40").
        if sum(i not in r_at for i in range(i1, i2)) > max_slot or sum(j not in h_at for j in range(j1, j2)) > max_slot:
            continue
        # Same slot: the words on at least one side of it agree.
        if not ((k > 0 and ops[k - 1][0] == "equal") or (k + 1 < len(ops) and ops[k + 1][0] == "equal")):
            continue
        # Within the recogniser's noise: the same digits split otherwise ("six ten" heard as "610"), or a
        # slot that sounds nearly the same spelled out ("ninety-five" heard as "9 to 5").
        if _sounds_alike(rt[i1:i2], ht[j1:j2], noise_ratio) or (
                {r_groups.get(i) for i in range(i1, i2)} - {None}) & ({h_groups.get(j) for j in range(j1, j2)} - {None}):
            continue
        for i in range(i1, i2):
            f = r_at.get(i)
            if f is None or f.value in h_vals:
                continue
            said = [h_at[j] for j in range(j1, j2) if j in h_at and h_at[j].kind == f.kind]
            for g in said:
                if g.value in r_vals:
                    continue
                # A name heard slightly differently ("Kiev"/"Kyiv") is the same name; two weekdays or
                # two months are two dates however alike they are spelled.
                closed = any(f.value in c and g.value in c for c in _CLOSED_NAMES)
                if f.kind == "name" and not closed and (f.value in g.value or g.value in f.value  # "EU" heard as "U"
                                                        or get_close_matches(f.value, [g.value], n=1, cutoff=0.75)):
                    continue
                bad += 1
                break
    return len(rf), bad


def heard_facts(reference: str, language: str, support: Any) -> tuple[tuple[float, ...], float]:
    """(probability that the audio says each of the reference's facts, median probability of its other
    words), from ``support(texts)``: the recogniser's teacher-forced token probabilities of each text
    given the audio (``FasterWhisperASR.token_support``). A recogniser that garbles a clip in free
    decoding ("Nine roads diverged" heard as "I enrolled diverged") still tells, word by word, whether
    the reference's words are what was said. Numbers are tried as written and in digits (the recogniser
    writes "2", and its vocabulary splits a spelled "two"), and the likelier is kept. Empty when the
    reference states no fact."""
    _, facts = fact_tokens(reference, language)
    if not facts:
        return (), math.nan
    # The same answer with its spelled-out numbers in digits, and where each fact stands in it.
    digits, spans, shift = reference, [], 0
    for f in facts:
        s, e = f.span
        if f.kind == "number" and not reference[s:e].isdigit():
            digits = digits[:s + shift] + f.value + digits[e + shift:]
            spans.append((s + shift, s + shift + len(f.value)))
            shift += len(f.value) - (e - s)
        else:
            spans.append((s + shift, e + shift))
    variants = [(reference, [f.span for f in facts])] + ([(digits, spans)] if digits != reference else [])
    results = support([t for t, _ in variants])

    def prob(toks: list[tuple[int, int, float]], span: tuple[int, int]) -> float:
        ps = [p for s, e, p in toks if s < span[1] and e > span[0]]
        return float(np.prod(ps)) if ps else math.nan

    heard = []
    for i in range(len(facts)):
        ps = [prob(toks, sp[i]) for (_, sp), toks in zip(variants, results)]
        heard.append(max((p for p in ps if math.isfinite(p)), default=math.nan))
    others = [p for s, e, p in results[0]
              if not any(s < fs[1] and e > fs[0] for fs in variants[0][1]) and re.search(r"\w", reference[s:e])]
    return tuple(heard), float(np.median(others)) if others else math.nan


def reference_fit(reference: str, tokens: list[tuple[int, int, float]], floor: float = 1e-4,
                  min_tokens: int = 1) -> float:
    """Mean natural-log probability of the reference's word tokens (``token_support`` of the reference on
    one clip; punctuation left out, probabilities floored at ``floor``); NaN for fewer than
    ``min_tokens`` of them, whose mean is too noisy to compare. Comparable between two clips scored with
    the same text, not across texts."""
    lp = [math.log(max(p, floor)) for s, e, p in tokens if re.search(r"\w", reference[s:e])]
    return float(np.mean(lp)) if lp and len(lp) >= min_tokens else math.nan


def instruction_fit(instruction: str, reference: str, tokens: list[tuple[int, int, float]],
                    floor: float = 1e-4, min_tokens: int = 4) -> float:
    """Mean natural-log probability of the instruction's own word tokens, those of words its reference
    answer does not use ("Say ... three times: first happy, then angry, then sad" for the answer "I can't
    believe it!"), from ``token_support`` of the whole instruction on one clip; NaN for fewer than
    ``min_tokens`` of them. Teacher-forced from the clip's start, so it is high only for a clip that reads
    the instruction out in its order (an echo, whatever answer the instruction quotes), not for an answer
    that starts its own way and repeats a few of its words ("Sure, in a soft and sleepy voice: ...")."""
    answer_words = set(words(reference))
    lp = []
    for s, e, p in tokens:
        if not re.search(r"\w", instruction[s:e]):
            continue
        # The whole word this token is part of: a token is often a piece of one ("dis" of "dispatched").
        while s > 0 and re.match(r"\w", instruction[s - 1]):
            s -= 1
        while e < len(instruction) and re.match(r"\w", instruction[e]):
            e += 1
        ws = words(instruction[s:e])
        if ws and not any(w in answer_words for w in ws):
            lp.append(math.log(max(p, floor)))
    return float(np.mean(lp)) if len(lp) >= min_tokens else math.nan


def missing_facts(a: ContentScore, b: ContentScore, rules: dict[str, Any]) -> tuple[int, int]:
    """(facts of the reference that A says and B does not, and the other way round), for two responses
    that say the reference's other words about equally well. A fact is said by one and not the other
    when the recogniser gives it at least ``said_at`` in one, and in the other it falls at least
    ``drop_decades`` further below that response's own other words: a wrong number or name in the
    same sentence (its other words heard as well as ever), not a clip heard worse overall (whispered,
    fast, another voice), which lowers every word alike. A reworded answer (its other words below
    ``min_words``) is not compared this way."""
    r = rules.get("facts_heard") or {}
    if not r or not a.facts_heard or len(a.facts_heard) != len(b.facts_heard):
        return 0, 0
    # A reference made of facts only ("1, 2, 3, 4, 5") has no other words to stand against: its facts
    # are compared as they are.
    facts_only = math.isnan(a.words_heard) and math.isnan(b.words_heard)
    if not facts_only and not (a.words_heard >= r["min_words"] and b.words_heard >= r["min_words"]):
        return 0, 0
    wa, wb = (1.0, 1.0) if facts_only else (a.words_heard, b.words_heard)
    floor = r["floor"]

    def rel(p: float, words: float) -> float:
        return math.log10(max(p, floor)) - math.log10(max(words, floor))

    a_only = b_only = 0
    for pa, pb in zip(a.facts_heard, b.facts_heard):
        if not (math.isfinite(pa) and math.isfinite(pb)):
            continue
        drop = rel(pa, wa) - rel(pb, wb)
        a_only += pa >= r["said_at"] and drop >= r["drop_decades"]
        b_only += pb >= r["said_at"] and -drop >= r["drop_decades"]
    return a_only, b_only


# Words a recogniser writes for a spoken number (English): only read as numbers in a number's slot.
_NUMBER_HOMOPHONES = {"en": {"won": "1", "to": "2", "too": "2", "for": "4", "fore": "4", "ate": "8"}}
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS_WORDS = {v: k for k, v in _TENS.items()}


def spell_number(n: int) -> str:
    """An integer below a million in English words, without spaces ("ninetyfive"); others as digits."""
    if n < 0 or n >= 1_000_000:
        return str(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS_WORDS[n - n % 10] + (_ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + "hundred" + (spell_number(n % 100) if n % 100 else "")
    return spell_number(n // 1000) + "thousand" + (spell_number(n % 1000) if n % 1000 else "")


def _sounds_alike(a: list[str], b: list[str], ratio: float) -> bool:
    from difflib import SequenceMatcher

    def spoken(toks: list[str]) -> str:
        return "".join(spell_number(int(t)) if t.isdigit() and len(t) < 7 else t for t in toks)

    return SequenceMatcher(None, spoken(a), spoken(b), autojunk=False).ratio() >= ratio


def _number_groups(toks: list[str], at: dict[int, Fact]) -> dict[int, str]:
    """Token index -> the digits of the run of adjacent numbers it belongs to ("10 15" -> "1015")."""
    out: dict[int, str] = {}
    i = 0
    while i < len(toks):
        if i in at and at[i].kind == "number":
            j = i
            while j in at and at[j].kind == "number":
                j += 1
            digits = "".join(toks[i:j])
            out.update({k: digits for k in range(i, j)})
            i = j
        else:
            i += 1
    return out
