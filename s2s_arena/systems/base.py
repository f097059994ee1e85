"""The contract every S2S system adapter follows: a batch of benchmark samples in, spoken responses out.

A failure on one sample (a timeout, a malformed API reply, a model that produced no audio) is
returned as that sample's ``SystemOutput.error`` rather than raised, so one bad sample never aborts
a run of thousands; ``s2s-arena generate`` records it and retries it on the next run.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import SAMPLE_RATE, resample
from ..benchmark import instruction_audio
from ..schema import Sample, SystemInfo


@dataclass
class SystemOutput:
    """One spoken response. ``audio`` is float32 mono at ``sr`` (24 kHz once normalised), or None."""

    audio: np.ndarray | None
    sr: int = SAMPLE_RATE
    text: str = ""
    latency_first_audio_s: float | None = None
    latency_total_s: float | None = None
    error: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, error: str, latency_total_s: float | None = None, **meta: Any) -> "SystemOutput":
        return cls(audio=None, error=error, latency_total_s=latency_total_s, meta=dict(meta))

    def normalised(self) -> "SystemOutput":
        """The same output at 24 kHz float32 mono; an empty or non-finite waveform becomes an error."""
        if self.error or self.audio is None:
            if not self.error:
                self.error = "the system returned no audio"
            self.audio = None
            return self
        x = np.asarray(self.audio, dtype=np.float32)
        if x.ndim > 1:
            # (channels, samples) or (samples, channels): average the shorter axis away.
            x = x.mean(axis=int(np.argmin(x.shape)))
        x = x.reshape(-1)
        if x.size == 0:
            return SystemOutput.failed("the system returned empty audio", self.latency_total_s, **self.meta)
        if not np.all(np.isfinite(x)):
            return SystemOutput.failed("the system returned audio with NaN/inf samples", self.latency_total_s, **self.meta)
        if self.sr != SAMPLE_RATE:
            x = resample(x, int(self.sr), SAMPLE_RATE).astype(np.float32)
            self.meta.setdefault("native_sr", int(self.sr))
            self.sr = SAMPLE_RATE
        self.audio = x
        return self


@lru_cache(maxsize=1)
def prompts() -> dict[str, str]:
    """System prompts shared by the adapters (data, in ``prompts.yaml``)."""
    import yaml

    return yaml.safe_load((Path(__file__).with_name("prompts.yaml")).read_text(encoding="utf-8"))


def requirements_style_prompt(sample: Sample) -> str:
    """The paralinguistic requirements as a short natural-language style description for a TTS."""
    parts = []
    for attr, value in sample.requirements.items():
        if attr in ("language",):
            continue
        shown = ", then ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{attr.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


class System(ABC):
    """An S2S system. Subclasses set ``info`` and implement ``respond_one`` (or ``respond`` for batching)."""

    info: SystemInfo

    def respond(self, batch: list[Sample]) -> list[SystemOutput]:
        """One output per sample, in order; exceptions become per-sample errors."""
        self.load()  # outside the per-sample guard: a model that cannot load fails the run, not N samples
        outputs = []
        for sample in batch:
            start = time.perf_counter()
            try:
                out = self.respond_one(sample)
            except Exception as e:  # noqa: BLE001 - any failure of one sample is recorded, not raised
                out = SystemOutput.failed(f"{type(e).__name__}: {e}", time.perf_counter() - start)
            outputs.append(out.normalised())
        return outputs

    def load(self) -> None:
        """Load models / open clients; idempotent. Failing here is a setup error and is raised."""

    @abstractmethod
    def respond_one(self, sample: Sample) -> SystemOutput: ...

    def close(self) -> None:
        """Release models / connections (called once when a run ends)."""


def sample_audio(sample: Sample) -> np.ndarray:
    """The instruction waveform at 24 kHz; a sample without audio cannot be answered by a speech system."""
    x = instruction_audio(sample)
    if x is None:
        raise ValueError(f"sample {sample.id!r} has no instruction audio")
    return x
