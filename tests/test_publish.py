"""Publishing to the Hub, offline: every `s2s-arena publish --dry-run` stages what it would send as a
folder that real `datasets.load_dataset` reads back; leaderboard export as model-index / eval results
YAML (parsed back with huggingface_hub) and a results dataset; votes export and FastChat import feed
the same leaderboard; and the CLI's shared conventions (list syntax, one-line errors)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from s2s_arena.cli import main
from s2s_arena.responses import ResponseWriter
from s2s_arena.schema import SystemInfo, Vote

SR = 24000


def tone(gain: float, seconds: float = 0.5, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (gain * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture()
def responses(tmp_path) -> Path:
    """Two systems' responses to three samples (a responses folder as `s2s-arena generate` writes it)."""
    root = tmp_path / "resp"
    for name, gain, kind in (("loud", 0.5, "academic"), ("quiet", 0.05, "industrial")):
        w = ResponseWriter(root, SystemInfo(name=name, organisation="lab", kind=kind, architecture="cascade"))
        for i in range(3):
            w.write(f"s{i}", tone(gain, freq=200 + 20 * i), SR, text=f"answer {i}")
    return root


def votes_file(path: Path, n: int = 60, seed: int = 0) -> Path:
    """Votes over three systems where a > b > c most of the time (real Vote rows, as the Space stores them)."""
    rng = np.random.default_rng(seed)
    strength = {"a": 2.0, "b": 1.0, "c": 0.0}
    rows = []
    for i in range(n):
        x, y = rng.choice(list(strength), size=2, replace=False)
        p = 1 / (1 + np.exp(strength[y] - strength[x]))
        winner = "a" if rng.random() < p else "b"
        rows.append(Vote(vote_id=f"v{i}", session=f"session-{i % 7}", sample_id=f"s{i % 10}", system_a=str(x),
                         system_b=str(y), winner=winner, shown_at=1000.0 + i, voted_at=1010.0 + i, p_pair=1 / 3,
                         listened_a=1.0, listened_b=1.0, counted=i % 11 != 0,
                         exclusion_reason="" if i % 11 else "listened too little").to_dict()
                    | {"level": "L2" if i % 2 else "L3", "task": "speaking_rate"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# --- publish -----------------------------------------------------------------------------------------------
def test_publish_responses_dry_run_stages_a_dataset_the_readers_load(responses, tmp_path, capsys):
    import datasets

    from s2s_arena.responses import load_responses

    staging = tmp_path / f"staged_{tmp_path.name}"  # datasets caches local folders by name
    rc, out, _ = run_cli(capsys, "publish", "responses", str(responses), "--repo", "someone/s2s-arena-responses",
                         "--dry-run", "--staging", str(staging))
    assert rc == 0, out
    assert "-> dataset someone/s2s-arena-responses (https://huggingface.co/datasets/someone/s2s-arena-responses)" in out
    assert "README.md" in out and "data/train-00000.parquet" in out and "data/systems.parquet" in out
    assert "nothing sent" in out and ".s2s_arena_staging" not in out  # the marker is not uploaded

    ds = datasets.load_dataset(str(staging), split="train")
    assert sorted(ds.column_names) == ["audio", "sample_id", "system", "text"] and len(ds) == 6
    # The audio is the files' own bytes, not a re-encoding.
    raw = ds.cast_column("audio", datasets.Audio(decode=False))[0]
    original = responses / raw["system"] / f"{raw['sample_id']}.wav"
    assert hashlib.sha1(raw["audio"]["bytes"]).hexdigest() == hashlib.sha1(original.read_bytes()).hexdigest()
    systems = datasets.load_dataset(str(staging), "systems", split="train")
    assert {r["name"]: r["kind"] for r in systems} == {"loud": "academic", "quiet": "industrial"}

    # What the Space and `judge --responses` read from the Hub: the same systems, samples and audio.
    back = load_responses(ds)
    assert sorted(back) == ["loud", "quiet"] and sorted(back["loud"].responses) == ["s0", "s1", "s2"]
    assert np.allclose(back["quiet"].audio("s1"), tone(0.05, freq=220), atol=1e-4)


def test_publish_responses_only_some_systems_and_refuses_a_foreign_staging_folder(responses, tmp_path, capsys):
    staging = tmp_path / f"staged_{tmp_path.name}"  # datasets caches local folders by name
    rc, out, _ = run_cli(capsys, "publish", "responses", str(responses), "--repo", "u/r", "--systems", "loud",
                         "--dry-run", "--staging", str(staging))
    assert rc == 0
    import datasets

    assert set(datasets.load_dataset(str(staging), split="train")["system"]) == {"loud"}
    # A folder s2s-arena did not stage is never emptied.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    rc, _, err = run_cli(capsys, "publish", "responses", str(responses), "--repo", "u/r", "--dry-run",
                         "--staging", str(foreign))
    assert rc == 2 and "not a staging folder" in err and (foreign / "notes.txt").read_text() == "keep me"


def test_publish_votes_pseudonymises_sessions_and_rates_the_same(tmp_path, capsys):
    import datasets

    src = votes_file(tmp_path / "votes.jsonl")
    staging = tmp_path / f"staged_{tmp_path.name}"  # datasets caches local folders by name
    rc, out, _ = run_cli(capsys, "publish", "votes", str(src), "--repo", "u/votes", "--dry-run", "--staging", str(staging))
    assert rc == 0 and "data/votes.parquet" in out
    ds = datasets.load_dataset(str(staging), split="train")
    assert len(ds) == 60 and "session-1" not in set(ds["session"]) and len(set(ds["session"])) == 7
    assert sum(ds["counted"]) == 60 - 6

    # Export to JSONL and rate: the board equals the one from the original votes.
    exported = tmp_path / "export.jsonl"
    rc, _, err = run_cli(capsys, "votes", "export", str(src), "--out", str(exported))
    assert rc == 0 and "wrote 60 votes (54 counted)" in err
    boards = []
    for path in (src, exported):
        rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(path), "--format", "json", "--bootstrap", "50")
        boards.append([(r["system"], round(r["rating"], 6), r["n"]) for r in json.loads(out)])
    assert boards[0] == boards[1] and [s for s, *_ in boards[0]] == ["a", "b", "c"]


