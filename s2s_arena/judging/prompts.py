"""Prompt text for audio-LM judges, loaded from ``prompts/*.yaml`` (one place for prompt wording).

A rendered prompt is a list of parts: ``("text", str)`` or ``("audio", "instruction"|"a"|"b")``,
so a transformers chat template and an OpenAI ``input_audio`` message are built from the same text.
"""

from __future__ import annotations

from s2s_arena.errors import ConfigError, MissingError
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from s2s_arena.schema import LEVEL_DESCRIPTIONS, Sample

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
DEFAULT_PROMPT = "pairwise_audio_judge"
PARALINGUISTIC_LEVELS = frozenset({"L2", "L3"})
_AUDIO_MARKER = re.compile(r"<<(instruction_audio|response_a|response_b)>>")
_MARKER_KEY = {"instruction_audio": "instruction", "response_a": "a", "response_b": "b"}
_REQUIRED_KEYS = ("version", "system", "user", "reask", "weighting_notes", "no_instruction_audio", "none")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    data: dict

    @property
    def system(self) -> str:
        return self.data["system"].strip()

    @property
    def reask(self) -> str:
        return self.data["reask"].strip()

    def text_for_hash(self) -> dict:
        return {"name": self.name, **self.data}


@lru_cache(maxsize=None)
def load_prompt(name: str = DEFAULT_PROMPT) -> PromptTemplate:
    """The prompt ``prompts/<name>.yaml`` (or a path to a YAML file of the same shape)."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PROMPT_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROMPT_DIR.glob("*.yaml"))
        raise MissingError(f"prompt {name!r}: no file {path}; known prompts: {', '.join(known)}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [k for k in _REQUIRED_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise ConfigError(f"{path}: field '{missing[0]}' missing; a judge prompt needs {', '.join(_REQUIRED_KEYS)}")
    return PromptTemplate(name=path.stem, data=data)


def _attrs_text(attrs: dict[str, Any], none: str) -> str:
    if not attrs:
        return none
    return "; ".join(f"{k}: {json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v}" for k, v in attrs.items())


def render_pairwise(sample: Sample, *, with_instruction_audio: bool, template: PromptTemplate | None = None) -> list[tuple[str, str]]:
    """The user turn for one ordered pair as text and audio parts (A is the first response)."""
    t = template or load_prompt()
    notes = t.data["weighting_notes"]
    fields = {
        "instruction_text": sample.instruction_text.replace('"', "'"),
        "level": sample.level,
        "level_description": LEVEL_DESCRIPTIONS.get(sample.level, ""),
        "task": sample.task,
        "evaluation_target": sample.evaluation_target,
        "requirements": _attrs_text(sample.requirements, t.data["none"]),
        "input_cues": _attrs_text(sample.input_cues, t.data["none"]),
        "weighting_note": notes["paralinguistic_levels"] if sample.level in PARALINGUISTIC_LEVELS else notes["default"],
    }
    text = t.data["user"].format(**fields).strip()
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in _AUDIO_MARKER.finditer(text):
        if m.start() > pos:
            parts.append(("text", text[pos : m.start()]))
        key = _MARKER_KEY[m.group(1)]
        if key == "instruction" and not with_instruction_audio:
            parts.append(("text", t.data["no_instruction_audio"]))
        else:
            parts.append(("audio", key))
        pos = m.end()
    if pos < len(text):
        parts.append(("text", text[pos:]))
    return _merge_text(parts)


def _merge_text(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for kind, value in parts:
        if kind == "text" and out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + value)
        else:
            out.append((kind, value))
    return out
