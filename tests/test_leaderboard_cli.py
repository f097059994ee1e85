"""`s2s-arena leaderboard` and `s2s-arena agreement` end to end, on the real v1 labels and on files
written here in our vote / verdict formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from s2s_arena.cli import main

TOP, BOTTOM = ("4o", "4o_cascade", "funaudio"), ("speechgpt", "miniomni", "4o_llama_omni")
KINDS = {"4o": ("industrial", "end-to-end"), "4o_cascade": ("industrial", "cascade"),
         "funaudio": ("industrial", "cascade"), "speechgpt": ("academic", "end-to-end"),
         "miniomni": ("academic", "end-to-end"), "4o_llama_omni": ("academic", "end-to-end")}


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_leaderboard_on_real_v1(capsys, v1_labels_path):
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(v1_labels_path), "--format", "json",
                         "--bootstrap", "500", "--seed", "3")
    assert rc == 0
    board = json.loads(out)
    assert isinstance(board, list) and len(board) == 6
    for row in board:
        assert {"system", "rating", "ci_low", "ci_high", "rank", "n"} <= set(row)
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
    order = [r["system"] for r in board]
    assert set(order[:3]) == set(TOP) and set(order[3:]) == set(BOTTOM)
    # deterministic given the seed
    rc, again, _ = run_cli(capsys, "leaderboard", "--votes", str(v1_labels_path), "--format", "json",
                           "--bootstrap", "500", "--seed", "3")
    assert json.loads(again) == board


def test_markdown_csv_dimension_and_plots(capsys, v1_labels_path, tmp_path):
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(v1_labels_path), "--bootstrap", "200",
                         "--dimension", "content", "--plot", str(tmp_path / "plots"), "--by", "task")
    assert rc == 0
    assert "| rank | system | rating | ci_low | ci_high | n |" in out
    assert "Leaderboard (content;" in out and "Win rate by task" in out and "| emotion |" in out
    for name in ("leaderboard_rating.png", "leaderboard_heatmap.png"):
        png = tmp_path / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    manifest = json.loads((tmp_path / "plots" / "leaderboard_manifest.json").read_text())
    assert manifest["arguments"]["dimension"] == "content" and len(manifest["leaderboard"]) == 6
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(v1_labels_path), "--bootstrap", "100",
                         "--format", "csv", "--anchor", "speechgpt")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6 and float(next(r for r in rows if r["system"] == "speechgpt")["rating"]) == pytest.approx(1000)


def test_by_system_kind_from_system_json(capsys, v1_labels_path, tmp_path):
    resp = tmp_path / "RESP"
    for name, (kind, arch) in KINDS.items():
        (resp / name).mkdir(parents=True)
        (resp / name / "system.json").write_text(json.dumps({"name": name, "kind": kind, "architecture": arch}))
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(v1_labels_path), "--bootstrap", "300",
                         "--format", "json", "--systems", str(resp), "--by", "kind", "--by", "architecture")
    assert rc == 0
    res = json.loads(out)
    assert {r["system"]: r["kind"] for r in res["leaderboard"]} == {k: v[0] for k, v in KINDS.items()}
    kinds = {r["group"]: r for r in res["breakdowns"]["kind"]}
    # the paper's finding: industrial systems beat academic ones, with a CI clear of 0.5
    assert kinds["industrial"]["win_rate"] > 0.5 and kinds["industrial"]["ci_low"] > 0.5
    assert kinds["industrial"]["win_rate"] + kinds["academic"]["win_rate"] == pytest.approx(1.0)
    assert set(res["breakdowns"]["architecture"][0]) >= {"group", "systems", "win_rate", "ci_low", "ci_high"}


def test_votes_and_verdicts_files_together(capsys, tmp_path):
    votes = tmp_path / "votes.jsonl"
    verdicts = tmp_path / "verdicts.jsonl"
    vrows = [{"vote_id": f"v{i}", "session": "s", "sample_id": f"x{i % 7}", "system_a": "alpha",
              "system_b": "beta", "winner": "a" if i % 3 else "b", "p_pair": 0.5} for i in range(60)]
    votes.write_text("".join(json.dumps(r) + "\n" for r in vrows))
    jrows = [{"sample_id": f"y{i}", "system_a": "beta", "system_b": "gamma", "seed_id": f"x{i % 7}",
              "verdict": "A>B" if i % 4 else "invalid", "reason": "" if i % 4 else "judge error: ValueError: x"}
             for i in range(40)]
    verdicts.write_text("".join(json.dumps(r) + "\n" for r in jrows))
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(votes), "--votes", str(verdicts), "--bootstrap", "100")
    assert rc == 0
    assert "10 invalid judged pairs dropped (judge error (ValueError): 10)" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("| ") and "rank" not in ln]
    assert [ln.split("|")[2].strip() for ln in lines] == ["alpha", "beta", "gamma"]
    assert "| yes |" not in lines[0]  # 60 outcomes: not preliminary


def test_bad_input_is_one_clear_line(capsys, tmp_path):
    bad = tmp_path / "votes.jsonl"
    bad.write_text(json.dumps({"sample_id": "1", "system_a": "a", "system_b": "b", "winner": "a"}) + "\n"
                   + json.dumps({"sample_id": "2", "system_a": "a", "system_b": "a", "winner": "b"}) + "\n")
    rc, _, err = run_cli(capsys, "leaderboard", "--votes", str(bad))
    assert rc == 2
    assert f"{bad}: record 1: field 'system_b'" in err and "paired with itself" in err
    assert "Traceback" not in err
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"sample_id": "1", "system_a": "a", "system_b": "b", "winner": "a"}) + "\n")
    rc, _, err = run_cli(capsys, "leaderboard", "--votes", str(good), "--anchor", "zeta")
    assert rc == 2 and "zeta" in err
    rc, _, err = run_cli(capsys, "leaderboard", "--votes", str(tmp_path / "missing.jsonl"))
    assert rc == 2 and "missing.jsonl" in err


def test_agreement_cli(capsys, v1_labels_path, tmp_path):
    # human vs human: items the v1 annotators labelled twice
    rc, out, _ = run_cli(capsys, "agreement", "--a", str(v1_labels_path), "--bootstrap", "200", "--format", "json")
    assert rc == 0
    res = json.loads(out)
    assert res["n_matched_items"] == 30 and 0 < res["kappa_3way"] < 1
    # 20 v1 items were shown to annotators in both orders; 19 got the same outcome
    assert res["position_bias_all"]["n_swapped_pairs"] == 20
    assert res["position_bias_all"]["position_consistency"] == pytest.approx(0.95)
    # judge vs human: a "judge" that copies the human paralinguistics labels, shown in swapped order
    raw = json.loads(v1_labels_path.read_text())
    to_verdict = {"1": "A>B", "2": "B>A", "both_good": "A=B", "both_bad": "both_bad"}
    judge = tmp_path / "judge.jsonl"
    judge.write_text("".join(json.dumps({"sample_id": r["instruction_id"], "system_a": r["model_b"],
                                         "system_b": r["model_a"], "order": "ab",
                                         "verdict": {"A>B": "B>A", "B>A": "A>B"}.get(v, v)}) + "\n"
                             for r in raw for v in [to_verdict[r["label"]["paralinguistics"]]]))
    rc, out, _ = run_cli(capsys, "agreement", "--a", str(judge), "--b", str(v1_labels_path),
                         "--b-dimension", "paralinguistics", "--bootstrap", "200")
    assert rc == 0
    assert "Cohen's kappa, 4-way" in out and "Spearman" in out and "first-slot pick rate" in out
    rc, out, _ = run_cli(capsys, "agreement", "--a", str(judge), "--b", str(v1_labels_path),
                         "--b-dimension", "paralinguistics", "--bootstrap", "0", "--format", "json")
    res = json.loads(out)
    # within-item agreement is diluted only by the 31 duplicate human labels, ranks agree exactly
    assert res["system_level"]["spearman"] == pytest.approx(1.0)
    assert res["agreement_4way"] > 0.9


def test_console_script_runs(v1_labels_path):
    exe = Path(sys.executable).with_name("s2s-arena")
    if not exe.exists():
        pytest.skip("s2s-arena console script not installed in this environment")
    p = subprocess.run([str(exe), "leaderboard", "--votes", str(v1_labels_path), "--bootstrap", "100",
                        "--format", "json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)) == 6


def test_style_control_measured_from_response_audio(capsys, tmp_path):
    import numpy as np

    from s2s_arena.audio import SAMPLE_RATE, save_audio

    rng = np.random.default_rng(0)
    resp = tmp_path / "RESP"
    durations = {}
    for system, (lo, hi) in {"talker": (1.2, 2.4), "plain": (0.6, 1.8), "other": (0.6, 1.8)}.items():
        for i in range(30):
            d = float(rng.uniform(lo, hi))
            durations[(system, f"q{i}")] = d
            save_audio(resp / system / f"q{i}.wav", 0.1 * rng.standard_normal(int(d * SAMPLE_RATE)).astype("float32"))
        (resp / system / "system.json").write_text(json.dumps({"name": system}))
    votes = []
    for i in range(30):
        for a, b in (("talker", "plain"), ("plain", "other"), ("other", "talker")):
            longer_a = durations[(a, f"q{i}")] > durations[(b, f"q{i}")]
            votes.append({"vote_id": f"{i}{a}", "session": "s", "sample_id": f"q{i}", "system_a": a, "system_b": b,
                          "winner": "a" if longer_a == (rng.random() < 0.85) else "b"})
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in votes))
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(path), "--systems", str(resp), "--style",
                         "--bootstrap", "100", "--format", "json")
    assert rc == 0
    res = json.loads(out)
    coefs = {c["feature"]: c for c in res["style_control"]["coefficients"]}
    assert set(coefs) == {"duration", "loudness"}  # no transcripts: no speaking rate
    assert coefs["duration"]["ci_low"] > 0.5  # longer answers win, measured from the audio itself
    talker = next(r for r in res["style_control"]["board"] if r["system"] == "talker")
    assert talker["raw_rating"] - talker["rating"] > 50  # control removes most of the length advantage
    rc, _, err = run_cli(capsys, "leaderboard", "--votes", str(path), "--style")
    assert rc == 2 and "--style" in err
