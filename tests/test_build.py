"""`s2s-arena build` end to end: a small real build loaded back through `datasets.load_dataset`."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from s2s_arena.audio import AudioError, SAMPLE_RATE, load_audio, save_audio
from s2s_arena.cli import main
from s2s_arena.errors import DependencyError
from s2s_arena.schema import LEVELS, SchemaError, sample_from_row
from s2s_arena_dataset.pipeline.build import build_dataset, plan_jobs, push_to_hub

LIMIT = 12


@pytest.fixture(scope="module")
def small_build(tmp_path_factory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("ds") / "bench", limit=LIMIT, seed=0, workers=1, progress=False,
                         keep_work=True)


def _load(folder: Path, config: str, split: str):
    from datasets import load_dataset

    return load_dataset(str(folder), config, split=split)


def test_small_build_round_trips_through_load_dataset(small_build):
    manifest = json.loads((small_build / "manifest.json").read_text())
    assert manifest["jobs"] == LIMIT and manifest["seed"] == 0 and "espeak-ng" in manifest["versions"]["synthesizer"]
    ids, tasks = set(), set()
    for split in LEVELS:
        ds = _load(small_build, "all", split)
        assert 1 <= len(ds) <= LIMIT
        for row in ds:
            sample = sample_from_row(row)  # the contract: JSON columns, vocabulary, level
            assert sample.level == split and sample.id not in ids
            ids.add(sample.id)
            tasks.add(sample.task)
            x = load_audio(row["audio"], where=sample.id)
            assert row["audio"].get_all_samples().sample_rate == SAMPLE_RATE
            assert x.shape[0] / SAMPLE_RATE > 0.5 and np.max(np.abs(x)) > 0.01
            assert sample.qa["pass"] is True and sample.qa["checks"]
            assert sample.source in ("tts:espeak-ng", "tts:piper") and sample.stage in ("seed", "augment")
            aug = sample.augmentation
            assert {"voice", "rate", "pitch", "noise", "snr_db", "rir", "paraphrased", "subset"} <= set(aug)
            if aug["rir"]:
                assert {"rt60_s", "drr_db", "c50_db"} <= set(aug["rir"])
            if sample.qa.get("gate"):  # the bundled Whisper heard every kept sample well enough
                assert sample.qa["wer"] <= sample.qa["max_wer"] and sample.qa["gate"]["tries"]
            if aug["snr_db"] is not None:
                assert abs(aug["snr_measured_db"] - aug["snr_db"]) <= 1.0
    assert len(ids) <= LIMIT and len(ids) >= LIMIT - 2  # a QA rejection may drop one or two
    assert len(tasks) >= 8  # the limit is spread over tasks, not the first task's variants


def test_every_task_config_lists_only_its_present_splits(small_build):
    import yaml

    from datasets import get_dataset_split_names

    card = (small_build / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "cc-by-4.0" and "2503.05085" in card
    configs = {c["config_name"]: c for c in header["configs"]}
    assert configs["main"]["default"] is True and "all" in configs
    assert all("-main-" in d["path"] for d in configs["main"]["data_files"])
    task_cfgs = [name for name in configs if name not in ("all", "main", "robustness")]
    assert len(task_cfgs) >= 8
    name = task_cfgs[0]
    splits = [d["split"] for d in configs[name]["data_files"]]
    assert sorted(get_dataset_split_names(str(small_build), name)) == sorted(splits)
    ds = _load(small_build, name, splits[0])
    assert {r["task"] for r in ds} == {name}
    assert ds[0]["audio"].get_all_samples().sample_rate == SAMPLE_RATE
    report = json.loads((small_build / "build_report.json").read_text())
    assert report["kept"] == sum(report["counts"]["level"].values())
    assert "## Limitations (measured on this build)" in card and "subset main" in card
    main_ids = {r["id"] for lv in [d["split"] for d in configs["main"]["data_files"]] for r in _load(small_build, "main", lv)}
    assert main_ids and all(json.loads(r["augmentation"])["subset"] == "main" for r in _load(small_build, "main", "L0"))
    # The core reader (judge, serve, the metric's loaders) reads the main set unless told otherwise.
    from s2s_arena.benchmark import load_benchmark

    assert {s.id for s in load_benchmark(small_build, decode_audio=False)} == main_ids
    assert len(load_benchmark(small_build, "all", decode_audio=False)) == report["kept"]
    assert (small_build / "build_levels.png").stat().st_size > 1000


def test_rerun_resumes_without_rendering_and_interrupted_build_resumes(small_build, tmp_path):
    rendered = []
    build_dataset(small_build, limit=LIMIT, seed=0, workers=1, progress=False, on_sample=rendered.append)
    assert rendered == []  # everything was already in the work dir
    assert json.loads((small_build / "manifest.json").read_text())["resumed"] == LIMIT

    out = tmp_path / "interrupted"
    seen = []

    def stop_after_two(row):
        seen.append(row["id"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_dataset(out, limit=4, seed=0, workers=1, progress=False, on_sample=stop_after_two)
    assert not (out / "README.md").exists()  # nothing half-published
    assert len((out / ".work" / "samples.jsonl").read_text().splitlines()) == 2
    rest = []
    build_dataset(out, limit=4, seed=0, workers=1, progress=False, on_sample=lambda r: rest.append(r["id"]))
    assert len(rest) == 2 and not set(rest) & set(seen)
    assert json.loads((out / "manifest.json").read_text())["resumed"] == 2
    assert not (out / ".work").exists()  # removed once the build is published


def test_failed_build_leaves_earlier_output_intact(small_build, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(small_build, out)
    card_before = (out / "README.md").read_text()
    human = tmp_path / "human"
    human.mkdir()
    (human / "broken.wav").write_bytes(b"RIFF....not audio at all")
    (human / "manifest.csv").write_text("file,seed_id\nbroken.wav,airline_rebooking-L0-01\n")
    with pytest.raises(AudioError, match=r"manifest.csv: line 2: field 'file'"):
        build_dataset(out, limit=LIMIT, seed=0, workers=1, human=human, progress=False)
    assert (out / "README.md").read_text() == card_before
    assert len(_load(out, "all", "L0")) >= 1


def test_human_recordings_replace_and_extend_seeds(tmp_path):
    from s2s_arena.synth import get_synthesizer

    from s2s_arena_dataset.catalogue import load_catalogue

    seed = next(s for s in load_catalogue().seeds(level="L0"))
    human = tmp_path / "human"
    rec = get_synthesizer("espeak").synthesize(seed.instruction, voice="f2", seed=0)
    save_audio(human / "take1.flac", rec.audio, rec.sr)
    save_audio(human / "take2.wav", rec.audio[::-1].copy(), rec.sr)
    (human / "manifest.csv").write_text(
        "file,seed_id,mode,id,level,task,language,instruction_text\n"
        f"take1.flac,{seed.id},replace,,,,,\n"
        f"take2.wav,,,my-own-01,L0,{seed.task},en,Read this backwards please.\n")
    # a unique folder name: datasets caches a local folder by its name and data file patterns, and an
    # earlier run with other rows under the same name would be read back from that cache
    out = build_dataset(tmp_path / f"human-{time.time_ns()}", limit=2, tasks=[seed.task], levels=["L0"], human=human,
                        workers=1,
                        progress=False)
    rows = {r["id"]: r for r in _load(out, seed.task, "L0")}
    assert rows[f"{seed.id}-s"]["source"] == "human" and rows["my-own-01"]["source"] == "human"
    assert json.loads(rows[f"{seed.id}-s"]["augmentation"])["recording"] == "take1.flac"
    qa_rev = json.loads(rows["my-own-01"]["qa"])
    if "wer" in qa_rev:  # the gate's ASR transcribes recordings too, and records (never drops) them
        assert qa_rev["wer"] > 0.5 and next(c for c in qa_rev["checks"] if c["name"] == "asr_wer")["pass"] is None

    (human / "manifest.csv").write_text(f"file,seed_id\ntake1.flac,{seed.task}-L0-99\n")
    with pytest.raises(SchemaError, match=r"line 2: field 'seed_id': unknown seed"):
        build_dataset(tmp_path / "out2", limit=2, human=human, progress=False)


def test_bad_input_names_file_and_field(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "tasks"
    bad.mkdir()
    (bad / "broken_task.yaml").write_text("id: broken_task\nname: [unclosed\n")
    with pytest.raises(SchemaError, match="broken_task.yaml.*malformed YAML"):
        build_dataset(tmp_path / "o1", limit=2, catalogue=bad, progress=False)
    with pytest.raises(SchemaError, match="unknown level 'L7'"):
        build_dataset(tmp_path / "o2", limit=2, levels=["L7"], progress=False)
    with pytest.raises(SchemaError, match="unknown task id 'no_such_task'"):
        build_dataset(tmp_path / "o3", limit=2, tasks=["no_such_task"], progress=False)
    assert main(["build", "--out", str(tmp_path / "o4"), "--limit", "0"]) == 2
    assert "field 'limit'" in capsys.readouterr().err

    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(DependencyError, match="eSpeak NG is not installed"):
        build_dataset(tmp_path / "o5", limit=2, progress=False)
    os.symlink(shutil.which("espeak-ng", path="/usr/bin:/usr/local/bin"), empty_bin / "espeak-ng")
    with pytest.raises(DependencyError, match="FFmpeg is not installed"):
        build_dataset(tmp_path / "o6", limit=2, progress=False)
    assert not (tmp_path / "o5").exists() and not (tmp_path / "o6").exists()
    with pytest.raises(SchemaError, match="not a built dataset folder"):
        push_to_hub(tmp_path, "someone/s2s-arena")  # refused before any network call


def test_full_plan_reaches_the_size_targets_deterministically():
    from s2s_arena.synth import get_synthesizer

    from s2s_arena_dataset.catalogue import load_catalogue

    cat, synth = load_catalogue(), get_synthesizer("espeak")
    jobs, n_variants = plan_jobs(cat, seed=0, synth=synth)
    assert len(jobs) >= 1.15 * 1243  # headroom for QA drops
    for lv in LEVELS:
        assert sum(j["seed"]["level"] == lv for j in jobs) >= 250
    assert len({j["sample_id"] for j in jobs}) == len(jobs)
    again, _ = plan_jobs(cat, seed=0, synth=synth)
    assert [j["variant"] for j in again] == [j["variant"] for j in jobs]
    first = jobs[:12]
    assert {j["seed"]["level"] for j in first} == set(LEVELS) and len({j["seed"]["task"] for j in first}) >= 8
