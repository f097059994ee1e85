"""The risk sweep on vote rows shaped like the store's: each rule catches its pattern, honest voters pass,
flagged votes leave the board (Views) and `s2s-arena votes audit` reports them."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

from s2s_arena.arena.risk import RiskConfig, assess
from s2s_arena.arena.store import VoteStore
from s2s_arena.schema import Vote

SYSTEMS = ["sys-a", "sys-b", "sys-c", "sys-d"]


def row(voter: str, t: float, a: str, b: str, winner: str, *, shown: float | None = None, client: str = "",
        dur=(4.0, 4.0)) -> dict:
    return {"vote_id": uuid.uuid4().hex, "session": voter, "client": client, "shown_at": t - 12.0 if shown is None else shown,
            "voted_at": t, "system_a": a, "system_b": b, "winner": winner, "counted": True,
            "duration_a": dur[0], "duration_b": dur[1], "sample_id": "s1"}


def honest(rng: np.random.Generator, n_voters: int = 12, per_voter: int = 10, t0: float = 1e6) -> list[dict]:
    """Voters who listen one battle at a time (about 12 s of listening plus thought) and vote by taste."""
    rows = []
    strength = {"sys-a": 1.0, "sys-b": 0.3, "sys-c": -0.3, "sys-d": -1.0}
    for v in range(n_voters):
        t = t0 + v * 7.0
        for _ in range(per_voter):
            t += 15.0 + rng.exponential(10.0)
            a, b = rng.choice(SYSTEMS, 2, replace=False)
            p = 1 / (1 + np.exp(strength[b] - strength[a]))
            winner = "a" if rng.random() < p else ("tie" if rng.random() < 0.15 else "b")
            rows.append(row(f"s:honest{v}", t, a, b, winner, client=f"ip:{v:04d}"))
    return rows


def test_honest_voters_are_not_flagged():
    rows = honest(np.random.default_rng(0))
    res = assess(rows)
    assert res.flags == {} and len(res.clean) == len(rows)


def test_each_rule_catches_its_pattern():
    rng = np.random.default_rng(1)
    base = honest(rng)
    t = 2e6
    # velocity: 150 votes in an hour from one session, each after honest listening time (sequential).
    fast = [row("s:fast", t + 20.0 * i, *rng.choice(SYSTEMS, 2, replace=False), "tie", client="ip:fast")
            for i in range(150)]
    # parallel: ten battles heard at once, then ten votes within a second.
    par = [row("s:par", t + 0.1 * i, *rng.choice(SYSTEMS, 2, replace=False), "tie", shown=t - 20, client="ip:par")
           for i in range(10)]
    # snap: votes 2 s after the battle was shown, far less than hearing two 4 s clips.
    snap = [row("s:snap", t + 60.0 * i, *rng.choice(SYSTEMS, 2, replace=False), "tie", shown=t + 60.0 * i - 2.0,
                client="ip:snap") for i in range(8)]
    # bias: always the weakest system when it is there.
    bias = []
    for i in range(14):
        other = SYSTEMS[i % 3]
        a, b = ("sys-d", other) if i % 2 else (other, "sys-d")
        bias.append(row("s:fan", t + 30.0 * i, a, b, "a" if a == "sys-d" else "b", client="ip:fan"))
    # cluster: six sessions from one address, four votes each for sys-d (each alone is under the bias minimum).
    sock = []
    for s in range(6):
        for i in range(4):
            other = SYSTEMS[(s + i) % 3]
            a, b = ("sys-d", other) if i % 2 else (other, "sys-d")
            sock.append(row(f"s:sock{s}", t + 100 * s + 30.0 * i, a, b, "a" if a == "sys-d" else "b", client="ip:farm"))
    res = assess(base + fast + par + snap + bias + sock)
    reasons = {vid: set(r) for vid, r in res.flags.items()}

    def share(rows, reason):
        return np.mean([reason in reasons.get(r["vote_id"], set()) for r in rows])

    assert share(fast, "velocity") == pytest.approx(30 / 150)  # the votes past 120 in the hour
    assert share(par, "parallel") >= 0.9
    assert share(snap, "snap") == 1.0
    assert share(bias, "bias") == 1.0
    assert share(sock, "cluster") == 1.0
    assert all(r["vote_id"] not in res.flags for r in base)  # the honest voters stay
    assert res.reason_counts().keys() == {"velocity", "parallel", "snap", "bias", "cluster"}
    # A stricter or looser config moves the line.
    assert "velocity" not in assess(fast, RiskConfig(max_per_hour=1000)).reason_counts()


def _store_with(tmp_path, rows) -> VoteStore:
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    for r in rows:
        tok = uuid.uuid4().hex
        store.add_battle(dict(token=tok, session=r["session"], client=r["client"], created_at=r["shown_at"],
                              sample_id="s1", level="L0", domain="d", task="t", system_a=r["system_a"],
                              system_b=r["system_b"], p_pair=1 / 6, duration_a=r["duration_a"], duration_b=r["duration_b"]))
        store.add_vote(Vote(vote_id=r["vote_id"], session=r["session"], sample_id="s1", system_a=r["system_a"],
                            system_b=r["system_b"], winner=r["winner"], shown_at=r["shown_at"], voted_at=r["voted_at"],
                            p_pair=1 / 6, listened_a=1.0, listened_b=1.0), battle_token=tok, client=r["client"])
    return store


def test_flagged_votes_are_out_of_the_board_and_the_audit_says_why(tmp_path, capsys):
    from s2s_arena.arena.views import Views
    from s2s_arena.cli import main
    from s2s_arena.outcomes import Outcomes

    rng = np.random.default_rng(2)
    base = honest(rng, n_voters=10, per_voter=12)
    t = 3e6
    fan = []
    for i in range(40):  # a script that listens to battles in parallel and always picks sys-d
        other = SYSTEMS[i % 3]
        a, b = ("sys-d", other) if i % 2 else (other, "sys-d")
        fan.append(row("s:fan", t + 0.05 * i, a, b, "a" if a == "sys-d" else "b", shown=t - 10, client="ip:fan"))
    store = _store_with(tmp_path, base + fan)
    views = Views(store, bootstrap=0)
    snap = views.snapshot()
    board = {r["system"]: r for r in snap["human_board"]}
    assert snap["n_counted"] == len(base) + len(fan) and snap["n_flagged"] == len(fan)
    assert sum(r["n"] for r in board.values()) == 2 * len(base)  # only the clean votes are rated
    assert board["sys-d"]["rank"] == 4  # the script would have lifted it; without it, it is last
    everything = {r["system"]: r for r in views._board(Outcomes.from_records(store.votes(counted_only=True), where="t"))}
    assert everything["sys-d"]["rating"] > board["sys-d"]["rating"]
    store.close()

    assert main(["votes", "audit", str(tmp_path / "votes.db"), "--out", str(tmp_path / "excluded.jsonl")]) == 0
    out = capsys.readouterr().out
    assert f"{len(fan)} counted votes excluded" in out and "s:fan" in out and "bias" in out and "parallel" in out
    excluded = [json.loads(x) for x in (tmp_path / "excluded.jsonl").read_text().splitlines()]
    assert {e["vote_id"] for e in excluded} == {r["vote_id"] for r in fan}
    assert main(["votes", "audit", str(tmp_path / "votes.db"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n_flagged"] == len(fan) and rep["board_after"][-1]["system"] == "sys-d"


def test_audit_needs_a_store(tmp_path, capsys, monkeypatch):
    from s2s_arena.cli import main

    monkeypatch.delenv("S2S_ARENA_DB_URL", raising=False)
    assert main(["votes", "audit"]) == 2
    assert "no vote store" in capsys.readouterr().err
    assert main(["votes", "audit", str(tmp_path / "missing.db")]) == 2
    assert "missing.db: no such vote store" in capsys.readouterr().err


def test_leaderboard_on_a_store_ranks_the_same_clean_votes_as_the_space(tmp_path, capsys):
    """One meaning for the votes: `s2s-arena leaderboard votes.db` sweeps like the Space's board does."""
    from s2s_arena.arena.views import Views
    from s2s_arena.cli import main

    rng = np.random.default_rng(3)
    base = honest(rng, n_voters=10, per_voter=12)
    t = 4e6
    fan = []
    for i in range(40):
        other = SYSTEMS[i % 3]
        a, b = ("sys-d", other) if i % 2 else (other, "sys-d")
        fan.append(row("s:fan", t + 0.05 * i, a, b, "a" if a == "sys-d" else "b", shown=t - 10, client="ip:fan"))
    store = _store_with(tmp_path, base + fan)
    space_board = {r["system"]: r for r in Views(store, bootstrap=0).snapshot()["human_board"]}
    store.close()
    db = str(tmp_path / "votes.db")

    assert main(["leaderboard", "--votes", db, "--bootstrap", "0", "--format", "json"]) == 0
    captured = capsys.readouterr()
    cli_board = {r["system"]: r for r in json.loads(captured.out)}
    assert f"kept {len(base)} of {len(base) + len(fan)} counted votes" in captured.err
    assert {s: r["n"] for s, r in cli_board.items()} == {s: r["n"] for s, r in space_board.items()}
    assert {s: r["rank"] for s, r in cli_board.items()} == {s: r["rank"] for s, r in space_board.items()}
    assert cli_board["sys-d"]["rank"] == 4

    assert main(["leaderboard", "--votes", db, "--bootstrap", "0", "--format", "json", "--no-sweep"]) == 0
    unswept = {r["system"]: r for r in json.loads(capsys.readouterr().out)}
    assert sum(r["n"] for r in unswept.values()) == 2 * (len(base) + len(fan))
    assert unswept["sys-d"]["rating"] > cli_board["sys-d"]["rating"]
