"""Judges: ``get_judge(spec)`` turns a spec string into a Judge.

Specs: ``feature`` (offline default), ``hf:<model id or path>`` (local audio-LM through transformers),
``openai:<model>`` (OpenAI-compatible endpoint), ``hybrid`` / ``hybrid:<lm spec>`` (feature for the
measurable aspects, an audio-LM for the rest). Heavy modules are imported only when asked for.
"""

from __future__ import annotations

from s2s_arena.errors import ConfigError
from typing import Any

from .base import Judge, Judgement, PairInput, stable_hash

__all__ = ["Judge", "Judgement", "PairInput", "get_judge", "stable_hash", "JUDGE_KINDS"]

JUDGE_KINDS = ("feature", "hf:<model>", "openai:<model>", "hybrid[:<lm spec>]")


def get_judge(spec: str | Judge, **options: Any) -> Judge:
    """Build a judge from a spec string (a Judge instance is returned unchanged)."""
    if isinstance(spec, Judge):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"judge spec: expected one of {', '.join(JUDGE_KINDS)}, got {spec!r}")
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind == "feature" and not arg:
        from .feature import FeatureJudge

        return FeatureJudge(**options)
    if kind == "hf" and arg:
        from .hf import HFAudioLMJudge

        return HFAudioLMJudge(arg, **options)
    if kind == "openai" and arg:
        from .openai_api import OpenAIJudge

        return OpenAIJudge(arg, **options)
    if kind == "hybrid":
        from .hybrid import HybridJudge

        return HybridJudge(lm=arg or None, **options)
    raise ConfigError(f"judge spec {spec!r}: expected one of {', '.join(JUDGE_KINDS)}")
