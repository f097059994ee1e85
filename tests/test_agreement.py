"""Agreement statistics on hand-checked cases (kappa, position bias, rank correlation)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from s2s_arena import agreement
from s2s_arena.outcomes import Outcomes, load_outcomes
from s2s_arena.schema import SchemaError


def rec(sample, a, b, winner, **kw):
    return dict(sample_id=sample, system_a=a, system_b=b, winner=winner, **kw)


def test_cohen_kappa_textbook_case():
    # confusion [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5 -> kappa 0.4
    a = ["A"] * 25 + ["B"] * 25
    b = ["A"] * 20 + ["B"] * 5 + ["A"] * 10 + ["B"] * 15
    assert agreement.cohen_kappa(a, b) == pytest.approx(0.4)
    assert agreement.cohen_kappa(a, a) == pytest.approx(1.0)


def test_label_agreement_three_and_four_way_hand_checked():
    judge = Outcomes.from_records([rec("1", "x", "y", "a"), rec("2", "x", "y", "tie"), rec("3", "x", "y", "b"),
                                   rec("4", "x", "y", "a"), rec("5", "x", "z", "a")], "judge")
    # humans saw some pairs the other way round (y left, x right): matched on the unordered pair
    human = Outcomes.from_records([rec("1", "y", "x", "b"), rec("2", "x", "y", "both_bad"), rec("3", "y", "x", "a"),
                                   rec("4", "x", "y", "b"), rec("6", "x", "z", "a")], "human")
    res = agreement.label_agreement(judge, human, bootstrap=200, seed=0)
    assert res["n_matched_items"] == 4
    assert res["agreement_3way"] == pytest.approx(0.75)
    assert res["agreement_4way"] == pytest.approx(0.5)
    # 3-way: judge (x, tie, y, x), human (x, tie, y, y): p_e = .5*.25 + .25*.5 + .25*.25 = .3125
    assert res["kappa_3way"] == pytest.approx((0.75 - 0.3125) / (1 - 0.3125))
    # 4-way: human's item 2 is both_bad: p_e = .5*.25 + .25*.5 = .25
    assert res["kappa_4way"] == pytest.approx((0.5 - 0.25) / 0.75)
    assert res["decisive_agreement"] == pytest.approx(2 / 3)
    lo, hi = res["kappa_3way_ci"]
    assert lo <= res["kappa_3way"] <= hi


def test_repeated_annotations_weigh_one_item_each():
    a = Outcomes.from_records([rec("1", "x", "y", "a"), rec("2", "x", "y", "a")], "a")
    b = Outcomes.from_records([rec("1", "x", "y", "a"), rec("1", "x", "y", "b"), rec("2", "x", "y", "a")], "b")
    res = agreement.label_agreement(a, b, bootstrap=0)
    assert res["n_matched_pairs"] == pytest.approx(2.0)
    assert res["agreement_3way"] == pytest.approx((0.5 + 1.0) / 2)


def test_position_bias_hand_checked():
    # as the metric writes them: system_a is the system shown first, order says if that was swapped
    rows = [dict(sample_id="1", system_a="x", system_b="y", verdict="A>B", order="ab", judge="j"),
            dict(sample_id="1", system_a="y", system_b="x", verdict="B>A", order="ba", judge="j"),
            dict(sample_id="2", system_a="x", system_b="y", verdict="A>B", order="ab", judge="j"),
            dict(sample_id="2", system_a="y", system_b="x", verdict="A>B", order="ba", judge="j"),
            dict(sample_id="3", system_a="x", system_b="x", verdict="A=B", judge="j"),
            dict(sample_id="4", system_a="y", system_b="y", verdict="A>B", judge="j"),
            dict(sample_id="5", system_a="z", system_b="z", verdict="both_bad", judge="j")]
    b = agreement.position_bias(Outcomes.from_records(rows, "judge", allow_self=True))
    # first slot won in rows 1 (x), 3 (x) and 4 (y), not in row 2 (x won from the second slot);
    # item 1 is consistent across orders (x both times), item 2 follows the slot
    assert b["n_decisive"] == 4 and b["first_slot_pick_rate"] == pytest.approx(0.75)
    assert b["n_swapped_pairs"] == 2 and b["position_consistency"] == pytest.approx(0.5)
    assert b["n_identical_pairs"] == 3 and b["identical_pair_tie_rate"] == pytest.approx(2 / 3)


def test_system_level_rank_correlation():
    rng = np.random.default_rng(0)
    strength = {"s0": 1.5, "s1": 0.5, "s2": -0.5, "s3": -1.5}
    names = list(strength)
    rows = []
    for i in range(400):
        a, b = rng.choice(4, size=2, replace=False)
        p = 1 / (1 + np.exp(-(strength[names[a]] - strength[names[b]])))
        rows.append(rec(f"q{i % 100}", names[a], names[b], "a" if rng.random() < p else "b"))
    o = Outcomes.from_records(rows, "o")
    x, y = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    assert agreement._spearman(x, y) == pytest.approx([spearmanr(u, v).statistic for u, v in zip(x, y)])
    assert agreement._kendall(x, y) == pytest.approx([kendalltau(u, v).statistic for u, v in zip(x, y)])
    same = agreement.system_correlation(o, o, bootstrap=200)
    assert same["spearman"] == pytest.approx(1.0) and same["kendall"] == pytest.approx(1.0)
    assert same["spearman_ci"][0] == pytest.approx(1.0)  # the same draw on both sides
    flipped = Outcomes.from_records([dict(r, winner={"a": "b", "b": "a"}[r["winner"]]) for r in rows], "flip")
    rev = agreement.system_correlation(o, flipped, bootstrap=200)
    assert rev["spearman"] == pytest.approx(-1.0) and rev["kendall"] == pytest.approx(-1.0)
    with pytest.raises(SchemaError, match="at least 3 systems"):
        two = o.subset(np.isin(o.system_a, ["s0", "s1"]) & np.isin(o.system_b, ["s0", "s1"]))
        agreement.system_correlation(two, o)


def test_double_annotated_split_and_no_overlap_error():
    o = Outcomes.from_records([rec("1", "x", "y", "a", session="h1"), rec("1", "y", "x", "b", session="h2"),
                               rec("2", "x", "y", "a", session="h1"), rec("2", "x", "y", "b", session="h3"),
                               rec("3", "x", "y", "tie", session="h1")], "votes")
    one, two = agreement.split_double_annotated(o)
    assert len(one) == len(two) == 2
    res = agreement.compare(one, two, bootstrap=50)
    assert res["agreement_3way"] == pytest.approx(0.5)
    other = Outcomes.from_records([rec("9", "x", "y", "a")], "other")
    with pytest.raises(SchemaError, match="no item"):
        agreement.compare(o, other, bootstrap=0)


def test_real_v1_dimensions_agree_partially(v1_labels_path):
    overall = load_outcomes(v1_labels_path)
    para = load_outcomes(v1_labels_path, dimension="paralinguistics")
    res = agreement.compare(overall, para, bootstrap=200)
    assert res["n_matched_instructions"] == 120 and res["n_matched_items"] == 283
    assert 0.0 < res["kappa_4way"] < 1.0  # related judgements, not the same ones
    # v1 has items labelled twice (same instruction and pair): human-vs-human agreement is real
    first, second = agreement.split_double_annotated(overall)
    counts = Counter(agreement.canonical(overall)[0].tolist())
    assert len(first) == len(second) == sum(c >= 2 for c in counts.values()) == 30
    hh = agreement.compare(first, second, bootstrap=100)
    assert 0.0 < hh["kappa_4way"] < 1.0 and hh["agreement_3way"] > hh["agreement_4way"] - 1e-12


def test_position_consistency_sees_swaps_written_either_way():
    # the same item shown x-first then y-first, recorded once as (x, y) and once as (y, x)
    rows = [rec("1", "x", "y", "a", session="h"), rec("1", "y", "x", "b", session="h"),
            rec("2", "x", "y", "a", session="h"), rec("2", "y", "x", "a", session="h"),
            rec("3", "x", "y", "a", session="h"), rec("3", "x", "y", "a", session="h2")]
    b = agreement.position_bias(Outcomes.from_records(rows, "votes"))
    assert b["n_swapped_pairs"] == 2  # item 3 was shown the same way (and to different people)
    assert b["position_consistency"] == pytest.approx(0.5)  # item 1 consistent, item 2 follows the slot
    assert b["first_slot_pick_rate"] == pytest.approx(5 / 6)  # all but row 2
