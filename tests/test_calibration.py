"""Reference systems, labelled calibration pairs, scoring, and `s2s-arena calibrate` on a small build."""

from __future__ import annotations

import json

import pytest

from s2s_arena.audio import load_audio
from s2s_arena.cli import main as cli_main
from s2s_arena.responses import load_responses
from s2s_arena.schema import Sample, SchemaError
from s2s_arena.systems.reference import off_topic_source, plan_response, render_reference_systems
from s2s_arena.judging.calibration import (
    CONTENT, IDENTICAL, PARALINGUISTIC, TARGETS, labelled_pairs, markdown_table, measurable_attributes,
    paralinguistic_attributes, score, unrendered_attributes,
)


def make(sid: str, task: str, req: dict, ref: str, instr: str, level: str = "L2", language: str = "en") -> Sample:
    return Sample(id=sid, level=level, domain="test", task=task, language=language, instruction_text=instr,
                  evaluation_target="Does the response follow the instruction?", requirements=req,
                  reference_response=ref, seed_id=sid)


SAMPLES = [
    make("a-1", "dictation", {"speaking_rate": "slow", "pauses": 2}, "Eggs, flour, and some butter. Then milk.",
         "Dictate my list slowly: eggs, flour, butter, milk."),
    make("b-1", "voices", {"pitch": "high", "emotion": "happy"}, "Hooray, the party starts at noon today!",
         "Tell me when the party starts, in a high voice."),
    make("c-1", "chat", {}, "Drink water and rest for a while in a quiet room.", "I have a headache, what should I do?",
         level="L0"),
    make("d-1", "chat", {"speaking_rate": "normal", "emotion": "sad"}, "I am sorry to hear that your cat is ill.",
         "My cat is ill.", level="L3"),
]


def test_paralinguistic_and_measurable_attributes():
    assert paralinguistic_attributes({"speaking_rate": "normal", "language": "zh", "repetitions": 2}) == []
    assert paralinguistic_attributes({"speaking_rate": ["slow", "normal"], "emotion": "neutral"}) == ["speaking_rate"]
    assert measurable_attributes({"speaking_rate": "slow", "emotion": "happy", "emphasis": "red",
                                  "voice_quality": "whisper", "pitch": ["low", "high"]}) == \
        ["speaking_rate", "emotion", "emphasis", "voice_quality", "pitch"]
    assert measurable_attributes({"voice_quality": "creaky", "style": "singing"}) == []


def test_labelled_pairs_kinds_and_missing():
    available = {name: {s.id for s in SAMPLES} for name in ("reference", "flat", "off_topic")}
    available["echo"] = {"a-1"}
    pairs, missing = labelled_pairs(SAMPLES, available)
    para = [p for p in pairs if p.kind == PARALINGUISTIC]
    # c-1 requires nothing; d-1 requires a neutral rate (a flat delivery meets it) plus emotion.
    assert [(p.sample.id, p.measured) for p in para] == [("a-1", ["speaking_rate", "pauses"]),
                                                         ("b-1", ["pitch", "emotion"]), ("d-1", ["emotion"])]
    assert all(p.system_a == "reference" and p.system_b == "flat" for p in para)
    assert sum(p.kind == IDENTICAL for p in pairs) == 4
    assert sorted(m["sample_id"] for m in missing) == ["b-1", "c-1", "d-1"]  # echo missing, counted
    assert all(m["missing"] == "echo" for m in missing)


