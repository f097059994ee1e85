"""S2S-Arena: pairwise judging of spoken responses, reported as win rates (an `evaluate` module).

Load it from the repository folder or from a Hub copy of the folder:

    metric = evaluate.load("path/to/s2s_arena_metric", judge="feature")
    metric.compute(predictions=candidate_audio, references=baseline_audio, samples=benchmark_rows)

The judging machinery lives in the installed ``s2s_arena_metric`` package (``pip install s2s-arena``);
this file only adapts it to the evaluate API.
"""

from s2s_arena.errors import ConfigError
import base64
import json

import datasets
import evaluate
import numpy as np

from s2s_arena.audio import SAMPLE_RATE, AudioError, load_audio
from s2s_arena.schema import JSON_COLUMNS, Sample, SchemaError
from s2s_arena.judging.judges import get_judge
from s2s_arena.judging.protocol import Pair, as_cache, judge_pairs, resolve, summarize

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
_INSTRUCTION_KEY = "_instruction_audio_f32"
_SAMPLE_FIELDS = ("id", "level", "task", "instruction_text", "requirements")


def _encode_audio(item, where):
    """Audio item -> raw float32 24 kHz bytes, or (b"", error) when it cannot be used."""
    try:
        x = load_audio(item, sr=SAMPLE_RATE, where=where)
    except (AudioError, SchemaError, OSError, ValueError, TypeError) as e:
        return b"", str(e)
    return np.ascontiguousarray(x, dtype="<f4").tobytes(), ""


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
    for key in JSON_COLUMNS:
        value = row.get(key)
        if isinstance(value, str):
            try:
                row[key] = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as e:
                raise SchemaError(where, key, f"not valid JSON text ({e})") from None
    known = set(Sample.field_names())
    row = {k: v for k, v in row.items() if k in known}  # extra dataset columns are fine
    audio = row.pop("audio", None)
    try:
        Sample.from_dict(row, where=where)  # validate vocabulary now, with the index in the message
    except SchemaError as e:
        raise SchemaError(where, e.field, e.detail) from None
    return row, audio


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class S2SArenaMetric(evaluate.Metric):
    """Win rate of a candidate S2S system against a baseline, judged pairwise in both orders."""

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

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # Audio is stored decoded (float32, 24 kHz) and samples as JSON text: the Arrow buffer then
            # holds exactly what the judge sees, whatever form (path, dict, Audio value) the caller used.
            features=datasets.Features({
                "predictions": datasets.Value("binary"),
                "references": datasets.Value("binary"),
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
            p, err = _encode_audio(pred, f"predictions[{index}]")
            errors += [err] if err else []
            r, err = _encode_audio(ref, f"references[{index}]")
            errors += [err] if err else []
            if listens and instruction is not None:
                x, err = _encode_audio(instruction, f"samples[{index}].audio")
                if err:
                    errors.append(err)
                else:
                    row[_INSTRUCTION_KEY] = base64.b64encode(x).decode("ascii")
            row[_ERRORS_KEY] = errors
            enc_p.append(p)
            enc_r.append(r)
            enc_s.append(json.dumps(row, ensure_ascii=False, default=str))
        return enc_p, enc_r, enc_s

    def add_batch(self, *, predictions=None, references=None, samples=None, **kwargs):
        """Add a batch of candidate responses, baseline responses and the samples they answer."""
        offset = getattr(self, "_n_added", 0)
        p, r, s = self._encode_rows(predictions, references, samples, offset)
        self._n_added = offset + len(p)
        return super().add_batch(predictions=p, references=r, samples=s, **kwargs)

    def add(self, *, prediction=None, reference=None, samples=None, **kwargs):
        """Add one candidate response, one baseline response and the sample (``samples=``) they answer."""
        offset = getattr(self, "_n_added", 0)
        p, r, s = self._encode_rows([prediction], [reference], [samples], offset)
        self._n_added = offset + 1
        return super().add(prediction=p[0], reference=r[0], samples=s[0], **kwargs)

    # -- judging --------------------------------------------------------------------------------------
    def _compute(self, predictions, references, samples):
        self._n_added = 0
        pairs, groups = [], {}
        for p, r, s in zip(predictions, references, samples):
            row = json.loads(s)
            errors = row.pop(_ERRORS_KEY, [])
            instr = row.pop(_INSTRUCTION_KEY, None)
            sample = Sample.from_dict(row)
            groups[sample.id] = {"level": sample.level, "task": sample.task}
            pairs.append(Pair(
                sample=sample, system_a="candidate", system_b="baseline",
                audio_a=np.frombuffer(p, dtype="<f4") if p else None,
                audio_b=np.frombuffer(r, dtype="<f4") if r else None,
                instruction_audio=np.frombuffer(base64.b64decode(instr), dtype="<f4") if instr else None,
                error="; ".join(errors),
            ))
        judge = self.judge
        stats = {}
        cache = as_cache(self.verdict_cache)
        try:
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
        return result
