"""The arena over real HTTP on 127.0.0.1: anonymous clips, server-measured listening, vote rules."""

from __future__ import annotations

import io
import socket
import time

import httpx
import numpy as np
import pytest
import soundfile as sf

from s2s_arena.audio import loudness_lufs
from space.app import serve
from space.tiny_data import SYSTEM_NAMES, write_arena


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("arena")
    data, resp = write_arena(root, n_per_level=2, duration_s=0.6)
    srv = serve(data, resp, f"sqlite:///{root / 'votes.db'}", port=free_port(), block=False,
                votes_per_minute_session=3, bootstrap=0)
    client = httpx.Client(base_url=srv.url, timeout=30)
    yield srv, client
    client.close()
    srv.close()


def new_battle(client: httpx.Client, session: str, **body) -> dict:
    r = client.post("/api/battle", json=body, headers={"X-Arena-Session": session})
    assert r.status_code == 200, r.text
    return r.json()


def listen(client: httpx.Client, battle: dict, sides=("a", "b")) -> None:
    for side in sides:
        assert client.get(battle[side]).status_code == 200
        client.post(battle[side] + "/play")
    time.sleep(0.65)
    for side in sides:
        client.post(battle[side] + "/ended")


def vote(client: httpx.Client, battle: dict, session: str, winner: str = "a", **extra) -> httpx.Response:
    return client.post("/api/vote", json={"token": battle["token"], "winner": winner, **extra},
                       headers={"X-Arena-Session": session})


def test_nothing_served_before_the_vote_names_a_system(space):
    srv, client = space
    b = new_battle(client, "anon")
    seen = [client.get("/").text, str(b)]
    for side in ("instruction", "a", "b"):
        r = client.get(b[side])
        assert r.status_code == 200
        assert "content-disposition" not in r.headers
        assert r.headers["content-type"] == "audio/wav" and r.headers["cache-control"] == "no-store"
        seen += [b[side], str(dict(r.headers))]
        data = r.content
        # A bare PCM WAV: RIFF, fmt and data chunks only; no LIST/INFO tags, no encoder string.
        assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
        assert b"LIST" not in data and b"INFO" not in data and b"Lavf" not in data
        x, sr = sf.read(io.BytesIO(data), dtype="float32")
        if side != "instruction":
            assert loudness_lufs(x, sr) == pytest.approx(-23.0, abs=1.0)  # volume gives nothing away
        seen.append(data.decode("latin-1"))
    text = "\n".join(seen).lower()
    for name in SYSTEM_NAMES:
        assert name.lower() not in text
    assert "zebrafinch" not in client.get("/config").text.lower()


def test_listening_is_measured_on_the_server(space):
    srv, client = space
    arena = srv.ctx.arena
    b = new_battle(client, "listener")
    state = lambda: client.get(f"/api/battle/{b['token']}").json()  # noqa: E731
    # Play events without the audio being fetched count for nothing.
    client.post(b["a"] + "/play")
    client.post(b["b"] + "/play")
    time.sleep(0.65)
    assert state()["listened_a"] == 0.0 and not state()["unlocked"]
    # Fetching half of a clip caps its share at one half, however long it "plays".
    size = len(client.get(b["a"]).content)
    half = client.get(b["b"], headers={"Range": f"bytes=0-{size // 2}"})
    assert half.status_code == 206 and half.headers["content-range"] == f"bytes 0-{size // 2}/{size}"
    s = state()
    assert s["listened_a"] == pytest.approx(1.0) and s["listened_b"] == pytest.approx(0.5, abs=0.01)
    assert not s["unlocked"]
    client.get(b["b"], headers={"Range": f"bytes={size // 2}-"})
    assert state()["unlocked"]
    # A clip fetched but never played has a stopped clock.
    b2 = new_battle(client, "listener")
    client.get(b2["a"]), client.get(b2["b"])
    time.sleep(0.3)
    la, lb = arena.listening(b2["token"])
    assert la == 0.0 and lb == 0.0


def rows_voted_at(srv, vote_id: str) -> float:
    return next(r["voted_at"] for r in srv.ctx.arena.store.votes() if r["vote_id"] == vote_id)


def test_vote_rules_not_listened_after_reveal_and_reveal(space):
    srv, client = space
    b = new_battle(client, "voter-1")
    early = vote(client, b, "voter-1", "b").json()
    assert early["counted"] is False and early["reason"] == "not_listened"
    assert {early["system_a"], early["system_b"]} <= set(SYSTEM_NAMES)  # the reveal
    battle_row = srv.ctx.arena.store.battle(b["token"])
    assert battle_row["revealed_at"] == pytest.approx(rows_voted_at(srv, early["vote_id"]))
    again = vote(client, b, "voter-1", "a").json()
    assert again["counted"] is False and again["reason"] == "after_reveal"

    b2 = new_battle(client, "voter-2")
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
    results = []
    for _ in range(4):  # the fixture allows 3 votes per session per minute
        b = new_battle(client, "hasty")
        listen(client, b)
        results.append(vote(client, b, "hasty", "tie").json())
    assert [r["counted"] for r in results] == [True, True, True, False]
    assert results[-1]["reason"] == "rate_limited"


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
    st = srv.ctx.arena.clip(b["a"].split("/")[-1])
    x, sr = sf.read(io.BytesIO(st.clip.data), dtype="float32")
    assert sr == 24000 and x.ndim == 1 and np.abs(x).max() > 0.05


def test_an_arena_needs_two_systems_on_a_common_sample(tmp_path):
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.responses import load_responses
    from s2s_arena.schema import SchemaError
    from space.battles import Arena
    from space.store import VoteStore
    from space.tiny_data import write_dataset, write_responses

    data = write_dataset(tmp_path / "data", n_per_level=1, duration_s=0.3)
    samples = load_benchmark(str(data))
    # Two systems, but never on the same sample: no battle can be made.
    write_responses(tmp_path / "resp", [samples[0].id], systems=("only-one",))
    write_responses(tmp_path / "resp", [samples[1].id], systems=("another-one",))
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    with pytest.raises(SchemaError, match="two systems"):
        Arena(samples, load_responses(tmp_path / "resp"), store)
    store.close()
