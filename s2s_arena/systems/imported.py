"""``folder:<path>`` and ``hub:<dataset id>``: responses produced elsewhere (a lab's own model).

The source is read through ``s2s_arena.responses`` (the one reader of responses folders and of
Hub datasets with ``sample_id``, ``system``, ``audio`` columns); ``generate`` then copies it into
RESP with the same checks, manifest and ``system.json`` as any generated system, so an imported
system is judged exactly like one run here. A sample the source lacks becomes a recorded error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..audio import SAMPLE_RATE, load_audio
from ..responses import MANIFEST, SYSTEM_JSON, SystemResponses, load_responses, load_system
from ..schema import Sample, SchemaError
from .base import System, SystemOutput


def _is_system_folder(path: Path) -> bool:
    if (path / MANIFEST).is_file() or (path / SYSTEM_JSON).is_file():
        return True
    return any(p.suffix.lower() in (".wav", ".flac", ".mp3", ".ogg") for p in path.iterdir())


def _pick(systems: dict[str, SystemResponses], wanted: str | None, where: str) -> SystemResponses:
    if wanted:
        if wanted not in systems:
            raise SchemaError(where, "system", f"no system {wanted!r}; found {', '.join(sorted(systems)) or 'none'}")
        return systems[wanted]
    if len(systems) != 1:
        raise SchemaError(where, "system", f"holds {len(systems)} systems ({', '.join(sorted(systems)) or 'none'}); "
                                           "name one with --option system=NAME")
    return next(iter(systems.values()))


class ImportedSystem(System):
    def __init__(self, source: str, *, source_kind: str, name: str | None = None, spec: str = "",
                 system: str | None = None, seed: int | None = None, **info: Any):
        where = f"{source_kind}:{source}"
        if source_kind == "folder":
            path = Path(source).expanduser()
            if not path.is_dir():
                raise SchemaError(where, "path", "not a folder; expected RESP/<system>/ or a responses root")
            self.source = load_system(path) if _is_system_folder(path) else _pick(load_responses(path), system, where)
        else:
            dataset: Any = source
            if Path(source).is_dir():
                # A local copy of a Hub dataset (e.g. `huggingface-cli download`): read it as a dataset,
                # not as a responses folder.
                from datasets import load_dataset

                dataset = load_dataset(source, split="train")
            self.source = _pick(load_responses(dataset, [system] if system else None), system, where)
        base = self.source.info
        fields = {k: v for k, v in info.items() if v not in (None, "")}
        fields.setdefault("description", base.description or f"imported from {where}")
        self.info = dataclasses.replace(base, name=name or base.name, spec=spec, **fields)
        self.where = where

    def respond_one(self, sample: Sample) -> SystemOutput:
        resp = self.source.responses.get(sample.id)
        if resp is None:
            error = self.source.errors.get(sample.id) or f"no response for sample {sample.id!r} in {self.where}"
            return SystemOutput.failed(error)
        x = load_audio(resp.audio_path, sr=SAMPLE_RATE, where=f"{self.where}: {sample.id}")
        return SystemOutput(audio=x, sr=SAMPLE_RATE, text=resp.text, latency_first_audio_s=resp.latency_first_audio_s,
                            latency_total_s=resp.latency_total_s, meta={"imported_from": self.where, **resp.meta})
