"""Gold battles and re-served battles in the real arena (real clip rendering, a real SQLite store), and the
simulated crowd: the validity report recovers the injected figures, gold catches the careless voters, and
the board without them has the true order.

Materials: short synthetic clips for five systems and the four reference systems
(``crowd.synthetic_materials``); the simulated voters never listen, they report listening with past clock
readings (``crowd.listen_fully``), so no real time passes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from s2s_arena import validity
from s2s_arena.arena import crowd
from s2s_arena.arena.battles import Arena
from s2s_arena.arena.reserve import make_planner
from s2s_arena.arena.roles import gold_failed_voters, read_roles, vote_rows
from s2s_arena.arena.store import VoteStore
from s2s_arena.responses import load_responses

UNLIMITED = dict(votes_per_minute_session=10 ** 9, votes_per_minute_client=10 ** 9,
                 battles_per_minute_session=10 ** 9, battles_per_minute_client=10 ** 9)


@pytest.fixture(scope="module")
def materials(tmp_path_factory):
    root = tmp_path_factory.mktemp("gold_materials")
    samples, resp, gold = crowd.synthetic_materials(root, n_samples=24)
    return samples, resp, gold


def make_arena(tmp_path, materials, *, gold_share=0.0, reserve_share=0.0, seed=0):
    samples, resp, gold = materials
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    responses = load_responses(resp)
    planner = make_planner(samples, responses, store, gold_share=gold_share, gold_responses=gold,
                           reserve_share=reserve_share)
    return Arena(samples, responses, store, seed=seed, planner=planner, **UNLIMITED)


def test_gold_votes_are_stored_uncounted_but_answered_like_counted_ones(tmp_path, materials):
    arena = make_arena(tmp_path, materials, gold_share=0.9)
    kinds, sides = Counter(), Counter()
    for i in range(40):
        b = arena.new_battle("voter-1")
        crowd.listen_fully(arena, b)
        res = arena.vote(b.token, "a", session="voter-1")
        assert res.counted and res.reason == "" and res.revealed
        plan = arena.planner.roles.get(b.token)
        if plan is not None and plan.role == "gold":
            kinds[plan.gold_kind] += 1
            sides[plan.gold_expected] += 1
            assert {b.pair.system_a, b.pair.system_b} & {"reference"}
            assert res.vote.exclusion_reason == "gold" and not res.vote.counted
    assert kinds["content"] > 0 and kinds["paralinguistic"] > 0
    assert sides["a"] > 5 and sides["b"] > 5  # the better side is left or right at random
    rows = vote_rows(arena.store)
    gold_rows = [r for r in rows if r["role"] == "gold"]
    assert len(gold_rows) == sum(kinds.values())
    assert all(r["exclusion_reason"] == "gold" and not r["counted"] for r in gold_rows)
    # The ratings read counted votes only: gold never enters them.
    assert all(r["role"] != "gold" for r in arena.store.votes(counted_only=True) for r in [
        {**r, "role": read_roles(arena.store.engine).get(r["battle_token"], {}).get("role", "ordinary")}])
    # A second vote on an answered gold battle is "after reveal", like any other battle.
    g = next(r for r in gold_rows)
    assert arena.vote(g["battle_token"], "b", session="voter-1").reason == "after_reveal"
    # "Always left" earns chance on gold, so this voter is flagged (and the sweep drops their votes).
    acc = validity.gold_accuracy(rows)["voter-1"]
    assert 0.3 < acc["accuracy"] < 0.7
    assert gold_failed_voters(arena.store) == {"voter-1"}


def test_reserved_battles_go_to_other_voters_half_of_them_swapped(tmp_path, materials):
    arena = make_arena(tmp_path, materials, reserve_share=0.99)
    originals = {}
    for i in range(12):
        b = arena.new_battle("first")
        crowd.listen_fully(arena, b)
        arena.vote(b.token, "a", session="first")
        originals[b.token] = b
    # The first voter is never served their own battle again.
    b = arena.new_battle("first")
    assert arena.planner.roles.get(b.token) is None
    swapped = []
    for i in range(12):
        voter = f"other-{i % 3}"
        b = arena.new_battle(voter)
        plan = arena.planner.roles[b.token]
        assert plan.role == "reserve"
        o = originals[plan.origin]
        assert b.sample.id == o.sample.id
        assert {b.pair.system_a, b.pair.system_b} == {o.pair.system_a, o.pair.system_b}
        assert (b.pair.system_a != o.pair.system_a) == plan.swapped
        assert b.clips["a"] not in o.clips.values()  # a fresh battle: new clip URLs
        swapped.append(plan.swapped)
        crowd.listen_fully(arena, b)
        assert arena.vote(b.token, "b", session=voter).counted  # a re-served vote counts
    assert sum(swapped) == 6
    roles = read_roles(arena.store.engine)
    assert sum(r["role"] == "reserve" for r in roles.values()) == 12


@pytest.mark.slow
def test_simulated_crowd_recovers_the_injected_figures(tmp_path, materials):
    from s2s_arena.arena.risk import RiskConfig, assess
    from s2s_arena.outcomes import Outcomes
    from s2s_arena.ratings import leaderboard

    samples, resp, _ = materials
    arena = make_arena(tmp_path, materials, gold_share=0.3, reserve_share=0.3, seed=1)
    systems = arena.systems
    cfg = crowd.CrowdConfig(n_voters=30, votes_per_voter=60, careless_share=0.2,
                            ratings=crowd.default_ratings(systems), seed=1)
    votes, careless = crowd.run_crowd(arena, cfg)
    rows = vote_rows(arena.store)
    judge = Outcomes.from_records(crowd.simulated_judge(cfg, samples, systems), "simulated judge")
    attrs = {s.id: validity.requirement_attribute(s) for s in samples}
    rep = validity.validity_report(rows, judge=judge, attributes=attrs, bootstrap=500, seed=0)

    # Gold catches the careless voters (and only them).
    flagged = set(rep["gold"]["flagged"])
    truly_careless = {v for v, c in careless.items() if c}
    assert flagged == truly_careless, (sorted(flagged), sorted(truly_careless))

    # Every figure the model predicts lies inside the report's 95% CI.
    expected = crowd.expected_figures(cfg, votes, rows, flagged)
    observed = crowd.observed_figures(rep)
    assert {"gold_accuracy_all", "first_slot_rate", "cohen_kappa", "swap_consistency", "judge_agreement"} <= set(observed)
    for name, (value, ci) in observed.items():
        assert ci is not None and ci[0] <= expected[name] <= ci[1], (name, expected[name], value, ci)
    # Position bias shows: the left response is picked more often than half the time.
    assert rep["position_bias"]["first_slot_rate"]["ci"][0] > 0.5
    # Voters are injected as worse on paralinguistic differences: the judge split shows it.
    by_attr = rep["judge_vs_human"]["by_attribute"]
    assert by_attr["content"]["agreement_3way"] > by_attr["paralinguistic"]["agreement_3way"]
    # The voters' reasons follow each system's injected failure profile.
    for system, d in rep["failure_reasons"]["by_system"].items():
        main = max(cfg.profile(system, systems).items(), key=lambda kv: kv[1])[0]
        assert max(("worse", "attempted_failed", "not_understood"), key=lambda f: d[f]) == main

    # The risk sweep, told who failed gold, leaves their votes out; the board then has the true order.
    # The simulated votes take no real time, so the sweep's timing rules (snap, parallel, velocity) are off.
    no_timing = RiskConfig(max_per_hour=10 ** 9, snap_share=2.0, parallel_share=2.0)
    res = assess(arena.store.votes(counted_only=True), no_timing, gold_failed=gold_failed_voters(arena.store))
    assert {r["session"] for r in res.flagged if "gold" in r["risk"]} == truly_careless
    clean = [r for r in res.clean if r["session"] not in truly_careless]
    assert len(clean) == len(res.clean)
    board = leaderboard(Outcomes.from_records(clean, "clean votes"), bootstrap=0)
    truth = sorted(systems, key=lambda s: -cfg.ratings[s])
    assert [r["system"] for r in board] == truth
    assert np.isfinite([r["rating"] for r in board]).all()


def test_the_spaces_agreement_view_reports_without_naming_voters(tmp_path, materials):
    from s2s_arena.arena.validity_tab import ValidityView

    arena = make_arena(tmp_path, materials, gold_share=0.5, reserve_share=0.5)
    view = ValidityView(arena, bootstrap=20)
    assert "No votes yet" in view.markdown()
    for i in range(30):
        voter = f"private-voter-{i % 6}"
        b = arena.new_battle(voter)
        crowd.listen_fully(arena, b)
        arena.vote(b.token, "a", session=voter)
    md = view.markdown()
    assert "# Validity report" in md and "gold answers" in md and "Agreement between voters" in md
    assert "private-voter" not in md and view.report()["gold"]["voters"] == {}
