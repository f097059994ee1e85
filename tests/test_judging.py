"""The judging protocol: both orders, identical ties, inconsistency -> tie, cache, resolve, summaries."""

from __future__ import annotations

import numpy as np
import pytest

from judges_for_tests import BrokenJudge, FirstShownJudge, LouderJudge
from s2s_arena.schema import Sample, Verdict
from s2s_arena.judging.protocol import (
    Pair, VerdictCache, bootstrap_rate_ci, judge_pairs, resolve, summarize,
)

SR = 24000


def tone(gain: float, seconds: float = 1.0, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (gain * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def sample(i: int, level: str = "L2") -> Sample:
    return Sample.from_dict({"id": f"s{i}", "level": level, "task": "volume",
                             "instruction_text": "Say it loudly.", "requirements": {"volume": "loud"}})


def test_both_orders_are_judged_and_rows_name_the_system_shown_first():
    judge = LouderJudge()
    pairs = [Pair(sample(0), "cand", "base", tone(0.5), tone(0.05))]
    rows = judge_pairs(judge, pairs)
    assert [r.order for r in rows] == ["ab", "ba"]
    assert (rows[0].system_a, rows[0].verdict) == ("cand", "A>B")
    assert (rows[1].system_a, rows[1].verdict) == ("base", "B>A")  # cand was shown second and still won
    assert judge.items_seen == 2
    (out,) = resolve(rows)
    assert (out.system_a, out.outcome, out.verdict, out.consistent) == ("cand", "a", "A>B", True)


def test_identical_audio_ties_without_calling_the_judge():
    judge = LouderJudge()
    x = tone(0.3)
    rows = judge_pairs(judge, [Pair(sample(0), "cand", "base", x, x.copy())])
    assert judge.calls == 0
    assert [r.verdict for r in rows] == ["A=B", "A=B"]
    (out,) = resolve(rows)
    assert out.outcome == "tie" and out.identical and out.consistent is None


def test_swapped_order_disagreement_becomes_a_tie_and_is_counted():
    judge = FirstShownJudge()
    pairs = [Pair(sample(i), "cand", "base", tone(0.5), tone(0.05)) for i in range(3)]
    outcomes = resolve(judge_pairs(judge, pairs))
    assert all(o.outcome == "tie" and o.consistent is False for o in outcomes)
    summary = summarize(outcomes, candidate="cand", bootstrap=0)
    assert summary["tie_rate"] == 1.0 and summary["position_consistency"] == 0.0
    assert summary["n_inconsistent"] == 3


def test_strength_disagreement_keeps_the_weaker_claim():
    rows = [Verdict("s0", "cand", "base", "A>>B", order="ab"), Verdict("s0", "base", "cand", "B>A", order="ba")]
    (out,) = resolve(rows)
    assert (out.outcome, out.verdict, out.consistent) == ("a", "A>B", True)


def test_a_judge_that_raises_gives_counted_invalid_rows_not_a_crash(tmp_path):
    judge = BrokenJudge()
    cache = VerdictCache(tmp_path)
    pairs = [Pair(sample(i), "cand", "base", tone(0.5), tone(0.05 * (i + 1))) for i in range(2)]
    rows = judge_pairs(judge, pairs, cache=cache)
    assert all(r.verdict == "invalid" and "model server went away" in r.reason for r in rows)
    summary = summarize(resolve(rows), candidate="cand", bootstrap=0)
    assert summary["n"] == 2 and summary["n_invalid"] == 2 and summary["n_valid"] == 0
    assert len(cache) == 0  # a transient failure is retried next time, not cached


def test_unreadable_input_is_invalid_and_never_judged():
    judge = LouderJudge()
    pairs = [Pair(sample(0), "cand", "base", None, tone(0.1), error="predictions[0]: empty audio")]
    rows = judge_pairs(judge, pairs)
    assert judge.calls == 0 and all(r.verdict == "invalid" for r in rows)


def test_cache_hit_on_repeat_and_batching(tmp_path):
    pairs = [Pair(sample(i), "cand", "base", tone(0.5), tone(0.02 * (i + 1))) for i in range(5)]
    first = LouderJudge()
    rows1 = judge_pairs(first, pairs, cache=VerdictCache(tmp_path), batch_size=4)
    assert first.items_seen == 10 and first.batch_sizes == [4, 4, 2]
    second = LouderJudge()
    stats: dict = {}
    rows2 = judge_pairs(second, pairs, cache=VerdictCache(tmp_path), stats=stats)
    assert second.calls == 0 and stats["cache_hits"] == 10
    assert [r.verdict for r in rows1] == [r.verdict for r in rows2]
    # Another configuration is another judge: no stale reuse.
    third = LouderJudge(margin_db=100.0)
    rows3 = judge_pairs(third, pairs, cache=VerdictCache(tmp_path))
    assert third.items_seen == 10 and {r.verdict for r in rows3} == {"A=B"}


def test_summary_rates_breakdowns_and_bootstrap():
    pairs = []
    for i in range(8):  # cand louder on 6 samples, quieter on 2
        loud, quiet = tone(0.5), tone(0.05 + 0.001 * i)
        a, b = (loud, quiet) if i < 6 else (quiet, loud)
        pairs.append(Pair(sample(i, level="L2" if i % 2 else "L3"), "cand", "base", a, b))
    outcomes = resolve(judge_pairs(LouderJudge(), pairs))
    groups = {p.sample.id: {"level": p.sample.level, "task": p.sample.task} for p in pairs}
    s = summarize(outcomes, candidate="cand", groups=groups, bootstrap=500, seed=1)
    assert s["win_rate"] == pytest.approx(0.75) and s["loss_rate"] == pytest.approx(0.25)
    assert s["position_consistency"] == 1.0 and s["n"] == 8
    low, high = s["win_rate_ci"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0 and high - low > 0.1
    assert set(s["by_level"]) == {"L2", "L3"} and s["by_level"]["L2"]["n"] == 4
    # Seeded: the same seed gives the same interval.
    assert summarize(outcomes, candidate="cand", bootstrap=500, seed=1)["win_rate_ci"] == s["win_rate_ci"]


def test_bootstrap_clusters_by_sample():
    # Two rows per cluster that always agree: resampling clusters, the CI is that of 4 clusters, not 8 rows.
    values = np.array([1, 1, 0, 0, 1, 1, 0, 0], dtype=float)
    clusters = ["a", "a", "b", "b", "c", "c", "d", "d"]
    low, high = bootstrap_rate_ci(values, clusters, rounds=2000, seed=0)
    assert low == 0.0 and high == 1.0 or (high - low) >= 0.5


# --- the `s2s-arena judge` command ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory):
    """A real dataset folder from `s2s-arena build` (2 samples), and responses of three systems."""
    from s2s_arena.audio import save_audio
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.cli import main
    from s2s_arena.responses import write_system_info
    from s2s_arena.schema import SystemInfo

    root = tmp_path_factory.mktemp("judge_cli")
    assert main(["build", "--out", str(root / "data"), "--limit", "2", "--levels", "L2", "--workers", "1"]) == 0
    samples = load_benchmark(root / "data", decode_audio=False)
    for name, gain in (("loud", 0.5), ("quiet", 0.02), ("mid", 0.1)):
        d = root / "resp" / name
        write_system_info(d, SystemInfo(name=name))
        for i, s in enumerate(samples):
            if name == "mid" and i == 1:
                continue  # a missing response: skipped and counted, never invented
            save_audio(d / f"{s.id}.wav", tone(gain, seconds=1.5, freq=180.0 + 20 * i), SR)
    return root, samples


def test_judge_command_writes_resumes_and_writes_a_manifest(tiny_benchmark, capsys):
    import json

    from s2s_arena.cli import main

    root, samples = tiny_benchmark
    out = root / "v" / "verdicts.jsonl"
    argv = ["judge", "--data", str(root / "data"), "--responses", str(root / "resp"), "--judge", "feature",
            "--baseline", "quiet", "--out", str(out), "--cache", str(root / "cache")]
    assert main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # loud vs quiet on 2 samples + mid vs quiet on 1 (mid lacks one response): 3 pairs x 2 orders
    assert len(rows) == 6 and {r["order"] for r in rows} == {"ab", "ba"}
    assert {frozenset((r["system_a"], r["system_b"])) for r in rows} == {frozenset(("loud", "quiet")), frozenset(("mid", "quiet"))}
    manifest = json.loads((root / "v" / "verdicts_manifest.json").read_text())
    assert manifest["rows_written"] == 6 and manifest["pairs_skipped_missing_response"] == 1
    assert manifest["judge"] == "feature" and "loud vs quiet" in manifest["summary"]
    printed = capsys.readouterr().out
    assert "loud vs quiet: win" in printed and str(out) in printed

    # Resume: an interrupted row at the end is judged again; finished pairs are skipped.
    with out.open("a") as f:
        f.write('{"sample_id": "cut off')
    lines_before = out.read_text().splitlines()
    out.write_text("\n".join(lines_before[:4] + [lines_before[-1]]))  # drop the last pair, keep a torn tail
    assert main(argv) == 0
    rows2 = [json.loads(line) for line in out.read_text().splitlines() if line.startswith('{"sample_id": "') and line.endswith("}")]
    assert len(rows2) == 6
    assert json.loads((root / "v" / "verdicts_manifest.json").read_text())["rows_written"] == 2


def test_judge_command_errors_name_the_problem(tiny_benchmark):
    from s2s_arena.cli import main

    root, _ = tiny_benchmark
    base = ["judge", "--data", str(root / "data"), "--responses", str(root / "resp"), "--out", str(root / "x.jsonl")]
    assert main(base + ["--baseline", "nobody"]) == 2
    assert main(base + ["--judge", "nonsense"]) == 2


def test_judge_command_keeps_judge_configurations_apart(tiny_benchmark, capsys):
    import json

    from s2s_arena.cli import main

    root, _ = tiny_benchmark
    out = root / "apart" / "verdicts.jsonl"
    base = ["judge", "--data", str(root / "data"), "--responses", str(root / "resp"), "--baseline", "quiet",
            "--systems", "loud", "--out", str(out), "--no-cache"]
    assert main(base) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # every row carries the sample's covariates, so the verdict file alone can be broken down
    assert all(r["level"] == "L2" and r["task"] and r["seed_id"] and r["language"] for r in rows)
    capsys.readouterr()
    # another configuration of the same judge (an option changed) never takes these rows for done
    assert main(base + ["-o", "overrides={\"decision\": {\"tie_below\": 0.5}}"]) == 2
    err = capsys.readouterr().err
    assert "holds verdicts of judge 'feature'" in err and "another --out" in err
    assert out.read_text().count("\n") == len(rows)  # nothing appended, nothing lost


def test_judge_command_fails_when_every_pair_is_invalid(tiny_benchmark, capsys):
    from s2s_arena.cli import main

    root, _ = tiny_benchmark
    out = root / "dead" / "verdicts.jsonl"
    argv = ["judge", "--data", str(root / "data"), "--responses", str(root / "resp"), "--baseline", "quiet",
            "--systems", "loud", "--out", str(out), "--no-cache", "--judge", "openai:m",
            "-o", "base_url=http://127.0.0.1:9/v1", "-o", "max_retries=0", "-o", "timeout_s=2"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "every pair judged by openai:m is invalid (judge error (ConnectError): 2)" in captured.err
    assert "no valid pair" in captured.out and "win nan" not in captured.out
