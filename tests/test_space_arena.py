"""The arena over real HTTP on 127.0.0.1: anonymous per-battle clips, server-measured listening,
server-issued sessions, vote rules and the reveal.

Data: the mini benchmark built by the real pipeline (spoken instructions) and the reference systems'
spoken responses plus a fifth synthesized system (``arena_responses`` in conftest.py).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
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
def space(tmp_path_factory, mini_dataset, mini_samples, arena_responses):
    root = tmp_path_factory.mktemp("arena")
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{root / 'votes.db'}", port=free_port(), block=False,
                votes_per_minute_session=3, votes_per_minute_client=5, battles_per_minute_session=1000,
                battles_per_minute_client=1000, bootstrap=0,
                ui=False)
    # every sample of the main set (what QA and the intelligibility gate kept) is playable
    assert len(srv.ctx.arena.systems) == 5 and len(srv.ctx.arena.playable) == len(mini_samples) >= 12
    yield srv
    srv.close()


def visitor(srv) -> httpx.Client:
    """A fresh visitor: its own cookie jar, so its own server-issued session."""
    return httpx.Client(base_url=srv.url, timeout=30)


def new_battle(client: httpx.Client, **body) -> dict:
    r = client.post("/api/battle", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def seconds(wav: bytes) -> float:
    x, sr = read_raw(wav)
    return x.shape[0] / sr


def listen(client: httpx.Client, arena, *battles: dict) -> None:
    """Fetch and play both clips of each battle at once; wait as long as the longest speech lasts."""
    longest = 0.0
    for battle in battles:
        for side in ("a", "b"):
            r = client.get(battle[side])
            assert r.status_code == 200
            longest = max(longest, arena.clip(battle[side].split("/")[-1]).clip.duration_s)
            client.post(battle[side] + "/play")
    time.sleep(longest + 0.1)
    for battle in battles:
        for side in ("a", "b"):
            client.post(battle[side] + "/ended")


def vote(client: httpx.Client, battle: dict, winner: str = "a", **extra) -> httpx.Response:
    return client.post("/api/vote", json={"token": battle["token"], "winner": winner, **extra})


def test_nothing_served_before_the_vote_names_a_system(space, system_names, fifth_system):
    srv = space
    with visitor(srv) as client:
        b = new_battle(client)
        seen = [str(b)]
        sizes = {}
        for side in ("instruction", "a", "b"):
            r = client.get(b[side])
            assert r.status_code == 200
            assert "content-disposition" not in r.headers
            assert r.headers["content-type"] == "audio/wav" and r.headers["cache-control"] == "no-store"
            seen += [b[side], str(dict(r.headers))]
            data = r.content
            sizes[side] = len(data)
            # A bare PCM WAV: RIFF, fmt and data chunks only; no LIST/INFO tags, no encoder string.
            meta = wav_metadata(data)
            assert b"LIST" not in meta and b"INFO" not in meta and b"Lavf" not in meta
            x, sr = read_raw(data)
            assert x.shape[1] == 1 and 1.5 < len(x) / sr < 20  # real speech, seconds long
            if side != "instruction":
                assert loudness_lufs(x[:, 0], sr) == pytest.approx(-23.0, abs=1.0)  # volume gives nothing away
            seen.append(meta.decode("latin-1"))
        assert sizes["a"] == sizes["b"]  # the size of a clip does not say which side is which
    text = "\n".join(seen).lower()
    for name in system_names:
        assert name.lower() not in text, name


def test_every_battle_serves_its_own_encoding(space):
    """Size and hash of a clip never repeat across battles, though the same responses come back."""
    srv = space
    arena = srv.ctx.arena
    seen_hash, seen_size, per_response = set(), {}, {}
    with visitor(srv) as client:
        for _ in range(40):
            b = new_battle(client)
            battle = arena.battles[b["token"]]
            for side, system in (("a", battle.pair.system_a), ("b", battle.pair.system_b)):
                data = client.get(b[side]).content
                digest = hashlib.sha256(data).hexdigest()
                assert digest not in seen_hash
                seen_hash.add(digest)
                per_response.setdefault((system, battle.sample.id), []).append(len(data))
                seen_size.setdefault(len(data), set()).add(b["token"])
    repeated = [k for k, v in per_response.items() if len(v) > 1]
    assert repeated, "no response was served twice in 40 battles; the check would be empty"
    for key in repeated:
        assert len(set(per_response[key])) == len(per_response[key]), key  # never the same size twice
    assert all(len(tokens) == 1 for tokens in seen_size.values())  # a size names at most one battle
    # The dither is inaudible: the served speech is the decoded response within +-1 LSB.
    b = new_battle(visitor(srv))
    st = arena.clip(b["a"].split("/")[-1])
    raw = np.frombuffer(arena.clip_bytes(b["a"].split("/")[-1])[44:], dtype="<i2").astype(np.int32)
    speech = raw[st.clip.lead:st.clip.lead + len(st.clip.pcm.samples)]
    assert np.abs(speech - st.clip.pcm.samples.astype(np.int32)).max() <= 1
    assert np.abs(raw[:st.clip.lead]).max(initial=0) <= 1 and np.abs(raw[st.clip.lead + len(st.clip.pcm.samples):]).max() <= 1


def test_listening_is_measured_on_the_server(space):
    srv = space
    arena = srv.ctx.arena
    with visitor(srv) as client:
        b = new_battle(client, level="L0")
        state = lambda: client.get(f"/api/battle/{b['token']}").json()  # noqa: E731
        st_a, st_b = (arena.clip(b[side].split("/")[-1]) for side in ("a", "b"))
        dur_a, dur_b = st_a.clip.duration_s, st_b.clip.duration_s
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
        # Fetching half of the speech caps its share at one half, however long it played.
        lo, hi = st_b.clip.speech_span
        mid = (lo + hi) // 2
        half = client.get(b["b"], headers={"Range": f"bytes=0-{mid}"})
        size_b = st_b.clip.size
        assert half.status_code == 206 and half.headers["content-range"] == f"bytes 0-{mid}/{size_b}"
        s = state()
        assert s["listened_a"] == pytest.approx(1.0) and s["listened_b"] == pytest.approx(0.5, abs=0.01)
        assert not s["unlocked"]
        client.get(b["b"], headers={"Range": f"bytes={mid + 1}-"})
        assert state()["unlocked"]
        # A clip fetched but never played has a stopped clock.
        b2 = new_battle(client)
        client.get(b2["a"]), client.get(b2["b"])
        time.sleep(0.3)
        assert arena.listening(b2["token"]) == (0.0, 0.0)


def test_uncounted_votes_reveal_nothing_and_are_refused_after_an_allowance(space, system_names):
    srv = space
    arena = srv.ctx.arena
    with visitor(srv) as client:
        b = new_battle(client)
        early = vote(client, b, "b").json()
        assert early["counted"] is False and early["reason"] == "not_listened"
        assert early["system_a"] is None and early["system_b"] is None  # no reveal without a counted vote
        assert srv.ctx.arena.store.battle(b["token"])["revealed_at"] is None
        second = vote(client, b, "a").json()
        assert second["counted"] is False and second["system_a"] is None
        n_rows = arena.store.count()
        for _ in range(5):  # the battle's allowance (2) is used up: refused, nothing stored
            r = vote(client, b, "tie")
            assert r.status_code == 429 and "no more votes" in r.json()["error"]
        assert arena.store.count() == n_rows

        b2 = new_battle(client, level="L0")
        listen(client, arena, b2)
        ok = vote(client, b2, "a", failure="not_understood").json()
        assert ok["counted"] is True and ok["reason"] == "" and ok["listened_a"] >= 0.8
        assert {ok["system_a"], ok["system_b"]} <= set(system_names) and ok["system_a"] != ok["system_b"]
        again = vote(client, b2, "b").json()
        assert again["counted"] is False and again["reason"] == "after_reveal"
    rows = {r["vote_id"]: r for r in arena.store.votes()}
    for res in (early, second, ok, again):
        assert rows[res["vote_id"]]["exclusion_reason"] == res["reason"]
    assert rows[ok["vote_id"]]["failure"] == "not_understood"
    assert rows[ok["vote_id"]]["p_pair"] is not None and 0 < rows[ok["vote_id"]]["p_pair"] <= 1
    assert arena.store.battle(b2["token"])["revealed_at"] == pytest.approx(rows[ok["vote_id"]]["voted_at"])


def test_sessions_are_issued_by_the_server_not_chosen_by_the_client(space):
    srv = space
    with visitor(srv) as alice, visitor(srv) as mallory:
        b = new_battle(alice)
        cookie = alice.cookies.get("s2s_arena_session")
        assert cookie and "." in cookie
        # A header naming a session is ignored; a forged or altered cookie is replaced by a fresh session.
        r = mallory.post("/api/vote", json={"token": b["token"], "winner": "a"}, headers={"X-Arena-Session": cookie})
        assert r.status_code == 403 and "another session" in r.json()["error"]
        forged = cookie.split(".")[0] + "." + "0" * 32
        r = httpx.post(srv.url + "/api/vote", json={"token": b["token"], "winner": "a"},
                       cookies={"s2s_arena_session": forged})
        assert r.status_code == 403 and r.cookies.get("s2s_arena_session") not in (None, forged, cookie)
        r = vote(alice, b, "a")  # the real owner may
        assert r.status_code == 200


def test_counted_votes_are_limited_per_voter_and_per_address_and_only_counted_ones_use_budget(
        tmp_path, mini_dataset, arena_responses):
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{tmp_path / 'votes.db'}", port=free_port(), block=False,
                votes_per_minute_session=3, votes_per_minute_client=5, battles_per_minute_session=1000,
                battles_per_minute_client=1000, bootstrap=0, ui=False)
    try:
        _limits(srv)
    finally:
        srv.close()


def _limits(srv) -> None:
    arena = srv.ctx.arena
    # The fixture allows 3 counted votes per voter and 5 per address a minute. Votes that do not count
    # use up nothing: an address full of unheard clicks leaves honest voters their budget.
    with visitor(srv) as noisy:
        for _ in range(4):
            vote(noisy, new_battle(noisy), "a")
    with visitor(srv) as hasty, visitor(srv) as neighbour:
        battles = [new_battle(hasty, level="L0") for _ in range(4)]
        more = [new_battle(neighbour, level="L0") for _ in range(3)]
        listen(hasty, arena, *battles)  # four tabs at once: every battle is heard before any vote
        listen(neighbour, arena, *more)
        results = [vote(hasty, b, "tie").json() for b in battles]
        assert [r["counted"] for r in results] == [True, True, True, False]
        assert results[-1]["reason"] == "rate_limited" and results[-1]["system_a"] is None
        # The neighbour shares the address (127.0.0.1): 5 counted a minute between them.
        nres = [vote(neighbour, b, "a").json() for b in more]
        assert [r["counted"] for r in nres] == [True, True, False] and nres[-1]["reason"] == "rate_limited"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    from s2s_arena.arena.identity import Identity, parse_networks

    plain = Identity(b"k" * 32)
    assert plain.client_address("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    proxied = Identity(b"k" * 32, trusted_proxies=parse_networks("127.0.0.1, 10.0.0.0/8"))
    assert proxied.client_address("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # The client can prepend anything; the right-most hop that is not a proxy is the one believed.
    assert proxied.client_address("10.1.2.3", "6.6.6.6, 203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert proxied.client_address("198.51.100.1", "203.0.113.9") == "198.51.100.1"  # not a proxy
    assert plain.address_id("203.0.113.9").startswith("ip:") and "203" not in plain.address_id("203.0.113.9")
    from s2s_arena.errors import ConfigError

    with pytest.raises(ConfigError, match="not-an-ip"):
        parse_networks("10.0.0.1, not-an-ip")


def test_battle_creation_is_rate_limited_and_stores_nothing_when_refused(tmp_path, mini_dataset, arena_responses):
    db = tmp_path / "votes.db"
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{db}", port=free_port(), block=False, ui=False,
                battles_per_minute_session=3, battles_per_minute_client=5, bootstrap=0)
    arena = srv.ctx.arena
    try:
        with visitor(srv) as client:
            for _ in range(3):
                new_battle(client)
            assert battle_rows(db) == 3
            kept = (dict(arena.battles), dict(arena.clips))
            refused = client.post("/api/battle", json={})
            assert refused.status_code == 429
            assert "this session" in refused.json()["error"] and "3 a minute" in refused.json()["error"]
            assert 0 < int(refused.headers["retry-after"]) <= 60
            assert battle_rows(db) == 3 and (arena.battles, arena.clips) == kept  # nothing stored or rendered
        # Fresh sessions from the same address share its budget (5 a minute).
        new_battle(visitor(srv))
        new_battle(visitor(srv))
        over_client = visitor(srv).post("/api/battle", json={})
        assert over_client.status_code == 429 and "your address" in over_client.json()["error"]
        assert battle_rows(db) == 5 and len(arena.battles) == 5
    finally:
        srv.close()


def battle_rows(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT count(*) FROM battles").fetchone()[0]


def test_a_refused_battle_does_not_extend_the_wait():
    from s2s_arena.arena.battles import RateLimiter

    limiter = RateLimiter(2, window_s=60.0)
    assert limiter.hit("s", 0.0) and limiter.hit("s", 10.0)
    assert limiter.wait_s("s", 20.0) == pytest.approx(40.0)
    assert limiter.wait_s("s", 30.0) == pytest.approx(30.0)  # asking again recorded nothing
    assert limiter.wait_s("s", 60.5) == 0.0 and limiter.wait_s("other", 20.0) == 0.0


def test_bad_and_oversized_requests_are_refused(space):
    srv = space
    with visitor(srv) as client:
        b = new_battle(client)
        for path in ("/clip/../../etc/passwd", "/clip/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/clip/..%2Fvotes.db",
                     "/clip/" + "A" * 24, "/clip/" + b["a"].split("/")[-1] + "%00"):
            r = client.get(path)
            assert r.status_code in (404, 405) and b"root:" not in r.content
        assert client.get(b["a"], headers={"Range": "bytes=99999999-"}).status_code == 416
        assert client.get(b["a"], headers={"Range": "bytes=" + "9" * 40 + "-"}).status_code == 416
        assert vote(client, b, "left").status_code == 400
        assert "failure" in vote(client, b, "tie", failure="worse").json()["error"]
        assert client.post("/api/vote", json={"token": "nope", "winner": "a"}).status_code == 400
        assert client.post(b["a"] + "/rewind").status_code == 400
        assert client.post("/api/battle", json={"level": "L9"}).status_code == 400
        assert new_battle(client, level="L2")["level"] == "L2"
        # Bodies are capped (64 KiB), announced or streamed; uploads are off.
        big = b'{"token": "' + b"x" * 200_000 + b'"}'
        assert client.post("/api/vote", content=big, headers={"content-type": "application/json"}).status_code == 413

        def chunks():
            for _ in range(100):
                yield b"x" * 4096

        assert client.post("/api/vote", content=chunks()).status_code == 413
        for path in ("/gradio_api/upload", "/upload"):
            assert client.post(path, files={"files": ("a.wav", b"RIFF" + b"\0" * 1000)}).status_code == 404
        assert client.get("/healthz").json()["ok"] is True


def test_loudness_normalisation_really_changed_the_audio(space):
    srv = space
    arena = srv.ctx.arena
    b = new_battle(visitor(srv))
    st = arena.clip(b["a"].split("/")[-1])
    x, sr = read_raw(arena.clip_bytes(b["a"].split("/")[-1]))
    assert sr == 24000 and x.shape[1] == 1 and np.abs(x).max() > 0.05
    battle = arena.battles[b["token"]]
    source, source_sr = read_raw(arena.responses[battle.pair.system_a].responses[battle.sample.id].audio_path)
    lead, n = st.clip.lead, len(st.clip.pcm.samples)
    assert source_sr == sr and source.shape[0] == n
    served, original = x[lead:lead + n, 0].astype(np.float64), source[:, 0].astype(np.float64)
    # The same speech (a plain gain), brought from the system's own level to -23 LUFS.
    assert np.corrcoef(served, original)[0, 1] > 0.99
    assert loudness_lufs(source[:, 0], sr) < -23.5 and loudness_lufs(x[:, 0], sr) == pytest.approx(-23.0, abs=1.0)
    assert np.sqrt(np.mean(served ** 2)) > 1.05 * np.sqrt(np.mean(original ** 2))


def test_a_broken_response_is_skipped_and_logged_never_shown(tmp_path, mini_dataset, arena_responses, fifth_system,
                                                               caplog):
    resp = tmp_path / "resp"
    shutil.copytree(arena_responses, resp)
    for wav in (resp / fifth_system).glob("*.wav"):
        wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    srv = serve(mini_dataset, resp, f"sqlite:///{tmp_path / 'votes.db'}", port=free_port(), block=False, ui=False,
                battles_per_minute_session=1000, battles_per_minute_client=1000, bootstrap=0)
    try:
        with caplog.at_level(logging.WARNING, logger="s2s_arena.arena"), visitor(srv) as client:
            answers = [client.post("/api/battle", json={}) for _ in range(30)]
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
        assert all(fifth_system not in r.text for r in answers)
        arena = srv.ctx.arena
        # Each broken response is dropped once its clip failed to decode; no battle shows it.
        assert arena.broken and {system for system, _ in arena.broken} == {fifth_system}
        shown = [arena.battles[r.json()["token"]] for r in answers]
        assert all((b.pair.system_a, b.sample.id) not in arena.broken and (b.pair.system_b, b.sample.id)
                   not in arena.broken for b in shown)
        assert any(fifth_system in rec.getMessage() for rec in caplog.records)  # the operator is told
    finally:
        srv.close()


def test_every_process_draws_its_own_battle_seed(mini_samples, mini_responses, tmp_path):
    from s2s_arena.arena.battles import Arena
    from s2s_arena.arena.store import VoteStore

    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    responses = load_responses(mini_responses)
    seeds = {Arena(mini_samples, responses, store).seed for _ in range(3)}
    assert len(seeds) == 3
    assert Arena(mini_samples, responses, store, seed=7).seed == 7  # a caller may still fix it
    store.close()


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
