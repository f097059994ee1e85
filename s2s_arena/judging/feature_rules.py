"""The `feature` judge's thresholds: loaded from ``feature_rules.yaml`` (data, with the reasons beside them).

A caller may override single values (``load_rules(overrides={"decision": {"tie_below": 0.5}})``);
the merged dict is what the judge hashes into its cache key, so changed thresholds never reuse old
verdicts.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from s2s_arena.schema import SchemaError

RULES_PATH = Path(__file__).with_name("feature_rules.yaml")
_REQUIRED = {
    "decision": ("tie_below", "strong_at", "max_evidence"),
    "veto": ("min_speech_s", "max_clipping_fraction", "truncation_tail_s", "truncation_tail_db"),
    "norms": ("speaking_rate_sps", "gender_boundary_st", "text_rate_below_nuclei", "same_words_f1",
              "same_words_max_nuclei_ratio"),
    "content": ("jnd", "score_full_at", "asr_noise", "asr_noise_from", "key_weight", "min_avg_logprob", "max_compression_ratio", "max_no_speech_prob",
                "min_language_prob", "min_detected_prob", "echo_min_f1", "echo_margin", "off_topic_below", "non_answer_min",
                "non_answer_margin", "non_answer_max_words"),
}
# Attributes the judge can measure from audio alone (repetitions needs a transcript).
MEASURED_ATTRIBUTES: tuple[str, ...] = (
    "speaking_rate", "pitch", "volume", "voice_quality", "pauses", "repetitions", "speaker_gender", "style",
    "emotion", "speaker_age", "emphasis", "language",
)


@lru_cache(maxsize=4)
def _read(path: str) -> dict[str, Any]:
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise SchemaError(str(p), None, f"cannot read the feature-judge rules ({e})") from None
    except yaml.YAMLError as e:
        raise SchemaError(str(p), None, f"not valid YAML ({e})") from None
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str, prefix: str = "") -> None:
    for key, value in over.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise SchemaError(where, name, f"unknown rule; known: {', '.join(sorted(base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise SchemaError(where, name, "expected a mapping of rule -> number")
            _merge(base[key], value, where, f"{name}.")
        else:
            base[key] = value


def _check(rules: dict[str, Any], where: str) -> None:
    if not isinstance(rules, dict):
        raise SchemaError(where, None, "expected a mapping at the top level")
    for section, keys in _REQUIRED.items():
        block = rules.get(section)
        if not isinstance(block, dict):
            raise SchemaError(where, section, "missing (a mapping of rule -> number is required)")
        for k in keys:
            v = block.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SchemaError(where, f"{section}.{k}", f"expected a number, got {v!r}")
    attrs = rules.get("attributes")
    if not isinstance(attrs, dict):
        raise SchemaError(where, "attributes", "missing (a mapping of attribute -> thresholds is required)")
    for name, block in attrs.items():
        if not isinstance(block, dict):
            raise SchemaError(where, f"attributes.{name}", "expected a mapping of threshold -> number")
        for k, v in block.items():
            if isinstance(v, dict):  # a table of values (emotion profiles, per-cue jnds)
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise SchemaError(where, f"attributes.{name}.{k}", f"expected a number >= 0, got {v!r}")
        for k in ("jnd", "jnd_lufs", "jnd_tilt", "jnd_f0", "jnd_voicing"):
            if k in block and block[k] <= 0:
                raise SchemaError(where, f"attributes.{name}.{k}", "must be > 0 (it divides differences)")
    if rules["decision"]["strong_at"] < rules["decision"]["tie_below"]:
        raise SchemaError(where, "decision.strong_at", "must be >= decision.tie_below")


def load_rules(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The rules as a plain dict (a fresh copy), validated; ``overrides`` are merged key by key."""
    where = str(path or RULES_PATH)
    rules = copy.deepcopy(_read(where))
    if overrides:
        _merge(rules, overrides, "feature judge rules override")
    _check(rules, where)
    return rules
