"""The vote store against SQLite and a real PostgreSQL server (S2S_ARENA_TEST_PG_URL)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid

import pytest

from s2s_arena.schema import SchemaError, Vote
from s2s_arena.arena.store import HubSync, VoteStore, open_store

PG_URL = os.environ.get("S2S_ARENA_TEST_PG_URL")


def _pg_store():
    """A store in a fresh PostgreSQL schema (dropped afterwards). Fails, never skips, when the URL is
    set but the server cannot be reached."""
    from sqlalchemy import create_engine, text

    schema = f"s2s_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as con:  # raises (test fails) when the server is unreachable
        con.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    store = VoteStore(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")

    def drop():
        store.close()
        with admin.begin() as con:
            con.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return store, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
        yield s
        s.close()
        return
    if not PG_URL:
        pytest.skip("S2S_ARENA_TEST_PG_URL is not set (scripts/start_postgres.sh starts a server)")
    s, drop = _pg_store()
    yield s
    drop()


def _battle(store: VoteStore, token: str, a="sys-one", b="sys-two", level="L2") -> None:
    store.add_battle(dict(token=token, session="s1", client="127.0.0.1", created_at=time.time(),
                          sample_id=f"sample-{token}", level=level, domain="daily", task="tongue_twister",
                          system_a=a, system_b=b, p_pair=0.25, duration_a=2.0, duration_b=3.0))


def _vote(token: str, winner="a", counted=True, reason="", a="sys-one", b="sys-two", **kw) -> Vote:
    return Vote(vote_id=uuid.uuid4().hex, session="s1", sample_id=f"sample-{token}", system_a=a, system_b=b,
                winner=winner, shown_at=1.0, voted_at=2.0, p_pair=0.25, listened_a=1.0, listened_b=0.9,
                counted=counted, exclusion_reason=reason, app_version="test", **kw)


def test_vote_round_trip_keeps_every_field_and_the_battle_covariates(store):
    _battle(store, "tok-1")
    v = _vote("tok-1", winner="b", failure="attempted_failed")
    stored = store.add_vote(v, battle_token="tok-1", client="10.0.0.1")
    assert stored == v
    (row,) = store.votes()
    for key, value in v.to_dict().items():
        assert row[key] == pytest.approx(value) if isinstance(value, float) else row[key] == value, key
    assert (row["level"], row["task"], row["battle_token"], row["client"]) == ("L2", "tongue_twister", "tok-1", "10.0.0.1")
    assert Vote.from_dict({k: row[k] for k in Vote.field_names()}) == v


def test_votes_are_append_only_and_a_battle_has_at_most_one_counted_vote(store):
    _battle(store, "tok-2")
    first = store.add_vote(_vote("tok-2", "a"), battle_token="tok-2")
    # The app would mark this one itself; the database's unique index catches it even if it did not.
    second = store.add_vote(_vote("tok-2", "b"), battle_token="tok-2")
    third = store.add_vote(_vote("tok-2", "tie", counted=False, reason="not_listened"), battle_token="tok-2")
    assert first.counted and not second.counted and second.exclusion_reason == "after_reveal"
    rows = store.votes()
    assert [r["vote_id"] for r in rows] == [first.vote_id, second.vote_id, third.vote_id]
    assert [r["counted"] for r in rows] == [True, False, False]
    assert [r["vote_id"] for r in store.votes(counted_only=True)] == [first.vote_id]
    assert store.pair_counts() == {("sys-one", "sys-two"): 1}
    assert store.count() == 3


def test_concurrent_writers_lose_nothing(store):
    n_threads, per_thread = 8, 15
    tokens = [f"c{t}-{i}" for t in range(n_threads) for i in range(per_thread)]
    for tok in tokens:
        _battle(store, tok)
    acked: list[str] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        for i in range(per_thread):
            v = store.add_vote(_vote(f"c{t}-{i}"), battle_token=f"c{t}-{i}")
            with lock:
                acked.append(v.vote_id)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(acked) == n_threads * per_thread
    assert store.vote_ids() == set(acked)


def test_export_as_a_hugging_face_dataset(store, tmp_path):
    from datasets import load_from_disk

    _battle(store, "tok-3", level="L1")
    _battle(store, "tok-4", a="sys-two", b="sys-three", level="L3")
    v1 = store.add_vote(_vote("tok-3", "both_bad"), battle_token="tok-3")
    v2 = store.add_vote(_vote("tok-4", "a", a="sys-two", b="sys-three", counted=False, reason="rate_limited"),
                        battle_token="tok-4")
    store.export(tmp_path / "votes_ds")
    ds = load_from_disk(str(tmp_path / "votes_ds"))
    assert ds.num_rows == 2
    assert ds["vote_id"] == [v1.vote_id, v2.vote_id]
    assert ds["level"] == ["L1", "L3"]
    assert ds["counted"] == [True, False] and ds["exclusion_reason"] == ["", "rate_limited"]
    assert ds["winner"] == ["both_bad", "a"]


def test_sqlite_store_runs_in_wal_mode_and_the_rating_engine_reads_it(tmp_path):
    from s2s_arena.outcomes import load_outcomes

    path = tmp_path / "votes.db"
    store = VoteStore(f"sqlite:///{path}")
    _battle(store, "w1")
    _battle(store, "w2", a="sys-two", b="sys-three")
    store.add_vote(_vote("w1", "a"), battle_token="w1")
    store.add_vote(_vote("w2", "b", a="sys-two", b="sys-three"), battle_token="w2")
    store.add_vote(_vote("w2", "a", a="sys-two", b="sys-three", counted=False, reason="after_reveal"), battle_token="w2")
    store.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    out = load_outcomes(path)  # what `s2s-arena leaderboard votes.db` does
    assert len(out) == 2 and out.n_excluded == 1
    assert sorted(out.systems) == ["sys-one", "sys-three", "sys-two"]


def test_bad_urls_and_bad_votes_give_clear_errors(tmp_path):
    with pytest.raises(SchemaError, match="db.*does not exist"):
        VoteStore(f"sqlite:///{tmp_path / 'missing' / 'votes.db'}")
    with pytest.raises(SchemaError, match="db"):
        VoteStore("nosuchdialect://x")
    with pytest.raises(SchemaError, match="winner"):
        _vote("x", winner="left")


def test_open_store_uses_env_url_and_defaults_to_sqlite_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("S2S_ARENA_DB_URL", raising=False)
    s = open_store(None, tmp_path)
    assert s.url == f"sqlite:///{(tmp_path / 'votes.db').resolve()}"
    s.close()
    monkeypatch.setenv("S2S_ARENA_DB_URL", f"sqlite:///{tmp_path / 'env.db'}")
    s = open_store(None, tmp_path)
    assert s.url.endswith("env.db")
    s.close()
    from s2s_arena.arena.store import _normalise_url

    # postgres:// URLs (Heroku / Spaces secrets style) go to the psycopg 3 driver we ship.
    assert _normalise_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"


def test_hub_sync_mirror_is_append_only_jsonl(tmp_path):
    sync = HubSync(tmp_path / "hub")  # no repo id: the local mirror only, no network
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}", hub_sync=sync)
    _battle(store, "h1")
    _battle(store, "h2")
    v1 = store.add_vote(_vote("h1"), battle_token="h1")
    v2 = store.add_vote(_vote("h2", "tie"), battle_token="h2")
    lines = [json.loads(x) for x in sync.path.read_text().splitlines()]
    assert [r["vote_id"] for r in lines] == [v1.vote_id, v2.vote_id]
    assert lines[1]["winner"] == "tie" and lines[0]["battle_token"] == "h1"
    store.close()