def test_a_cue_the_voice_could_not_render_is_no_difference_between_reference_and_flat(tmp_path):
    """The synthesizer's own "not rendered" notes take that cue out of the pair; a pair left with no
    cue is not formed, and the report says why."""
    import numpy as np

    from s2s_arena.responses import ResponseWriter
    from s2s_arena.schema import SystemInfo

    w = ResponseWriter(tmp_path, SystemInfo(name="reference", version="1", organisation="t", kind="academic",
                                            architecture="reference", backbone="tts:piper", description="t", spec="reference"))
    x = np.zeros(2400, np.float32)
    w.write("a-1", x, 24000, text="t", meta={"unsupported": ["pauses: text has fewer than two words"]})
    w.write("b-1", x, 24000, text="t", meta={"unsupported": ["pitch 'high': not rendered by piper",
                                                             "emotion 'happy': not rendered by piper"]})
    w.write("d-1", x, 24000, text="t", meta={"unsupported": []})
    lost = unrendered_attributes(load_responses(tmp_path, systems=["reference"])["reference"])
    assert lost == {"a-1": {"pauses"}, "b-1": {"pitch", "emotion"}}
    available = {name: {s.id for s in SAMPLES} for name in ("reference", "flat", "off_topic", "echo")}
    pairs, missing = labelled_pairs(SAMPLES, available, unrendered=lost)
    para = {p.sample.id: p for p in pairs if p.kind == PARALINGUISTIC}
    assert para["a-1"].attributes == ["speaking_rate"] and para["a-1"].measured == ["speaking_rate"]
    assert "b-1" not in para and para["d-1"].measured == ["emotion"]
    assert missing == [{"sample_id": "b-1", "kind": PARALINGUISTIC, "pair": "reference vs flat",
                        "missing": "the voice could not render emotion, pitch"}]
    table = markdown_table(score([], missing), "feature")
    assert "1 pairs could not be formed: 1 x the voice could not render emotion, pitch." in table


def test_off_topic_and_echo_plans_are_deterministic():
    src = off_topic_source(SAMPLES, 0, seed=0)
    assert src.id != "a-1" and src.task != "dictation"
    assert off_topic_source(SAMPLES, 0, seed=0).id == src.id
    assert off_topic_source(list(reversed(SAMPLES)), 3, seed=0).id == src.id  # order does not matter
    p = plan_response("off_topic", SAMPLES, 0)
    assert p["text"] == src.reference_response and p["attributes"] == SAMPLES[0].requirements
    assert plan_response("echo", SAMPLES, 1)["text"] == SAMPLES[1].instruction_text
    assert plan_response("flat", SAMPLES, 0)["attributes"] == {}
    with pytest.raises(SchemaError, match="unknown reference system"):
        plan_response("oracle", SAMPLES, 0)


def test_render_reference_systems_resumes(tmp_path):
    dirs = render_reference_systems(SAMPLES[:2], tmp_path, seed=0, progress=False)
    assert sorted(dirs) == ["echo", "flat", "off_topic", "reference"]
    resp = load_responses(tmp_path)
    for name in dirs:
        assert resp[name].info.architecture == "reference"
        assert sorted(resp[name].responses) == ["a-1", "b-1"]
    ref = resp["reference"].responses["a-1"]
    assert ref.text == SAMPLES[0].reference_response
    assert resp["echo"].responses["b-1"].text == SAMPLES[1].instruction_text
    assert resp["off_topic"].responses["a-1"].meta["source_sample"] == "b-1"
    # Same voice in every system of a sample; the reference is slower than the flat delivery.
    assert resp["reference"].responses["a-1"].meta["voice"] == resp["flat"].responses["a-1"].meta["voice"]
    ref_x, flat_x = (load_audio(resp[s].responses["a-1"].audio_path) for s in ("reference", "flat"))
    assert ref_x.shape[0] > flat_x.shape[0]
    before = (tmp_path / "reference" / "a-1.wav").stat().st_mtime_ns
    render_reference_systems(SAMPLES[:2], tmp_path, seed=0, progress=False)
    manifest = json.loads((tmp_path / "reference_systems.json").read_text())
    assert manifest["counts"]["reference"] == {"rendered": 0, "failed": 0, "skipped": 2}
    assert (tmp_path / "reference" / "a-1.wav").stat().st_mtime_ns == before


def test_sample_without_reference_response_is_a_counted_error(tmp_path):
    bare = make("e-1", "chat", {"pitch": "low"}, "", "Say something low.")
    render_reference_systems([SAMPLES[2], bare], tmp_path, systems=("reference",), progress=False)
    resp = load_responses(tmp_path)["reference"]
    assert "e-1" in resp.errors and "reference_response" in resp.errors["e-1"]