def test_publish_dataset_dry_run_lists_the_folder(mini_dataset, capsys):
    rc, out, _ = run_cli(capsys, "publish", "dataset", str(mini_dataset), "--repo", "someone/s2s-arena", "--dry-run")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("benchmark dataset: ") and "-> dataset someone/s2s-arena" in lines[0]
    listed = {line.split("  (")[0].strip() for line in lines[1:] if line.startswith("  ")}
    on_disk = {p.relative_to(mini_dataset).as_posix() for p in Path(mini_dataset).rglob("*")
               if p.is_file() and not any(part.startswith(".") for part in p.relative_to(mini_dataset).parts)}
    assert "README.md" in listed and any(f.endswith(".parquet") for f in listed)
    assert listed == on_disk


def test_publish_metric_names_the_script_after_the_space(capsys):
    rc, out, _ = run_cli(capsys, "publish", "metric", "--repo", "someone/s2s_arena", "--dry-run")
    assert rc == 0 and "-> space someone/s2s_arena (https://huggingface.co/spaces/someone/s2s_arena)" in out
    listed = sorted(line.split("  (")[0].strip() for line in out.splitlines() if line.startswith("  "))
    assert listed == ["README.md", "app.py", "requirements.txt", "s2s_arena.py"]
    # evaluate imports the script by the Space's name, so the name must be an identifier.
    rc, _, err = run_cli(capsys, "publish", "metric", "--repo", "someone/s2s-arena", "--dry-run")
    assert rc == 2 and "Python identifier" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["publish", "dataset", "/no/such/folder", "--repo", "u/d", "--dry-run"], "no such folder"),
    (["publish", "responses", "--repo", "u/d", "--dry-run"], "SOURCE missing"),
    (["publish", "votes", "x.jsonl", "--repo", "not a repo", "--dry-run"], "expected a Hub repository id"),
    (["publish", "votes", "/no/votes.jsonl", "--repo", "u/v", "--dry-run"], "no such file"),
])
def test_publish_mistakes_are_one_line(argv, message, capsys):
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


