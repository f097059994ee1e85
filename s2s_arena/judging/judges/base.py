"""The judge contract shared by every judge (feature, hf, openai, hybrid).

A judge sees ONE ordered pair at a time (A is shown first) and decides it; the orchestration in
``s2s_arena.judging.protocol`` runs both orders, caches, and resolves disagreements. Keeping the
judge this small is what lets a feature judge, a local audio-LM and an API model be swapped freely.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from s2s_arena.audio import SAMPLE_RATE as JUDGE_SAMPLE_RATE
from s2s_arena.schema import ASPECTS, VERDICTS, Sample


@dataclass
class PairInput:
    """One ordered pair: A is shown first. Audio is float32 mono at ``sr`` (24 kHz)."""

    sample: Sample
    audio_a: np.ndarray
    audio_b: np.ndarray
    instruction_audio: np.ndarray | None = None
    sr: int = JUDGE_SAMPLE_RATE


@dataclass
class Judgement:
    """A judge's decision on ONE ordered pair; every field uses the verdict alphabet of the schema."""

    verdict: str
    content: str = "A=B"
    paralinguistics: str = "A=B"
    quality: str = "A=B"
    reason: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A judge that invents a verdict outside the alphabet is a bug in the judge, not bad input.
        for name in ("verdict",) + ASPECTS:
            value = getattr(self, name)
            if value not in VERDICTS:
                raise ValueError(f"Judgement.{name}: unknown verdict {value!r}; expected one of {VERDICTS}")

    @classmethod
    def invalid(cls, reason: str, **meta: Any) -> "Judgement":
        """The only way a judge says 'I could not decide' (counted, never dropped)."""
        return cls("invalid", reason=reason, meta=dict(meta))


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short hash of a JSON-able object (prompt text, thresholds) that is stable across runs."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


class Judge(ABC):
    """Decides ordered pairs in batches. Subclasses set ``name`` and ``version``."""

    name: str = "judge"
    version: str = "0"

    def config(self) -> Any:
        """What changes the judge's decisions (prompt text, thresholds); hashed into the cache key."""
        return {}

    def config_hash(self) -> str:
        return stable_hash({"name": self.name, "version": self.version, "config": self.config()})

    @property
    def listens_to_instruction(self) -> bool:
        """True when the judge wants ``PairInput.instruction_audio`` (saves decoding it otherwise)."""
        return False

    @abstractmethod
    def judge(self, items: list[PairInput]) -> list[Judgement]:
        """One Judgement per item, same order. A failure on one item gives ``Judgement.invalid`` for
        that item; the batch as a whole never raises."""

    def close(self) -> None:
        """Release models / connections. Safe to call twice."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"
