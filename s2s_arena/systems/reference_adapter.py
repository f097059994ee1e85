"""``reference`` | ``flat`` | ``off_topic`` | ``echo`` as Systems, so ``generate`` runs them like any other.

The reference systems themselves live in ``s2s_arena.systems.reference`` (rendered responses of
known quality for calibration and demos); this adapter renders a batch into a scratch folder with
``render_reference_systems`` and hands the waveforms back, so they go through the same writer,
manifest, resuming and Ray engine as a real model.
"""

from __future__ import annotations

import tempfile
from typing import Any

from ..audio import SAMPLE_RATE
from ..responses import load_system
from ..schema import Sample, SystemInfo
from .base import System, SystemOutput


class ReferenceAdapter(System):
    def __init__(self, which: str, *, name: str, spec: str = "", seed: int = 0, **info: Any):
        self.which = which
        self.seed = int(seed)
        info.setdefault("architecture", "reference")
        info.setdefault("organisation", "S2S-Arena")
        self.info = SystemInfo(name=name, spec=spec or which, **info)

    def respond(self, batch: list[Sample]) -> list[SystemOutput]:
        from .reference import render_reference_systems

        with tempfile.TemporaryDirectory(prefix="s2s_arena_reference_") as tmp:
            render_reference_systems(batch, tmp, systems=(self.which,), seed=self.seed)
            rendered = load_system(f"{tmp}/{self.which}")
            outputs = []
            for sample in batch:
                resp = rendered.responses.get(sample.id)
                if resp is None:
                    outputs.append(SystemOutput.failed(rendered.errors.get(sample.id) or f"{self.which}: nothing rendered"))
                    continue
                outputs.append(SystemOutput(audio=rendered.audio(sample.id), sr=SAMPLE_RATE, text=resp.text,
                                            latency_first_audio_s=resp.latency_first_audio_s,
                                            latency_total_s=resp.latency_total_s, meta=dict(resp.meta)).normalised())
        return outputs

    def respond_one(self, sample: Sample) -> SystemOutput:
        return self.respond([sample])[0]
