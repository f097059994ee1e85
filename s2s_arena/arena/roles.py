"""Battle roles: which battles are gold (a known better side) or re-served (double annotation).

A battle's role never reaches the visitor: it lives in its own table, ``battle_roles``, beside the
``battles`` and ``votes`` tables of the vote store, one row per battle that is not ordinary. The row is
written before the battle itself, so a crash can leave a role without a battle (harmless), never a
gold battle without its role (whose vote would then be rated).

A gold vote that passes the listening and rate checks is stored with ``counted = false`` and
``exclusion_reason = "gold"``: every reader of the store (ratings, leaderboard, exports) already
leaves uncounted votes out, so gold never enters a rating, while the validity report reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import Boolean, Column, Float, MetaData, String, Table, insert, select

ROLE_GOLD, ROLE_RESERVE = "gold", "reserve"
GOLD_REASON = "gold"

roles_metadata = MetaData()
battle_roles = Table(
    "battle_roles", roles_metadata,
    Column("token", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("gold_expected", String(4)),  # the side (a|b, as shown) that should win a gold battle
    Column("gold_kind", String(32)),  # content | paralinguistic: what the gold pair differs in
    Column("origin", String(64)),  # a re-served battle: the token of the battle it repeats
    Column("swapped", Boolean),  # a re-served battle: sides swapped relative to the origin
    Column("created_at", Float, nullable=False),
)
ROLE_FIELDS = ("role", "gold_expected", "gold_kind", "origin", "swapped")


@dataclass
class BattlePlan:
    """A battle chosen by a planner rather than the pair sampler: what to show and its role."""

    sample: Any
    system_a: str
    system_b: str
    p_pair: float
    role: str
    sources: Mapping[str, Any] = field(default_factory=dict)  # system -> SystemResponses, when not the arena's
    cache_prefix: str = ""  # keeps clips of other response folders apart in the arena's clip cache
    gold_expected: str | None = None
    gold_kind: str | None = None
    origin: str | None = None
    swapped: bool | None = None

    def role_row(self, token: str) -> dict[str, Any]:
        return {"token": token, "role": self.role, "gold_expected": self.gold_expected, "gold_kind": self.gold_kind,
                "origin": self.origin, "swapped": self.swapped, "created_at": time.time()}


def ensure_table(store: Any) -> None:
    roles_metadata.create_all(store.engine)


def add_role(store: Any, plan: BattlePlan, token: str) -> None:
    from .store import _maybe

    with _maybe(getattr(store, "_write_lock", None)), store.engine.begin() as con:
        con.execute(insert(battle_roles).values(**plan.role_row(token)))


def read_roles(engine: Any) -> dict[str, dict[str, Any]]:
    """token -> role row (empty when the store has no role table: nothing but ordinary battles)."""
    from sqlalchemy import inspect

    if not inspect(engine).has_table("battle_roles"):
        return {}
    with engine.connect() as con:
        return {r.token: dict(r._mapping) for r in con.execute(select(battle_roles))}


def vote_rows(store: Any) -> list[dict[str, Any]]:
    """Every stored vote with its battle's level/domain/task and role fields (``role`` = ordinary for
    battles without a role row): the input of :func:`s2s_arena.validity.validity_report`."""
    roles = read_roles(store.engine)
    out = []
    for v in store.votes():
        r = roles.get(v.get("battle_token"), {})
        row = dict(v)
        row["role"] = r.get("role") or "ordinary"
        for k in ROLE_FIELDS[1:]:
            row[k] = r.get(k)
        out.append(row)
    return out


def load_vote_rows(source: str) -> list[dict[str, Any]]:
    """Vote rows with roles from a database URL, a SQLite vote store file, or an export (JSONL / CSV /
    JSON rows, as written by :func:`export_rows`, or a ``save_to_disk`` dataset folder)."""
    from pathlib import Path

    from s2s_arena.errors import MissingError
    from s2s_arena.schema import SchemaError

    if "://" in source:
        from .store import VoteStore

        store = VoteStore(source)
        try:
            return vote_rows(store)
        finally:
            store.close()
    path = Path(source)
    if path.is_dir():
        if not (path / "dataset_info.json").is_file() and not (path / "state.json").is_file():
            raise SchemaError(str(path), None, "a folder that is not a saved votes dataset (no dataset_info.json)")
        from datasets import load_from_disk

        return [dict(r) for r in load_from_disk(str(path))]
    if not path.is_file():
        raise MissingError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        from .store import VoteStore

        store = VoteStore(f"sqlite:///{path.resolve()}")
        try:
            return vote_rows(store)
        finally:
            store.close()
    from s2s_arena.outcomes import read_rows

    rows = read_rows(path)
    for n, r in enumerate(rows):
        if not isinstance(r, Mapping) or "winner" not in r or "session" not in r:
            raise SchemaError(f"{path}: record {n}", "winner",
                              "expected vote rows (session, sample_id, system_a, system_b, winner, counted)")
    return [dict(r) for r in rows]


def export_rows(store: Any, path: str) -> int:
    """Write the vote rows with roles as JSONL (what ``s2s-arena agreement --votes`` reads back)."""
    import json

    from s2s_arena.audio import atomic_write_bytes

    rows = vote_rows(store)
    atomic_write_bytes(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode())
    return len(rows)


def gold_failed_voters(store: Any, **thresholds: Any) -> set[str]:
    """Voters who failed gold battles (see :func:`s2s_arena.validity.flagged_sessions`), for the risk
    sweep: gold votes are stored uncounted, so they are read here with their roles."""
    from s2s_arena.validity import flagged_sessions

    if not read_roles(store.engine):
        return set()
    return flagged_sessions(vote_rows(store), **thresholds)
