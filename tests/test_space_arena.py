"""The arena over real HTTP on 127.0.0.1: anonymous clips, server-measured listening, vote rules.

Data: the mini benchmark built by the real pipeline (spoken instructions) and the reference systems'
spoken responses plus a fifth synthesized system (``arena_responses`` in conftest.py).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import numpy as np
import pytest

from s2s_arena.audio import loudness_lufs, read_raw
from s2s_arena.responses import ResponseWriter, load_responses
from s2s_arena.arena.web import serve
from space_testkit import free_port, wav_metadata


@pytest.fixture(scope="module")
def system_names(arena_responses) -> list[str]:
    names = sorted(load_responses(arena_responses))
    assert len(names) == 5
    return names


@pytest.fixture(scope="module")
def space(tmp_path_factory, mini_dataset, arena_responses):
    root = tmp_path_factory.mktemp("arena")
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{root / 'votes.db'}", port=free_port(), block=False,
                votes_per_minute_session=3, bootstrap=0)
    assert len(srv.ctx.arena.systems) == 5 and len(srv.ctx.arena.playable) == 16
    client = httpx.Client(base_url=srv.url, timeout=30)
    yield srv, client
    client.close()
    srv.close()


def new_battle(client: httpx.Client, session: str, **body) -> dict:
    r = client.post("/api/battle", json=body, headers={"X-Arena-Session": session})
    assert r.status_code == 200, r.text
    return r.json()


def seconds(wav: bytes) -> float:
    x, sr = read_raw(wav)
    return x.shape[0] / sr


def listen(client: httpx.Client, *battles: dict) -> None:
    """Fetch and play both clips of each battle at once; wait as long as the longest clip lasts."""
    longest = 0.0
    for battle in battles:
        for side in ("a", "b"):
            r = client.get(battle[side])
            assert r.status_code == 200
            longest = max(longest, seconds(r.content))
            client.post(battle[side] + "/play")
    time.sleep(longest + 0.1)
    for battle in battles:
        for side in ("a", "b"):
            client.post(battle[side] + "/ended")


def vote(client: httpx.Client, battle: dict, session: str, winner: str = "a", **extra) -> httpx.Response:
    return client.post("/api/vote", json={"token": battle["token"], "winner": winner, **extra},
                       headers={"X-Arena-Session": session})


def test_nothing_served_before_the_vote_names_a_system(space, system_names, fifth_system):
    srv, client = space
    b = new_battle(client, "anon")
    assert b["instruction_text"] == srv.ctx.arena.samples[srv.ctx.arena.battles[b["token"]].sample.id].instruction_text
    seen = [client.get("/").text, str(b)]
    for side in ("instruction", "a", "b"):
        r = client.get(b[side])
        assert r.status_code == 200
        assert "content-disposition" not in r.headers
        assert r.headers["content-type"] == "audio/wav" and r.headers["cache-control"] == "no-store"
        seen += [b[side], str(dict(r.headers))]
        data = r.content
        # A bare PCM WAV: RIFF, fmt and data chunks only; no LIST/INFO tags, no encoder string.
        meta = wav_metadata(data)
        assert b"LIST" not in meta and b"INFO" not in meta and b"Lavf" not in meta
        x, sr = read_raw(data)
        assert x.shape[1] == 1 and 1.5 < len(x) / sr < 20  # real speech, seconds long
        x = x[:, 0]
        if side != "instruction":
            assert loudness_lufs(x, sr) == pytest.approx(-23.0, abs=1.0)  # volume gives nothing away
        seen.append(meta.decode("latin-1"))
    text = "\n".join(seen).lower()
    for name in system_names:
        assert name.lower() not in text, name
    assert fifth_system not in client.get("/config").text.lower()


def test_listening_is_measured_on_the_server(space):
    srv, client = space
    arena = srv.ctx.arena
    b = new_battle(client, "listener", level="L0")
    state = lambda: client.get(f"/api/battle/{b['token']}").json()  # noqa: E731
    dur_a, dur_b = (arena.clip(b[side].split("/")[-1]).clip.duration_s for side in ("a", "b"))
    # Play events without the audio being fetched count for nothing.
    t_play = time.time()
    client.post(b["a"] + "/play")
    client.post(b["b"] + "/play")
    time.sleep(1.0)
    assert state()["listened_a"] == 0.0 and not state()["unlocked"]
    # Once fetched, the share grows with the server's clock, never faster than real time.
    client.get(b["a"])
    la = state()["listened_a"]
    assert 0.0 < la <= (time.time() - t_play) / dur_a + 0.01
    time.sleep(max(dur_a, dur_b))
    # Fetching half of a clip caps its share at one half, however long it played.
    size_b = len(arena.clip(b["b"].split("/")[-1]).clip.data)
    half = client.get(b["b"], headers={"Range": f"bytes=0-{size_b // 2}"})
    assert half.status_code == 206 and half.headers["content-range"] == f"bytes 0-{size_b // 2}/{size_b}"
    s = state()
    assert s["listened_a"] == pytest.approx(1.0) and s["listened_b"] == pytest.approx(0.5, abs=0.01)
    assert not s["unlocked"]
    client.get(b["b"], headers={"Range": f"bytes={size_b // 2}-"})
    assert state()["unlocked"]
    # A clip fetched but never played has a stopped clock.
    b2 = new_battle(client, "listener")
    client.get(b2["a"]), client.get(b2["b"])
    time.sleep(0.3)
    la, lb = arena.listening(b2["token"])
    assert la == 0.0 and lb == 0.0


def rows_voted_at(srv, vote_id: str) -> float:
    return next(r["voted_at"] for r in srv.ctx.arena.store.votes() if r["vote_id"] == vote_id)


def test_vote_rules_not_listened_after_reveal_and_reveal(space, system_names):
    srv, client = space
    b = new_battle(client, "voter-1")
    early = vote(client, b, "voter-1", "b").json()
    assert early["counted"] is False and early["reason"] == "not_listened"
    assert {early["system_a"], early["system_b"]} <= set(system_names)  # the reveal
    assert early["system_a"] != early["system_b"]
    battle_row = srv.ctx.arena.store.battle(b["token"])
    assert battle_row["revealed_at"] == pytest.approx(rows_voted_at(srv, early["vote_id"]))
    again = vote(client, b, "voter-1", "a").json()
    assert again["counted"] is False and again["reason"] == "after_reveal"

    b2 = new_battle(client, "voter-2", level="L0")
    listen(client, b2)
    ok = vote(client, b2, "voter-2", "a", failure="not_understood").json()
    assert ok["counted"] is True and ok["reason"] == "" and ok["listened_a"] >= 0.8
    rows = {r["vote_id"]: r for r in srv.ctx.arena.store.votes()}
    for res in (early, again, ok):
        assert rows[res["vote_id"]]["exclusion_reason"] == res["reason"]
    assert rows[ok["vote_id"]]["failure"] == "not_understood"
    assert rows[ok["vote_id"]]["p_pair"] is not None and 0 < rows[ok["vote_id"]]["p_pair"] <= 1


def test_rate_limit_per_session(space):
    srv, client = space
    battles = [new_battle(client, "hasty", level="L0") for _ in range(4)]
    listen(client, *battles)  # four tabs at once: every battle is heard before any vote
    # The fixture allows 3 votes per session per minute.
    results = [vote(client, b, "hasty", "tie").json() for b in battles]
    assert [r["counted"] for r in results] == [True, True, True, False]
    assert results[-1]["reason"] == "rate_limited"


def battle_rows(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT count(*) FROM battles").fetchone()[0]


def test_battle_creation_is_rate_limited_and_stores_nothing_when_refused(tmp_path, mini_dataset, arena_responses):
    db = tmp_path / "votes.db"
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{db}", port=free_port(), block=False, ui=False,
                battles_per_minute_session=3, battles_per_minute_client=5, bootstrap=0)
    arena = srv.ctx.arena
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            for _ in range(3):
                new_battle(client, "flooder")
            assert battle_rows(db) == 3
            kept = (dict(arena.battles), dict(arena.clips))
            refused = client.post("/api/battle", json={}, headers={"X-Arena-Session": "flooder"})
            assert refused.status_code == 429
            assert "this session" in refused.json()["error"] and "3 a minute" in refused.json()["error"]
            assert 0 < int(refused.headers["retry-after"]) <= 60
            assert battle_rows(db) == 3 and (arena.battles, arena.clips) == kept  # nothing stored or encoded
            # Fresh sessions from the same address share its client budget (5 a minute).
            new_battle(client, "second-tab")
            new_battle(client, "third-tab")
            over_client = client.post("/api/battle", json={}, headers={"X-Arena-Session": "fourth-tab"})
            assert over_client.status_code == 429 and "your address" in over_client.json()["error"]
            assert battle_rows(db) == 5 and len(arena.battles) == 5
    finally:
        srv.close()


def test_a_refused_battle_does_not_extend_the_wait():
    from s2s_arena.arena.battles import RateLimiter

    limiter = RateLimiter(2, window_s=60.0)
    assert limiter.hit("s", 0.0) and limiter.hit("s", 10.0)
    assert limiter.wait_s("s", 20.0) == pytest.approx(40.0)
    assert limiter.wait_s("s", 30.0) == pytest.approx(30.0)  # asking again recorded nothing
    assert limiter.wait_s("s", 60.5) == 0.0 and limiter.wait_s("other", 20.0) == 0.0


def test_bad_requests_are_refused(space):
    srv, client = space
    b = new_battle(client, "bad")
    for path in ("/clip/../../etc/passwd", "/clip/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/clip/..%2Fvotes.db",
                 "/clip/" + "A" * 24, "/clip/" + b["a"].split("/")[-1] + "%00"):
        r = client.get(path)
        assert r.status_code == 404 and b"root:" not in r.content
    assert client.get(b["a"], headers={"Range": "bytes=99999999-"}).status_code == 416
    assert vote(client, b, "bad", "left").status_code == 400
    assert "failure" in vote(client, b, "bad", "tie", failure="worse").json()["error"]
    assert client.post("/api/vote", json={"token": "nope", "winner": "a"}).status_code == 400
    assert client.post(b["a"] + "/rewind").status_code == 400
    assert client.post("/api/battle", json={"level": "L9"}).status_code == 400
    one_level = new_battle(client, "bad", level="L2")
    assert one_level["level"] == "L2"


def test_loudness_normalisation_really_changed_the_audio(space):
    srv, client = space
    b = new_battle(client, "loud")
    arena = srv.ctx.arena
    st = arena.clip(b["a"].split("/")[-1])
    x, sr = read_raw(st.clip.data)
    assert sr == 24000 and x.shape[1] == 1 and np.abs(x).max() > 0.05
    battle = arena.battles[b["token"]]
    source, source_sr = read_raw(arena.responses[battle.pair.system_a].responses[battle.sample.id].audio_path)
    assert source_sr == sr and source.shape == x.shape
    served, original = x[:, 0].astype(np.float64), source[:, 0].astype(np.float64)
    # The same speech (a plain gain), brought from the system's own level to -23 LUFS.
    assert np.corrcoef(served, original)[0, 1] > 0.99
    assert loudness_lufs(source[:, 0], sr) < -23.5 and loudness_lufs(x[:, 0], sr) == pytest.approx(-23.0, abs=1.0)
    assert np.sqrt(np.mean(served ** 2)) > 1.05 * np.sqrt(np.mean(original ** 2))


def test_an_arena_needs_two_systems_on_a_common_sample(tmp_path, mini_samples, mini_responses):
    from s2s_arena.schema import SchemaError, SystemInfo
    from s2s_arena.arena.battles import Arena
    from s2s_arena.arena.store import VoteStore

    samples = list(mini_samples)
    real = load_responses(mini_responses)
    # Two systems, but never on the same sample: no battle can be made.
    for name, src, sample in (("only-one", "reference", samples[0]), ("another-one", "echo", samples[1])):
        x, sr = read_raw(real[src].responses[sample.id].audio_path)
        ResponseWriter(tmp_path / "resp", SystemInfo(name=name)).write(sample.id, x[:, 0], sr, text="an answer")
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    with pytest.raises(SchemaError, match="two systems"):
        Arena(samples, load_responses(tmp_path / "resp"), store)
    store.close()
