"""The vote store: append-only votes and the battles they answer, in SQLite (default) or PostgreSQL.

A vote is acknowledged to the visitor only after ``add_vote`` returned, and ``add_vote`` returns only
after its transaction committed: a crash can lose a vote that was never acknowledged, never one that
was. SQLite runs in WAL mode with ``synchronous=FULL`` so a commit survives a killed process (and a
power cut). Votes are never updated or deleted; a vote that does not count is stored with
``counted = false`` and the reason.

The URL comes from the caller, else ``S2S_ARENA_DB_URL``, else ``sqlite:///<data>/votes.db``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import (Boolean, Column, Float, Index, Integer, MetaData, String, Table, create_engine,
                        event, insert, select, text, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from s2s_arena.schema import SchemaError, Vote

DB_URL_ENV = "S2S_ARENA_DB_URL"

metadata = MetaData()

# The Vote record of DESIGN.md, plus the battle token it answers and the client it came from.
votes = Table(
    "votes", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("vote_id", String(64), nullable=False, unique=True),
    Column("battle_token", String(64), nullable=False),
    Column("session", String(128), nullable=False),
    Column("client", String(128), nullable=False, default=""),
    Column("shown_at", Float, nullable=False),
    Column("voted_at", Float, nullable=False),
    Column("sample_id", String(256), nullable=False),
    Column("system_a", String(256), nullable=False),
    Column("system_b", String(256), nullable=False),
    Column("p_pair", Float),
    Column("winner", String(16), nullable=False),
    Column("failure", String(32)),
    Column("listened_a", Float, nullable=False),
    Column("listened_b", Float, nullable=False),
    Column("counted", Boolean, nullable=False),
    Column("exclusion_reason", String(64), nullable=False, default=""),
    Column("app_version", String(32), nullable=False, default=""),
    # The database itself refuses a second counted vote for one battle, whatever the app does.
    Index("one_counted_vote_per_battle", "battle_token", unique=True,
          sqlite_where=text("counted = 1"), postgresql_where=text("counted")),
)

# One row per battle shown: what was shown, to whom, with which probability, and (once voted) when.
battles = Table(
    "battles", metadata,
    Column("token", String(64), primary_key=True),
    Column("session", String(128), nullable=False),
    Column("client", String(128), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("sample_id", String(256), nullable=False),
    Column("level", String(8)),
    Column("domain", String(128)),
    Column("task", String(128)),
    Column("system_a", String(256), nullable=False),
    Column("system_b", String(256), nullable=False),
    Column("p_pair", Float),
    Column("duration_a", Float),
    Column("duration_b", Float),
    Column("revealed_at", Float),
)

VOTE_FIELDS: tuple[str, ...] = Vote.field_names()


def default_url(data_dir: str | os.PathLike | None = None) -> str:
    if os.environ.get(DB_URL_ENV):
        return os.environ[DB_URL_ENV]
    base = Path(data_dir) if data_dir else Path.cwd()
    return f"sqlite:///{(base / 'votes.db').resolve()}"


def _normalise_url(url: str) -> str:
    # "postgresql://" would pick psycopg2, which we do not ship; psycopg 3 is the driver we install.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class VoteStore:
    """Append-only votes and battles behind one SQLAlchemy engine (thread-safe)."""

    def __init__(self, url: str, *, hub_sync: "HubSync | None" = None):
        self.url = _normalise_url(url)
        self.hub_sync = hub_sync
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                parent = Path(path).parent
                if not parent.is_dir():
                    raise SchemaError(self.url, "db", f"folder {parent} does not exist")
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except Exception as e:  # an unparsable URL or an unknown driver
            raise SchemaError("vote store", "db", f"cannot use database URL {self.display_url()!r}: {e}") from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # SQLite allows one writer at a time; serialising in-process keeps "database is locked" away.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        try:
            metadata.create_all(self.engine)
        except OperationalError as e:
            raise SchemaError("vote store", "db", f"cannot open {self.display_url()}: {e.orig}") from None

    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else self.url.split("@")[-1]

    def _begin(self):
        return self.engine.begin()

    # --- writes -----------------------------------------------------------------------------------
    def add_battle(self, row: dict[str, Any]) -> None:
        with _maybe(self._write_lock), self._begin() as con:
            con.execute(insert(battles).values(**row))

    def add_vote(self, vote: Vote, *, battle_token: str, client: str = "", reveal: bool = False) -> Vote:
        """Insert one vote and commit (with ``reveal``, the battle's reveal time in the same
        transaction). Returns the vote as stored (a second counted vote for one battle, caught by the
        unique index, is stored as not counted). Raises if it could not commit: the caller must then
        not acknowledge it."""
        row = _vote_row(vote, battle_token, client)

        def write(con) -> None:
            con.execute(insert(votes).values(**row))
            if reveal:
                con.execute(update(battles).where(battles.c.token == battle_token, battles.c.revealed_at.is_(None))
                            .values(revealed_at=row["voted_at"]))

        with _maybe(self._write_lock):
            try:
                with self._begin() as con:
                    write(con)
            except IntegrityError:
                if not row["counted"]:
                    raise
                row.update(counted=False, exclusion_reason="after_reveal")
                with self._begin() as con:
                    write(con)
                vote = Vote.from_dict({k: row[k] for k in VOTE_FIELDS if k in row})
        if self.hub_sync is not None:
            self.hub_sync.append(row)
        return vote

    # --- reads ------------------------------------------------------------------------------------
    def votes(self, *, counted_only: bool = False) -> list[dict[str, Any]]:
        """Every vote in insertion order, each with the level/domain/task of its battle."""
        q = (select(votes, battles.c.level, battles.c.domain, battles.c.task, battles.c.duration_a,
                    battles.c.duration_b)
             .select_from(votes.outerjoin(battles, votes.c.battle_token == battles.c.token))
             .order_by(votes.c.seq))
        if counted_only:
            q = q.where(votes.c.counted.is_(True))
        with self.engine.connect() as con:
            return [_plain(r._mapping) for r in con.execute(q)]

    def vote_ids(self) -> set[str]:
        with self.engine.connect() as con:
            return {r[0] for r in con.execute(select(votes.c.vote_id))}

    def battle(self, token: str) -> dict[str, Any] | None:
        with self.engine.connect() as con:
            r = con.execute(select(battles).where(battles.c.token == token)).first()
        return _plain(r._mapping) if r else None

    def pair_counts(self) -> dict[tuple[str, str], int]:
        """Counted votes per unordered pair (names sorted), for the sampler."""
        from sqlalchemy import func

        counts: dict[tuple[str, str], int] = {}
        q = (select(votes.c.system_a, votes.c.system_b, func.count()).where(votes.c.counted.is_(True))
             .group_by(votes.c.system_a, votes.c.system_b))
        with self.engine.connect() as con:
            for a, b, n in con.execute(q):
                key = tuple(sorted((a, b)))
                counts[key] = counts.get(key, 0) + int(n)
        return counts

    def count(self, *, counted_only: bool = False) -> int:
        q = select(text("count(*)")).select_from(votes)
        if counted_only:
            q = q.where(votes.c.counted.is_(True))
        with self.engine.connect() as con:
            return int(con.execute(q).scalar_one())

    # --- export -----------------------------------------------------------------------------------
    def to_dataset(self):
        """The votes as a Hugging Face ``datasets.Dataset`` (one row per vote, Vote columns + level/task)."""
        from datasets import Dataset, Features, Value

        rows = self.votes()
        feats = Features({
            "vote_id": Value("string"), "battle_token": Value("string"), "session": Value("string"),
            "shown_at": Value("float64"), "voted_at": Value("float64"), "sample_id": Value("string"),
            "level": Value("string"), "domain": Value("string"), "task": Value("string"),
            "system_a": Value("string"), "system_b": Value("string"), "p_pair": Value("float64"),
            "winner": Value("string"), "failure": Value("string"), "listened_a": Value("float64"),
            "listened_b": Value("float64"), "counted": Value("bool"), "exclusion_reason": Value("string"),
            "app_version": Value("string"),
        })
        return Dataset.from_list([{k: r.get(k) for k in feats} for r in rows], features=feats)

    def export(self, out: str | os.PathLike | None = None, *, repo_id: str | None = None,
               private: bool = True, token: str | None = None) -> Any:
        """Save the votes as a dataset folder (``save_to_disk``) and/or push them to a Hub dataset repo."""
        ds = self.to_dataset()
        if out is not None:
            ds.save_to_disk(str(out))
        if repo_id is not None:
            ds.push_to_hub(repo_id, private=private, token=token)
        return ds

    def close(self) -> None:
        if self.hub_sync is not None:
            self.hub_sync.stop()
        self.engine.dispose()


class HubSync:
    """Optional append-only mirror of votes to a Hub dataset repo (off unless a repo id is given).

    Each process appends JSON lines to its own file in ``folder``; ``huggingface_hub.CommitScheduler``
    uploads the folder every ``every_min`` minutes. Files are only ever appended to, so a commit never
    rewrites votes already on the Hub.
    """

    def __init__(self, folder: str | os.PathLike, repo_id: str | None = None, *, every_min: float = 5,
                 token: str | None = None, scheduler_factory: Any = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"votes-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl"
        self.scheduler = None
        self._lock = threading.Lock()
        if repo_id:
            if scheduler_factory is None:
                from huggingface_hub import CommitScheduler as scheduler_factory
            self.scheduler = scheduler_factory(repo_id=repo_id, repo_type="dataset", folder_path=self.folder,
                                               path_in_repo="votes", every=every_min, token=token)
            self._lock = self.scheduler.lock  # the scheduler must not read a half-written line

    def append(self, row: dict[str, Any]) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()


def open_store(url: str | None = None, data_dir: str | os.PathLike | None = None, *,
               hub_repo: str | None = None, hub_folder: str | os.PathLike | None = None) -> VoteStore:
    """The store for ``url`` (else ``S2S_ARENA_DB_URL``, else SQLite under ``data_dir``)."""
    sync = None
    hub_repo = hub_repo or os.environ.get("S2S_ARENA_HUB_REPO") or None
    if hub_repo:
        sync = HubSync(hub_folder or Path(data_dir or ".") / "hub_votes", hub_repo)
    return VoteStore(url or default_url(data_dir), hub_sync=sync)


def _sqlite_pragmas(dbapi_con, _record) -> None:
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk before the vote is acknowledged
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _vote_row(vote: Vote, battle_token: str, client: str) -> dict[str, Any]:
    d = vote.to_dict()
    row = {k: d.get(k) for k in VOTE_FIELDS}
    row.update(battle_token=battle_token, client=client or "", counted=bool(row["counted"]),
               exclusion_reason=row.get("exclusion_reason") or "", app_version=row.get("app_version") or "")
    return row


def _plain(mapping: Any) -> dict[str, Any]:
    out = dict(mapping)
    out.pop("seq", None)
    if "counted" in out:
        out["counted"] = bool(out["counted"])
    return out


class _maybe:
    def __init__(self, lock: threading.Lock | None):
        self.lock = lock

    def __enter__(self):
        if self.lock is not None:
            self.lock.acquire()

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()
