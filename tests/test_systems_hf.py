"""`hf:<model>`: a tiny random Qwen2.5-Omni (thinker + talker + token2wav) speaking through the adapter."""

from __future__ import annotations

import json

import numpy as np

import pytest

from s2s_arena.responses import load_responses
from s2s_arena.schema import SchemaError
from s2s_arena.systems import get_system
from s2s_arena.systems.generation import generate_responses
from systems_testkit import make_samples
from tiny_omni import build_omni, build_qwen3_omni

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def omni(tmp_path_factory):
    return build_omni(tmp_path_factory.mktemp("tiny_omni") / "Qwen2.5-Omni-tiny")


def test_omni_model_speaks_into_a_responses_folder(omni, tmp_path):
    samples = make_samples(2)
    opts = {"max_new_tokens": 4, "talker_max_new_tokens": 12, "token2wav_steps": 2, "device": "cpu"}
    summary = generate_responses(f"hf:{omni}", samples, tmp_path, opts=opts, info={"organisation": "Qwen"})
    assert summary.failed == {} and summary.written == 2
    got = load_responses(tmp_path)["Qwen2.5-Omni-tiny"]
    assert got.info.architecture == "end-to-end" and got.info.backbone == str(omni) and got.info.organisation == "Qwen"
    rows = [json.loads(x) for x in (tmp_path / "Qwen2.5-Omni-tiny" / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["sample_id"] for r in rows) == ["s000", "s001"]
    for row in rows:
        x = got.audio(row["sample_id"])
        # The talker's codes go through the DiT + BigVGAN: a real (random) 24 kHz waveform.
        assert x.ndim == 1 and x.size >= 240
        assert row["meta"]["speaker"] == "Chelsie" and 1 <= row["meta"]["text_tokens"] <= 4
        assert row["latency_total_s"] > 0 and row["latency_first_audio_s"] == row["latency_total_s"]
        assert isinstance(row["text"], str)


def test_prompt_carries_one_placeholder_per_encoder_frame(omni):
    system = get_system(f"hf:{omni}", device="cpu")
    system.load()
    x = make_samples(1)[0].audio["array"][::3]  # 0.3 s at 8 kHz, presented as 16 kHz: 0.3 s of features
    inputs = system.inputs(x, 16_000)
    tok = system._tokenizer
    ids = inputs["input_ids"][0].tolist()
    n_audio = ids.count(tok.convert_tokens_to_ids(tok.audio_token))
    frames = int(inputs["feature_attention_mask"].sum())
    assert frames == 30  # 10 ms hop
    assert n_audio == ((frames - 1) // 2 + 1 - 2) // 2 + 1
    # The instruction is heard, never read: its transcript is not in the prompt.
    assert "question" not in tok.decode(ids)


def test_a_model_that_cannot_speak_is_a_setup_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(SchemaError, match="model_type.*not a speaking model"):
        get_system(f"hf:{tmp_path}").respond(make_samples(1))


def test_qwen3_omni_speaks_too(tmp_path):
    model = build_qwen3_omni(tmp_path / "Qwen3-Omni-tiny")
    system = get_system(f"hf:{model}", max_new_tokens=3, talker_max_new_tokens=6, device="cpu",
                        talker_do_sample=False)
    (out,) = system.respond(make_samples(1))
    assert out.error == "" and out.meta["speaker"] == "Ethan" and 1 <= out.meta["text_tokens"] <= 3
    # The talker's codes (2 groups) go through code2wav: a real (random) 24 kHz waveform.
    assert out.sr == 24_000 and out.audio.ndim == 1 and out.audio.size > 0 and np.isfinite(out.audio).all()
