"""The task catalogue: a lint of the real catalogue, the loader's errors on bad files, and `s2s-arena tasks`."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from s2s_arena.cli import main
from s2s_arena.schema import CLOSED_VOCABULARY, LEVELS, OPEN_ATTRIBUTES, SchemaError, validate_attributes
from s2s_arena_dataset.catalogue import (
    CONTENT_ATTRIBUTES, DEFAULT_TASKS_DIR, ORDERED_ATTRIBUTES, V1_TASKS, load_catalogue, load_task_file,
)

MIN_TASKS, MIN_DOMAINS, MIN_SEEDS, MIN_SEEDS_PER_LEVEL = 100, 8, 380, 70


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


# --- lint of the shipped catalogue ---------------------------------------------------------------

def test_catalogue_size_and_domains(catalogue):
    assert len(catalogue.tasks) >= MIN_TASKS
    assert len(catalogue.domains()) >= MIN_DOMAINS
    per_domain = Counter(t.domain for t in catalogue.tasks)
    assert min(per_domain.values()) >= 3, per_domain  # a domain is more than a token task
    assert len(catalogue.seeds()) >= MIN_SEEDS
    for level, n in catalogue.seeds_per_level().items():
        assert n >= MIN_SEEDS_PER_LEVEL, f"{level} has only {n} seeds"


def test_all_v1_tasks_present_and_flagged(catalogue):
    assert len(V1_TASKS) == len(set(V1_TASKS)) == 21
    ids = {t.id for t in catalogue.tasks}
    assert set(V1_TASKS) <= ids, f"missing v1 tasks: {sorted(set(V1_TASKS) - ids)}"
    assert {t.id for t in catalogue.tasks if t.v1} == set(V1_TASKS)
    v1_domains = {catalogue.task(t).domain for t in V1_TASKS}
    assert v1_domains == {"education", "social_companionship", "entertainment", "medical_consultation"}


def test_every_task_has_levels_and_seeds(catalogue):
    for t in catalogue.tasks:
        assert len(t.seeds) >= 3, t.id
        assert len(t.levels) >= 2, t.id
        assert t.levels == [lv for lv in LEVELS if t.seeds_per_level()[lv]], t.id
        assert t.evaluation_target.rstrip().endswith("?"), f"{t.id}: the evaluation target is a question a voter answers"
        assert Path(t.path).stem == t.id


def test_file_per_task_and_unique_ids(catalogue):
    files = sorted(DEFAULT_TASKS_DIR.glob("*.yaml"))
    assert [f.stem for f in files] == [t.id for t in catalogue.tasks]
    seed_ids = [s.id for s in catalogue.seeds()]
    assert len(seed_ids) == len(set(seed_ids))
    for s in catalogue.seeds():
        assert s.id.startswith(f"{s.task}-{s.level}-")


def test_every_value_is_in_the_vocabulary(catalogue):
    for s in catalogue.seeds():
        for side, attrs in (("input_cues", s.input_cues), ("requirements", s.requirements)):
            validate_attributes(attrs, where=s.id, field_name=side, input_side=side == "input_cues")
            for attr, value in attrs.items():
                assert attr in CLOSED_VOCABULARY or attr in OPEN_ATTRIBUTES, (s.id, attr)
                for v in value if isinstance(value, list) else [value]:
                    if attr in CLOSED_VOCABULARY:
                        assert v in CLOSED_VOCABULARY[attr], (s.id, attr, v)
        assert "noise" not in s.requirements and "snr_db" not in s.requirements


def test_level_rules_hold_for_every_seed(catalogue):
    for s in catalogue.seeds():
        paralinguistic_out = set(s.requirements) - CONTENT_ATTRIBUTES
        assert bool(s.input_cues) == (s.level in ("L1", "L3")), s.id
        assert bool(paralinguistic_out) == (s.level in ("L2", "L3")), s.id


def test_references_fit_their_requirements(catalogue):
    for s in catalogue.seeds():
        n_parts = len(s.reference_parts)
        for attr, value in s.requirements.items():
            if attr in ORDERED_ATTRIBUTES and isinstance(value, list) and len(value) > 1:
                assert n_parts == len(value), (s.id, attr)
        if s.requirements.get("repetitions", 1) > 1:
            assert n_parts == s.requirements["repetitions"], s.id
        emphasis = s.requirements.get("emphasis", [])
        for word in emphasis if isinstance(emphasis, list) else [emphasis]:
            assert word.lower() in s.reference_response.lower(), (s.id, word)


def test_instructions_are_speakable_and_not_templated(catalogue):
    seen: dict[tuple, str] = {}
    for s in catalogue.seeds():
        assert not set(s.instruction) & set("<>*#`{}[]|_"), s.id
        assert 3 <= len(s.instruction.split()) or s.language in ("zh", "ja", "ko"), s.id
        key = (s.instruction.lower(), json.dumps(s.input_cues, sort_keys=True))
        assert key not in seen, f"{s.id} repeats {seen.get(key)}"
        seen[key] = s.id
    # The same words in two different voices are deliberate (sarcasm, identity); they must differ in cues.
    instructions = Counter(s.instruction for s in catalogue.seeds())
    assert max(instructions.values()) <= 3


def test_english_first_and_cross_lingual_coverage(catalogue):
    languages = Counter(s.language for s in catalogue.seeds())
    assert languages.most_common(1)[0][0] == "en"
    assert languages["en"] / sum(languages.values()) > 0.75

    def cross_lingual(task):
        for s in task.seeds:
            req = s.requirements.get("language")
            if req and set(req if isinstance(req, list) else [req]) - {s.language}:
                return True
        return False

    crossing = [t for t in catalogue.tasks if cross_lingual(t)]
    assert {"cross_lingual_emotional_translation", "language_consistency"} <= {t.id for t in crossing}
    learning = [t for t in catalogue.tasks if t.domain == "language_learning"]
    assert len(learning) >= 5 and sum(map(cross_lingual, learning)) >= len(learning) - 1
    for t in crossing + learning:
        langs = t.languages()
        assert "zh" in langs and len(langs) >= 5, f"{t.id} covers {langs}"
        assert any(s.language == "zh" or "zh" in str(s.requirements.get("language")) for s in t.seeds)


def test_catalogue_api(catalogue):
    tongue = catalogue.task("tongue_twisters")
    assert tongue.v1 and tongue.domain == "entertainment"
    l2 = catalogue.seeds(level="L2", task="tongue_twisters")
    assert l2 and all(s.level == "L2" and s.task == "tongue_twisters" for s in l2)
    assert all(s.evaluation_target for s in catalogue.seeds())
    overridden = [s for s in catalogue.seeds() if s.evaluation_target != catalogue.task(s.task).evaluation_target]
    assert overridden, "some seeds override the task's evaluation target"
    rows = {r["task"]: r for r in catalogue.summary()}
    assert rows["tongue_twisters"]["n_seeds"]["L2"] == len(l2)
    assert rows["tongue_twisters"]["domain"] == "entertainment" and rows["tongue_twisters"]["v1"] is True
    with pytest.raises(SchemaError, match="unknown task id 'no_such_task'"):
        catalogue.task("no_such_task")
    with pytest.raises(SchemaError, match="unknown value 'L7'"):
        catalogue.seeds(level="L7")
    only = catalogue.select(domain="elderly_care", level="L1")
    assert only.tasks and all(t.domain == "elderly_care" and t.levels == ["L1"] for t in only.tasks)
    assert {s.level for s in only.seeds()} == {"L1"}


# --- bad task files ---------------------------------------------------------------------------------

GOOD = {
    "id": "foo", "name": "Foo", "domain": "entertainment", "v1": False,
    "description": "A test task.", "evaluation_target": "Is it good?", "levels": ["L0", "L2"],
    "seeds": [
        {"id": "foo-L0-01", "level": "L0", "language": "en", "instruction": "Tell me a joke.",
         "input_cues": {}, "requirements": {}, "reference_response": "Why did the chicken cross the road?"},
        {"id": "foo-L2-01", "level": "L2", "language": "en", "instruction": "Say hello three times, fast then slow.",
         "input_cues": {}, "requirements": {"speaking_rate": ["fast", "normal", "slow"], "repetitions": 3},
         "reference_response": "Hello. | Hello. | Hello."},
        {"id": "foo-L2-02", "level": "L2", "language": "en", "instruction": "Stress the word red: the red book.",
         "input_cues": {}, "requirements": {"emphasis": "red"}, "reference_response": "The RED book."},
    ],
}


def _write(folder: Path, data, name: str = "foo.yaml") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_good_user_folder_loads(tmp_path):
    _write(tmp_path, GOOD)
    cat = load_catalogue(tmp_path)
    assert [t.id for t in cat.tasks] == ["foo"]
    assert cat.seeds(level="L2")[0].requirements == {"speaking_rate": ["fast", "normal", "slow"], "repetitions": 3}
    assert cat.seeds()[0].evaluation_target == "Is it good?"
    assert load_task_file(tmp_path / "foo.yaml").seeds[2].reference_parts == ["The RED book."]


def _mutate(fn):
    data = copy.deepcopy(GOOD)
    fn(data)
    return data


def _set(path: str, value):
    def fn(d):
        keys = path.replace("]", "").replace("[", ".").split(".")
        target = d
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return fn


_DELETE = object()

BAD_CASES = [
    ("unknown value", _set("seeds[1].requirements.speaking_rate", "quick"), "seeds[1].requirements.speaking_rate",
     "unknown value 'quick'; expected one of slow, normal, fast"),
    ("unknown attribute", _set("seeds[1].requirements.tempo", "fast"), "seeds[1].requirements.tempo", "unknown attribute"),
    ("missing field", _set("evaluation_target", _DELETE), "evaluation_target", "missing"),
    ("missing seed field", _set("seeds[0].instruction", _DELETE), "seeds[0].instruction", "missing"),
    ("id differs from file", _set("id", "bar"), "id", "differs from the file name"),
    ("level not listed", _set("seeds[0].level", "L1"), "seeds[0].level", "not in the task's levels"),
    ("unknown level", _set("levels", ["L0", "L5"]), "levels[1]", "unknown value 'L5'"),
    ("listed level without seeds", _set("levels", ["L0", "L2", "L3"]), "levels", "no seed has it"),
    ("duplicate seed id", _set("seeds[2].id", "foo-L2-01"), "seeds[2].id", "duplicate seed id"),
    ("seed id format", _set("seeds[0].id", "joke-1"), "seeds[0].id", "expected 'foo-<level>-<nn>'"),
    ("L0 with cues", _set("seeds[0].input_cues", {"emotion": "sad"}), "seeds[0].input_cues", "carry no paralinguistic cues"),
    ("L0 with a paralinguistic requirement", _set("seeds[0].requirements", {"volume": "loud"}),
     "seeds[0].requirements.volume", "requires nothing paralinguistic"),
    ("L2 with content only", _set("seeds[2].requirements", {"language": "fr"}), "seeds[2].requirements",
     "needs at least one paralinguistic requirement"),
    ("L2 with cues", _set("seeds[2].input_cues", {"speaker_age": "child"}), "seeds[2].input_cues", "carry no paralinguistic cues"),
    ("input-only attribute required", _set("seeds[2].requirements.noise", "babble"), "seeds[2].requirements.noise",
     "instruction audio only"),
    ("parts do not match the sequence", _set("seeds[1].reference_response", "Hello. Hello. Hello."),
     "seeds[1].reference_response", "sequence of 3"),
    ("emphasis word absent", _set("seeds[2].reference_response", "The blue book."), "seeds[2].requirements.emphasis",
     "does not occur as a word in the reference_response"),
    ("pause word only part of a word", _set("seeds[2].requirements", {"emphasis": "red", "pauses": ["boo"]}),
     "seeds[2].requirements.pauses", "does not occur as a word"),
    ("more pauses than word boundaries", _set("seeds[2].requirements", {"pauses": 3}), "seeds[2].requirements.pauses",
     "need at least 4 words in each part"),
    ("accent on a non-English instruction",
     lambda d: (_set("levels", ["L0", "L1", "L2"])(d), d["seeds"].append(
         {"id": "foo-L1-01", "level": "L1", "language": "fr", "instruction": "Raconte-moi une blague.",
          "input_cues": {"accent": "american"}, "requirements": {}, "reference_response": "Une blague."})),
     "seeds[3].input_cues.accent", "needs an English instruction"),
    ("markup in instruction", _set("seeds[0].instruction", "Tell me a <b>joke</b>."), "seeds[0].instruction", "plain text"),
    ("wrong script", _set("seeds[0].instruction", "Say 你好 please."), "seeds[0].instruction", "cannot speak them"),
    ("bad language tag", _set("seeds[0].language", "English"), "seeds[0].language", "BCP-47"),
    ("typo in a field name", _set("seeds[0].requirement", {}), "seeds[0].requirement", "unknown field"),
    ("v1 not a boolean", _set("v1", "yes"), "v1", "expected true or false"),
    ("no seeds", _set("seeds", []), "seeds", "non-empty list"),
    ("wrong type", _set("name", 42), "name", "expected text"),
]


@pytest.mark.parametrize("mutation,field,message", [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_task_file_error_names_file_and_field(tmp_path, mutation, field, message):
    path = _write(tmp_path, _mutate(mutation))
    with pytest.raises(SchemaError) as err:
        load_catalogue(tmp_path)
    text = str(err.value)
    assert str(path) in text, text
    assert f"field '{field}'" in text, text
    assert message in text, text
    assert err.value.field == field


def test_exact_message_for_unknown_vocabulary_value(tmp_path):
    path = _write(tmp_path, _mutate(_set("seeds[1].requirements.speaking_rate", ["fast", "quick", "slow"])))
    with pytest.raises(SchemaError) as err:
        load_catalogue(tmp_path)
    assert str(err.value) == (f"{path}: field 'seeds[1].requirements.speaking_rate': unknown value 'quick'; "
                              "expected one of slow, normal, fast")


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = _write(tmp_path, "id: foo\nname: [unclosed\nlevels: [L0]\n")
    with pytest.raises(SchemaError, match=r"malformed YAML at line \d+") as err:
        load_catalogue(tmp_path)
    assert str(path) in str(err.value)


def test_not_a_mapping_and_empty_file(tmp_path):
    _write(tmp_path, "- just\n- a list\n")
    with pytest.raises(SchemaError, match="expected a mapping of task fields, got list"):
        load_catalogue(tmp_path)
    _write(tmp_path, "")
    with pytest.raises(SchemaError, match="got NoneType"):
        load_catalogue(tmp_path)


def test_duplicate_task_id_across_files(tmp_path):
    _write(tmp_path, GOOD, "foo.yaml")
    _write(tmp_path, GOOD, "foo.yml")
    with pytest.raises(SchemaError, match="duplicate task id 'foo'") as err:
        load_catalogue(tmp_path)
    assert "foo.yaml" in str(err.value) and "foo.yml" in str(err.value)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(SchemaError, match="no such task folder"):
        load_catalogue(tmp_path / "absent")
    with pytest.raises(SchemaError, match="no task files"):
        load_catalogue(tmp_path)


def test_shipped_error_messages_use_the_package_path(tmp_path, monkeypatch):
    # The built-in catalogue names files as tasks/<file>, so messages read the same on every machine.
    import s2s_arena_dataset.catalogue as mod

    _write(tmp_path, _mutate(_set("seeds[1].requirements.speaking_rate", "quick")))
    monkeypatch.setattr(mod, "DEFAULT_TASKS_DIR", tmp_path)
    with pytest.raises(SchemaError) as err:
        mod.load_catalogue()
    assert str(err.value).startswith("tasks/foo.yaml: field 'seeds[1].requirements.speaking_rate': unknown value 'quick'")


# --- the `s2s-arena tasks` command --------------------------------------------------------------------

def test_tasks_json_returns_the_catalogue(capsys, catalogue):
    assert main(["tasks", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_tasks"] == len(catalogue.tasks)
    assert out["n_seeds"] == len(catalogue.seeds())
    assert out["n_seeds_per_level"] == catalogue.seeds_per_level()
    assert out["domains"] == catalogue.domains()
    by_id = {t["id"]: t for t in out["tasks"]}
    assert set(V1_TASKS) <= set(by_id)
    tt = by_id["tongue_twisters"]
    assert tt["v1"] is True and tt["domain"] == "entertainment"
    assert [s["id"] for s in tt["seeds"]] == [s.id for s in catalogue.task("tongue_twisters").seeds]
    assert tt["seeds"][1]["requirements"] == catalogue.task("tongue_twisters").seeds[1].requirements


def test_tasks_filters(capsys, catalogue):
    assert main(["tasks", "--format", "json", "--level", "L1", "--domain", "medical_consultation"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tasks"] and {t["domain"] for t in out["tasks"]} == {"medical_consultation"}
    assert {s["level"] for t in out["tasks"] for s in t["seeds"]} == {"L1"}
    assert out["n_seeds"] == len(catalogue.seeds(level="L1", domain="medical_consultation"))
    assert main(["tasks", "--format", "json", "--v1"]) == 0
    assert json.loads(capsys.readouterr().out)["n_tasks"] == 21


def test_tasks_table_and_markdown(capsys, catalogue):
    assert main(["tasks"]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].split() == ["task", "domain", "levels", "L0", "L1", "L2", "L3", "seeds", "v1"]
    row = next(line for line in lines if line.startswith("tongue_twisters "))
    t = catalogue.task("tongue_twisters")
    assert row.split()[:3] == ["tongue_twisters", "entertainment", ",".join(t.levels)]
    assert row.split()[-2:] == [str(len(t.seeds)), "yes"]
    assert f"{len(catalogue.tasks)} tasks in {len(catalogue.domains())} domains" in lines[-1]
    assert main(["tasks", "--format", "markdown", "--domain", "elderly_care"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("| task | domain | levels |")
    assert sum(line.startswith("| ") for line in md.splitlines()) == 1 + len(catalogue.select(domain="elderly_care").tasks)


def test_tasks_bad_input_is_one_clear_line(capsys, tmp_path):
    assert main(["tasks", "--domain", "astrology"]) == 2
    err = capsys.readouterr().err
    assert "field 'domain': unknown value 'astrology'" in err and "entertainment" in err
    path = _write(tmp_path, _mutate(_set("seeds[0].input_cues", {"emotion": "sad"})))
    assert main(["tasks", "--tasks-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "seeds[0].input_cues" in err and len(err.strip().splitlines()) == 1


def test_tasks_on_a_user_folder(capsys, tmp_path):
    _write(tmp_path, GOOD)
    assert main(["tasks", "--tasks-dir", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_tasks"] == 1 and out["n_seeds_per_level"] == {"L0": 1, "L1": 0, "L2": 2, "L3": 0}


# --- renderability: every cue and requirement can be planned by the eSpeak NG backend ----------------

def test_every_seed_is_renderable(catalogue):
    from s2s_arena.synth.plan import make_plan
    from s2s_arena.synth.voices import accent_voice

    problems = []
    for s in catalogue.seeds():
        cues = {k: v for k, v in s.input_cues.items() if k not in ("noise", "snr_db")}  # mixed in by augmentation
        plan = make_plan(s.instruction, s.language, cues, where=s.id)
        problems += [(s.id, "instruction", note) for note in plan.unsupported]
        if "accent" in cues and accent_voice(cues["accent"]) is None:
            problems.append((s.id, "instruction", f"no voice for accent {cues['accent']!r}"))
        req_lang = s.requirements.get("language", s.language)
        plan = make_plan(s.reference_response, req_lang if isinstance(req_lang, str) else s.language,
                         s.requirements, where=s.id)
        problems += [(s.id, "reference", note) for note in plan.unsupported]
        assert len(plan.segments) == len(s.reference_parts) or len(s.reference_parts) == 1, s.id
    assert not problems, problems


# --- sample counts of a built dataset folder ---------------------------------------------------------

def _shard(root: Path, task: str, level: str, n: int, index: int = 0, of: int = 1) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = root / "data" / task / f"{level}-{index:05d}-of-{of:05d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": [f"{task}-{level}-{index}-{i}" for i in range(n)], "task": [task] * n,
                             "level": [level] * n}), path)
    return path


def test_tasks_with_data_counts_samples(capsys, tmp_path):
    _shard(tmp_path, "tongue_twisters", "L2", 5, 0, 2)
    _shard(tmp_path, "tongue_twisters", "L2", 4, 1, 2)
    _shard(tmp_path, "tongue_twisters", "L3", 3)
    _shard(tmp_path, "singing", "L0", 2)
    assert main(["tasks", "--format", "json", "--v1", "--data", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    by_id = {t["id"]: t for t in out["tasks"]}
    assert by_id["tongue_twisters"]["n_samples"] == {"L0": 0, "L2": 9, "L3": 3}
    assert by_id["singing"]["n_samples"] == {"L0": 2, "L2": 0, "L3": 0}
    assert out["n_samples"] == 14
    assert main(["tasks", "--data", str(tmp_path), "--domain", "entertainment"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["samples", "v1"]
    row = next(line for line in lines if line.startswith("tongue_twisters ")).split()
    assert row[-6:] == ["-", "-", "9", "3", "12", "yes"]
    assert lines[-1] == "14 samples in the dataset (L0 2, L1 0, L2 9, L3 3)"


def test_tasks_with_bad_data_folder(capsys, tmp_path):
    assert main(["tasks", "--data", str(tmp_path / "absent")]) == 2
    assert "no such dataset folder" in capsys.readouterr().err
    assert main(["tasks", "--data", str(tmp_path)]) == 2
    assert "not a built dataset" in capsys.readouterr().err
    bad = tmp_path / "data" / "singing" / "L2-00000-of-00001.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet at all")
    assert main(["tasks", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "unreadable Parquet shard" in err


# --- diversity and the cue lint (issue 12) -------------------------------------------------------------

def test_catalogue_is_diverse_enough_and_passes_the_lint(catalogue):
    from s2s_arena_dataset.catalogue import MIN_SEEDS_PER_CELL, MIN_SEEDS_PER_LANGUAGE, lint

    assert len({s.instruction for s in catalogue.seeds()}) >= 700
    for t in catalogue.tasks:
        for lv, n in t.seeds_per_level().items():
            assert lv not in t.levels or n >= MIN_SEEDS_PER_CELL, (t.id, lv, n)
    langs = Counter(s.language for s in catalogue.seeds())
    assert min(langs.values()) >= MIN_SEEDS_PER_LANGUAGE, langs
    assert lint(catalogue) == []


def test_lint_flags_an_instruction_that_names_its_cue_and_thin_cells(tmp_path):
    from s2s_arena_dataset.catalogue import cue_giveaways, lint

    task = {
        "id": "demo_task", "name": "Demo", "domain": "demo", "description": "d", "evaluation_target": "e",
        "levels": ["L0", "L1"],
        "seeds": [
            {"id": "demo_task-L0-01", "level": "L0", "language": "en", "instruction": "Is it raining?",
             "input_cues": {}, "requirements": {}, "reference_response": "No."},
            {"id": "demo_task-L1-01", "level": "L1", "language": "en", "instruction": "I'm so angry, is it raining?",
             "input_cues": {"emotion": "angry"}, "requirements": {}, "reference_response": "No."},
            {"id": "demo_task-L1-02", "level": "L1", "language": "en", "instruction": "Is it raining? I'm seven years old.",
             "input_cues": {"speaker_age": "child"}, "requirements": {}, "reference_response": "No."},
        ],
    }
    import yaml

    (tmp_path / "demo_task.yaml").write_text(yaml.safe_dump(task))
    cat = load_catalogue(tmp_path)
    angry, child = cat.seeds(level="L1")
    assert cue_giveaways(angry) == ["emotion=angry: 'angry'"]
    assert cue_giveaways(child) == ["speaker_age=child: \"i'm seven\"", "speaker_age=child: 'years old'"]
    problems = lint(cat)
    assert any("demo_task-L1-01" in p and "names its own cue" in p for p in problems)
    assert any("level L0 has 1 seed" in p for p in problems)
    assert not any("language en" in p for p in problems)
