"""S2S systems under test: adapters that turn a spoken instruction into a spoken response.

``get_system(spec, **opts)`` builds one from a spec string:

- ``openai:<model>``                 OpenAI-compatible chat with audio in/out (gpt-audio, vLLM-Omni)
- ``hf:<model id or path>``          a local end-to-end model through transformers (Qwen2.5-Omni, Qwen3-Omni)
- ``cascade:<asr>+<llm>+<tts>``      ASR -> chat LLM -> TTS; each part a transformers model or ``openai:<model>``
- ``folder:<path>``                  responses produced elsewhere, as a system folder (or a responses root)
- ``hub:<dataset id>``               the same as a Hugging Face dataset with sample_id, system, audio
- ``reference`` | ``flat`` | ``off_topic`` | ``echo``   the built-in reference systems
"""

from __future__ import annotations

import re
from typing import Any

from ..schema import SchemaError
from .base import System, SystemOutput

REFERENCE_SYSTEMS: tuple[str, ...] = ("reference", "flat", "off_topic", "echo")
SPEC_KINDS: tuple[str, ...] = ("openai", "hf", "cascade", "folder", "hub")

__all__ = ["System", "SystemOutput", "get_system", "default_name", "REFERENCE_SYSTEMS", "SPEC_KINDS"]


def _split(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str) or not spec.strip():
        raise SchemaError("--system", "spec", "empty; expected e.g. openai:gpt-audio, hf:Qwen/Qwen2.5-Omni-3B, folder:PATH")
    spec = spec.strip()
    if spec in REFERENCE_SYSTEMS:
        return spec, ""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in SPEC_KINDS or not rest.strip():
        raise SchemaError(
            "--system", "spec",
            f"{spec!r} is not a system spec; expected one of "
            + ", ".join(f"{k}:<...>" for k in SPEC_KINDS) + " or " + ", ".join(REFERENCE_SYSTEMS),
        )
    return kind, rest.strip()


def safe_name(text: str) -> str:
    """A system name (letters, digits, '.', '_', '+', '-') derived from a model id or path."""
    name = re.sub(r"[^A-Za-z0-9._+\-]+", "-", text).strip("-._+")
    return name or "system"


def default_name(spec: str) -> str:
    """The folder name a spec's responses go to unless ``--name`` says otherwise."""
    kind, rest = _split(spec)
    if kind in REFERENCE_SYSTEMS:
        return kind
    if kind == "cascade":
        parts = [p.split(":", 1)[-1].rstrip("/").split("/")[-1] for p in rest.split("+")]
        return safe_name("cascade-" + "+".join(parts))
    return safe_name(rest.rstrip("/").split("/")[-1])


def get_system(spec: str, **opts: Any) -> System:
    """Build the system a spec names; ``opts`` are adapter options (``name``, ``voice``, ``device`` ...)."""
    kind, rest = _split(spec)
    if kind in ("folder", "hub"):
        from .imported import ImportedSystem

        # An imported system keeps the name in its own system.json unless one is given.
        return ImportedSystem(rest, source_kind=kind, spec=spec, **opts)
    opts.setdefault("name", default_name(spec))
    if kind == "openai":
        from .openai_chat import OpenAIChatSystem

        return OpenAIChatSystem(rest, spec=spec, **opts)
    if kind == "hf":
        from .hf_omni import HFOmniSystem

        return HFOmniSystem(rest, spec=spec, **opts)
    if kind == "cascade":
        from .cascade import CascadeSystem

        return CascadeSystem(rest, spec=spec, **opts)
    from .reference_adapter import ReferenceAdapter

    return ReferenceAdapter(kind, spec=spec, **opts)
