"""Leaderboard views of the Space, computed by the rating engine from a real vote store."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np

from s2s_arena.schema import Vote
from s2s_arena.arena.store import VoteStore
from s2s_arena.arena.views import Views, agreement_frame, board_frame

SYSTEMS = ["strong-sys", "middle-sys", "weak-sys"]
STRENGTH = {"strong-sys": 2.0, "middle-sys": 0.0, "weak-sys": -2.0}


def _fill(store: VoteStore, n: int, rng: np.random.Generator) -> list[dict]:
    """Votes drawn from a Bradley-Terry model, plus the matching judge verdicts."""
    verdicts = []
    for i in range(n):
        a, b = rng.choice(SYSTEMS, 2, replace=False)
        level = ["L0", "L1", "L2", "L3"][i % 4]
        tok, sid = uuid.uuid4().hex, f"s{i % 10}"
        store.add_battle(dict(token=tok, session="s", client="", created_at=time.time(), sample_id=sid,
                              level=level, domain="d", task="t", system_a=a, system_b=b, p_pair=1 / 3))
        p_a = 1 / (1 + np.exp(STRENGTH[b] - STRENGTH[a]))
        winner = "a" if rng.random() < p_a else "b"
        store.add_vote(Vote(vote_id=uuid.uuid4().hex, session=f"u{i % 7}", sample_id=sid, system_a=a, system_b=b,
                            winner=winner, p_pair=1 / 3, listened_a=1.0, listened_b=1.0), battle_token=tok)
        verdicts.append({"sample_id": sid, "system_a": a, "system_b": b, "order": "ab",
                         "verdict": "A>B" if STRENGTH[a] > STRENGTH[b] else "B>A", "judge": "feature"})
    # Excluded votes never reach the board.
    tok = uuid.uuid4().hex
    store.add_battle(dict(token=tok, session="s", client="", created_at=time.time(), sample_id="s0", level="L0",
                          domain="d", task="t", system_a="weak-sys", system_b="strong-sys", p_pair=1 / 3))
    store.add_vote(Vote(vote_id=uuid.uuid4().hex, session="x", sample_id="s0", system_a="weak-sys",
                        system_b="strong-sys", winner="a", counted=False, exclusion_reason="not_listened"),
                   battle_token=tok)
    return verdicts


def test_human_and_judge_boards_levels_heatmap_and_agreement(tmp_path):
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    verdicts = _fill(store, 120, np.random.default_rng(0))
    vpath = tmp_path / "verdicts.jsonl"
    vpath.write_text("\n".join(json.dumps(v) for v in verdicts) + "\n")
    views = Views(store, vpath, bootstrap=50, seed=0, min_votes=90, plot_dir=tmp_path / "plots")
    snap = views.snapshot()
    assert snap["n_votes"] == 121 and snap["n_counted"] == 120
    assert [r["system"] for r in snap["human_board"]] == SYSTEMS  # the simulated order is recovered
    df = board_frame(snap["human_board"])
    assert list(df["rank"]) == sorted(df["rank"]) and df["votes"].sum() == 240
    assert set(df["status"]) <= {"", "preliminary"} and (df["status"] == "preliminary").any()
    assert sorted(snap["levels"]) == ["L0", "L1", "L2", "L3"]
    assert sum(r["n"] for lv in snap["levels"].values() for r in lv) == 240
    assert [r["system"] for r in snap["judge_board"]] == SYSTEMS
    assert (tmp_path / "plots").joinpath(snap["heatmap"].split("/")[-1]).stat().st_size > 1000
    agree = agreement_frame(snap["agreement"])
    assert int(agree.iloc[0]["value"]) > 0  # items judged by both sides
    assert any("kappa" in s for s in agree["statistic"])
    # Cached until a vote arrives, then recomputed.
    assert views.snapshot() is snap
    _fill(store, 4, np.random.default_rng(1))
    assert views.snapshot()["n_counted"] == 124
    store.close()


def test_empty_store_gives_empty_boards(tmp_path):
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    snap = Views(store, bootstrap=0).snapshot()
    assert snap["human_board"] == [] and snap["heatmap"] is None and snap["agreement"] is None
    assert board_frame([]).empty
    store.close()


def test_votes_that_do_not_count_never_refit_the_board_and_old_plots_are_removed(tmp_path):
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    _fill(store, 30, np.random.default_rng(3))
    views = Views(store, bootstrap=0, plot_dir=tmp_path / "plots")
    snap = views.snapshot()
    for _ in range(50):  # a flood of votes that do not count: the cached board stands, no new plot
        tok = uuid.uuid4().hex
        store.add_battle(dict(token=tok, session="x", client="", created_at=time.time(), sample_id="s1", level="L0",
                              domain="d", task="t", system_a="weak-sys", system_b="strong-sys", p_pair=1 / 3))
        store.add_vote(Vote(vote_id=uuid.uuid4().hex, session="x", sample_id="s1", system_a="weak-sys",
                            system_b="strong-sys", winner="a", counted=False, exclusion_reason="not_listened"),
                       battle_token=tok)
        assert views.snapshot() is snap
    assert len(list((tmp_path / "plots").glob("*.png"))) == 1
    _fill(store, 2, np.random.default_rng(4))
    new = views.snapshot()
    assert new is not snap and new["n_counted"] == 32
    assert [p.name for p in (tmp_path / "plots").glob("*.png")] == [new["heatmap"].split("/")[-1]]
    store.close()
