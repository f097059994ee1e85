"""`s2s-arena generate`: responses folder, per-sample errors, resuming after a real interruption."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from s2s_arena.audio import SAMPLE_RATE, encode_wav, load_audio
from s2s_arena.responses import load_responses
from s2s_arena.systems.generation import generate_responses
from systems_testkit import OpenAIAudioServer, audio_of, make_samples

TESTS_DIR = Path(__file__).resolve().parent


def _key(x: np.ndarray) -> str:
    return hashlib.sha1(encode_wav(x, SAMPLE_RATE)).hexdigest()


def _manifest_rows(system_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (system_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]


def test_one_failing_sample_is_recorded_and_retried_on_rerun(tmp_path):
    samples = make_samples(5)
    bad = _key(samples[2].audio["array"])
    state = {"broken": True}

    def behaviour(body):
        hit = _key(load_audio(audio_of(body), sr=SAMPLE_RATE)) == bad
        return "fail" if hit and state["broken"] else "good"

    info = {"organisation": "Test Lab", "kind": "industrial", "backbone": "tiny-llm", "version": "1.2"}
    with OpenAIAudioServer(behaviour) as srv:
        opts = {"base_url": srv.url, "retries": 1}
        first = generate_responses("openai:gpt-audio", samples, tmp_path, opts=opts, info=info, batch_size=2)
        assert first.written == 4 and list(first.failed) == ["s002"] and "HTTP 500" in first.failed["s002"]
        system_dir = tmp_path / "gpt-audio"
        rows = _manifest_rows(system_dir)
        assert sorted(r["sample_id"] for r in rows) == [f"s{i:03d}" for i in range(5)]
        failed_row = next(r for r in rows if r["sample_id"] == "s002")
        assert failed_row["audio_path"] == "" and "HTTP 500" in failed_row["error"]
        assert not (system_dir / "s002.wav").exists()
        for r in rows:
            if r["sample_id"] != "s002":
                assert r["latency_total_s"] > 0 and r["text"] == "Hello there, here is my answer."
                x = load_audio(system_dir / r["audio_path"], sr=SAMPLE_RATE)
                assert x.shape == (int(0.4 * SAMPLE_RATE),)
        system_json = json.loads((system_dir / "system.json").read_text())
        assert system_json["organisation"] == "Test Lab" and system_json["kind"] == "industrial"
        assert system_json["architecture"] == "end-to-end" and system_json["backbone"] == "tiny-llm"
        assert system_json["spec"] == "openai:gpt-audio"
        run = json.loads((system_dir / "manifest.json").read_text())
        assert run["failed"] == ["s002"] and run["done"] == 4 and run["this_run"]["written"] == 4

        n_before = len(srv.requests)
        state["broken"] = False
        second = generate_responses("openai:gpt-audio", samples, tmp_path, opts=opts, info=info, batch_size=2)
        # Only the failed sample is asked again.
        assert len(srv.requests) == n_before + 1
        assert second.skipped == 4 and second.written == 1 and not second.failed
    loaded = load_responses(tmp_path)["gpt-audio"]
    assert sorted(loaded.responses) == [f"s{i:03d}" for i in range(5)] and not loaded.errors
    assert json.loads((system_dir / "manifest.json").read_text())["failed"] == []


_INTERRUPTED_RUN = """
import sys
sys.path.insert(0, {tests!r})
from systems_testkit import make_samples
from s2s_arena.systems.generation import generate_responses
generate_responses("openai:slow-model", make_samples(6), {out!r}, opts={{"base_url": {url!r}, "parallel": 1}}, batch_size=1)
"""


def test_run_killed_half_way_resumes_without_redoing_finished_samples(tmp_path):
    out = tmp_path / "resp"
    with OpenAIAudioServer(lambda body: "slow", slow_s=0.4) as srv:
        script = tmp_path / "run.py"
        script.write_text(_INTERRUPTED_RUN.format(tests=str(TESTS_DIR), out=str(out), url=srv.url))
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        manifest = out / "slow-model" / "manifest.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline:
            if manifest.is_file() and len(manifest.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = {r["sample_id"] for r in _manifest_rows(out / "slow-model")}
        assert 2 <= len(finished) < 6, "the run was not interrupted half-way"
        stamps = {sid: (out / "slow-model" / f"{sid}.wav").stat().st_mtime_ns for sid in finished}
        asked_before = len(srv.requests)

        srv.slow_s = 0.0
        summary = generate_responses("openai:slow-model", make_samples(6), out, opts={"base_url": srv.url}, batch_size=2)
        assert summary.skipped == len(finished) and summary.written == 6 - len(finished)
        assert len(srv.requests) - asked_before == 6 - len(finished)
    rows = _manifest_rows(out / "slow-model")
    assert sorted({r["sample_id"] for r in rows}) == [f"s{i:03d}" for i in range(6)]
    assert len(rows) == 6  # no sample written twice
    for sid, stamp in stamps.items():
        assert (out / "slow-model" / f"{sid}.wav").stat().st_mtime_ns == stamp


@pytest.fixture(scope="module")
def built_dataset(tmp_path_factory):
    build = pytest.importorskip("s2s_arena_dataset.pipeline.build")
    return build.build_dataset(tmp_path_factory.mktemp("bench") / "ds", limit=4, seed=0, progress=False)


def test_cli_generate_over_a_built_dataset(built_dataset, tmp_path, capsys):
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.cli import main

    resp = tmp_path / "resp"
    with OpenAIAudioServer() as srv:
        rc = main(["generate", "--system", "openai:gpt-audio", "--data", str(built_dataset), "--out", str(resp),
                   "--limit", "3", "--name", "gpt-audio-test", "--organisation", "OpenAI", "--kind", "industrial",
                   "--backbone", "gpt-4o", "-o", f"base_url={srv.url}", "-o", "voice=ash", "-o", "retries=0"])
        assert rc == 0
        assert srv.requests[0]["body"]["audio"]["voice"] == "ash"
    out = capsys.readouterr().out
    assert f"{resp / 'gpt-audio-test'}: 3 responses written, 0 already done, 0 failed" in out
    got = load_responses(resp)["gpt-audio-test"]
    expected = [s.id for s in load_benchmark(built_dataset, limit=3)]
    assert sorted(got.responses) == sorted(expected)
    assert got.info.organisation == "OpenAI" and got.info.kind == "industrial" and got.info.backbone == "gpt-4o"
    run = json.loads((resp / "gpt-audio-test" / "manifest.json").read_text())
    assert run["arguments"]["limit"] == 3 and run["spec"] == "openai:gpt-audio" and run["done"] == 3

    # The reference systems go through the same command (rendered over all samples at once).
    assert main(["generate", "--system", "flat", "--data", str(built_dataset), "--out", str(resp), "--levels", "L2", "L3"]) == 0
    flat = load_responses(resp)["flat"]
    assert flat.info.architecture == "reference"
    assert sorted(flat.responses) == sorted(s.id for s in load_benchmark(built_dataset, levels=["L2", "L3"]))


def test_cli_errors_name_the_input(built_dataset, tmp_path, capsys):
    from s2s_arena.cli import main

    assert main(["generate", "--system", "gpt-4o", "--data", str(built_dataset), "--out", str(tmp_path)]) == 2
    assert "--system: field 'spec': 'gpt-4o' is not a system spec" in capsys.readouterr().err
    assert main(["generate", "--system", "openai:m", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert f"{tmp_path / 'nope'}: no such dataset folder" in capsys.readouterr().err
    assert main(["generate", "--system", "openai:m", "--data", str(built_dataset), "--out", str(tmp_path),
                 "-o", "novalue"]) == 2
    assert "--option 'novalue': expected KEY=VALUE" in capsys.readouterr().err


def test_reference_system_as_an_adapter(built_dataset):
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.systems import get_system

    samples = load_benchmark(built_dataset, limit=2)
    system = get_system("flat", seed=0)
    assert system.info.architecture == "reference" and system.info.name == "flat"
    outs = system.respond(samples)
    for sample, out in zip(samples, outs):
        assert out.error == "" and out.sr == SAMPLE_RATE and out.audio.ndim == 1 and out.audio.size > SAMPLE_RATE // 4
        assert out.text == sample.reference_response
