"""`folder:` and `hub:`: responses produced elsewhere, imported through the same writer and checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2s_arena.audio import SAMPLE_RATE, encode_wav, load_audio, save_audio
from s2s_arena.responses import ResponseWriter, load_responses
from s2s_arena.schema import SchemaError, SystemInfo
from s2s_arena.systems import get_system
from s2s_arena.systems.generation import generate_responses
from systems_testkit import make_samples


def _tone(freq: float, seconds: float = 0.5, sr: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.25 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _lab_folder(root):
    info = SystemInfo(name="lab-model", organisation="Some Lab", kind="industrial", architecture="cascade", backbone="X-7B")
    w = ResponseWriter(root, info)
    w.write("s000", _tone(200), SAMPLE_RATE, text="first", latency_total_s=1.5, latency_first_audio_s=0.3)
    w.write("s001", _tone(300, sr=16_000), 16_000, text="second")
    w.write("s002", None, error="the lab's model crashed")
    return root / "lab-model"


def test_folder_import_copies_responses_metadata_and_gaps(tmp_path):
    src = _lab_folder(tmp_path / "elsewhere")
    samples = make_samples(4)
    summary = generate_responses(f"folder:{src}", samples, tmp_path / "resp")
    assert summary.written == 2
    assert summary.failed == {"s002": "the lab's model crashed",
                              "s003": f"no response for sample 's003' in folder:{src}"}
    system_json = json.loads((tmp_path / "resp" / "lab-model" / "system.json").read_text())
    assert system_json["organisation"] == "Some Lab" and system_json["architecture"] == "cascade"
    assert system_json["backbone"] == "X-7B" and system_json["spec"] == f"folder:{src}"
    got = load_responses(tmp_path / "resp")["lab-model"]
    assert sorted(got.responses) == ["s000", "s001"] and sorted(got.errors) == ["s002", "s003"]
    assert got.responses["s000"].text == "first" and got.responses["s000"].latency_first_audio_s == 0.3
    np.testing.assert_allclose(got.audio("s000"), _tone(200), atol=1e-3)
    assert got.audio("s001").shape == (int(0.5 * SAMPLE_RATE),)


def test_plain_folder_of_wavs_and_a_responses_root(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    save_audio(plain / "s001.wav", _tone(250), SAMPLE_RATE)
    system = get_system(f"folder:{plain}", name="renamed", kind="industrial")
    assert system.info.name == "renamed" and system.info.kind == "industrial"
    outs = system.respond(make_samples(2))
    assert "no response for sample 's000'" in outs[0].error and outs[1].error == ""
    assert outs[1].audio.shape == (int(0.5 * SAMPLE_RATE),)

    root = tmp_path / "root"
    _lab_folder(root)
    assert get_system(f"folder:{root}").info.name == "lab-model"
    ResponseWriter(root, SystemInfo(name="other")).write("s000", _tone(100), SAMPLE_RATE)
    with pytest.raises(SchemaError, match="holds 2 systems"):
        get_system(f"folder:{root}")
    assert get_system(f"folder:{root}", system="other").info.name == "other"
    with pytest.raises(SchemaError, match="not a folder"):
        get_system(f"folder:{tmp_path / 'missing'}")


def test_hub_dataset_with_sample_id_system_audio(tmp_path, monkeypatch):
    from datasets import Audio, Dataset

    monkeypatch.setenv("S2S_ARENA_CACHE", str(tmp_path / "cache"))
    ds = Dataset.from_dict({
        "sample_id": ["s000", "s001", "s000"],
        "system": ["hub-model", "hub-model", "someone-else"],
        "audio": [{"bytes": encode_wav(_tone(f)), "path": None} for f in (220, 330, 440)],
        "text": ["a", "b", "c"],
    }).cast_column("audio", Audio())
    repo = tmp_path / "hub_repo"
    ds.to_parquet(str(repo / "data" / "train-00000-of-00001.parquet"))
    summary = generate_responses(f"hub:{repo}", make_samples(2), tmp_path / "resp", opts={"system": "hub-model"})
    assert summary.written == 2 and not summary.failed
    got = load_responses(tmp_path / "resp")["hub-model"]
    assert got.responses["s001"].text == "b"
    x = load_audio(got.responses["s000"].audio_path, sr=SAMPLE_RATE)
    np.testing.assert_allclose(x, _tone(220), atol=1e-3)
