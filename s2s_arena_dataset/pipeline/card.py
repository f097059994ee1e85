"""The dataset card (``README.md``): YAML header with ``configs`` + documentation of the build.

Configs: ``all`` (default, every task) and one per task; a config lists only the splits (levels) it
has rows for, because ``datasets`` fails on a split whose ``data_files`` pattern matches nothing.
"""

from __future__ import annotations

from typing import Any

from s2s_arena.schema import LEVEL_DESCRIPTIONS, LEVELS, SAMPLE_FIELD_DOCS, VOCABULARY

from .conditions import CONDITIONS
from .writer import COLUMNS, SUBSETS

CITATION = """@article{jiang2025s2sarena,
  title   = {S2S-Arena, Evaluating Speech2Speech Protocols on Instruction Following with Paralinguistic Information},
  author  = {Jiang, Feng and Lin, Zhiyu and Bu, Fan and Du, Yuhao and Wang, Benyou and Li, Haizhou},
  journal = {arXiv preprint arXiv:2503.05085},
  year    = {2025}
}

@software{s2s_arena_benchmark,
  title  = {S2S-Arena benchmark, metric and voting arena (this project)},
  author = {S2S-Arena contributors},
  year   = {2026},
  note   = {Dataset built with `s2s-arena build`}
}"""

FIELD_DOCS = SAMPLE_FIELD_DOCS  # the field docs live with the contract (s2s_arena.schema)


def configs_yaml(counts: dict[str, dict[str, int]], subset_level: dict[str, dict[str, int]] | None = None) -> list[dict[str, Any]]:
    """``main`` (default: everyday conditions, what leaderboards use), ``robustness`` (noisy and
    reverberant variants), ``all`` (both) and one config per task (both subsets)."""
    present = [lv for lv in LEVELS if any(lv in c for c in counts.values())]
    subset_level = subset_level if subset_level is not None else {"main": {lv: 1 for lv in present}}
    configs: list[dict[str, Any]] = []
    for sub in SUBSETS:
        levels = [lv for lv in LEVELS if subset_level.get(sub, {}).get(lv)]
        if levels:
            configs.append({"config_name": sub, **({"default": True} if sub == "main" else {}),
                            "data_files": [{"split": lv, "path": f"data/*/{lv}-{sub}-*.parquet"} for lv in levels]})
    configs.append({"config_name": "all", "data_files": [{"split": lv, "path": f"data/*/{lv}-*.parquet"} for lv in present]})
    if not any(c.get("default") for c in configs):
        configs[-1]["default"] = True
    for task, by_level in sorted(counts.items()):
        configs.append({
            "config_name": task,
            "data_files": [{"split": lv, "path": f"data/{task}/{lv}-*.parquet"} for lv in LEVELS if lv in by_level],
        })
    return configs


