"""The `evaluate` module: evaluate.load(folder) + compute round trips, add_batch, cache, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import evaluate
import numpy as np
import pytest

from judges_for_tests import LouderJudge
from s2s_arena.audio import save_audio
from s2s_arena.schema import SchemaError

SR = 24000
METRIC_DIR = str(Path(__file__).resolve().parent.parent / "s2s_arena_metric")


def tone(gain: float, seconds: float = 1.0, freq: float = 200.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (gain * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def row(i: int, level: str = "L2", requirements=None) -> dict:
    return {"id": f"s{i}", "level": level, "task": "volume", "instruction_text": "Please say hello loudly.",
            "requirements": json.dumps(requirements if requirements is not None else {"volume": "loud"})}


@pytest.fixture()
def louder_metric(tmp_path):
    judge = LouderJudge()
    metric = evaluate.load(METRIC_DIR, judge=judge, verdict_cache=str(tmp_path / "cache"), bootstrap=200)
    return metric, judge


@pytest.fixture(scope="module")
def espeak_pairs(tmp_path_factory):
    """Rendered speech: a fast and a slow delivery of the same answer (real eSpeak NG)."""
    from s2s_arena.synth import get_synthesizer

    synth = get_synthesizer("espeak")
    out = tmp_path_factory.mktemp("espeak")
    texts = ["Peter Piper picked a peck of pickled peppers.", "She sells sea shells by the sea shore."]
    preds, refs, samples = [], [], []
    for i, text in enumerate(texts):
        fast = synth.synthesize(text, attributes={"speaking_rate": "fast"})
        slow = synth.synthesize(text, attributes={"speaking_rate": "slow"})
        path = save_audio(out / f"fast{i}.wav", fast.audio, fast.sr)
        preds.append(str(path))  # a path ...
        refs.append({"array": slow.audio, "sampling_rate": slow.sr})  # ... and a decoded dict
        samples.append({"id": f"tt{i}", "level": "L2", "task": "tongue_twister_fast",
                        "instruction_text": f"Say this tongue twister fast: {text}",
                        "requirements": {"speaking_rate": "fast", "style": "tongue_twister"},
                        "reference_response": text})
    return preds, refs, samples


def test_load_from_folder_and_compute_with_the_feature_judge(espeak_pairs, tmp_path):
    preds, refs, samples = espeak_pairs
    # Content judging off (asr "none"): this checks the prosody decision, and eSpeak's fast rendering is
    # hard for a recogniser, which the content judge would rightly hold against it.
    metric = evaluate.load(METRIC_DIR, judge="feature", judge_options={"asr": "none"}, verdict_cache=str(tmp_path),
                           bootstrap=200)
    assert type(metric).__name__ == "S2sArenaMetric" and metric.name == "s2s_arena_metric"
    out = metric.compute(predictions=preds, references=refs, samples=samples)
    for key in ("win_rate", "tie_rate", "loss_rate", "both_bad_rate", "win_rate_ci", "n", "n_invalid",
                "position_consistency", "by_level", "by_task"):
        assert key in out, key
    assert out["n"] == 2 and out["n_invalid"] == 0 and out["judge"] == "feature"
    assert out["win_rate"] == 1.0, out  # the fast rendering follows "say it fast"
    # and the reverse comparison loses
    rev = metric.compute(predictions=[r for r in refs], references=preds, samples=samples)
    assert rev["loss_rate"] == 1.0


def test_compute_add_batch_and_cache(louder_metric):
    metric, judge = louder_metric
    preds = [tone(0.5), tone(0.05), tone(0.4), tone(0.3)]
    refs = [tone(0.05), tone(0.6), tone(0.04), tone(0.3)]  # last pair identical -> tie
    items = lambda xs: [{"array": x, "sampling_rate": SR} for x in xs]
    samples = [row(i, level="L2" if i < 2 else "L3") for i in range(4)]
    out = metric.compute(predictions=items(preds), references=items(refs), samples=samples)
    assert out["n"] == 4 and out["win_rate"] == pytest.approx(0.5) and out["loss_rate"] == pytest.approx(0.25)
    assert out["tie_rate"] == pytest.approx(0.25) and out["n_identical"] == 1
    assert out["position_consistency"] == 1.0 and out["by_level"]["L3"]["n"] == 2
    assert out["n_judge_calls"] == 6 and judge.items_seen == 6  # 3 non-identical pairs x 2 orders

    # add_batch in two batches, then compute(): same result, zero judge calls (all cached).
    metric.add_batch(predictions=items(preds[:2]), references=items(refs[:2]), samples=samples[:2])
    metric.add_batch(predictions=items(preds[2:]), references=items(refs[2:]), samples=samples[2:])
    again = metric.compute()
    assert again["n_judge_calls"] == 0 and again["n_cache_hits"] == 6 and judge.items_seen == 6
    assert {k: again[k] for k in ("win_rate", "tie_rate", "loss_rate", "win_rate_ci")} == \
           {k: out[k] for k in ("win_rate", "tie_rate", "loss_rate", "win_rate_ci")}

    metric.add(prediction=items(preds[:1])[0], reference=items(refs[:1])[0], samples=samples[0])
    assert metric.compute()["n"] == 1


def test_datasets_audio_values_are_accepted(tmp_path, louder_metric):
    import datasets

    metric, _ = louder_metric
    paths = {}
    for name, gain in (("a", 0.5), ("b", 0.05)):
        paths[name] = str(save_audio(tmp_path / f"{name}.wav", tone(gain), SR))
    ds = datasets.Dataset.from_dict({"cand": [paths["a"]], "base": [paths["b"]]})
    ds = ds.cast_column("cand", datasets.Audio()).cast_column("base", datasets.Audio())
    out = metric.compute(predictions=[ds[0]["cand"]], references=[ds[0]["base"]], samples=[row(0)])
    assert out["win_rate"] == 1.0 and out["n_invalid"] == 0


def test_bad_items_are_counted_invalid_not_fatal(louder_metric, tmp_path):
    metric, judge = louder_metric
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav")
    preds = [{"array": tone(0.5), "sampling_rate": SR},
             {"array": np.zeros(0, np.float32), "sampling_rate": SR},       # empty
             {"array": tone(0.5), "sampling_rate": 0},                     # wrong sampling rate
             str(broken)]                                                  # unreadable
    refs = [{"array": tone(0.05), "sampling_rate": SR}] * 4
    out = metric.compute(predictions=preds, references=refs, samples=[row(i) for i in range(4)])
    assert out["n"] == 4 and out["n_invalid"] == 3 and out["n_valid"] == 1 and out["win_rate"] == 1.0
    reasons = out["invalid_reasons"]
    assert "predictions[1]" in reasons["s1"] and "empty" in reasons["s1"]
    assert "predictions[2]" in reasons["s2"] and "sampling_rate" in reasons["s2"]
    assert "predictions[3]" in reasons["s3"]


def test_structural_errors_name_the_index_and_field(louder_metric):
    metric, _ = louder_metric
    x = {"array": tone(0.5), "sampling_rate": SR}
    with pytest.raises(ValueError, match="unequal lengths"):
        metric.compute(predictions=[x, x], references=[x], samples=[row(0), row(1)])
    bad = row(1)
    del bad["requirements"]
    with pytest.raises(SchemaError, match=r"samples\[1\].*'requirements'"):
        metric.compute(predictions=[x, x], references=[x, x], samples=[row(0), bad])
    with pytest.raises(SchemaError, match=r"samples\[0\].*speaking_rate"):
        metric.compute(predictions=[x], references=[x], samples=[row(0, requirements={"speaking_rate": "warp"})])
    with pytest.raises(SchemaError, match=r"samples\[1\].*duplicate sample id 's0'"):
        metric.compute(predictions=[x, x], references=[x, x], samples=[row(0), row(0)])


def test_a_hub_style_copy_of_the_folder_loads(tmp_path):
    """What `evaluate.load("<user>/s2s_arena")` downloads: the script named after the Space (s2s_arena.py,
    the same name as the installed package) and the card. That copy alone must load and compute."""
    import shutil

    copy = tmp_path / "s2s_arena"
    copy.mkdir()
    shutil.copy(Path(METRIC_DIR) / "s2s_arena_metric.py", copy / "s2s_arena.py")
    shutil.copy(Path(METRIC_DIR) / "README.md", copy / "README.md")
    judge = LouderJudge()
    metric = evaluate.load(str(copy), judge=judge, verdict_cache=False, bootstrap=0)
    assert metric.name == "s2s_arena_metric"
    out = metric.compute(predictions=[{"array": tone(0.5), "sampling_rate": SR}],
                         references=[{"array": tone(0.05), "sampling_rate": 16000}],  # resampled, not rejected
                         samples=[row(0)])
    assert out["win_rate"] == 1.0 and judge.items_seen == 2


def test_the_folder_has_what_a_hub_metric_needs():
    folder = Path(METRIC_DIR)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith((".", "__"))) == [
        "README.md", "app.py", "requirements.txt", "s2s_arena_metric.py"]
    reqs = [line.split("#")[0].strip() for line in (folder / "requirements.txt").read_text().splitlines()]
    assert "s2s-arena>=0.1" in reqs
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "app_file: app.py" in card and "evaluate" in card
    assert "import launch_gradio_widget" not in (folder / "app.py").read_text()  # it needs gr.inputs


def test_combine_with_another_metric(tmp_path):
    """evaluate.combine: two S2S-Arena metrics (two judges) report side by side, named by their keys."""
    louder = evaluate.load(METRIC_DIR, judge=LouderJudge(), verdict_cache=False, bootstrap=0)
    feature = evaluate.load(METRIC_DIR, judge="feature", verdict_cache=False, bootstrap=0)
    combined = evaluate.combine({"louder": louder, "feature": feature})
    x = {"array": tone(0.5), "sampling_rate": SR}
    y = {"array": tone(0.05), "sampling_rate": SR}
    out = combined.compute(predictions=[x], references=[y], samples=[row(0)])
    assert out["louder_win_rate"] == 1.0 and out["louder_judge"] == "test-louder" and out["feature_judge"] == "feature"
    # a list of modules is named by metric.name
    out = evaluate.combine([louder, feature]).compute(predictions=[x], references=[y], samples=[row(0)])
    assert out["s2s_arena_metric_0_win_rate"] == 1.0 and out["s2s_arena_metric_1_judge"] == "feature"


def _arrow_bytes(metric) -> int:
    return sum(f.stat().st_size for f in Path(metric.data_dir).glob("*.arrow"))


def test_evaluate_cache_holds_paths_and_encoded_audio_not_float32(tmp_path):
    """Decoded float32 at 24 kHz is 96 kB per second of speech; the cache must not hold that."""
    seconds, n = 4.0, 6
    paths = [str(save_audio(tmp_path / f"r{i}.wav", tone(0.3 + 0.01 * i, seconds), SR)) for i in range(n)]
    decoded = 2 * n * seconds * SR * 4
    metric = evaluate.load(METRIC_DIR, judge=LouderJudge(), verdict_cache=False, bootstrap=0,
                           cache_dir=str(tmp_path / "evaluate_cache"))
    metric.add_batch(predictions=paths, references=list(reversed(paths)), samples=[row(i) for i in range(n)])
    # (the Arrow writer writes each batch through to the cache file at once)
    assert 0 < _arrow_bytes(metric) < 20_000, _arrow_bytes(metric)  # paths only
    assert metric.compute()["n"] == n

    arrays = [{"array": tone(0.3 + 0.01 * i, seconds), "sampling_rate": SR} for i in range(n)]
    metric = evaluate.load(METRIC_DIR, judge=LouderJudge(), verdict_cache=False, bootstrap=0,
                           cache_dir=str(tmp_path / "evaluate_cache2"))
    metric.add_batch(predictions=arrays, references=arrays[::-1], samples=[row(i) for i in range(n)])
    assert 0.05 * decoded < _arrow_bytes(metric) < 0.8 * decoded, (_arrow_bytes(metric), decoded)  # 24-bit FLAC
    out = metric.compute()
    assert out["n"] == n and out["n_invalid"] == 0


def test_progress_bar_obeys_evaluate_switch(capfd):
    x, y = {"array": tone(0.5), "sampling_rate": SR}, {"array": tone(0.05), "sampling_rate": SR}
    metric = evaluate.load(METRIC_DIR, judge=LouderJudge(), verdict_cache=False, bootstrap=0)
    capfd.readouterr()
    try:
        evaluate.utils.disable_progress_bar()
        metric.compute(predictions=[x], references=[y], samples=[row(0)])
        assert "judging (" not in capfd.readouterr().err
    finally:
        evaluate.utils.enable_progress_bar()
    metric.compute(predictions=[x], references=[y], samples=[row(1)])
    assert "judging (test-louder)" in capfd.readouterr().err


def test_identical_pairs_give_figures_not_nan():
    x = {"array": tone(0.5), "sampling_rate": SR}
    metric = evaluate.load(METRIC_DIR, judge=LouderJudge(), verdict_cache=False, bootstrap=100)
    out = metric.compute(predictions=[x, x], references=[x, x], samples=[row(0), row(1)])
    assert out["tie_rate"] == 1.0 and out["n_identical"] == 2
    assert out["position_consistency"] is None  # no pair was judged in both orders: undefined, said so
    json.dumps(out, allow_nan=False)  # the whole result is valid JSON
