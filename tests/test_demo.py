"""`s2s-arena demo`: the main job end to end on a small offline build (without serving)."""

from __future__ import annotations

import json

import pytest

from s2s_arena.cli import main

pytestmark = pytest.mark.slow


def test_demo_builds_judges_and_ranks_then_resumes(tmp_path, capsys):
    run = tmp_path / "demo"
    argv = ["demo", "--out", str(run), "--limit", "8", "--no-serve", "--bootstrap", "100", "--workers", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for step in ("1/5 build", "2/5 render", "3/5 judge", "4/5 leaderboard"):
        assert step in out
    assert (run / "data" / "README.md").is_file()
    for system in ("reference", "flat", "off_topic", "echo"):
        assert (run / "responses" / system / "system.json").is_file()
    rows = [json.loads(line) for line in (run / "verdicts.jsonl").read_text().splitlines()]
    # 6 system pairs x the samples of the main set (8 planned; QA or the intelligibility gate may drop one) x 2 orders.
    from s2s_arena.benchmark import load_benchmark

    n_samples = len(load_benchmark(run / "data", decode_audio=False))
    assert 6 <= n_samples <= 8
    assert len(rows) == 6 * n_samples * 2
    assert {r["order"] for r in rows} == {"ab", "ba"}
    assert (run / "plots" / "leaderboard_rating.png").stat().st_size > 0
    table = [line for line in out.splitlines() if line.startswith("| ") and "rank" not in line]
    ranked = [line.split("|")[2].strip() for line in table]
    assert sorted(ranked) == ["echo", "flat", "off_topic", "reference"]
    # The feature judge hears what is said (bundled recogniser): the right answer first, the wrong
    # words (an answer to another question, the question read back) below the right words said flatly.
    assert ranked[0] == "reference", table
    assert ranked.index("flat") < ranked.index("off_topic") and ranked.index("flat") < ranked.index("echo"), table
    assert "content: judged from transcripts" in out

    # A second run resumes every step: nothing is rendered or judged again.
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "0 rendered now" in again
    assert "0 judged" in again
    assert len((run / "verdicts.jsonl").read_text().splitlines()) == 6 * n_samples * 2