def _rows(kind, ab, ba, pair="s|reference|flat", measured=("pitch",), attrs=("pitch",), abstained=()):
    base = {"sample_id": pair.split("|")[0], "kind": kind, "attributes": list(attrs), "measured": list(measured),
            "level": "L2", "task": "t", "pair": pair, "abstained": list(abstained), "reason": "",
            "judge": "feature", "judge_version": "1", "prompt_hash": "h"}
    a, b = pair.split("|")[1:]
    return [{**base, "system_a": a, "system_b": b, "order": "ab", "verdict": ab},
            {**base, "system_a": b, "system_b": a, "order": "ba", "verdict": ba}]


def test_score_counts_ties_as_misses_and_disagreement_as_inconsistent():
    rows = (_rows(PARALINGUISTIC, "A>>B", "B>A", pair="s1|reference|flat")  # right, consistent
            + _rows(PARALINGUISTIC, "A>B", "A>B", pair="s2|reference|flat")  # orders disagree: tie
            + _rows(PARALINGUISTIC, "B>A", "A>B", pair="s3|reference|flat")  # reversed
            + _rows(CONTENT, "A=B", "A=B", pair="s1|reference|echo", measured=(), attrs=("content",),
                    abstained=("content",))
            + _rows(IDENTICAL, "A=B", "A=B", pair="s1|reference|reference_copy", measured=(), attrs=())
            + _rows(IDENTICAL, "A>B", "B>A", pair="s2|reference|reference_copy", measured=(), attrs=()))
    r = score(rows)
    assert r["paralinguistic_measurable"] == {"n": 3, "n_invalid": 0, "accuracy": pytest.approx(1 / 3),
                                             "correct": 1, "ties": 1, "reversed": 1, "n_distinct": 3,
                                             "accuracy_distinct": pytest.approx(1 / 3)}
    assert r["swap_consistency"] == pytest.approx(3 / 4)
    assert r["identical"]["tie_rate"] == pytest.approx(0.5)
    assert r["content"]["abstained"] == 1
    assert set(r["targets"]) == set(TARGETS) and not r["targets"]["identical_tie_rate"]["met"]
    md = markdown_table(r, "feature")
    assert "| paralinguistic-only (measurable) | 3 | 1 | 1 | 1 | 0 | 33.3% | 3 | 33.3% |" in md


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    from s2s_arena_dataset.pipeline.build import build_dataset

    out = tmp_path_factory.mktemp("bench") / "ds"
    return build_dataset(out, limit=10, seed=0, levels=["L2", "L3"], workers=1, progress=False)


@pytest.mark.slow
def test_calibrate_command_meets_targets_on_a_small_build(small_build, tmp_path, capsys):
    out = tmp_path / "cal"
    classes = ["--classes", "silence", "mp3", "louder", "non_answer"]
    rc = cli_main(["calibrate", "--judge", "feature", "--data", str(small_build), "--out", str(out), *classes])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "paralinguistic-only (measurable)" in printed and str(out / "calibration.json") in printed
    report = json.loads((out / "calibration.json").read_text())
    assert report["paralinguistic_measurable"]["n"] >= 5
    for name, target in TARGETS.items():
        t = report["targets"][name]
        assert t["target"] == target
        assert t["met"] and t["value"] >= target, (name, t, (out / "calibration.md").read_text())
    # Content is heard (the bundled recogniser): off-topic and echo answers lose to the reference.
    assert report["content"]["abstained"] == 0 and report["content"]["accuracy"] >= 0.9, report["content"]
    assert set(report["classes"]) == {"silence", "mp3", "louder", "non_answer"}
    assert report["classes"]["silence"]["pass_rate"] == 1.0 and report["classes"]["mp3"]["group"] == "invariance"
    assert "| silence | content_failure |" in printed
    assert (out / "manifest.json").is_file() and (out / "responses" / "flat" / "manifest.jsonl").is_file()
    # A second run resumes: nothing is re-rendered or re-judged, the figures are the same.
    rows_before = (out / "verdicts.jsonl").read_text().count("\n")
    assert cli_main(["calibrate", "--judge", "feature", "--data", str(small_build), "--out", str(out), *classes]) == 0
    assert (out / "verdicts.jsonl").read_text().count("\n") == rows_before
    assert json.loads((out / "calibration.json").read_text())["targets"] == report["targets"]
    # Told not to render into a folder without the reference systems: a clear error naming them.
    (tmp_path / "empty").mkdir()
    assert cli_main(["calibrate", "--data", str(small_build), "--responses", str(tmp_path / "empty"),
                     "--no-render", "--out", str(tmp_path / "cal2")]) == 2
    assert "no responses folder for echo, flat, off_topic, reference" in capsys.readouterr().err


