"""One verdict file, every reader, one answer.

The same verdict rows go to every place that reads judge verdicts: the judging protocol's summary (what
`s2s-arena judge` prints and the evaluate metric returns), calibration's scoring, the `leaderboard` and
`agreement` commands, and the Space's judge board. Each must see the same judged pairs: both orders of
a pair are ONE outcome, disagreement is a tie (counted as inconsistent), an invalid order makes the pair
invalid. The file mixes the issue's case (X >> Y in one order, a tie in the other) with agreeing pairs,
a pair judged in one order only, and invalid pairs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2s_arena.outcomes import load_outcomes, resolve
from s2s_arena.schema import Verdict

N_DISAGREE, N_AGREE_X, N_AGREE_Y, N_SINGLE, N_INVALID = 40, 12, 6, 4, 3
N_PAIRS = N_DISAGREE + N_AGREE_X + N_AGREE_Y + N_SINGLE  # valid judged pairs
# X's score: agreeing X wins, half of every tie, the one-order pairs are X wins
X_SCORE = (N_AGREE_X + 0.5 * N_DISAGREE + N_SINGLE) / N_PAIRS


def _rows() -> list[dict]:
    def v(i, first, second, verdict, order, **kw):
        level = ("L2", "L3")[i % 2]
        extra = {"pair": f"p{i}", "kind": "paralinguistic", "attributes": ["volume"], "measured": ["volume"],
                 "content_key": f"k{i}", "abstained": []}
        return dict(Verdict(f"s{i}", first, second, verdict, order=order, judge="feature", judge_version="1",
                            prompt_hash="h", level=level, task=f"task{i % 3}", domain="d", language="en",
                            seed_id=f"seed{i // 2}", **kw).to_dict(), **extra)

    rows, i = [], 0
    for _ in range(N_DISAGREE):  # the case
        rows += [v(i, "X", "Y", "A>>B", "ab"), v(i, "Y", "X", "A=B", "ba")]
        i += 1
    for _ in range(N_AGREE_X):
        rows += [v(i, "X", "Y", "A>B", "ab"), v(i, "Y", "X", "B>>A", "ba")]
        i += 1
    for _ in range(N_AGREE_Y):
        rows += [v(i, "X", "Y", "B>A", "ab"), v(i, "Y", "X", "A>B", "ba")]
        i += 1
    for _ in range(N_SINGLE):
        rows += [v(i, "X", "Y", "A>B", "ab")]
        i += 1
    for _ in range(N_INVALID):
        rows += [v(i, "X", "Y", "invalid", "ab", reason="judge error: TimeoutError: no reply"),
                 v(i, "Y", "X", "A>B", "ba")]
        i += 1
    return rows


@pytest.fixture(scope="module")
def verdict_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("coherence") / "verdicts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    return path


def test_the_outcomes_table(verdict_file):
    o = load_outcomes(verdict_file)
    assert len(o) == N_PAIRS and o.n_invalid == N_INVALID
    assert o.invalid_kinds == {"judge error (TimeoutError)": N_INVALID}
    x_score = np.where(o.system_a == "X", o.score_a, 1 - o.score_a)
    assert x_score.mean() == pytest.approx(X_SCORE)
    assert int((o.consistent == 0).sum()) == N_DISAGREE and int(np.isnan(o.consistent).sum()) == N_SINGLE


def test_protocol_summary_as_in_judge_and_the_metric(verdict_file):
    from s2s_arena.judging.protocol import summarize

    rows = [json.loads(line) for line in verdict_file.read_text().splitlines()]
    s = summarize(resolve(rows), candidate="X", bootstrap=0)
    assert s["n"] == N_PAIRS + N_INVALID and s["n_valid"] == N_PAIRS and s["n_invalid"] == N_INVALID
    assert s["score"] == pytest.approx(X_SCORE) and s["n_inconsistent"] == N_DISAGREE
    assert s["invalid_reasons"] == {"judge error (TimeoutError)": N_INVALID}
    assert sum(g["n_valid"] for g in s["by_level"].values()) == N_PAIRS  # covariates from the rows


def test_the_metric_resolves_with_the_core():
    pytest.importorskip("evaluate")
    import s2s_arena_metric.s2s_arena_metric as metric
    from s2s_arena import outcomes

    assert metric.resolve is outcomes.resolve


def test_leaderboard_command(verdict_file, capsys):
    from s2s_arena.cli import main

    assert main(["leaderboard", "--votes", str(verdict_file), "--bootstrap", "50", "--format", "json",
                 "--by", "level"]) == 0
    doc = json.loads(capsys.readouterr().out)
    x = next(r for r in doc["leaderboard"] if r["system"] == "X")
    assert x["n"] == N_PAIRS and x["win_rate"] == pytest.approx(X_SCORE) and x["ties"] == N_DISAGREE
    levels = [r for r in doc["breakdowns"]["level"] if r["system"] == "X"]
    assert sum(r["n"] for r in levels) == N_PAIRS and {r["group"] for r in levels} == {"L2", "L3"}


def test_agreement_command(verdict_file, capsys):
    from s2s_arena.cli import main

    assert main(["agreement", "--a", str(verdict_file), "--b", str(verdict_file), "--bootstrap", "0",
                 "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_a"] == res["n_b"] == N_PAIRS and res["n_matched_items"] == N_PAIRS
    assert res["agreement_4way"] == 1.0
    bias = res["position_bias_a"]
    assert bias["n_swapped_pairs"] == N_PAIRS - N_SINGLE
    assert bias["position_consistency"] == pytest.approx((N_AGREE_X + N_AGREE_Y) / (N_PAIRS - N_SINGLE))


def test_calibration_scoring(verdict_file):
    from s2s_arena.judging.calibration import score

    rows = [json.loads(line) for line in verdict_file.read_text().splitlines()]
    report = score(rows)
    para = report["paralinguistic"]
    # the expected winner is X (shown first in every ab row)
    assert para["n"] == N_PAIRS + N_INVALID and para["n_invalid"] == N_INVALID
    assert para["correct"] == N_AGREE_X + N_SINGLE and para["ties"] == N_DISAGREE and para["reversed"] == N_AGREE_Y
    assert report["n_inconsistent"] == N_DISAGREE


def test_space_judge_board(verdict_file, tmp_path):
    from s2s_arena.arena.store import VoteStore
    from s2s_arena.arena.views import Views

    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    snap = Views(store, verdict_file, bootstrap=20, seed=0, plot_dir=tmp_path / "plots").snapshot()
    x = next(r for r in snap["judge_board"] if r["system"] == "X")
    assert x["n"] == N_PAIRS and x["win_rate"] == pytest.approx(X_SCORE)
