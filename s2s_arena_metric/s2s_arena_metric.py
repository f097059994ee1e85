"""S2S-Arena: pairwise judging of spoken responses, reported as win rates (an `evaluate` module).

Load it from the Hub or from a copy of this folder:

    metric = evaluate.load("<user>/s2s_arena", judge="feature")      # or a local folder / this .py file
    metric.compute(predictions=candidate_audio, references=baseline_audio, samples=benchmark_rows)

The judging machinery lives in the installed ``s2s_arena`` package (``pip install s2s-arena``; see
requirements.txt); this file only adapts it to the evaluate API. It imports nothing named like itself,
so a copy published under any repository name loads.
"""

import base64
import io
import json
import math
import os

import datasets
import evaluate
import numpy as np

from s2s_arena.audio import SAMPLE_RATE, AudioError, load_audio, read_raw
from s2s_arena.engine import progress
from s2s_arena.errors import ConfigError
from s2s_arena.judging.judges import get_judge
from s2s_arena.judging.protocol import Pair, as_cache, judge_pairs, resolve, summarize
from s2s_arena.schema import Sample, SchemaError, sample_from_row

_CITATION = """\
@misc{s2sarena2024,
  title  = {S2S-Arena, Evaluating Speech2Speech Protocols on Instruction Following with Paralinguistic Information},
  author = {Jiang, Feng and Lin, Zhiyu and Bu, Fan and Du, Yuhao and Wang, Benyou and Li, Haizhou},
  year   = {2025},
  eprint = {2503.05085},
  archivePrefix = {arXiv}
}
"""

_DESCRIPTION = """\
Reference-free pairwise evaluation of speech-to-speech models on paralinguistic instruction following.
Each candidate response is compared with a baseline response to the same spoken instruction by a judge
(`feature`: measured prosody against the sample's requirements; `hf:<model>`: a local audio-LM;
`openai:<model>`: an OpenAI-compatible audio endpoint; `hybrid`). Every pair is judged in both orders;
disagreement is a tie and counts against position consistency; identical audio always ties.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the candidate's spoken responses, one per sample: a file path, a
        {"array", "sampling_rate"} dict, or a `datasets` Audio value.
    references: the baseline's spoken responses to the same samples, in the same forms.
    samples: the benchmark rows the responses answer: dicts (or JSON text) with at least `id`, `level`,
        `task`, `instruction_text` and `requirements` (a dict or JSON text); `audio` when the judge
        listens to the instruction.
Returns:
    win_rate, tie_rate, loss_rate, both_bad_rate (over valid pairs), score (wins + half ties),
    win_rate_ci ([low, high], 95% bootstrap over samples), n, n_valid, n_invalid,
    position_consistency, by_level, by_task, judge, judge_version, prompt_hash, n_judge_calls,
    n_cache_hits, invalid_reasons.
Examples:
    >>> metric = evaluate.load("s2s_arena_metric", judge="feature")
    >>> metric.compute(predictions=["cand/s1.wav"], references=["base/s1.wav"],
    ...                samples=[{"id": "s1", "level": "L2", "task": "speaking_rate",
    ...                          "instruction_text": "Say it fast.", "requirements": {"speaking_rate": "fast"}}])
"""

_ERRORS_KEY = "_input_errors"
_INSTRUCTION_KEY = "_instruction_audio"
_SAMPLE_FIELDS = ("id", "level", "task", "instruction_text", "requirements")
# What evaluate's Arrow cache holds per response: the caller's file path, or encoded audio bytes. Never
# the decoded float32 waveform: that is 4 bytes x 24,000 per second of speech, copied into the cache.
_AUDIO_FEATURE = {"path": datasets.Value("string"), "bytes": datasets.Value("binary")}