def test_calibrate_command_rejects_bad_input(tmp_path, capsys):
    assert cli_main(["calibrate", "--data", str(tmp_path / "nope"), "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err
    assert cli_main(["calibrate", "--data", str(tmp_path / "nope"), "--batch-pairs", "0"]) == 2
    assert "--batch-pairs" in capsys.readouterr().err
    assert cli_main(["calibrate", "--data", str(tmp_path / "nope"), "--judge", "openai:gpt-4o", "--workers", "2"]) == 2
    assert "--workers apply to the feature and hybrid judges" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli_main(["calibrate", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "not a dataset folder" in capsys.readouterr().err


def test_variants_with_the_same_audio_count_once_as_distinct():
    same = [dict(r, content_key="k1") for r in _rows(PARALINGUISTIC, "A>B", "B>A", pair="s1|reference|flat")]
    same += [dict(r, content_key="k1") for r in _rows(PARALINGUISTIC, "A>B", "B>A", pair="s1-a1|reference|flat")]
    same += [dict(r, content_key="k2") for r in _rows(PARALINGUISTIC, "A=B", "A=B", pair="s2|reference|flat")]
    acc = score(same)["paralinguistic_measurable"]
    assert (acc["n"], acc["correct"], acc["n_distinct"]) == (3, 2, 2)
    assert acc["accuracy"] == pytest.approx(2 / 3) and acc["accuracy_distinct"] == pytest.approx(1 / 2)


def test_derived_responses_are_what_their_class_says():
    import numpy as np

    from s2s_arena.judging.calibration import CLASSES, _wrong_facts, derive_response
    from s2s_arena.judging.judges.feature import flat_top_fraction
    from s2s_arena.synth import get_synthesizer

    sr = 24000
    smp = SAMPLES[2]
    synth = get_synthesizer("espeak")
    x = synth.synthesize(smp.reference_response, seed=1).audio
    got = {c: derive_response(c, smp, x, sr, synth=synth, voice_seed=1) for c in CLASSES if c != "wrong_facts"}
    assert not got["silence"].any() and np.array_equal(got["reversed"], x[::-1])
    assert 0.3 * len(x) < len(got["truncation"]) < 0.8 * len(x)
    peak = np.abs(x).max()
    assert np.abs(got["louder"]).max() <= 0.98 + 1e-6 and np.abs(got["louder"]).max() > 1.5 * peak
    assert np.allclose(got["plus_1db"], x * 10 ** (1 / 20), atol=1e-6) or np.abs(got["plus_1db"]).max() <= 0.99
    assert np.abs(got["clipped"]).max() < peak and flat_top_fraction(got["clipped"]) > 1e-3
    assert len(got["repeated"]) > 2 * len(x) and len(got["leading_silence"]) == len(x) + int(0.04 * sr)
    assert len(got["mp3"]) == len(x) and 0.8 < np.std(got["mp3"]) / np.std(x) < 1.2  # mp3 also delays it a little
    assert len(got["judge_note"]) > len(x) and got["non_answer"].shape[0] < x.shape[0]
    assert _wrong_facts("Boil it for 8 minutes at 100 degrees.", "") == "Boil it for 31 minutes at 307 degrees."
    assert _wrong_facts("Bake it for three hours.", "") == "Bake it for eight hours."
    assert _wrong_facts("It costs ninety-five euros.", "") == "It costs forty-five euros."
    assert _wrong_facts("We flew to Paris on Monday.", "Octopuses live in Lisbon.") == "We flew to Lisbon on Thursday."
    assert _wrong_facts("Drink water and rest.", "Octopuses live in Lisbon.") == "Drink water and rest."  # no fact
    assert _wrong_facts("This year, we DOUBLED our customers.", "In Lisbon.") == "This year, we DOUBLED our customers."


def test_fact_conflicts_need_the_same_slot_and_another_value():
    from s2s_arena.judging.content import fact_conflicts, fact_tokens

    assert fact_tokens("at ninety-five euros, two hundred and five, ten fifteen")[0] == ["at", "95", "euros", "205", "10", "15"]
    ref = "The next train leaves at six ten, on Saturday from Leeds."
    assert fact_conflicts(ref, "The next train leaves at 6.10 on Saturday from Leeds.") == (4, 0)  # digits = words
    assert fact_conflicts(ref, "The next train leaves at 3.40 on Saturday from Leeds.") == (4, 2)
    assert fact_conflicts(ref, "The next train leaves at 6.10 on Tuesday from Leeds.") == (4, 1)  # weekdays differ
    assert fact_conflicts(ref, "The next train leaves at 6.10 on Saturday from York.") == (4, 1)
    assert fact_conflicts("We went to Kyiv today.", "We went to Kiev today.") == (1, 0)  # the same name, spelled otherwise
    assert fact_conflicts("If you are in the EU, you may.", "If you are in the U, you may.") == (1, 0)  # part of it heard
    assert fact_conflicts("Drink water and rest.", "Drink 3 glasses of water.") == (0, 0)  # no facts: abstain
    assert fact_conflicts("It leaves at 6 and at 9.", "It leaves at 9 and at 6.") == (2, 0)  # reordered, not wrong
    assert fact_conflicts("火车6点出发", "火车9点出发", "zh") == (1, 1)  # numbers in every language
    # German capitalises nouns: only numbers are facts there.
    assert fact_conflicts("Der Zug fährt um 6 Uhr ab.", "Der Bus fährt um 6 Uhr ab.", "de") == (1, 0)
    # In a number's slot a word that sounds like a number is heard as one: "four nil" written "for Nell"
    # contradicts "one nil", "to" for "two" agrees with it; outside a number's slot "for" stays a word.
    goal = "Straight into the top corner. One nil!"
    assert fact_conflicts(goal, "Straight into the top corner, for Nell.", "en", 1) == (1, 1)
    assert fact_conflicts(goal, "Straight into the top corner, one-nil.", "en", 1) == (1, 0)
    assert fact_conflicts("You have two meetings, at ten and at four.", "You have to meetings, at ten and at for.") == (3, 0)
    assert fact_conflicts("You have two meetings, at ten and at four.", "You have to meetings, at ten and at ate.") == (3, 1)
    assert fact_conflicts("The bus leaves at eight.", "The bus leaves for eight.") == (1, 0)
    assert fact_conflicts("Der Zug fährt um 4 Uhr ab.", "Der Zug fährt um for Uhr ab.", "de") == (1, 0)  # English only


def test_requirement_coverage_counts_l2_l3_instances():
    from s2s_arena.judging.calibration import requirement_coverage

    cov = requirement_coverage(SAMPLES + [make("e-1", "song", {"style": "singing", "accent": "scottish"}, "La la.", "Sing.")])
    assert (cov["instances"], cov["decided"]) == (8, 6)  # c-1 is L0; singing and accents are not measured
    assert cov["by_attribute"]["emotion"] == {"instances": 2, "decided": 2, "share": 1.0}
    assert cov["by_attribute"]["accent"]["share"] == 0.0


FACT_SAMPLES = [
    make("t-1", "timetable", {}, "The next train to Leeds leaves at six ten from platform four.",
         "When does the next train to Leeds leave?", level="L0"),
    make("h-1", "booking", {"speaking_rate": "slow"}, "We have a twin room for tonight at ninety-five euros.",
         "Do you have a room for tonight, and how much is it?", level="L2"),
]


@pytest.mark.slow
def test_piper_voice_family_wrong_facts_and_non_answers_lose(tmp_path):
    """The second voice family end to end: Piper renders the reference systems and the derived pairs,
    the real bundled recogniser hears them, and a changed number or name loses to the reference."""
    from s2s_arena.judging.calibration import run_calibration, voice_family_table
    from s2s_arena.judging.judges.feature import FeatureJudge

    pytest.importorskip("piper")
    judge = FeatureJudge()
    try:
        report = run_calibration(judge, FACT_SAMPLES, tmp_path / "resp", tmp_path / "out", synth="piper",
                                 progress=False, classes=["wrong_facts", "non_answer"])
    finally:
        judge.close()
    assert report["synth"] == "piper" and not report["missing_pairs"], report["missing_pairs"]
    wf = report["classes"]["wrong_facts"]
    assert (wf["n"], wf["n_invalid"], wf["pass"]) == (2, 0, 2), (tmp_path / "out" / "calibration.md").read_text()
    assert report["classes"]["non_answer"]["pass"] == 2
    assert report["identical"]["tie_rate"] == 1.0
    table = voice_family_table({"piper": report}, "feature")
    assert "| wrong_facts | content_failure | 95.0% | 100.0% (2/2) |" in table


def _fresh_judge():
    """A feature judge with its own bundled recogniser that keeps transcripts in memory only, so a run
    recognises every clip itself instead of reading an earlier run's transcripts from disk."""
    from s2s_arena.asr import FasterWhisperASR, whisper_base_dir
    from s2s_arena.judging.judges.feature import FeatureJudge
    from s2s_arena.semantics import default_embedder

    model = whisper_base_dir()
    if model is None or default_embedder() is None:
        pytest.skip("the bundled recogniser or embedder is not installed (make setup)")
    asr = FasterWhisperASR(str(model), name="bundled:whisper-base", cache_dir=None)
    return FeatureJudge(asr=asr, embedder=type(default_embedder())())


@pytest.mark.slow
def test_batched_judging_gives_the_pair_by_pair_verdicts_and_resumes(tmp_path):
    """Pairs judged many per judge call (the recogniser decodes their clips together) get the verdict
    rows they get one pair per call; a run killed after a batch resumes from the rows it appended."""
    from s2s_arena.judging.calibration import VERDICTS_FILE, judge_labelled
    from s2s_arena.systems.reference import REFERENCE_SYSTEMS

    samples = SAMPLES[:2]
    render_reference_systems(samples, tmp_path / "resp", seed=0, progress=False)
    responses = load_responses(tmp_path / "resp", systems=list(REFERENCE_SYSTEMS))
    pairs, missing = labelled_pairs(samples, {n: set(r.responses) for n, r in responses.items()},
                                    ["silence", "mp3"])
    assert len(pairs) == 12 and not missing

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "latency_s"} for r in rows]

    runs, judges = {}, {bp: _fresh_judge() for bp in (1, 3)}
    try:
        for bp, judge in judges.items():
            runs[bp] = judge_labelled(judge, pairs, responses, tmp_path / f"out{bp}", progress=False, samples=samples,
                                      batch_pairs=bp)
        assert [(r["pair"], r["order"]) for r in runs[3]] == [(p.key, o) for p in pairs for o in ("ab", "ba")]
        assert strip(runs[3]) == strip(runs[1])
        # Content was heard (a silent response is vetoed before content, so it abstains there).
        assert not any("content" in r["abstained"] for r in runs[3] if r["kind"] == CONTENT)
        # Killed after its first batch: the rows on disk are reused as they are, the rest judged again.
        path = tmp_path / "out3" / VERDICTS_FILE
        lines = path.read_text().splitlines(keepends=True)
        assert len(lines) == 24
        path.write_text("".join(lines[:6]))
        resumed = judge_labelled(judges[3], pairs, responses, tmp_path / "out3", progress=False, samples=samples,
                                 batch_pairs=3)
    finally:
        for judge in judges.values():
            judge.close()
    assert resumed[:6] == runs[3][:6] and strip(resumed) == strip(runs[3])
    assert len(path.read_text().splitlines()) == 24
    by = {(r["pair"].split("|")[2], r["order"]): r["verdict"] for r in runs[3] if r["sample_id"] == "a-1"}
    assert by[("silence", "ab")] in ("A>B", "A>>B") and by[("silence", "ba")] in ("B>A", "B>>A")
    assert by[("reference_copy", "ab")] == by[("reference_copy", "ba")] == "A=B"


@pytest.fixture(scope="module")
def english_build(tmp_path_factory):
    """Two English L2 samples (one fast, one slow reading) with every field a build writes."""
    from s2s_arena_dataset.pipeline.build import build_dataset

    out = tmp_path_factory.mktemp("english") / "ds"
    return build_dataset(out, limit=2, seed=0, levels=["L2"], tasks=["screen_reader_speed"], workers=1,
                         progress=False, synth="espeak", asr="none")


@pytest.mark.slow
def test_calibrate_both_voice_families_end_to_end(english_build, tmp_path, capsys):
    """`s2s-arena calibrate --voices espeak,piper` with the real eSpeak NG and Piper voices and the real
    bundled recogniser: one column per family, and each family's report holds real verdicts."""
    pytest.importorskip("piper")
    out = tmp_path / "cal"
    rc = cli_main(["calibrate", "--data", str(english_build), "--out", str(out), "--voices", "espeak,piper",
                   "--classes", "silence", "non_answer", "--batch-pairs", "5"])
    assert rc == 0
    printed = capsys.readouterr().out
    table = (out / "calibration.md").read_text()
    assert "| class | group | target | espeak | piper |" in table and table in printed + "\n"
    for row in ("| identical (tie) | | 99.0% | 100.0% (2/2) | 100.0% (2/2) |",
                "| silence | content_failure | 95.0% | 100.0% (2/2) | 100.0% (2/2) |"):
        assert row in table, table
    assert "## Voice family: espeak" in table and "## Voice family: piper" in table
    for voice in ("espeak", "piper"):
        report = json.loads((out / voice / "calibration.json").read_text())
        assert report["synth"] == voice and not report["missing_pairs"]
        assert (out / voice / "calibration.md").is_file()
        assert report["identical"] == {"n": 2, "ties": 2, "tie_rate": 1.0}
        assert report["classes"]["silence"]["reference_preferred"] == 2
        assert report["content"]["abstained"] == 0
        assert set(report["classes"]) == {"silence", "non_answer"}
        rows = [json.loads(x) for x in (out / voice / "verdicts.jsonl").read_text().splitlines()]
        # 2 samples x (2 classes + flat + off-topic + echo + identical) pairs, both orders, each judged once
        assert len(rows) == 2 * 6 * 2 and len({(r["pair"], r["order"]) for r in rows}) == len(rows)
        assert all(r["judge"] == "feature" and r["reason"] for r in rows)
        ref = load_responses(out / "responses" / voice)["reference"]
        assert {r.meta["synth"] for r in ref.responses.values()} == {voice}


@pytest.mark.slow
def test_spoken_derived_responses_are_kept_and_judged_again_as_stored(tmp_path):
    """A derived response that the synthesizer speaks ("I don't know.") is kept in OUT/derived, and a
    rerun judges that stored audio, not a new rendering (a neural voice renders anew on every call)."""
    import numpy as np

    from s2s_arena.audio import load_audio, save_audio
    from s2s_arena.judging.calibration import run_calibration
    from s2s_arena.judging.judges.feature import FeatureJudge

    judge = FeatureJudge()
    if not judge.judges_content:
        pytest.skip(judge.content_status())
    try:
        first = run_calibration(judge, FACT_SAMPLES[:1], tmp_path / "resp", tmp_path / "out", progress=False,
                                classes=["non_answer"])
        (kept,) = sorted((tmp_path / "out" / "derived" / "non_answer").glob("t-1-*.wav"))
        assert first["classes"]["non_answer"]["pass"] == 1
        assert load_audio(kept).shape[0] > 0.5 * 24000  # "I don't know." spoken, not an empty file
        # Replace the stored rendering with silence and judge afresh: the stored audio is what is judged.
        save_audio(kept, np.zeros(24000, np.float32))
        (tmp_path / "out" / "verdicts.jsonl").unlink()
        run_calibration(judge, FACT_SAMPLES[:1], tmp_path / "resp", tmp_path / "out", progress=False,
                        classes=["non_answer"])
    finally:
        judge.close()
    rows = [r for r in map(json.loads, (tmp_path / "out" / "verdicts.jsonl").read_text().splitlines())
            if r["system_b"] == "non_answer"]
    assert rows and all("silent" in r["reason"] or "quality" in r["reason"] for r in rows)
    ab = next(r for r in rows if r["order"] == "ab")
    assert ab["verdict"] == "A>>B" and ("B silent" in ab["reason"] or "B: speech 0.00" in ab["reason"]), ab["reason"]
