"""`cascade:<asr>+<llm>+<tts>` with tiny random transformers models, and with API stages on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from s2s_arena.audio import SAMPLE_RATE
from s2s_arena.responses import load_responses
from s2s_arena.schema import SchemaError
from s2s_arena.systems import get_system
from s2s_arena.systems.generation import generate_responses
from systems_testkit import OpenAIAudioServer, make_samples
from tiny_models import build_asr, build_llm, build_tts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_cascade")
    return build_asr(root / "asr"), build_llm(root / "llm"), build_tts(root / "tts")


def test_local_cascade_writes_spoken_responses(tiny, tmp_path):
    asr, llm, tts = tiny
    spec = f"cascade:{asr}+{llm}+{tts}"
    samples = make_samples(3)
    summary = generate_responses(spec, samples, tmp_path, opts={"max_new_tokens": 6, "name": "tiny-cascade"},
                                 info={"organisation": "Tests"})
    assert summary.failed == {} and summary.written == 3
    got = load_responses(tmp_path)["tiny-cascade"]
    assert got.info.architecture == "cascade" and got.info.backbone == str(llm) and got.info.spec == spec
    rows = [json.loads(x) for x in (tmp_path / "tiny-cascade" / "manifest.jsonl").read_text().splitlines()]
    for row, sample in zip(sorted(rows, key=lambda r: r["sample_id"]), samples):
        x = got.audio(sample.id)
        # Random models say garbage, but it is real audio: the VITS output resampled to 24 kHz.
        assert x.ndim == 1 and x.size > SAMPLE_RATE // 100
        assert len(row["text"].split()) == 6  # max_new_tokens words from the word-level LLM
        assert isinstance(row["meta"]["asr_text"], str) and row["meta"]["native_sr"] == 16_000
        assert set(row["meta"]["stage_s"]) == {"asr", "llm", "tts"}
        assert row["latency_total_s"] >= sum(row["meta"]["stage_s"].values()) - 1e-3
        # transformers text-to-audio takes no style prompt; the manifest says it was not used.
        assert row["meta"]["style_prompt"] == ""


def test_api_stages_and_style_prompt(tiny):
    _, llm, _ = tiny
    samples = make_samples(3)  # s002 is an L2 sample that must be spoken fast, then normal, then slow
    with OpenAIAudioServer() as srv:
        system = get_system("cascade:openai:whisper-1+openai:gpt-4o-mini+openai:gpt-4o-mini-tts",
                            base_url=srv.url, api_key="k", voice="coral")
        outs = system.respond(samples)
        by_path = {}
        for req in srv.requests:
            by_path.setdefault(req["path"], []).append(req["body"])
    assert [o.error for o in outs] == ["", "", ""]
    assert all(o.text == "yes you speak slowly" and o.meta["asr_text"] == "hello the answer" for o in outs)
    assert all(o.audio.shape == (int(0.3 * SAMPLE_RATE),) for o in outs)
    assert all(b["has_wav"] for b in by_path["/v1/audio/transcriptions"])
    chat = by_path["/v1/chat/completions"][0]
    assert chat["model"] == "gpt-4o-mini" and chat["messages"][-1] == {"role": "user", "content": "hello the answer"}
    speech = sorted(by_path["/v1/audio/speech"], key=lambda b: "instructions" in b)
    assert all(b["model"] == "gpt-4o-mini-tts" and b["voice"] == "coral" for b in speech)
    styled = [b for b in speech if "instructions" in b]
    # Only the L2 sample has requirements; L0 / L1 responses get no style prompt.
    assert len(styled) == 1 and len(speech) == 3
    assert "speaking rate: fast, then normal, then slow" in styled[0]["instructions"]
    assert outs[2].meta["style_prompt"] == "speaking rate: fast, then normal, then slow"

    # A local LLM between API speech stages: the stages mix freely.
    with OpenAIAudioServer() as srv:
        mixed = get_system(f"cascade:openai:whisper-1+{llm}+openai:tts-1", base_url=srv.url, max_new_tokens=4)
        (out,) = mixed.respond(samples[:1])
    assert out.error == "" and len(out.text.split()) == 4


def test_cascade_spec_needs_three_parts():
    with pytest.raises(SchemaError, match="three parts"):
        get_system("cascade:asr+llm")
