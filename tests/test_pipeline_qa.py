"""QA checks, acoustic conditions and variant plans of the build pipeline, on real eSpeak NG audio."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from s2s_arena import prosody
from s2s_arena.audio import SAMPLE_RATE
from s2s_arena_dataset.pipeline import qa
from s2s_arena_dataset.pipeline.augment import as_voices, plan_variants, seed_variant
from s2s_arena_dataset.pipeline.conditions import (CONDITIONS, NOISY_CONDITIONS, apply_condition, make_noise,
                                                   room_impulse_response)
from s2s_arena_dataset.pipeline.paraphrase import OpenAIParaphraser, paraphrase

TEXT = "Please tell me how long it takes to walk from the station to the old market square."


@pytest.fixture(scope="module")
def synth():
    from s2s_arena.synth import get_synthesizer

    return get_synthesizer("espeak")


def _render(synth, attrs=None, text=TEXT, voice="m3"):
    res = synth.synthesize(text, language="en", attributes=attrs, voice=voice, seed=1)
    return res.audio, prosody.measure(res.audio, res.sr, text=text)


@pytest.fixture(scope="module")
def neutral(synth):
    return _render(synth)


def _failed(checks, name):
    return [c for c in checks if c["name"] == name and c["pass"] is False]


def test_slow_cue_rendered_fast_is_rejected_and_slow_passes(synth, neutral):
    _, p_neutral = neutral
    _, p_fast = _render(synth, {"speaking_rate": "fast"})
    _, p_slow = _render(synth, {"speaking_rate": "slow"})
    bad = qa.check_cues({"speaking_rate": "slow"}, p_fast, p_neutral, TEXT)
    assert _failed(bad, "speaking_rate") and bad[0]["measured"] > 1.0
    ok, reasons = qa.verdict(bad)
    assert not ok and reasons == ["speaking_rate"]
    good = qa.check_cues({"speaking_rate": "slow"}, p_slow, p_neutral, TEXT)
    assert good[0]["pass"] is True and good[0]["measured"] <= qa.RATE_SLOW_MAX_RATIO


def test_missing_pause_is_rejected_and_inserted_pause_passes(synth, neutral):
    _, p_neutral = neutral
    text = "First open the box, then take out the red cable, and finally plug it in."
    _, p_plain = _render(synth, text=text)
    _, p_paused = _render(synth, {"pauses": ["box", "cable"]}, text=text)
    assert qa.check_cues({"pauses": ["box", "cable"]}, p_plain, p_plain, text)[0]["pass"] is False
    check = qa.check_cues({"pauses": ["box", "cable"]}, p_paused, p_plain, text)[0]
    assert check["pass"] is True, check
    assert qa.check_cues({"pauses": 2}, p_paused, p_plain, text)[0]["pass"] is True
    assert qa.check_cues({"pauses": 5}, p_paused, p_plain, text)[0]["pass"] is False


def test_whisper_pitch_and_volume_checks_follow_the_audio(synth, neutral):
    _, p_neutral = neutral
    _, p_whisper = _render(synth, {"voice_quality": "whisper"})
    assert qa.check_cues({"voice_quality": "whisper"}, p_whisper, None, TEXT)[0]["pass"] is True
    assert qa.check_cues({"voice_quality": "whisper"}, p_neutral, None, TEXT)[0]["pass"] is False
    _, p_high = _render(synth, {"pitch": "high"})
    assert qa.check_cues({"pitch": "high"}, p_high, p_neutral, TEXT)[0]["pass"] is True
    assert qa.check_cues({"pitch": "low"}, p_high, p_neutral, TEXT)[0]["pass"] is False
    _, p_loud = _render(synth, {"volume": "loud"})
    assert qa.check_cues({"volume": "loud"}, p_loud, p_neutral, TEXT)[0]["pass"] is True
    assert qa.check_cues({"volume": "quiet"}, p_loud, p_neutral, TEXT)[0]["pass"] is False
    # a relative cue without a neutral rendering (a human recording) is recorded, not failed
    assert qa.check_cues({"pitch": "high"}, p_high, None, TEXT)[0]["pass"] is None


def test_signal_checks_catch_clipping_silence_and_wrong_snr():
    assert qa.verdict(qa.check_signal(2.0, 0.0, 1.5, TEXT, 10.0, 10.4))[0]
    ok, reasons = qa.verdict(qa.check_signal(2.0, 0.05, 1.5, TEXT, 10.0, 13.0))
    assert not ok and set(reasons) == {"clipping", "snr"}
    assert qa.verdict(qa.check_signal(0.2, 0.0, 0.1, TEXT, None, None))[1] == ["duration"]
    assert qa.verdict(qa.check_signal(3.0, 0.0, 0.0, TEXT, None, None))[1] == ["duration"]  # silent


@pytest.mark.parametrize("name", NOISY_CONDITIONS)
def test_each_condition_hits_its_snr(synth, neutral, name):
    x, _ = neutral
    rng = np.random.default_rng(3)
    bank = [_render(synth, text=t)[0] for t in ("One two three four five six.", "The cat sat on the mat today.")]
    mix, ref, info = apply_condition(x, SAMPLE_RATE, name, 7.5, rng, bank)
    assert info["noise"] == name and info["snr_db"] == 7.5
    added = mix.astype(np.float64) - ref
    snr = 10 * math.log10(np.mean(ref.astype(np.float64) ** 2) / np.mean(added**2))
    assert abs(snr - 7.5) < 0.05 and abs(info["snr_measured_db"] - 7.5) < 0.05
    assert np.all(np.isfinite(mix)) and mix.shape == ref.shape
    if CONDITIONS[name].rt60_s:
        assert ref.shape[0] > x.shape[0] and info["rir"]["rt60_s"] == CONDITIONS[name].rt60_s


def test_noise_colours_and_room_decay_are_what_they_claim():
    rng = np.random.default_rng(0)
    n = SAMPLE_RATE * 4

    def low_share(x):  # energy below 500 Hz over total
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.shape[0], 1 / SAMPLE_RATE)
        return spec[f < 500].sum() / spec.sum()

    shares = [low_share(make_noise(c, n, SAMPLE_RATE, rng)) for c in ("white", "pink", "brown")]
    assert shares[0] < 0.1 < shares[1] < shares[2]  # white flat; pink and brown ever more low-heavy
    for rt60 in (0.3, 1.2):  # Schroeder backward integration: the -5..-25 dB slope gives RT60
        h = room_impulse_response(rt60, SAMPLE_RATE, np.random.default_rng(1)).astype(np.float64)
        edc = 10 * np.log10(np.cumsum(h[::-1] ** 2)[::-1] / np.sum(h**2))
        t5, t25 = np.argmax(edc <= -5) / SAMPLE_RATE, np.argmax(edc <= -25) / SAMPLE_RATE
        assert 0.6 * rt60 < 3 * (t25 - t5) < 1.4 * rt60


def test_variants_never_change_a_cue_and_are_deterministic(synth):
    from s2s_arena.synth import voices as vx

    voices = as_voices(synth.voices("en"))
    cues = {"speaker_gender": "female", "speaking_rate": "slow", "pitch": "high"}
    plans = plan_variants("t-L1-01", cues, voices, 12, build_seed=5)
    assert plans == plan_variants("t-L1-01", cues, voices, 12, build_seed=5)
    assert plans != plan_variants("t-L1-01", cues, voices, 12, build_seed=6)
    assert all(v.voice in vx.FEMALE and v.rate <= 1.0 and v.pitch >= 0.0 for v in plans)
    assert len({v.condition for v in plans}) >= 8  # the conditions rotate across a seed's variants
    fast_male = plan_variants("t-L1-02", {"speaker_gender": "male", "speaking_rate": "fast"}, voices, 6, 0)
    assert all(v.voice in vx.MALE and v.rate >= 1.0 for v in fast_male)
    noisy = {"noise": "street", "snr_db": 4}
    assert seed_variant(noisy).condition == "street" and seed_variant(noisy).snr_db == 4
    assert all(v.condition == "street" and v.snr_db == 4 for v in plan_variants("t-L1-03", noisy, voices, 4, 0))
    # no unrequested elderly or whisper voice sneaks into a seed without speaker cues
    assert all(v.voice in vx.FEMALE + vx.MALE for v in plan_variants("t-L0-01", {}, voices, 20, 0))


class _ChatHandler(BaseHTTPRequestHandler):
    reply = ""

    def do_POST(self):  # noqa: N802 - http.server's API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["messages"][0]["role"] == "user"
        out = json.dumps({"choices": [{"message": {"content": type(self).reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def test_paraphraser_over_a_real_openai_compatible_server_keeps_cue_words():
    server = HTTPServer(("127.0.0.1", 0), _ChatHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = OpenAIParaphraser("tiny", f"http://127.0.0.1:{server.server_port}/v1")
        original = "Say the word tomato slowly, then pause after tomato."
        _ChatHandler.reply = "Please pronounce tomato slowly and pause once you have said tomato."
        assert paraphrase(p, original, "en", ["tomato"]) == (_ChatHandler.reply, True)
        _ChatHandler.reply = "Please pronounce the vegetable slowly and then stop for a moment."
        assert paraphrase(p, original, "en", ["tomato"]) == (original, False)  # lost a cue word
        dead = OpenAIParaphraser("tiny", "http://127.0.0.1:9/v1", timeout_s=2)
        assert paraphrase(dead, original, "en", []) == (original, False)
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def tiny_ctc_dir(tmp_path_factory):
    """A tiny random wav2vec 2.0 CTC model built here (no download): it transcribes garbage."""
    from tiny_models import build_asr

    return build_asr(tmp_path_factory.mktemp("tiny-ctc"), blank_bias=-5.0)


def test_asr_round_trip_rejects_an_unintelligible_rendering(tiny_ctc_dir, tmp_path):
    from s2s_arena_dataset.catalogue import load_catalogue
    from s2s_arena_dataset.pipeline.render import Renderer

    seed = load_catalogue().seeds(level="L0")[0]
    job = {"job_key": "k", "sample_id": f"{seed.id}-s", "seed": seed.to_dict(),
           "variant": seed_variant(seed.input_cues).to_dict()}
    strict = Renderer({"seed": 0, "work_dir": str(tmp_path), "asr": f"hf:{tiny_ctc_dir}"}).render(job)
    assert strict["qa"]["asr_text"] and strict["qa"]["wer"] > 0.5  # a random model hears nonsense
    assert strict["qa"]["pass"] is False and strict["qa"]["reasons"] == ["asr_wer"]
    gate = strict["qa"]["gate"]  # re-rendered by other voices before it was dropped
    assert gate["outcome"] == "dropped" and len(gate["tries"]) == 3
    assert len({t["voice"] for t in gate["tries"]}) >= 2
    assert strict["audio_file"] is None and not (tmp_path / "audio").exists()  # rejected audio is not kept
    lenient = Renderer({"seed": 0, "work_dir": str(tmp_path), "asr": f"hf:{tiny_ctc_dir}", "max_wer": 100.0})
    row = lenient.render(job)
    assert row["qa"]["pass"] is True and (tmp_path / row["audio_file"]).is_file()


def test_rendering_is_deterministic_for_a_seed(tmp_path):
    from s2s_arena_dataset.catalogue import load_catalogue
    from s2s_arena_dataset.pipeline.render import Renderer

    seed = load_catalogue().seeds(level="L2")[0]
    variant = plan_variants(seed.id, seed.input_cues, [], 2, build_seed=0)[1]
    job = {"job_key": "k", "sample_id": f"{seed.id}-a2", "seed": seed.to_dict(), "variant": variant.to_dict()}
    outs = []
    for build_seed, sub in ((0, "a"), (0, "b"), (1, "c")):
        row = Renderer({"seed": build_seed, "work_dir": str(tmp_path / sub), "asr": "none"}).render(job)
        outs.append((tmp_path / sub / row["audio_file"]).read_bytes() if row["audio_file"] else None)
    assert outs[0] is not None and outs[0] == outs[1]
    if variant.condition != "clean":  # the noise is drawn from the build seed
        assert outs[2] != outs[0]