def _size_category(n: int) -> str:
    for hi, name in ((1000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < hi:
            return name
    return "100K<n<1M"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def dataset_card(counts: dict[str, dict[str, int]], report: dict[str, Any], tasks: list[dict[str, Any]],
                 manifest: dict[str, Any]) -> str:
    import yaml

    total = sum(sum(c.values()) for c in counts.values())
    langs = sorted(report["counts"]["language"])
    header = {
        "license": "cc-by-4.0",
        "pretty_name": "S2S-Arena: paralinguistic instruction following",
        "language": sorted({lang.split("-")[0] for lang in langs}),
        "task_categories": ["audio-to-audio", "automatic-speech-recognition"],
        "tags": ["speech", "speech-to-speech", "paralinguistics", "prosody", "benchmark", "arena"],
        "size_categories": [_size_category(total)],
        "configs": configs_yaml(counts, report["counts"].get("subset_level")),
    }
    by_level = report["counts"]["level"]
    task_rows = [[t["task"], t["name"], t["domain"], "yes" if t.get("v1") else "",
                  " ".join(f"{lv}:{counts.get(t['task'], {}).get(lv, 0)}" for lv in LEVELS if counts.get(t["task"], {}).get(lv)),
                  sum(counts.get(t["task"], {}).values())]
                 for t in tasks if t["task"] in counts]
    rej = report["rejections"]
    qa_rows = [[k, v["n"], v["median"], v["p10"], v["p90"]] for k, v in report["qa_distributions"].items()]
    cond_rows = [[c.name, c.subset, c.description, "-" if c.name == "clean" else f"{c.snr_range_db[0]:g} to {c.snr_range_db[1]:g}",
                  "-" if c.rt60_s is None else f"RT60 {c.rt60_s:g} s, DRR {c.drr_db:+g} dB"]
                 for c in CONDITIONS.values()]
    limitations = limitations_md(report)
    body = f"""
# S2S-Arena: paralinguistic instruction following, spoken

Spoken instructions that probe whether a speech-to-speech model understands and produces
**paralinguistics** (speaking rate, pitch, loudness, pauses, emphasis, whisper, emotion, speaker age
and gender, accent, singing, language), at four levels, over {len(counts)} tasks in
{len(report['counts']['domain'])} domains: **{total} samples**. Evaluation is reference-free and
pairwise (a judge or people compare two systems' spoken responses); see the S2S-Arena project.

```python
from datasets import load_dataset
ds = load_dataset("<this folder or repo id>", "all", split="L2")     # or a task id as the config
row = ds[0]; row["audio"]                                             # decoded 24 kHz audio
import json; json.loads(row["requirements"])                          # what the response must do
```

## Levels (splits)

{_table(["split", "instruction carries", "samples"], [[lv, LEVEL_DESCRIPTIONS[lv], by_level.get(lv, 0)] for lv in LEVELS])}

## Configs and tasks

`main` (default) holds the samples in everyday conditions (clean speech, moderate noise, ordinary
rooms): what a leaderboard uses. `robustness` holds the noisy and reverberant variants (babble, cafe,
airport, a large hall), `all` both, and each task is also its own config (both subsets; splits as
listed). Subset per sample: `augmentation.subset`.

{_table(["task", "name", "domain", "S2S-Arena v1", "samples per level", "total"], task_rows)}

## Fields

{_table(["field", "meaning"], [[f"`{c}`", FIELD_DOCS[c]] for c in COLUMNS])}

Requirement vocabulary (`requirements`, `input_cues`): {', '.join(f'`{v}`' for v in VOCABULARY)}.
A list value means a sequence, e.g. `speaking_rate: [fast, normal, slow]`.

## Construction

1. **Task catalogue** (YAML, one file per task): each seed is an instruction script with its
   `input_cues`, `requirements`, `reference_response` and language.
2. **Stage 1, seed**: every seed is rendered by one of two synthesisers, drawn per sample: the Piper
   neural voice (en_US-joe-medium, made into seven speakers by Praat formant and pitch changes: two
   men, two women, a child, an elderly man and woman) where it can render every cue, or eSpeak NG
   (SSML prosody, breaks, emphasis, whisper, voice variants, accents, other languages); Japanese is
   spoken by Kokoro-82M's Japanese voices (`tts:kokoro-ja`) where installed. Emotion is
   rendered as rate, pitch, pitch range, loudness, vocal effort (spectral tilt) and, for fear,
   tremor. `source` and `augmentation.voice` say which voice spoke. Human recordings can replace or
   extend seeds (`source: human`).
3. **Stage 2, augment**: per seed, variants across voices (only voices consistent with the seed's
   speaker cues), rate and pitch inside the cue (a "slow" seed stays slow), and acoustic conditions
   at recorded SNRs:

{_table(["condition", "subset", "what", "SNR range (dB)", "room"], cond_rows)}

4. **Quality checks** on every sample; failures are dropped. Relative cues are checked against the
   same voice's neutral rendering of the same text (e.g. "slow": articulation rate <= 0.92 x neutral;
   "high": median F0 >= +1 st; "loud": >= +2 LU), whisper has voiced fraction <= 0.15, requested pauses
   (>= 0.25 s) are present, the SNR of the stored audio is within 1 dB of its target, no clipping,
   a sane duration. **Intelligibility gate**: the bundled Whisper transcribes every synthetic
   sample; above the bar (WER 0.34 in the main set, 0.5 in robustness) it is rendered again by another
   voice, then in a milder condition, and dropped if it still fails (`qa.gate` keeps every try).

## Limitations (measured on this build)

{limitations}

## QA statistics

Rendered {report['rendered']} candidates, kept {report['kept']}, rejected {report['rejected']}
(reasons: {', '.join(f'{k} {v}' for k, v in sorted(rej.items())) or 'none'}).

{_table(["measure", "n", "median", "p10", "p90"], qa_rows)}

Build: seed {manifest['seed']}, synthesiser {manifest['versions'].get('synthesizer', '?')},
s2s-arena {manifest['versions'].get('s2s_arena', '?')}; `manifest.json` and `build_report.md` beside
this card hold the full arguments, versions and statistics.

## License and citation

CC-BY-4.0. Task design follows S2S-Arena (Jiang et al., 2025, arXiv:2503.05085); please cite it and
this project:

```bibtex
{CITATION}
```
"""
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n" + body


# Separability of the emotion cues from one clip (benchmarks/bench_emotion_classifier.py: an
# independent classifier on eGeMAPS features, folds disjoint in text). Updated when the benchmark is rerun.
EMOTION_SEPARABILITY = (
    "Emotion input cues are limited to the five labels an independent single-clip classifier separates "
    "(`benchmarks/bench_emotion_classifier.py`: eGeMAPS functionals and logistic regression, folds disjoint "
    "in text, no neutral twin): neutral, happy, sad, angry, fearful reach 0.90 balanced accuracy over 156 "
    "clips from 32 texts (Piper voices 0.91; eSpeak NG 0.78 on only 14 clips; neutral is the label most "
    "often missed, heard as fearful or sad). With surprised and "
    "sarcastic added, seven labels reached only 0.70 (surprised heard as happy, sarcastic as neutral), so "
    "they are response requirements only; a sarcastic instruction is voiced as annoyance (angry, slow) "
    "over positive words. Synthetic emotion is prosody and voice effort, not an actor's performance."
)


SECOND_OPINION = (
    "A second, smaller recogniser that did not choose the samples (Whisper tiny.en, English only; "
    "`benchmarks/bench_intelligibility.py --asr bundled:whisper-tiny.en` on a 14-task build with every "
    "variant) misheard more: main set corpus WER 0.108 with 5.0 % of clips above 0.5 (robustness 0.221), "
    "Piper voices 0.124, eSpeak NG voices 0.170 (12.8 % above 0.5). A model that fails an eSpeak NG "
    "sample may still have failed to hear it."
)


def _wer_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    return _table(["samples", "n", "corpus WER", "mean WER", "share WER > 0.5"],
                  [[k, v["n"], v["corpus_wer"], v["mean_wer"], v["share_over_0.5"]] for k, v in rows if v["n"]])


def limitations_md(report: dict[str, Any]) -> str:
    g = report.get("gate") or {}
    parts = []
    if g.get("asr"):
        rows = [(f"subset {k}", v) for k, v in g["kept_by_subset"].items()]
        rows += [(f"condition {k}", v) for k, v in g["kept_by_condition"].items()]
        rows += [(f"voice {k}", v) for k, v in g["kept_by_source"].items()]
        rows += [(f"language {k}", v) for k, v in g["kept_by_language"].items()]
        parts.append(f"Word error rate of the kept samples under {g['asr']} (the gate's recogniser; samples were kept "
                     "*because* it understood them, so these figures are a floor, not an estimate for other "
                     "listeners):\n\n" + _wer_table(rows))
        first = [(f"condition {k}", v) for k, v in g["first_try_by_condition"].items()]
        parts.append("Before the gate (first rendering of every sample, by planned condition):\n\n" + _wer_table(first))
        parts.append("Gate outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(g["outcomes"].items())) + ".")
    else:
        parts.append("No intelligibility gate ran (no bundled ASR installed): nothing here was checked for being "
                     "understandable.")
    dropped = sorted(set(report.get("languages_planned", [])) - set(report["counts"]["language"]))
    if dropped:
        parts.append(f"Languages planned but with no intelligible sample (every rendering failed the gate): "
                     f"{', '.join(dropped)}. The dataset does not claim them.")
    voices = report["counts"].get("voice", {})
    if voices:
        total = sum(voices.values())
        top = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in list(voices.items())[:6])
        parts.append(f"Voices (share of samples, top 6): {top}. The Piper speakers are one recorded voice changed "
                     "by Praat, the rest eSpeak NG (and Kokoro for Japanese); a model may still learn their sound.")
    unmeasured = {k: c.get("recorded", 0) for k, c in report.get("checks", {}).items() if c.get("recorded")}
    if unmeasured:
        parts.append("Cues recorded but not measured by QA (checks left to listeners and judges): "
                     + ", ".join(f"{k} {v}" for k, v in sorted(unmeasured.items())) + ".")
    parts.append(SECOND_OPINION)
    parts.append(EMOTION_SEPARABILITY)
    return "\n\n".join(parts)
