"""The attacks of issue 13, replayed against a real server on 127.0.0.1 (real benchmark, real speech).

* Identity oracle: a table of clip sizes and hashes learned from revealed battles names no new battle's
  sides better than a coin (the server is even set to count every vote, so the table costs nothing).
* Stuffing: a script with rotating sessions, made-up ``X-Forwarded-For`` and ``X-Arena-Session``
  headers, that really waits out the clips of many battles at once, gets at most the per-address
  limit of counted votes a minute (6), and none of its other votes reveal anything.
* A script voter that listens in parallel and favours one system is flagged by the risk sweep, and the
  board is computed without it.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from s2s_arena.arena.web import serve
from space_testkit import free_port

pytestmark = pytest.mark.slow


def _size(client: httpx.Client, url: str) -> int:
    r = client.get(url, headers={"Range": "bytes=0-0"})  # the 1-byte request of the original attack
    assert r.status_code == 206
    return int(r.headers["content-range"].split("/")[-1])


def test_a_learned_table_of_sizes_and_hashes_names_no_new_battle(tmp_path, mini_dataset, arena_responses):
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{tmp_path / 'votes.db'}", port=free_port(), block=False,
                ui=False, bootstrap=0, min_listen=0.0, votes_per_minute_session=10_000, votes_per_minute_client=10_000,
                battles_per_minute_session=10_000, battles_per_minute_client=10_000)
    by_hash: dict[str, str] = {}
    by_size: dict[tuple[str, int], set[str]] = {}
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            for _ in range(150):  # learning: every vote counts here, so every battle is revealed
                b = client.post("/api/battle", json={}).json()
                sizes = {side: _size(client, b[side]) for side in ("a", "b")}
                hashes = {side: hashlib.sha256(client.get(b[side]).content).hexdigest() for side in ("a", "b")}
                res = client.post("/api/vote", json={"token": b["token"], "winner": "tie"}).json()
                assert res["counted"] and res["system_a"]
                for side in ("a", "b"):
                    system = res[f"system_{side}"]
                    by_hash[hashes[side]] = system
                    by_size.setdefault((b["instruction_text"], sizes[side]), set()).add(system)
            exact_hits, side_right, side_tries, equal = 0, 0, 0, 0
            rng = random.Random(0)
            for _ in range(60):  # attacking new battles
                b = client.post("/api/battle", json={}).json()
                sizes = {side: _size(client, b[side]) for side in ("a", "b")}
                digests = {side: hashlib.sha256(client.get(b[side]).content).hexdigest() for side in ("a", "b")}
                exact_hits += sum(d in by_hash for d in digests.values())
                equal += sizes["a"] == sizes["b"]
                truth = srv.ctx.arena.battles[b["token"]].pair
                # The best use of the table: for the system on A, the side whose size is nearest one
                # learned for that system on this instruction (ties: a coin).
                learned = {s: [size for (text, size), systems in by_size.items() if text == b["instruction_text"]
                               and s in systems] for s in (truth.system_a, truth.system_b)}
                if not learned[truth.system_a]:
                    continue
                dist = {side: min(abs(sizes[side] - x) for x in learned[truth.system_a]) for side in ("a", "b")}
                guess = rng.choice("ab") if dist["a"] == dist["b"] else min(dist, key=dist.get)
                side_tries += 1
                side_right += guess == "a"
    finally:
        srv.close()
    assert exact_hits == 0  # no clip's bytes were ever served before
    assert equal == 60  # both sides of a battle have one size: nothing to tell them apart
    assert side_tries >= 30
    # Within chance: a binomial(side_tries, 0.5) exceeds this bound with probability < 0.3%.
    assert side_right <= side_tries / 2 + 2.75 * np.sqrt(side_tries / 4), (side_right, side_tries)


def _script_voter(url: str, n_sessions: int, battles_each: int, out: dict, lock: threading.Lock) -> None:
    """One machine, many identities: each session is a fresh cookie jar with made-up headers."""
    rnd = random.Random(7)

    def identity(i: int) -> None:
        headers = {"X-Forwarded-For": f"198.51.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                   "X-Arena-Session": f"bot-{i}-{rnd.random()}"}
        with httpx.Client(base_url=url, timeout=60, headers=headers) as c:
            battles = []
            for _ in range(battles_each):
                r = c.post("/api/battle", json={"level": "L0"})
                if r.status_code == 200:
                    battles.append(r.json())
            longest = 0.0
            for b in battles:  # simulate listening, honestly timed, to all of them at once
                for side in ("a", "b"):
                    longest = max(longest, (len(c.get(b[side]).content) - 44) / 48000)
                    c.post(b[side] + "/play")
            time.sleep(longest + 0.2)
            for b in battles:
                for side in ("a", "b"):
                    c.post(b[side] + "/ended")
                r = c.post("/api/vote", json={"token": b["token"], "winner": "a"})
                with lock:
                    out["attempts"] += 1
                    if r.status_code == 200:
                        res = r.json()
                        out["counted"] += res["counted"]
                        out["revealed"] += res["system_a"] is not None
                        out["reasons"][res["reason"]] = out["reasons"].get(res["reason"], 0) + 1
                    else:
                        out["refused"] += 1

    with ThreadPoolExecutor(n_sessions) as pool:
        list(pool.map(identity, range(n_sessions)))


def test_a_script_with_rotating_sessions_and_forwarded_addresses_gets_a_handful_of_counted_votes(
        tmp_path, mini_dataset, arena_responses):
    # Default limits: 6 counted votes a minute per voter and per address; no proxy is trusted.
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{tmp_path / 'votes.db'}", port=free_port(), block=False,
                ui=False, bootstrap=0)
    out = {"attempts": 0, "counted": 0, "revealed": 0, "refused": 0, "reasons": {}}
    try:
        _script_voter(srv.url, n_sessions=10, battles_each=4, out=out, lock=threading.Lock())
        rows = srv.ctx.arena.store.votes()
    finally:
        srv.close()
    assert out["attempts"] == 40
    assert out["counted"] <= 6, out  # a handful, whatever the headers say
    assert out["revealed"] == out["counted"]
    assert out["reasons"].get("rate_limited", 0) >= 30
    assert len({r["client"] for r in rows}) == 1  # every identity was seen as the one address it is
    assert sum(r["counted"] for r in rows) == out["counted"]


def test_a_parallel_listener_favouring_one_system_is_flagged_and_left_out_of_the_board(
        tmp_path, mini_dataset, arena_responses):
    # The operator trusts a proxy on 127.0.0.1, so each simulated visitor has its own address.
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{tmp_path / 'votes.db'}", port=free_port(), block=False,
                ui=False, bootstrap=0, trusted_proxies=["127.0.0.1"], votes_per_minute_session=1000,
                votes_per_minute_client=1000, battles_per_minute_session=1000)
    arena = srv.ctx.arena
    target = arena.systems[-1]
    script_votes: list[str] = []

    def script() -> None:
        with httpx.Client(base_url=srv.url, timeout=60, headers={"X-Forwarded-For": "203.0.113.66"}) as c:
            battles = [c.post("/api/battle", json={"level": "L0"}).json() for _ in range(30)]
            longest = 0.0
            for b in battles:
                for side in ("a", "b"):
                    c.get(b[side])
                    c.post(b[side] + "/play")
                    longest = max(longest, arena.clip(b[side].split("/")[-1]).clip.duration_s)
            time.sleep(longest + 0.2)
            for b in battles:
                pair = arena.battles[b["token"]].pair  # a script that recognises its favourite's voice
                winner = "a" if pair.system_a == target else "b" if pair.system_b == target else random.choice("ab")
                for side in ("a", "b"):
                    c.post(b[side] + "/ended")
                res = c.post("/api/vote", json={"token": b["token"], "winner": winner}).json()
                assert res["counted"], res
                script_votes.append(res["vote_id"])

    def honest(i: int) -> None:
        with httpx.Client(base_url=srv.url, timeout=60, headers={"X-Forwarded-For": f"192.0.2.{10 + i}"}) as c:
            for _ in range(2):  # one battle at a time, both clips heard
                b = c.post("/api/battle", json={"level": "L0"}).json()
                for side in ("a", "b"):
                    c.get(b[side])
                    c.post(b[side] + "/play")
                time.sleep(max(arena.clip(b[s].split("/")[-1]).clip.duration_s for s in ("a", "b")) + 0.2)
                for side in ("a", "b"):
                    c.post(b[side] + "/ended")
                assert c.post("/api/vote", json={"token": b["token"], "winner": random.choice("ab")}).json()["counted"]

    try:
        threads = [threading.Thread(target=script)] + [threading.Thread(target=honest, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        snap = srv.ctx.views.snapshot()
        flags = srv.ctx.views.assessment.flags
    finally:
        srv.close()
    assert len(script_votes) == 30 and snap["n_counted"] == 38
    flagged_script = [v for v in script_votes if v in flags]
    assert len(flagged_script) >= 29  # the first vote overlaps nothing; every later one overlaps its predecessor
    # every vote after the first overlaps its predecessor; the first may be flagged for its bias alone
    assert sum("parallel" in flags[v] for v in flagged_script) >= 29
    assert snap["n_flagged"] == len(flagged_script)  # the honest visitors are not touched
    assert sum(r["n"] for r in snap["human_board"]) == 2 * (38 - len(flagged_script))
