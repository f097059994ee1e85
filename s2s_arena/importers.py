"""Votes from other arenas, as S2S-Arena vote rows every command reads (leaderboard, agreement, votes).

FastChat / Chatbot Arena logs come in two shapes, both read here:

* **battles** (``clean_battle_*.json`` and the public ``chatbot_arena_conversations`` rows): one
  object per vote with ``model_a``, ``model_b``, ``winner`` (``model_a`` | ``model_b`` | ``tie`` |
  ``tie (bothbad)``), ``judge`` (the voter), ``anony``, ``tstamp`` and often ``question_id``,
  ``language``, ``turn``;
* **raw server logs** (``*-conv.json``): JSON lines with ``type`` ``leftvote`` | ``rightvote`` |
  ``tievote`` | ``bothbad_vote``, ``models`` [left, right] (empty in anonymous battles, whose names
  are in ``states[i].model_name``), ``tstamp`` and the voter's ``ip``.

Votes cast after the model names were visible (``anony`` false) are kept but not counted, as the
Chatbot Arena leaderboard counts only anonymous battles; the reason is recorded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from .schema import SchemaError, Vote

FORMATS = ("fastchat",)
_BATTLE_WINNER = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "both_bad", "bothbad": "both_bad"}
_RAW_WINNER = {"leftvote": "a", "rightvote": "b", "tievote": "tie", "bothbad_vote": "both_bad"}
NOT_ANONYMOUS = "not anonymous: the model names were shown before the vote"
_VOTE_FIELDS = set(Vote.field_names())


def _records(path: Path) -> list[Any]:
    # One reader of JSON / JSONL record files for every command (outcomes.read_rows).
    from .outcomes import read_rows

    return list(read_rows(path))


def _hash(*parts: Any, n: int = 16) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:n]


def _battle(row: Mapping[str, Any], i: int, where: str) -> dict[str, Any]:
    rec = f"{where}: battle {i}"
    for key in ("model_a", "model_b", "winner"):
        if not row.get(key):
            raise SchemaError(rec, key, "missing; a FastChat battle has model_a, model_b and winner")
    winner = _BATTLE_WINNER.get(str(row["winner"]).strip())
    if winner is None:
        raise SchemaError(rec, "winner", f"unknown {row['winner']!r}; expected {', '.join(_BATTLE_WINNER)}")
    anony = bool(row.get("anony", True))
    tstamp = float(row.get("tstamp") or 0.0)
    qid = row.get("question_id") or row.get("conversation_id")
    sample = str(qid) if qid else f"fastchat-{_hash(row['model_a'], row['model_b'], tstamp, i, n=12)}"
    return {
        "vote_id": str(row.get("vote_id") or f"fastchat-{_hash(sample, row['model_a'], row['model_b'], tstamp, i)}"),
        "session": str(row.get("judge") or ""), "sample_id": sample,
        "system_a": str(row["model_a"]), "system_b": str(row["model_b"]), "winner": winner,
        "shown_at": tstamp, "voted_at": tstamp, "counted": anony,
        "exclusion_reason": "" if anony else NOT_ANONYMOUS,
        "language": row.get("language"), "turn": row.get("turn"), "app_version": "fastchat",
    }


def _raw(row: Mapping[str, Any], i: int, where: str) -> dict[str, Any] | None:
    kind = row.get("type")
    if kind not in _RAW_WINNER:
        return None  # chat turns, flags, shares: not votes
    rec = f"{where}: record {i}"
    states = row.get("states") or [{}, {}]
    models = list(row.get("models") or ["", ""])
    names = [models[k] or (states[k] or {}).get("model_name", "") if k < len(states) else models[k] for k in (0, 1)]
    if not all(names):
        raise SchemaError(rec, "models", "no model names (neither in models nor in states[].model_name)")
    anony = not any(models)  # anonymous battles log empty names and reveal them only in the states
    conv = [(s or {}).get("conv_id", "") for s in states[:2]]
    tstamp = float(row.get("tstamp") or 0.0)
    sample = "+".join(c for c in conv if c) or f"fastchat-{_hash(names, tstamp, i, n=12)}"
    return {
        "vote_id": f"fastchat-{_hash(sample, names, tstamp, kind, i)}",
        "session": _hash(row.get("ip", "")) if row.get("ip") else "", "sample_id": sample,
        "system_a": str(names[0]), "system_b": str(names[1]), "winner": _RAW_WINNER[kind],
        "shown_at": tstamp, "voted_at": tstamp, "counted": anony,
        "exclusion_reason": "" if anony else NOT_ANONYMOUS, "app_version": "fastchat",
    }


def import_fastchat(path: str | Path, *, anonymous_only: bool = False) -> list[dict[str, Any]]:
    """FastChat battles or raw vote logs as S2S-Arena vote rows (validated as :class:`Vote`)."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    records = _records(path)
    if not records:
        raise SchemaError(str(path), None, "no records")
    raw = isinstance(records[0], Mapping) and "type" in records[0] and "model_a" not in records[0]
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise SchemaError(f"{path}: record {i}", None, f"expected an object, got {type(rec).__name__}")
        row = _raw(rec, i, str(path)) if raw else _battle(rec, i, str(path))
        if row is None or (anonymous_only and not row["counted"]):
            continue
        if row["system_a"] == row["system_b"]:
            continue  # a model against itself says nothing about a ranking
        # the same checks as the Space's own votes (extra columns such as language ride along)
        Vote.from_dict({k: v for k, v in row.items() if k in _VOTE_FIELDS}, where=f"{path}: record {i}")
        rows.append({k: v for k, v in row.items() if v is not None})
    if not rows:
        raise SchemaError(str(path), None, "no votes found (expected FastChat battles or leftvote/rightvote/"
                                           "tievote/bothbad_vote log lines)")
    return rows


def import_votes(path: str | Path, fmt: str = "fastchat", **kwargs: Any) -> list[dict[str, Any]]:
    if fmt not in FORMATS:
        from .errors import ConfigError

        raise ConfigError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return import_fastchat(path, **kwargs)
