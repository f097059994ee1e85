"""Human recordings of instructions: a folder of audio files plus ``manifest.csv``.

Each manifest line names an audio ``file`` (relative to the folder) and either

* a ``seed_id`` from the catalogue, with ``mode`` ``replace`` (default: the recording becomes the
  seed's stage-1 sample ``<seed_id>-s``; stage-2 variants are still synthesised) or ``extend`` (an extra
  sample ``<seed_id>-h<line>`` beside the synthetic one); or
* a full row: ``id``, ``level``, ``task``, ``language``, ``instruction_text`` and optionally ``domain``,
  ``input_cues`` / ``requirements`` (JSON text), ``evaluation_target``, ``reference_response``.

Everything is read and checked before any rendering starts, so a bad line fails the build at once
with the manifest line and field, and no earlier output is touched.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from s2s_arena.audio import AudioError, load_audio
from s2s_arena.schema import LEVELS, SchemaError, validate_attributes

MANIFEST = "manifest.csv"
MODES = ("replace", "extend")


def _json_field(row: dict[str, str], key: str, where: str) -> dict[str, Any]:
    raw = (row.get(key) or "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SchemaError(where, key, f"expected JSON text (e.g. {{\"speaking_rate\": \"slow\"}}), got {raw!r} ({e})") from None
    return validate_attributes(value, where=where, field_name=key, input_side=(key == "input_cues"))


def load_human(folder: str | Path, catalogue: Any) -> list[dict[str, Any]]:
    """Jobs for every manifest line (see the module docstring); raises naming line and field."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise SchemaError(str(folder), None, f"no {MANIFEST} in the human-recordings folder (columns: file, seed_id, mode)")
    seeds = {s.id: s for s in catalogue.seeds()}
    tasks = {t.id: t for t in catalogue.tasks}
    jobs: list[dict[str, Any]] = []
    seen: set[str] = set()
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise SchemaError(str(manifest), "file", f"missing column; the header must name 'file' (got {reader.fieldnames})")
        for line_no, row in enumerate(reader, start=2):
            where = f"{manifest}: line {line_no}"
            row = {k: (v or "").strip() for k, v in row.items() if k}
            if not row.get("file"):
                raise SchemaError(where, "file", "missing (required): the audio file's path inside the folder")
            path = (folder / row["file"]).resolve()
            if not path.is_file():
                raise AudioError(f"{where}: field 'file': no such file {row['file']!r} in {folder}")
            load_audio(path, where=f"{where}: field 'file' ({row['file']})")  # unreadable audio fails now
            mode = row.get("mode") or "replace"
            if mode not in MODES:
                raise SchemaError(where, "mode", f"unknown value {mode!r}; expected one of {', '.join(MODES)}")
            if row.get("seed_id"):
                seed = seeds.get(row["seed_id"])
                if seed is None:
                    raise SchemaError(where, "seed_id", f"unknown seed {row['seed_id']!r}; `s2s-arena tasks --format json` lists them")
                seed_d = seed.to_dict()
                sample_id = f"{seed.id}-s" if mode == "replace" else f"{seed.id}-h{line_no}"
                text = row.get("instruction_text") or seed.instruction
            else:
                for key in ("id", "level", "task", "language", "instruction_text"):
                    if not row.get(key):
                        raise SchemaError(where, key, "missing: give a seed_id or a full row (id, level, task, language, instruction_text)")
                if row["level"] not in LEVELS:
                    raise SchemaError(where, "level", f"unknown value {row['level']!r}; expected one of {', '.join(LEVELS)}")
                validate_attributes({"language": row["language"]}, where=where, field_name="row")
                task = tasks.get(row["task"])
                seed_d = {
                    "id": row["id"], "task": row["task"], "domain": row.get("domain") or (task.domain if task else "other"),
                    "level": row["level"], "language": row["language"], "instruction": row["instruction_text"],
                    "input_cues": _json_field(row, "input_cues", where),
                    "requirements": _json_field(row, "requirements", where),
                    "reference_response": row.get("reference_response", ""),
                    "evaluation_target": row.get("evaluation_target") or (task.evaluation_target if task else
                                                                         "Which response follows the spoken instruction better?"),
                }
                sample_id, text = row["id"], row["instruction_text"]
            if sample_id in seen:
                raise SchemaError(where, "seed_id" if row.get("seed_id") else "id", f"sample {sample_id!r} is given twice")
            seen.add(sample_id)
            jobs.append({
                "sample_id": sample_id, "seed": seed_d, "human_file": str(path), "human_where": where,
                "instruction_text": text, "replaces": sample_id if sample_id.endswith("-s") else None,
                "variant": {"stage": "seed", "index": 0, "voice": None, "rate": None, "pitch": None,
                            "condition": "clean", "snr_db": None, "paraphrase": False},
            })
    return jobs
