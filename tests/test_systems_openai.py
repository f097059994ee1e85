"""`openai:<model>` against a real HTTP server on 127.0.0.1 speaking the chat-completions audio protocol."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from s2s_arena.audio import SAMPLE_RATE, encode_wav, load_audio
from s2s_arena.schema import SchemaError
from s2s_arena.systems import get_system
from systems_testkit import OpenAIAudioServer, audio_of, make_samples, reply_audio


def _key(x: np.ndarray) -> str:
    return hashlib.sha1(encode_wav(x, SAMPLE_RATE)).hexdigest()


def test_good_reply_is_24khz_audio_with_transcript_and_latency():
    samples = make_samples(2)
    with OpenAIAudioServer() as srv:
        system = get_system("openai:gpt-audio-mini", base_url=srv.url, api_key="sk-test", voice="verse", seed=3)
        outs = system.respond(samples)
    assert [o.error for o in outs] == ["", ""]
    for out in outs:
        assert out.sr == SAMPLE_RATE and out.audio.dtype == np.float32
        # The server replied 0.4 s at 16 kHz: the adapter resamples to 24 kHz.
        assert out.audio.shape == (int(0.4 * SAMPLE_RATE),)
        assert out.text == "Hello there, here is my answer."
        assert out.latency_total_s > 0 and out.latency_first_audio_s == out.latency_total_s
        assert out.meta["native_sr"] == 16_000 and out.meta["attempts"] == 1
    req = srv.requests[0]
    assert req["auth"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "gpt-audio-mini" and body["modalities"] == ["text", "audio"]
    assert body["audio"] == {"voice": "verse", "format": "wav"} and body["seed"] == 3
    assert body["messages"][0]["role"] == "system"
    # The instruction goes in as audio only (a speech system must listen), never as its transcript.
    assert "question number" not in str(body["messages"])
    sent = load_audio(audio_of(body), sr=SAMPLE_RATE)
    assert sent.shape == samples[0].audio["array"].shape
    assert system.info.name == "gpt-audio-mini" and system.info.architecture == "end-to-end"


def test_text_and_audio_in_separate_choices():
    with OpenAIAudioServer(lambda body: "split") as srv:
        (out,) = get_system("openai:Qwen/Qwen2.5-Omni-7B", base_url=srv.url).respond(make_samples(1))
    assert out.error == "" and out.text == "Split reply." and out.audio.shape == (int(0.4 * SAMPLE_RATE),)


def test_streaming_measures_time_to_first_audio():
    with OpenAIAudioServer() as srv:
        system = get_system("openai:qwen-omni", base_url=srv.url, stream=True)
        (out,) = system.respond(make_samples(1))
    assert out.error == ""
    assert srv.requests[0]["body"]["stream"] is True
    assert srv.requests[0]["body"]["audio"]["format"] == "pcm16"
    assert out.text == "Hello stream."
    assert out.audio.shape == (int(0.4 * SAMPLE_RATE),)
    # The server sleeps between deltas: the first audio delta arrives before the stream ends.
    assert 0 < out.latency_first_audio_s < out.latency_total_s
    expected = reply_audio()
    assert np.corrcoef(out.audio[1000:2000], np.interp(np.arange(1000, 2000) * 16 / 24, np.arange(expected.size), expected))[0, 1] > 0.95


@pytest.mark.parametrize(
    "mode, expected, attempts",
    [
        ("malformed", "malformed reply", 1),
        ("no_audio", "the model did not speak", 1),
        ("bad_base64", "not base64", 1),
        ("not_audio", "choices[].message.audio.data", 1),
        ("reject", "HTTP 400", 1),
        ("fail", "HTTP 500", 3),
    ],
)
def test_bad_replies_become_per_sample_errors(mode, expected, attempts):
    samples = make_samples(3)
    bad = _key(samples[1].audio["array"])
    with OpenAIAudioServer(lambda body: mode if _key(load_audio(audio_of(body), sr=SAMPLE_RATE)) == bad else "good") as srv:
        system = get_system("openai:m", base_url=srv.url, retries=2)
        outs = system.respond(samples)
    assert outs[0].error == "" and outs[2].error == ""
    assert outs[0].audio is not None and outs[2].audio is not None
    assert expected in outs[1].error and outs[1].audio is None
    assert outs[1].meta["attempts"] == attempts
    assert len(srv.requests) == 2 + attempts


def test_slow_reply_times_out_and_is_recorded():
    with OpenAIAudioServer(lambda body: "slow", slow_s=2.0) as srv:
        system = get_system("openai:m", base_url=srv.url, timeout_s=0.3, retries=0)
        (out,) = system.respond(make_samples(1))
    assert out.audio is None and out.error.startswith("timeout")
    assert 0.3 <= out.latency_total_s < 2.0


def test_unreachable_server_is_an_error_not_an_exception():
    system = get_system("openai:m", base_url="http://127.0.0.1:9/v1", retries=0, timeout_s=2)
    (out,) = system.respond(make_samples(1))
    assert out.audio is None and "cannot reach http://127.0.0.1:9/v1" in out.error


def test_bad_spec_names_the_field():
    with pytest.raises(SchemaError, match="--system.*spec"):
        get_system("openai:")
    with pytest.raises(SchemaError, match="not a system spec"):
        get_system("gpt-4o")
