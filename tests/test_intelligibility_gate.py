"""Issue 12: the intelligibility gate on the real bundled Whisper, truthful room labels, main/robustness
subsets and the emotion cues that survive level normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2s_arena.audio import SAMPLE_RATE
from s2s_arena_dataset.pipeline import qa
from s2s_arena_dataset.pipeline.augment import seed_variant
from s2s_arena_dataset.pipeline.conditions import CONDITIONS, apply_condition, rir_stats, room_impulse_response


# --- rooms: DRR and C50 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["reverb_small", "reverb_medium", "reverb_large"])
def test_rooms_have_the_drr_they_claim_and_record_it(name):
    cond = CONDITIONS[name]
    h = room_impulse_response(cond.rt60_s, SAMPLE_RATE, np.random.default_rng(4), cond.drr_db)
    stats = rir_stats(h, SAMPLE_RATE)
    assert abs(stats["drr_db"] - cond.drr_db) < 0.05
    assert stats["c50_db"] > stats["drr_db"]  # early reflections count as clarity, not as direct sound
    x = np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32) * 0.1
    _, _, info = apply_condition(x, SAMPLE_RATE, name, 30.0, np.random.default_rng(4))
    assert info["rir"]["rt60_s"] == cond.rt60_s and abs(info["rir"]["drr_db"] - cond.drr_db) < 0.05
    assert math.isfinite(info["rir"]["c50_db"])


def test_an_unscaled_hall_is_a_distant_talker_and_a_pure_impulse_is_all_direct():
    far = rir_stats(room_impulse_response(1.2, SAMPLE_RATE, np.random.default_rng(0)), SAMPLE_RATE)
    assert far["drr_db"] < -10  # what the old large hall was: reverb drowning the direct sound
    impulse = np.zeros(2400, np.float32)
    impulse[0] = 1.0
    assert rir_stats(impulse, SAMPLE_RATE) == {"drr_db": math.inf, "c50_db": math.inf}


def test_subsets_split_everyday_from_hard_conditions():
    from s2s_arena_dataset.pipeline.render import subset_of

    main = {c for c, v in CONDITIONS.items() if v.subset == "main"}
    assert {"clean", "reverb_small", "reverb_medium"} <= main
    assert {"babble", "cafe", "airport", "reverb_large"}.isdisjoint(main)
    assert subset_of("babble", {}) == "robustness"
    assert subset_of("babble", {"noise": "babble", "snr_db": 10}) == "main"  # the noise is the seed's cue


# --- WER scoring ----------------------------------------------------------------------------------------

def test_numbers_written_as_digits_are_not_listening_errors():
    assert qa.intelligibility_wer("Set a timer for twelve minutes at seven thirty.", "Set a timer for 12 minutes at 7:30", "en") == 0
    assert qa.intelligibility_wer("fast | normal | slow", "fast normal slow", "en") == 0
    assert qa.intelligibility_wer("Set a timer for twelve minutes.", "Set a dinner for twelve minutes.", "en") == pytest.approx(1 / 6)


# --- the gate on the bundled Whisper ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def whisper():
    from s2s_arena_dataset.pipeline.render import load_gate_asr

    asr = load_gate_asr("auto")
    if asr is None:
        pytest.skip("no bundled Whisper installed (the asr extra)")
    return asr


def _job(seed, variant, key="k"):
    return {"job_key": key, "sample_id": f"{seed.id}-s", "seed": seed.to_dict(), "variant": variant}


@pytest.mark.slow
def test_gate_rerenders_a_drowned_rendering_and_keeps_a_clean_one(whisper, tmp_path):
    from s2s_arena_dataset.catalogue import load_catalogue
    from s2s_arena_dataset.pipeline.render import Renderer

    seed = next(s for s in load_catalogue().seeds(level="L0") if s.language == "en" and len(s.instruction.split()) >= 6)
    r = Renderer({"seed": 0, "work_dir": str(tmp_path), "synth": "auto", "asr": "auto"})
    clean = r.render(_job(seed, seed_variant(seed.input_cues, r.voices("en"), 0, seed.id).to_dict()))
    assert clean["qa"]["pass"] and clean["qa"]["wer"] <= qa.DEFAULT_MAX_WER
    assert clean["qa"]["gate"]["outcome"] == "passed" and clean["qa"]["asr"].startswith("bundled:")
    # white noise 20 dB louder than the speech: nobody understands that
    drowned = {**seed_variant(seed.input_cues).to_dict(), "stage": "augment", "index": 1, "condition": "white",
               "snr_db": -20.0}
    row = r.render({**_job(seed, drowned, "k2"), "sample_id": f"{seed.id}-a1"})
    tries = row["qa"]["gate"]["tries"]
    assert tries[0]["wer"] > 0.5 and tries[0]["condition"] == "white"
    assert row["qa"]["pass"] and row["qa"]["gate"]["outcome"] == "passed_rerendered"
    assert tries[-1]["condition"] == "clean" and row["augmentation"]["condition"] == "clean"
    assert (tmp_path / row["audio_file"]).is_file()


@pytest.mark.slow
def test_gate_drops_a_language_the_voice_cannot_make_intelligible(whisper, tmp_path):
    """eSpeak NG's Korean is not understood by Whisper: every try fails, the sample is dropped."""
    from s2s_arena_dataset.catalogue import load_catalogue
    from s2s_arena_dataset.pipeline.render import Renderer

    seed = next(s for s in load_catalogue().seeds(level="L0") if s.language == "ko")
    r = Renderer({"seed": 0, "work_dir": str(tmp_path), "synth": "auto", "asr": "auto"})
    row = r.render(_job(seed, seed_variant(seed.input_cues, r.voices("ko"), 0, seed.id, "ko").to_dict()))
    assert row["qa"]["pass"] is False and row["qa"]["reasons"] == ["asr_wer"]
    assert row["qa"]["gate"]["outcome"] == "dropped" and row["audio_file"] is None
    assert all(t["wer"] > qa.DEFAULT_MAX_WER for t in row["qa"]["gate"]["tries"])


# --- emotion: loudness and effort survive level normalisation ---------------------------------------------

def test_emotion_loudness_is_kept_relative_to_the_neutral_twin(tmp_path):
    from s2s_arena import prosody
    from s2s_arena.audio import load_audio
    from s2s_arena_dataset.catalogue import load_catalogue
    from s2s_arena_dataset.pipeline.render import Renderer

    seed = next(s for s in load_catalogue().seeds(level="L0") if s.language == "en" and len(s.instruction.split()) >= 6)
    r = Renderer({"seed": 0, "work_dir": str(tmp_path), "synth": "espeak", "asr": "none"})
    measured = {}
    for emo in ("angry", "sad"):
        sd = {**seed.to_dict(), "level": "L1", "input_cues": {"emotion": emo}}
        job = {"job_key": emo, "sample_id": f"{seed.id}-{emo}", "seed": sd,
               "variant": {**seed_variant({}).to_dict(), "voice": "m3"}}
        row = r.render(job)
        x = load_audio(tmp_path / row["audio_file"])
        measured[emo] = prosody.measure(x, SAMPLE_RATE, text=seed.instruction)
    assert measured["angry"].loudness_lufs - measured["sad"].loudness_lufs > 8  # +6 dB vs -7 dB
    assert measured["angry"].spectral_tilt_db < measured["sad"].spectral_tilt_db - 4  # brighter: more effort