# --- leaderboard export ----------------------------------------------------------------------------------
def test_leaderboard_export_model_index_eval_results_and_results_dataset(tmp_path, capsys):
    import datasets
    from huggingface_hub.repocard_data import model_index_to_eval_results

    src = votes_file(tmp_path / "votes.jsonl")
    out_dir = tmp_path / "export"
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(src), "--format", "json", "--bootstrap", "50",
                         "--by", "level", "--export", str(out_dir), "--dataset-id", "someone/s2s-arena")
    assert rc == 0
    doc = json.loads(out)
    board = {r["system"]: r for r in doc["leaderboard"]}

    # model-index: the block a model card carries, read back by huggingface_hub's own parser.
    meta = yaml.safe_load((out_dir / "model-index" / "a.yaml").read_text())
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "a"
    rating = next(r for r in results if r.metric_type == "bradley_terry_rating")
    assert rating.metric_value == pytest.approx(board["a"]["rating"], abs=0.05)
    assert rating.dataset_type == "someone/s2s-arena" and rating.task_type == "speech-to-speech"
    win = next(r for r in results if r.metric_type == "win_rate")
    assert win.metric_value == pytest.approx(board["a"]["win_rate"], abs=1e-4)

    # eval results: one entry per benchmark file, dataset id + value
    entries = yaml.safe_load((out_dir / "eval_results" / "c.yaml").read_text())
    assert entries[0]["dataset"]["id"] == "someone/s2s-arena"
    assert entries[0]["value"] == pytest.approx(board["c"]["rating"], abs=0.05)

    # the results dataset loads, per config, and publishes as a dataset
    lb = datasets.load_dataset(str(out_dir / "results"), "leaderboard", split="train")
    assert [r["system"] for r in lb] == [r["system"] for r in doc["leaderboard"]]
    rc, out, _ = run_cli(capsys, "publish", "results", str(out_dir), "--repo", "someone/s2s-arena-results", "--dry-run")
    assert rc == 0 and "data/leaderboard.parquet" in out

    rc, _, err = run_cli(capsys, "leaderboard", "--votes", str(src), "--export", str(out_dir))
    assert rc == 2 and "--dataset-id" in err


# --- votes import (FastChat / Chatbot Arena) -------------------------------------------------------------
FASTCHAT_BATTLES = [
    {"question_id": "q1", "model_a": "vicuna-13b", "model_b": "koala-13b", "winner": "model_a",
     "judge": "arena_user_1", "turn": 1, "anony": True, "language": "English", "tstamp": 1682351591.1},
    {"question_id": "q2", "model_a": "koala-13b", "model_b": "alpaca-13b", "winner": "tie (bothbad)",
     "judge": "arena_user_2", "turn": 1, "anony": True, "language": "English", "tstamp": 1682351600.0},
    {"question_id": "q3", "model_a": "alpaca-13b", "model_b": "vicuna-13b", "winner": "model_b",
     "judge": "arena_user_1", "turn": 1, "anony": False, "language": "German", "tstamp": 1682351700.0},
    {"question_id": "q4", "model_a": "vicuna-13b", "model_b": "alpaca-13b", "winner": "tie",
     "judge": "arena_user_3", "turn": 2, "anony": True, "language": "English", "tstamp": 1682351800.0},
]
FASTCHAT_RAW = [  # raw server log lines: anonymous battles log empty names and reveal them in the states
    {"tstamp": 1.0, "type": "chat", "model": "vicuna-13b", "state": {}},
    {"tstamp": 2.0, "type": "leftvote", "models": ["", ""], "ip": "1.2.3.4",
     "states": [{"model_name": "vicuna-13b", "conv_id": "c1"}, {"model_name": "koala-13b", "conv_id": "c2"}]},
    {"tstamp": 3.0, "type": "bothbad_vote", "models": ["koala-13b", "alpaca-13b"], "ip": "5.6.7.8",
     "states": [{"model_name": "koala-13b", "conv_id": "c3"}, {"model_name": "alpaca-13b", "conv_id": "c4"}]},
]