def _encoded(x, sr):
    """A waveform as FLAC (24-bit: below any audible or measurable difference); WAV float beyond FLAC's
    limits (over 8 channels, over 655 kHz, samples beyond +-1 that FLAC would clip, non-finite values)."""
    import soundfile as sf

    buf = io.BytesIO()
    fits = x.shape[0] and x.shape[1] <= 8 and sr <= 655_350 and np.isfinite(x).all() and np.abs(x).max() <= 1.0
    if fits:
        sf.write(buf, x, sr, format="FLAC", subtype="PCM_24")
    else:
        sf.write(buf, x, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _audio_ref(item, where):
    """An audio item -> ({"path", "bytes"} to store, error). Paths and encoded bytes pass through untouched;
    waveforms (arrays, datasets' decoded values) are encoded; nothing is decoded here. An absent part is
    "" / b"" (evaluate rejects None in a string column)."""
    try:
        if isinstance(item, (str, os.PathLike)):
            return {"path": os.path.abspath(os.fspath(item)), "bytes": b""}, ""
        if isinstance(item, (bytes, bytearray, memoryview)):
            return {"path": "", "bytes": bytes(item)}, ""
        if isinstance(item, dict) and item.get("array") is None and (item.get("bytes") or item.get("path")):
            if item.get("bytes"):
                return {"path": str(item.get("path") or ""), "bytes": bytes(item["bytes"])}, ""
            return {"path": os.path.abspath(os.fspath(item["path"])), "bytes": b""}, ""
        x, sr = read_raw(item, where=where)  # arrays, (array, sr), torchcodec decoders: validated here
        return {"path": "", "bytes": _encoded(x, sr)}, ""
    except (AudioError, SchemaError, OSError, ValueError, TypeError, RuntimeError) as e:
        return {"path": "", "bytes": b""}, str(e)


def _decode(ref, where):
    """A stored {"path", "bytes"} -> (24 kHz mono float32 waveform, error)."""
    if not ref or not (ref.get("bytes") or ref.get("path")):
        return None, ""
    try:
        return load_audio(ref if ref.get("bytes") else ref["path"], sr=SAMPLE_RATE, where=where), ""
    except (AudioError, SchemaError, OSError, ValueError, TypeError) as e:
        return None, str(e)


def _no_nan(value):
    """Undefined figures (a rate over no pairs) as None: NaN is not valid JSON and compares unequal to itself."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _sample_dict(raw, index):
    """A benchmark row as a plain dict with mapping columns parsed; SchemaError names the index and field."""
    where = f"samples[{index}]"
    if isinstance(raw, Sample):
        raw = raw.to_dict()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise SchemaError(where, None, f"not a dict nor JSON text ({e})") from None
    if not isinstance(raw, dict):
        raise SchemaError(where, None, f"expected a dict with {', '.join(_SAMPLE_FIELDS)}, got {type(raw).__name__}")
    row = dict(raw)
    for key in _SAMPLE_FIELDS:
        if key not in row or row[key] is None or (isinstance(row[key], str) and not row[key].strip() and key != "requirements"):
            raise SchemaError(where, key, f"missing; each sample needs {', '.join(_SAMPLE_FIELDS)}")
    audio = row.pop("audio", None)
    try:  # the schema's one row reader: JSON columns decoded, extra dataset columns ignored, vocabulary checked
        sample = sample_from_row(row, where=where)
    except SchemaError as e:
        raise SchemaError(where, e.field, e.detail) from None
    row = sample.to_dict()
    row.pop("audio", None)
    return row, audio


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class S2sArenaMetric(evaluate.Metric):
    """Win rate of a candidate S2S system against a baseline, judged pairwise in both orders.

    (The class name is what evaluate turns into ``metric.name``: ``s2s_arena_metric``.)
    """

    def __init__(self, judge="feature", judge_options=None, verdict_cache=True, both_orders=True,
                 batch_size=8, engine="local", bootstrap=1000, bootstrap_seed=0, **kwargs):
        super().__init__(**kwargs)
        self.judge_spec = judge
        self.judge_options = dict(judge_options or {})
        self.verdict_cache = verdict_cache
        self.both_orders = both_orders
        self.batch_size = int(batch_size)
        self.engine = engine
        self.bootstrap = int(bootstrap)
        self.bootstrap_seed = int(bootstrap_seed)
        self._judge = None
        self._n_added = 0
        self.last_cache_dir = None

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # Responses are stored as the caller's path or as encoded bytes (see _AUDIO_FEATURE), samples
            # as JSON text (their mapping columns mix types no single Arrow type holds).
            features=datasets.Features({
                "predictions": dict(_AUDIO_FEATURE),
                "references": dict(_AUDIO_FEATURE),
                "samples": datasets.Value("string"),
            }),
            reference_urls=["https://arxiv.org/abs/2503.05085"],
        )

    @property
    def judge(self):
        if self._judge is None:
            self._judge = get_judge(self.judge_spec, **self.judge_options)
        return self._judge

    # -- input normalisation: runs in add / add_batch (compute calls add_batch) ---------------------
    def _encode_rows(self, predictions, references, samples, offset=0):
        if predictions is None or references is None or samples is None:
            missing = [n for n, v in (("predictions", predictions), ("references", references), ("samples", samples)) if v is None]
            raise ConfigError(f"s2s_arena_metric: {', '.join(missing)} missing; predictions, references and samples are all required")
        lengths = {"predictions": len(predictions), "references": len(references), "samples": len(samples)}
        if len(set(lengths.values())) != 1:
            raise ConfigError(f"s2s_arena_metric: unequal lengths {lengths}; give one reference and one sample per prediction")
        listens = self.judge.listens_to_instruction
        enc_p, enc_r, enc_s = [], [], []
        for i, (pred, ref, raw) in enumerate(zip(predictions, references, samples)):
            index = offset + i
            row, instruction = _sample_dict(raw, index)
            errors = []
            p, err = _audio_ref(pred, f"predictions[{index}]")
            errors += [err] if err else []
            r, err = _audio_ref(ref, f"references[{index}]")
            errors += [err] if err else []
            if listens and instruction is not None:
                x, err = _audio_ref(instruction, f"samples[{index}].audio")
                if err:
                    errors.append(err)
                else:
                    row[_INSTRUCTION_KEY] = {"path": x["path"],
                                             "bytes": base64.b64encode(x["bytes"]).decode("ascii") if x["bytes"] else None}
            row[_ERRORS_KEY] = errors
            enc_p.append(p)
            enc_r.append(r)
            enc_s.append(json.dumps(row, ensure_ascii=False, default=str))
        return enc_p, enc_r, enc_s

    def add_batch(self, *, predictions=None, references=None, samples=None, **kwargs):
        """Add a batch of candidate responses, baseline responses and the samples they answer."""
        offset = self._n_added
        p, r, s = self._encode_rows(predictions, references, samples, offset)
        self._n_added = offset + len(p)
        return super().add_batch(predictions=p, references=r, samples=s, **kwargs)

    def add(self, *, prediction=None, reference=None, samples=None, **kwargs):
        """Add one candidate response, one baseline response and the sample (``samples=``) they answer."""
        offset = self._n_added
        p, r, s = self._encode_rows([prediction], [reference], [samples], offset)
        self._n_added = offset + 1
        return super().add(prediction=p[0], reference=r[0], samples=s[0], **kwargs)

    # -- judging --------------------------------------------------------------------------------------
    def _compute(self, predictions, references, samples):
        self._n_added = 0
        pairs, groups = [], {}
        for i, (p, r, s) in enumerate(zip(predictions, references, samples)):
            row = json.loads(s)
            errors = list(row.pop(_ERRORS_KEY, []))
            instr = row.pop(_INSTRUCTION_KEY, None)
            sample = Sample.from_dict(row)
            if sample.id in groups:
                # Two rows for one sample would be silently merged into one outcome: refuse instead.
                from s2s_arena.schema import SchemaError

                raise SchemaError(f"samples[{i}]", "id", f"duplicate sample id {sample.id!r}: each sample may "
                                  "appear once per compute (pair one candidate with one baseline response)")
            groups[sample.id] = {"level": sample.level, "task": sample.task}
            audio_a = audio_b = instruction = None
            if not errors:
                audio_a, err = _decode(p, f"predictions[{i}]")
                errors += [err] if err else []
                audio_b, err = _decode(r, f"references[{i}]")
                errors += [err] if err else []
                if instr:
                    ref = {"path": instr.get("path"),
                           "bytes": base64.b64decode(instr["bytes"]) if instr.get("bytes") else None}
                    instruction, err = _decode(ref, f"samples[{i}].audio")
                    errors += [err] if err else []
            pairs.append(Pair(sample=sample, system_a="candidate", system_b="baseline", audio_a=audio_a,
                              audio_b=audio_b, instruction_audio=instruction, error="; ".join(errors)))
        judge = self.judge
        stats = {}
        cache = as_cache(self.verdict_cache)
        self.last_cache_dir = str(cache.path.parent) if cache is not None else None
        try:
            # evaluate.disable_progress_bar() silences the judging progress bar as it does evaluate's own.
            with progress(evaluate.utils.is_progress_bar_enabled()):
                verdicts = judge_pairs(judge, pairs, both_orders=self.both_orders, cache=cache, engine=self.engine,
                                       batch_size=self.batch_size, stats=stats)
        finally:
            if cache is not None:
                cache.close()
        outcomes = resolve(verdicts)
        result = summarize(outcomes, candidate="candidate", groups=groups, bootstrap=self.bootstrap,
                           seed=self.bootstrap_seed)
        result.update({
            "judge": judge.name,
            "judge_version": judge.version,
            "prompt_hash": judge.config_hash(),
            "n_judge_calls": stats.get("judge_calls", 0),
            "n_cache_hits": stats.get("cache_hits", 0),
            "invalid_reasons": {o.sample_id: " | ".join(o.reasons) for o in outcomes if o.outcome == "invalid"},
        })
        return _no_nan(result)
