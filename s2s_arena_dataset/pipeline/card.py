"""The dataset card (``README.md``): YAML header with ``configs`` + documentation of the build.

Configs: ``all`` (default, every task) and one per task; a config lists only the splits (levels) it
has rows for, because ``datasets`` fails on a split whose ``data_files`` pattern matches nothing.
"""

from __future__ import annotations

from typing import Any

from s2s_arena.schema import LEVEL_DESCRIPTIONS, LEVELS, VOCABULARY

from .conditions import CONDITIONS
from .writer import COLUMNS

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

FIELD_DOCS = {
    "id": "sample id: `<seed_id>-s` (stage 1), `<seed_id>-a<k>` (stage-2 variant k), or a human recording's id",
    "level": "L0-L3 (see Levels)",
    "domain": "the task's domain",
    "task": "task id (also the name of the task's config)",
    "language": "BCP-47 language of the spoken instruction",
    "instruction_text": "transcript of the spoken instruction (the paraphrase, when one was used)",
    "audio": "the spoken instruction, 24 kHz mono FLAC",
    "input_cues": "JSON: paralinguistic attributes present in the instruction audio",
    "requirements": "JSON: what the spoken response must do, in the requirement vocabulary",
    "evaluation_target": "one sentence a voter or judge answers",
    "reference_response": "text of a good answer (guidance only; evaluation is reference-free)",
    "seed_id": "the catalogue seed this sample renders",
    "stage": "`seed` (stage 1) or `augment` (stage 2)",
    "augmentation": "JSON: voice, rate, pitch (st), condition, noise, snr_db (target), snr_measured_db, rir, paraphrased",
    "source": "`tts:espeak-ng` or `human`",
    "qa": "JSON: measured prosody (and the neutral rendering's), every check with expected/measured/pass, ASR text and WER when configured",
}


def configs_yaml(counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    present = [lv for lv in LEVELS if any(lv in c for c in counts.values())]
    configs: list[dict[str, Any]] = [{
        "config_name": "all", "default": True,
        "data_files": [{"split": lv, "path": f"data/*/{lv}-*.parquet"} for lv in present],
    }]
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
        "configs": configs_yaml(counts),
    }
    by_level = report["counts"]["level"]
    task_rows = [[t["task"], t["name"], t["domain"], "yes" if t.get("v1") else "",
                  " ".join(f"{lv}:{counts.get(t['task'], {}).get(lv, 0)}" for lv in LEVELS if counts.get(t["task"], {}).get(lv)),
                  sum(counts.get(t["task"], {}).values())]
                 for t in tasks if t["task"] in counts]
    rej = report["rejections"]
    qa_rows = [[k, v["n"], v["median"], v["p10"], v["p90"]] for k, v in report["qa_distributions"].items()]
    cond_rows = [[c.name, c.description, "-" if c.name == "clean" else f"{c.snr_range_db[0]:g} to {c.snr_range_db[1]:g}"]
                 for c in CONDITIONS.values()]
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

`all` (default) holds every task; each task is also its own config (splits as listed).

{_table(["task", "name", "domain", "S2S-Arena v1", "samples per level", "total"], task_rows)}

## Fields

{_table(["field", "meaning"], [[f"`{c}`", FIELD_DOCS[c]] for c in COLUMNS])}

Requirement vocabulary (`requirements`, `input_cues`): {', '.join(f'`{v}`' for v in VOCABULARY)}.
A list value means a sequence, e.g. `speaking_rate: [fast, normal, slow]`.

## Construction

1. **Task catalogue** (YAML, one file per task): each seed is an instruction script with its
   `input_cues`, `requirements`, `reference_response` and language.
2. **Stage 1, seed**: every seed is rendered by eSpeak NG with SSML prosody (rate, pitch, volume,
   breaks, emphasis) and voice variants (whisper, female/male, child/elderly-like), so the input cues
   are really in the audio. Human recordings can replace or extend seeds (`source: human`).
3. **Stage 2, augment**: per seed, variants across voices (only voices consistent with the seed's
   speaker cues), rate and pitch inside the cue (a "slow" seed stays slow), and acoustic conditions
   at recorded SNRs:

{_table(["condition", "what", "SNR range (dB)"], cond_rows)}

4. **Quality checks** on every sample; failures are dropped. Relative cues are checked against the
   same voice's neutral rendering of the same text (e.g. "slow": articulation rate <= 0.92 x neutral;
   "high": median F0 >= +1 st; "loud": >= +2 LU), whisper has voiced fraction <= 0.15, requested pauses
   (>= 0.25 s) are present, the SNR of the stored audio is within 1 dB of its target, no clipping,
   a sane duration, and ASR round-trip WER when an ASR backend was configured.

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