def test_fastchat_battles_and_raw_logs_become_votes(tmp_path, capsys):
    battles = tmp_path / "clean_battle.json"
    battles.write_text(json.dumps(FASTCHAT_BATTLES))
    out = tmp_path / "votes.jsonl"
    rc, _, err = run_cli(capsys, "votes", "import", str(battles), "--out", str(out))
    assert rc == 0 and "wrote 4 votes (3 counted) over 3 systems" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["winner"] for r in rows] == ["a", "both_bad", "b", "tie"]
    assert rows[2]["counted"] is False and "not anonymous" in rows[2]["exclusion_reason"]
    assert rows[0]["session"] == "arena_user_1" and rows[0]["sample_id"] == "q1" and rows[0]["language"] == "English"
    rc, board, _ = run_cli(capsys, "leaderboard", "--votes", str(out), "--format", "json", "--bootstrap", "0",
                           "--min-votes", "1")
    assert rc == 0 and {r["system"]: r["n"] for r in json.loads(board)} == {"vicuna-13b": 2, "koala-13b": 2, "alpaca-13b": 2}

    raw = tmp_path / "2023-05-01-conv.json"
    raw.write_text("".join(json.dumps(r) + "\n" for r in FASTCHAT_RAW))
    rc, _, err = run_cli(capsys, "votes", "import", str(raw), "--out", str(tmp_path / "raw.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "raw.jsonl").read_text().splitlines()]
    assert rc == 0 and [(r["system_a"], r["system_b"], r["winner"], r["counted"]) for r in rows] == [
        ("vicuna-13b", "koala-13b", "a", True), ("koala-13b", "alpaca-13b", "both_bad", False)]
    assert rows[0]["session"] and "1.2.3.4" not in json.dumps(rows)  # addresses are hashed

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"model_a": "x", "model_b": "y", "winner": "left"}]))
    rc, _, err = run_cli(capsys, "votes", "import", str(bad), "--out", str(tmp_path / "x.jsonl"))
    assert rc == 2 and "battle 0" in err and "'winner'" in err and len(err.strip().splitlines()) == 1


# --- CLI conventions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command, required", [
    ("generate", ["--system", "flat", "--data", "d", "--out", "o"]),
    ("judge", ["--data", "d", "--responses", "r"]),
    ("calibrate", ["--data", "d"]),
    ("build", ["--out", "o"]),
])
def test_one_list_syntax_for_levels_everywhere(command, required):
    from s2s_arena.cli import build_parser

    parser = build_parser()
    seen = [parser.parse_args([command, *required, *form]).levels
            for form in (["--levels", "L2,L3"], ["--levels", "L2", "L3"], ["--levels", "L2", "--levels", "L3"])]
    assert seen == [["L2", "L3"]] * 3
    with pytest.raises(SystemExit):
        parser.parse_args([command, *required, "--levels", "L2,L9"])


def test_systems_means_names_everywhere(tmp_path, capsys):
    from s2s_arena.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["judge", "--data", "d", "--responses", "r", "--systems", "a,b"]).systems == ["a", "b"]
    assert parser.parse_args(["leaderboard", "--votes", "v", "--systems", "a", "b"]).systems == ["a", "b"]
    src = votes_file(tmp_path / "votes.jsonl")
    rc, out, _ = run_cli(capsys, "leaderboard", "--votes", str(src), "--systems", "a,c", "--format", "json",
                         "--bootstrap", "0", "--min-votes", "1")
    assert rc == 0 and sorted(r["system"] for r in json.loads(out)) == ["a", "c"]
    rc, _, err = run_cli(capsys, "leaderboard", "--votes", str(src), "--systems", "a,zzz")
    assert rc == 2 and "zzz" in err


@pytest.mark.parametrize("argv, message", [
    (["generate", "--system", "flat", "--data", "/nope", "--out", "OUT"], "/nope: no such dataset folder"),
    (["judge", "--data", "/nope", "--responses", "/nope"], "/nope: no such responses folder"),
    (["judge", "--data", "/nope", "--responses", "RESP"], "/nope: no such dataset folder"),
    (["leaderboard", "--votes", "/nope.jsonl"], "/nope.jsonl: no such file"),
])
def test_user_mistakes_are_one_line_errors(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("x", "y"):
        ResponseWriter(tmp_path / "RESP", SystemInfo(name=name)).write("s0", tone(0.1), SR)
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_model_that_is_not_there_is_named_not_a_traceback():
    from s2s_arena.errors import ArenaError
    from s2s_arena.judging.judges import get_judge
    from s2s_arena.systems import get_system

    with pytest.raises(ArenaError, match=r"hf:/nope: no such model folder /nope"):
        get_system("hf:/nope").load()
    with pytest.raises(ArenaError, match=r"no such model folder \./no-model"):
        get_judge("hf:./no-model")
    with pytest.raises(ArenaError, match=r"neither a local folder nor a Hub id"):
        get_judge("hf:bad name!")
