"""Responses folders: write, resume, read back, and refuse what could escape or corrupt them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2s_arena.audio import SAMPLE_RATE
from s2s_arena.responses import ResponseWriter, load_responses, load_system, read_system_info
from s2s_arena.schema import SchemaError, SystemInfo


def _tone(seconds: float = 0.5, f: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_write_then_read_back(tmp_path):
    info = SystemInfo(name="sys-a", organisation="lab", kind="academic", architecture="cascade", backbone="x")
    w = ResponseWriter(tmp_path, info)
    w.write("s1", _tone(), text="hello", latency_total_s=0.25)
    w.write("s2", None, error="timeout after 30 s")
    sys_a = load_system(tmp_path / "sys-a")
    assert read_system_info(tmp_path / "sys-a") == info
    assert set(sys_a.responses) == {"s1"}
    assert sys_a.errors == {"s2": "timeout after 30 s"}
    x = sys_a.audio("s1")
    assert x.dtype == np.float32 and abs(len(x) - SAMPLE_RATE // 2) <= 1
    assert sys_a.responses["s1"].text == "hello"


def test_resume_sees_done_and_retries_failures(tmp_path):
    info = SystemInfo(name="sys-b")
    w = ResponseWriter(tmp_path, info)
    w.write("s1", _tone())
    w.write("s2", None, error="boom")
    w2 = ResponseWriter(tmp_path, info)
    assert w2.done == {"s1"} and w2.failed == {"s2"}
    w2.write("s2", _tone())
    assert set(load_system(tmp_path / "sys-b").responses) == {"s1", "s2"}
    assert load_system(tmp_path / "sys-b").errors == {}


def test_truncated_last_manifest_line_is_ignored_but_earlier_corruption_is_an_error(tmp_path):
    w = ResponseWriter(tmp_path, SystemInfo(name="sys-c"))
    w.write("s1", _tone())
    manifest = tmp_path / "sys-c" / "manifest.jsonl"
    with open(manifest, "a") as f:
        f.write('{"sample_id": "s2", "sys')  # killed mid-write
    assert set(load_system(tmp_path / "sys-c").responses) == {"s1"}
    # The next run drops the torn row before appending, so its rows stay readable.
    ResponseWriter(tmp_path, SystemInfo(name="sys-c")).write("s3", _tone())
    assert set(load_system(tmp_path / "sys-c").responses) == {"s1", "s3"}
    manifest.write_text('{"sample_id": \n' + manifest.read_text())
    with pytest.raises(SchemaError, match="manifest.jsonl:1"):
        load_system(tmp_path / "sys-c")


def test_unsafe_ids_and_paths_are_refused(tmp_path):
    w = ResponseWriter(tmp_path, SystemInfo(name="sys-d"))
    with pytest.raises(SchemaError, match="sample_id"):
        w.write("../escape", _tone())
    manifest = tmp_path / "sys-d" / "manifest.jsonl"
    manifest.write_text(json.dumps({"sample_id": "s1", "system": "sys-d", "audio_path": "../../etc/passwd"}) + "\n")
    with pytest.raises(SchemaError, match="outside"):
        load_system(tmp_path / "sys-d")


def test_folder_without_manifest_and_unknown_system(tmp_path):
    from s2s_arena.audio import save_audio

    save_audio(tmp_path / "lab-model" / "q1.wav", _tone())
    save_audio(tmp_path / "lab-model" / "q2.flac", _tone())
    systems = load_responses(tmp_path)
    assert set(systems["lab-model"].responses) == {"q1", "q2"}
    with pytest.raises(SchemaError, match="nope"):
        load_responses(tmp_path, systems=["lab-model", "nope"])


def test_bad_system_json_names_the_file(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "system.json").write_text('{"name": "s", "kind": "startup"}')
    with pytest.raises(SchemaError, match=r"system.json.*kind"):
        read_system_info(tmp_path / "s")


def test_responses_from_an_in_memory_dataset(tmp_path):
    from datasets import Audio, Dataset

    ds = Dataset.from_list(
        [{"sample_id": "s1", "system": "m1", "audio": {"array": _tone(), "sampling_rate": SAMPLE_RATE}},
         {"sample_id": "s1", "system": "m2", "audio": {"array": _tone(f=330), "sampling_rate": SAMPLE_RATE}}]
    ).cast_column("audio", Audio(sampling_rate=SAMPLE_RATE))
    systems = load_responses(ds)
    assert set(systems) == {"m1", "m2"}
    assert systems["m2"].audio("s1").shape[0] == _tone().shape[0]
