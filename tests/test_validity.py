"""The validity report's statistics on vote rows whose answers are known, and the commands that write it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from s2s_arena import validity
from s2s_arena.schema import SchemaError


def vote(session, sample, a, b, winner, *, counted=True, level="L0", failure=None, **extra):
    return {"vote_id": f"{session}-{sample}-{a}-{b}-{winner}-{len(extra)}", "session": session, "sample_id": sample,
            "system_a": a, "system_b": b, "winner": winner, "counted": counted, "exclusion_reason": "",
            "level": level, "failure": failure, **extra}


def gold(session, sample, expected, winner, kind="content"):
    return vote(session, sample, "reference", "flat" if kind == "paralinguistic" else "echo", winner, counted=False,
                exclusion_reason="gold", role="gold", gold_expected=expected, gold_kind=kind)


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories -> kappa = 0.210.
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert validity.fleiss_kappa(table) == pytest.approx(0.2099, abs=1e-3)
    with pytest.raises(ValueError):
        validity.fleiss_kappa(np.array([[1, 0, 0]]))


def test_gold_accuracy_flags_only_voters_with_enough_wrong_answers():
    rows = [gold("careful", f"s{i}", "a", "a") for i in range(6)] + [gold("careful", "s9", "b", "a")]
    rows += [gold("random", f"s{i}", "a" if i % 2 else "b", "a") for i in range(6)]
    rows += [gold("new", f"s{i}", "a", "b") for i in range(3)]  # wrong, but too few answers to judge
    rows += [vote("random", "x", "s1", "s2", "a")]
    acc = validity.gold_accuracy(rows, min_gold=5, min_accuracy=0.7)
    assert acc["careful"]["n"] == 7 and acc["careful"]["correct"] == 6 and not acc["careful"]["flagged"]
    assert acc["random"]["accuracy"] == pytest.approx(0.5) and acc["random"]["flagged"]
    assert not acc["new"]["flagged"] and acc["new"]["reliability"] == pytest.approx(0.2)
    assert validity.flagged_sessions(rows) == {"random"}
    # Gold votes never count, and a flagged voter's ordinary votes leave the clean set.
    assert validity.clean_votes(rows, {"random"}) == []
    assert len(validity.clean_votes(rows)) == 1


def test_a_tie_on_a_gold_pair_is_a_wrong_answer_and_unlistened_gold_is_no_answer():
    rows = [gold("v", "s1", "a", "tie"), gold("v", "s2", "b", "b"),
            {**gold("v", "s3", "a", "b"), "exclusion_reason": "not_listened"}]
    acc = validity.gold_accuracy(rows)["v"]
    assert acc["n"] == 2 and acc["correct"] == 1


def test_agreement_and_swap_consistency_between_voters():
    rows = []
    for i in range(20):
        s = f"s{i}"
        # Voter 1 sees (x, y), voter 2 the swapped pair: they agree on the system, not the side.
        rows.append(vote("v1", s, "x", "y", "a", level="L0" if i < 10 else "L2"))
        rows.append(vote("v2", s, "y", "x", "b", level="L0" if i < 10 else "L2"))
        # Two more voters in the same order who always pick the left: agree on side, so on system.
        rows.append(vote("v3", s, "p", "q", "a", level="L1"))
        rows.append(vote("v4", s, "p", "q", "a" if i % 2 else "b", level="L1"))
    ia = validity.inter_annotator(rows, bootstrap=100)
    assert ia["n_items"] == 40
    assert ia["swapped"]["n_items"] == 20 and ia["swapped"]["agreement"] == 1.0
    assert ia["same_order"]["n_items"] == 20 and ia["same_order"]["agreement"] == 0.5
    assert ia["cohen"]["agreement"] == pytest.approx(0.75)
    assert set(ia["by_level"]) == {"L0", "L1", "L2"}
    lo, hi = ia["cohen"]["agreement_ci"]
    assert lo <= 0.75 <= hi
    pb = validity.position_bias(rows, bootstrap=100)
    assert pb["first_slot_rate"]["value"] == pytest.approx((20 + 0 + 20 + 10) / 80)
    assert pb["swap_consistency"]["value"] == 1.0 and pb["same_order_agreement"]["value"] == 0.5


def test_each_voter_counts_once_per_item():
    rows = [vote("v1", "s", "x", "y", "a"), vote("v1", "s", "y", "x", "a"), vote("v2", "s", "x", "y", "a")]
    anns = validity.annotations(rows)
    assert [a["session"] for a in anns["s|x|y"]] == ["v1", "v2"]


def test_failure_reasons_count_against_the_loser():
    rows = [vote("v", "s1", "x", "y", "a", failure="not_understood", level="L1"),
            vote("v", "s2", "y", "x", "a", failure="worse", level="L2"),
            vote("v", "s3", "x", "y", "b", failure="attempted_failed", level="L2"),
            vote("v", "s4", "x", "y", "tie")]
    fr = validity.failure_reasons(rows)
    assert fr["n_decisive"] == 3 and fr["n_with_reason"] == 3
    assert fr["by_system"]["y"]["not_understood"] == 1 and fr["by_system"]["x"]["worse"] == 1
    assert fr["by_system"]["x"]["attempted_failed"] == 1
    assert fr["by_level"]["L2"]["n"] == 2


def test_judge_against_humans_split_by_level_and_attribute():
    from s2s_arena.outcomes import Outcomes

    systems = ["s1", "s2", "s3"]
    human, verdicts, attrs = [], [], {}
    for i in range(30):
        sid = f"q{i}"
        attrs[sid] = "content" if i % 2 else "paralinguistic"
        level = "L0" if i % 2 else "L2"
        for a, b in (("s1", "s2"), ("s2", "s3"), ("s1", "s3")):
            human.append(vote(f"h{i}", sid, a, b, "a", level=level))
            # The judge agrees with the voters on content, contradicts them on paralinguistics.
            v = "A>B" if attrs[sid] == "content" else "B>A"
            verdicts.append({"sample_id": sid, "system_a": a, "system_b": b, "verdict": v, "order": "ab",
                             "level": level, "judge": "j"})
    judge = Outcomes.from_records(verdicts, "verdicts")
    rep = validity.validity_report(human, judge=judge, attributes=attrs, bootstrap=100)
    jv = rep["judge_vs_human"]
    assert jv["overall"]["agreement_3way"] == pytest.approx(0.5)
    assert jv["by_attribute"]["content"]["agreement_3way"] == pytest.approx(1.0)
    assert jv["by_attribute"]["paralinguistic"]["agreement_3way"] == pytest.approx(0.0)
    assert jv["by_level"]["L0"]["system_level"]["spearman"] == pytest.approx(1.0)
    assert jv["by_level"]["L2"]["system_level"]["spearman"] == pytest.approx(-1.0)
    assert len(systems) == 3
    md = validity.markdown(rep)
    assert "paralinguistic requirements" in md and "## Judge against humans" in md
    dis = rep["disagreements"]
    assert dis and all(d["judge_disagrees"] for d in dis) and all(d["level"] == "L2" for d in dis)


def test_requirement_attribute_follows_the_calibration_classes():
    assert validity.requirement_attribute({"speaking_rate": "fast"}) == "paralinguistic"
    assert validity.requirement_attribute({"speaking_rate": "normal"}) == "content"
    assert validity.requirement_attribute({"language": "fr"}) == "content"
    assert validity.requirement_attribute({}) == "content"


def test_no_votes_is_a_clear_error():
    with pytest.raises(SchemaError):
        validity.validity_report([])


def test_agreement_command_on_an_export_and_the_leaderboard_writes_validity_md(tmp_path, repo_root):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(60):
        sid = f"q{i % 20}"
        a, b = [("s1", "s2"), ("s2", "s3"), ("s1", "s3")][i % 3]
        for voter in ("u1", "u2"):
            x, y = (a, b) if rng.random() < 0.5 else (b, a)
            rows.append(vote(voter, sid, x, y, "a" if (x == min(a, b)) == (rng.random() < 0.8) else "b",
                             level="L0", role="ordinary", battle_token=f"t{i}{voter}"))
    for i in range(6):
        rows.append(gold("u3", f"q{i}", "a", "b"))
    export = tmp_path / "votes.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cmd = [sys.executable, "-m", "s2s_arena.cli", "agreement", "--votes", str(export), "--bootstrap", "50",
           "--out", str(tmp_path / "rep")]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)
    assert out.returncode == 0, out.stderr
    assert "# Validity report" in out.stdout and "voters flagged" in out.stdout
    doc = json.loads((tmp_path / "rep" / "validity.json").read_text())
    assert doc["gold"]["flagged"] == ["u3"] and doc["inter_annotator"]["n_items"] > 0
    # Every leaderboard export carries a validity.md next to its figures.
    plots = tmp_path / "plots"
    out = subprocess.run([sys.executable, "-m", "s2s_arena.cli", "leaderboard", "--votes", str(export), "--bootstrap",
                          "20", "--plot", str(plots)], capture_output=True, text=True, cwd=repo_root)
    assert out.returncode == 0, out.stderr
    assert "## Agreement between voters" in (plots / "validity.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "s2s_arena.cli", "agreement", "--votes", str(tmp_path / "nope.db")],
                         capture_output=True, text=True, cwd=repo_root)
    assert bad.returncode != 0 and "nope.db" in bad.stderr and "Traceback" not in bad.stderr
