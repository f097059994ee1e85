"""Rating engine: Bradley–Terry against an independent maximum-likelihood solution, bootstrap CI
coverage on simulated data, the paper's Elo update, breakdowns, style control, the real v1 labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from s2s_arena import ratings
from s2s_arena.outcomes import Outcomes, load_outcomes


def simulate(theta, n_samples, per_sample, rng, tie_prob=0.0, p_pair=False, style=None):
    """Pairwise outcomes from a Bradley–Terry model (optional random ties, sampling propensities)."""
    k = len(theta)
    rows = []
    for s in range(n_samples):
        for _ in range(per_sample):
            a, b = rng.choice(k, size=2, replace=False)
            logit = theta[a] - theta[b]
            row = {"sample_id": f"s{s}", "system_a": f"m{a}", "system_b": f"m{b}"}
            if style is not None:
                da, db = style[a] + rng.normal(0, 1), style[b] + rng.normal(0, 1)
                row["duration_a"], row["duration_b"] = da, db
                logit += 0.8 * (da - db)
            if rng.random() < tie_prob:
                row["winner"] = "tie"
            else:
                row["winner"] = "a" if rng.random() < 1 / (1 + math.exp(-logit)) else "b"
            if p_pair:
                row["p_pair"] = float(rng.choice([0.25, 0.5, 1.0]))
            rows.append(row)
    return Outcomes.from_records(rows, "simulated")


def independent_mle(o: Outcomes) -> dict[str, float]:
    """BT maximum likelihood straight from the raw rows with scipy (no sufficient statistics)."""
    systems, ia, ib = o.codes()
    k = len(systems)
    y, w = o.score_a, o.weight

    def nll(free):
        theta = np.concatenate([[0.0], free])  # first system pinned at 0
        d = theta[ia] - theta[ib]
        ll = w * (y * -np.logaddexp(0, -d) + (1 - y) * -np.logaddexp(0, d))
        r = w * (y - 1 / (1 + np.exp(-d)))
        g = np.zeros(k)
        np.add.at(g, ia, r)
        np.add.at(g, ib, -r)
        return -ll.sum(), -g[1:]

    res = minimize(nll, np.zeros(k - 1), jac=True, method="BFGS", options={"gtol": 1e-11, "maxiter": 10000})
    theta = np.concatenate([[0.0], res.x])
    theta -= theta.mean()
    return dict(zip(systems, theta))


def as_theta(board_ratings: dict[str, float]) -> dict[str, float]:
    return {s: (r - ratings.DISPLAY_BASE) / ratings.DISPLAY_SCALE for s, r in board_ratings.items()}


def test_fit_equals_independent_mle_with_ties_and_weights():
    rng = np.random.default_rng(1)
    o = simulate(np.array([0.8, 0.3, 0.0, -0.4, -1.0]), 150, 4, rng, tie_prob=0.2, p_pair=True)
    assert o.is_tie.any() and (o.weight != 1).any()
    ours = as_theta(ratings.bradley_terry(o))
    ref = independent_mle(o)
    for s in ref:
        assert ours[s] == pytest.approx(ref[s], abs=1e-6)
    # ignoring the propensity weights is a different (unweighted) estimate
    unweighted = as_theta(ratings.bradley_terry(o, weights=False))
    assert max(abs(unweighted[s] - ours[s]) for s in ref) > 1e-3


def test_davidson_equals_independent_mle():
    rng = np.random.default_rng(2)
    o = simulate(np.array([0.6, 0.0, -0.6]), 200, 3, rng, tie_prob=0.3)
    systems, ia, ib = o.codes()
    win_a, win_b, tie = o.score_a == 1, o.score_a == 0, o.is_tie

    def nll(x):
        theta, log_nu = np.concatenate([[0.0], x[:-1]]), x[-1]
        a, b = theta[ia], theta[ib]
        c = log_nu + (a + b) / 2
        den = np.logaddexp(np.logaddexp(a, b), c)
        return -np.sum(win_a * a + win_b * b + tie * c - den)

    res = minimize(nll, np.zeros(len(systems)), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000})
    theta = np.concatenate([[0.0], res.x[:-1]])
    theta -= theta.mean()
    f = ratings.fit(o, ties="davidson")
    assert f.theta == pytest.approx(theta, abs=1e-5)
    assert f.tie_param == pytest.approx(math.exp(res.x[-1]), rel=1e-4)


def test_weight_equals_duplicated_rows():
    rows = [{"sample_id": "x", "system_a": "p", "system_b": "q", "winner": "a", "p_pair": 0.5},
            {"sample_id": "y", "system_a": "q", "system_b": "p", "winner": "a"},
            {"sample_id": "z", "system_a": "q", "system_b": "r", "winner": "a"},
            {"sample_id": "w", "system_a": "r", "system_b": "p", "winner": "a"},
            {"sample_id": "v", "system_a": "p", "system_b": "r", "winner": "a"},
            {"sample_id": "u", "system_a": "p", "system_b": "r", "winner": "a"}]
    dup = [dict(rows[0], p_pair=None), dict(rows[0], p_pair=None)] + rows[1:]
    a = ratings.bradley_terry(Outcomes.from_records(rows))
    b = ratings.bradley_terry(Outcomes.from_records(dup))
    assert a == pytest.approx(b, abs=1e-9)
    assert a["p"] > a["q"]
    # and the weight matters: unweighted, p's win over q counts once
    assert ratings.bradley_terry(Outcomes.from_records(rows), weights=False)["p"] < a["p"]


def test_bootstrap_ci_coverage_near_nominal():
    rng = np.random.default_rng(7)
    theta = np.array([0.9, 0.4, 0.0, -0.5, -0.8])
    true_display = ratings.DISPLAY_BASE + ratings.DISPLAY_SCALE * (theta - theta.mean())
    covered = total = 0
    for rep in range(200):
        o = simulate(theta, 60, 5, rng)
        board = ratings.leaderboard(o, bootstrap=200, seed=rep)
        for row in board:
            t = true_display[int(row["system"][1:])]
            covered += row["ci_low"] <= t <= row["ci_high"]
            total += 1
    coverage = covered / total
    assert 0.88 <= coverage <= 0.99, coverage


def test_strengths_recovered_and_ranks_from_bounds():
    rng = np.random.default_rng(3)
    theta = np.array([1.2, 0.0, -1.2])
    o = simulate(theta, 800, 3, rng)
    board = ratings.leaderboard(o, bootstrap=500, seed=0)
    assert [r["system"] for r in board] == ["m0", "m1", "m2"]
    assert [r["rank"] for r in board] == [1, 2, 3]  # well separated: CIs do not overlap
    for r in board:
        true = ratings.DISPLAY_BASE + ratings.DISPLAY_SCALE * theta[int(r["system"][1:])]
        assert abs(r["rating"] - true) < 40
        assert r["ci_low"] < r["rating"] < r["ci_high"]


def test_rank_upper_bound_rule():
    low = np.array([1100.0, 1050.0, 990.0, 900.0])
    high = np.array([1200.0, 1120.0, 1060.0, 1000.0])
    # system 2: only system 0's lower bound (1100) is above its upper bound (1060) -> rank 2
    assert ratings._ranks(low, high).tolist() == [1, 1, 2, 3]


def test_bootstrap_is_seeded_and_anchor_pins_1000():
    rng = np.random.default_rng(4)
    o = simulate(np.array([0.5, 0.0, -0.5, 0.2]), 80, 4, rng, tie_prob=0.1)
    a = ratings.leaderboard(o, bootstrap=200, seed=11)
    b = ratings.leaderboard(o, bootstrap=200, seed=11)
    c = ratings.leaderboard(o, bootstrap=200, seed=12)
    assert a == b
    assert [r["ci_low"] for r in a] != [r["ci_low"] for r in c]
    anchored = {r["system"]: r for r in ratings.leaderboard(o, bootstrap=100, anchor="m2")}
    assert anchored["m2"]["rating"] == pytest.approx(1000.0)
    free = ratings.bradley_terry(o)
    assert anchored["m0"]["rating"] - anchored["m2"]["rating"] == pytest.approx(free["m0"] - free["m2"])
    assert sum(free.values()) / len(free) == pytest.approx(1000.0)  # geometric-mean strength at 1000


def test_elo_matches_paper_formula_hand_worked():
    rows = [{"sample_id": "1", "system_a": "A", "system_b": "B", "winner": "a"},
            {"sample_id": "2", "system_a": "B", "system_b": "C", "winner": "tie"}]
    r = ratings.elo(Outcomes.from_records(rows))
    # 1) A beats B at 1000/1000: E_A = 0.5, A = 1000 + 32 * 0.5 = 1016, B = 984.
    # 2) B (984) ties C (1000): E_B = 1 / (1 + 10^(16/400)) = 0.476990..., B += 32 (0.5 - E_B).
    assert r["A"] == pytest.approx(1016.0)
    assert r["B"] == pytest.approx(984.736307, abs=1e-5)
    assert r["C"] == pytest.approx(999.263693, abs=1e-5)
    r2 = ratings.elo(Outcomes.from_records(rows), k=16, init=1500)
    assert r2["A"] == pytest.approx(1508.0)


def test_win_matrix_counts():
    rows = [{"sample_id": "1", "system_a": "x", "system_b": "y", "winner": "a"},
            {"sample_id": "2", "system_a": "y", "system_b": "x", "winner": "a"},
            {"sample_id": "3", "system_a": "x", "system_b": "y", "winner": "both_bad"},
            {"sample_id": "4", "system_a": "x", "system_b": "z", "winner": "tie"}]
    m = ratings.win_matrix(Outcomes.from_records(rows))
    assert m.systems == ["x", "y", "z"]
    assert m.wins.tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert m.n[0, 1] == 3 and m.both_bad[0, 1] == 1 and m.ties[0, 2] == 1
    assert m.fraction[0, 1] == pytest.approx(0.5) and m.fraction[2, 0] == pytest.approx(0.5)
    assert np.isnan(m.fraction[1, 2])


def test_system_without_wins_stays_finite():
    rows = [{"sample_id": str(i), "system_a": "good", "system_b": "bad", "winner": "a"} for i in range(10)]
    rows += [{"sample_id": f"t{i}", "system_a": "good", "system_b": "mid", "winner": w}
             for i, w in enumerate("ababa")]
    board = ratings.leaderboard(Outcomes.from_records(rows), bootstrap=100)
    assert all(np.isfinite([r["rating"], r["ci_low"], r["ci_high"]]).all() for r in board)
    assert board[-1]["system"] == "bad" and board[-1]["losses"] == 10
    assert ratings.fit(Outcomes.from_records(rows)).regularized


def test_breakdown_by_task_and_by_system_kind():
    rows = []
    for i in range(40):
        rows.append({"sample_id": f"e{i}", "task": "emotion", "system_a": "ind1", "system_b": "aca1",
                     "winner": "a" if i % 4 else "b"})  # ind1 wins 30/40 on emotion
        rows.append({"sample_id": f"s{i}", "task": "singing", "system_a": "ind1", "system_b": "ind2",
                     "winner": "tie"})
    o = Outcomes.from_records(rows)
    by_task = {(r["group"], r["system"]): r for r in ratings.breakdown(o, by="task", bootstrap=300)}
    emo = by_task[("emotion", "ind1")]
    assert emo["win_rate"] == pytest.approx(0.75) and emo["n"] == 40
    assert emo["ci_low"] < 0.75 < emo["ci_high"] and emo["ci_low"] > 0.5
    assert by_task[("singing", "ind2")]["win_rate"] == pytest.approx(0.5)
    assert ("singing", "aca1") not in by_task
    meta = {"ind1": {"kind": "industrial"}, "ind2": {"kind": "industrial"}, "aca1": {"kind": "academic"}}
    by_kind = {r["group"]: r for r in ratings.breakdown(o, by="kind", metadata=meta, bootstrap=300)}
    assert by_kind["industrial"]["win_rate"] == pytest.approx(0.75)  # only cross-kind comparisons count
    assert by_kind["academic"]["win_rate"] == pytest.approx(0.25)
    assert by_kind["industrial"]["n"] == 40
    with pytest.raises(Exception, match="level"):
        ratings.breakdown(o, by="level")


def test_style_control_removes_a_length_advantage():
    rng = np.random.default_rng(5)
    # equal true strength; m0 talks longer and longer answers win -> raw BT favours m0
    o = simulate(np.zeros(3), 300, 3, rng, style=np.array([1.0, 0.0, 0.0]))
    res = ratings.style_controlled(o, covariates=["duration"], bootstrap=100, seed=0)
    coef = res["coefficients"][0]
    assert coef["feature"] == "duration" and coef["ci_low"] > 0
    board = {r["system"]: r for r in res["board"]}
    assert board["m0"]["raw_rating"] - 1000 > 60  # the raw rating rewards length
    assert abs(board["m0"]["rating"] - 1000) < 40  # style-controlled: back to equal strength
    assert res["n_used"] == len(o)
    with pytest.raises(Exception, match="loudness"):
        ratings.style_controlled(o, covariates=["loudness"])


def test_real_v1_overall_leaderboard(v1_labels_path):
    o = load_outcomes(v1_labels_path)
    board = ratings.leaderboard(o, bootstrap=1000, seed=0)
    by = {r["system"]: r for r in board}
    top, bottom = ["4o", "4o_cascade", "funaudio"], ["speechgpt", "miniomni", "4o_llama_omni"]
    assert min(by[s]["rating"] for s in top) > max(by[s]["rating"] for s in bottom)
    assert {r["system"] for r in board[:3]} == set(top)
    for r in board:
        assert r["ci_low"] < r["rating"] < r["ci_high"]
        assert r["n"] == int(((o.system_a == r["system"]) | (o.system_b == r["system"])).sum())
    # 4o's interval lies wholly above each academic system's: rank (UB) separates them
    assert all(by["4o"]["ci_low"] > by[s]["ci_high"] for s in bottom)
    assert by["4o"]["rank"] == 1 and all(by[s]["rank"] > 1 for s in bottom)


def test_identical_clusters_shortcut_matches_plain_resampling():
    # one outcome per instruction: the bootstrap draws per kind of cluster instead of per cluster;
    # its intervals must match plain resampling of every cluster (up to Monte Carlo error)
    rng = np.random.default_rng(9)
    theta = np.array([0.6, 0.1, -0.7])
    rows = []
    for i in range(3000):
        a, b = rng.choice(3, size=2, replace=False)
        win = rng.random() < 1 / (1 + math.exp(-(theta[a] - theta[b])))
        rows.append({"sample_id": f"q{i}", "system_a": f"m{a}", "system_b": f"m{b}", "winner": "a" if win else "b"})
    o = Outcomes.from_records(rows)
    fast = ratings.fit(o, bootstrap=2000, seed=1)
    plain = ratings.fit(o, bootstrap=2000, seed=1, clusters=np.array(sorted(f"q{i}" for i in range(3000))))
    assert fast.theta == pytest.approx(plain.theta, abs=1e-9)
    assert fast.samples.std(axis=0) == pytest.approx(plain.samples.std(axis=0), rel=0.08)
    q = [2.5, 97.5]
    assert np.percentile(fast.samples, q, axis=0) == pytest.approx(np.percentile(plain.samples, q, axis=0), abs=0.02)
    assert not np.array_equal(fast.samples, plain.samples)  # the two paths really differ
