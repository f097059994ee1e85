"""Pair sampling: exposure first, then close or uncertain pairs; p_pair is the true probability."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from s2s_arena.arena.sampler import all_pairs, pair_weights, sample_pair

SYSTEMS = ["alpha", "bravo", "charlie", "delta"]


def test_least_voted_pairs_come_first():
    pairs = all_pairs(SYSTEMS)
    counts = {p: 10 for p in pairs}
    counts[("alpha", "delta")] = 0
    rng = np.random.default_rng(0)
    drawn = Counter(tuple(sorted((c.system_a, c.system_b))) for c in (sample_pair(pairs, counts, rng) for _ in range(500)))
    assert drawn.most_common(1)[0][0] == ("alpha", "delta")
    assert drawn[("alpha", "delta")] > 450  # exp(-10) leaves the others a sliver


def test_p_pair_matches_the_empirical_frequency_and_sums_to_one():
    pairs = all_pairs(SYSTEMS)
    counts = {("alpha", "bravo"): 1, ("charlie", "delta"): 2}
    rng = np.random.default_rng(1)
    n = 6000
    draws = [sample_pair(pairs, counts, rng) for _ in range(n)]
    p_of = {}
    freq = Counter()
    for c in draws:
        key = tuple(sorted((c.system_a, c.system_b)))
        p_of[key] = c.p_pair
        freq[key] += 1
    assert set(p_of) == set(pairs)
    assert sum(p_of.values()) == pytest.approx(1.0)
    for key, p in p_of.items():
        assert freq[key] / n == pytest.approx(p, abs=0.02)


def test_left_right_order_is_randomised_and_seeded():
    pairs = [("alpha", "bravo")]
    rng = np.random.default_rng(2)
    lefts = Counter(sample_pair(pairs, {}, rng).system_a for _ in range(400))
    assert 150 < lefts["alpha"] < 250
    a = [sample_pair(all_pairs(SYSTEMS), {}, np.random.default_rng(7)) for _ in range(3)]
    b = [sample_pair(all_pairs(SYSTEMS), {}, np.random.default_rng(7)) for _ in range(3)]
    assert a == b


def test_with_equal_exposure_close_and_uncertain_pairs_are_preferred():
    board = {
        "alpha": {"rating": 1000, "ci_low": 990, "ci_high": 1010},
        "bravo": {"rating": 1005, "ci_low": 995, "ci_high": 1015},   # close to alpha
        "charlie": {"rating": 1400, "ci_low": 1390, "ci_high": 1410},  # far from both
        "delta": {"rating": 1400, "ci_low": 1000, "ci_high": 1800},   # far but very uncertain
    }
    pairs = all_pairs(SYSTEMS)
    w = dict(zip(pairs, pair_weights(pairs, {}, board)))
    assert w[("alpha", "bravo")] > w[("alpha", "charlie")]
    assert w[("alpha", "delta")] > w[("alpha", "charlie")]
    # Exposure still dominates: a close pair with many more votes loses to an unvoted far pair.
    counts = {("alpha", "bravo"): 20}
    w2 = dict(zip(pairs, pair_weights(pairs, counts, board)))
    assert w2[("alpha", "charlie")] > w2[("alpha", "bravo")]


def test_candidate_pairs_restrict_the_draw_and_bad_input_is_refused():
    rng = np.random.default_rng(3)
    only = [("charlie", "bravo")]
    for _ in range(20):
        c = sample_pair(only, {}, rng)
        assert {c.system_a, c.system_b} == {"bravo", "charlie"} and c.p_pair == 1.0
    with pytest.raises(ValueError, match="no pair"):
        sample_pair([("alpha", "alpha")], {}, rng)
    assert len(all_pairs(SYSTEMS)) == len(list(itertools.combinations(SYSTEMS, 2)))
