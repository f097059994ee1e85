"""The task catalogue: one YAML file per task under ``s2s_arena_dataset/tasks/``.

A task names a real use of a voice assistant (domain, what a voter should judge) and carries seeds:
spoken-instruction scripts at one of the four levels, with the paralinguistic cues the instruction audio
carries (``input_cues``) and what the spoken response must do (``requirements``). The build pipeline
renders and augments the seeds; the judges and the Space read ``evaluation_target``.

Everything is checked when the catalogue is loaded, so a typo in a task file fails with the file and
the field path instead of surfacing as an odd sample hours into a build.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from s2s_arena import schema
from s2s_arena.schema import CONTENT_ATTRIBUTES, LEVELS, SEQUENCE_ATTRIBUTES, SchemaError, validate_attributes

DEFAULT_TASKS_DIR = Path(__file__).resolve().parent / "tasks"

# The 21 tasks of S2S-Arena v1 (Jiang et al., 2025), kept so the lint can prove none went missing.
V1_TASKS: tuple[str, ...] = (
    # education
    "pronunciation_correction", "emphasis_control", "rhythm_control", "polyphonic_word_comprehension",
    "pause_and_segmentation", "cross_lingual_emotional_translation", "language_consistency",
    # social companionship
    "implication_understanding", "sarcasm_detection", "identity_based_response",
    "emotion_recognition_and_expression",
    # entertainment
    "singing", "natural_sound_simulation", "poetry_recitation", "role_playing", "storytelling",
    "tongue_twisters", "stand_up_comedy",
    # medical consultation
    "querying_symptoms", "health_consultation", "psychological_comfort",
)

# Attributes that constrain what is said rather than how it is said (schema.CONTENT_ATTRIBUTES): allowed
# at L0/L1, and not enough on their own to make a seed L2/L3.
# Requirement lists that mean "in sequence": the reference response has one part per element.
# (A list of emphasis words means "stress all of these", in one utterance.)
ORDERED_ATTRIBUTES: frozenset[str] = frozenset(SEQUENCE_ATTRIBUTES - {"emphasis"})
PART_SEPARATOR = f" {schema.PART_SEPARATOR} "

_ID = re.compile(r"^[a-z0-9_]+$")
_SEED_ID = re.compile(r"^[a-z0-9_]+-L[0-3]-[0-9]{2,}$")
# Instructions are read aloud by a TTS engine: markup or symbols would be spoken or dropped.
_UNSPEAKABLE = re.compile(r"[<>*#`{}\[\]|_~^\\]")
# A voice for one language cannot read another script: CJK text belongs in zh/ja/ko instructions only.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_CJK_LANGUAGES = frozenset({"zh", "ja", "ko", "yue", "cmn", "wuu"})

_TASK_FIELDS = ("id", "name", "domain", "v1", "description", "evaluation_target", "levels", "seeds")
_SEED_FIELDS = ("id", "level", "language", "instruction", "input_cues", "requirements",
                "reference_response", "evaluation_target")


@dataclass(frozen=True)
class Seed:
    """One spoken-instruction script at one level; the build renders it and its augmented variants."""

    id: str
    task: str
    domain: str
    level: str
    language: str
    instruction: str
    input_cues: dict[str, Any]
    requirements: dict[str, Any]
    reference_response: str
    evaluation_target: str

    @property
    def reference_parts(self) -> list[str]:
        """The reference split into the parts of a sequence (one element per part)."""
        return [p.strip() for p in self.reference_response.split(PART_SEPARATOR.strip())]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Task:
    id: str
    name: str
    domain: str
    v1: bool
    description: str
    evaluation_target: str
    levels: list[str]
    seeds: list[Seed] = field(default_factory=list)
    path: str = ""

    def seeds_per_level(self) -> dict[str, int]:
        counts = Counter(s.level for s in self.seeds)
        return {lv: counts.get(lv, 0) for lv in LEVELS}

    def languages(self) -> list[str]:
        """Languages the task covers: of the instructions and of the required responses."""
        langs: set[str] = set()
        for s in self.seeds:
            langs.add(s.language)
            req = s.requirements.get("language")
            langs.update(req if isinstance(req, list) else [req] if req else [])
        return sorted(langs)

    def to_dict(self, seeds: bool = True) -> dict[str, Any]:
        d = {
            "id": self.id, "name": self.name, "domain": self.domain, "v1": self.v1,
            "description": self.description, "evaluation_target": self.evaluation_target,
            "levels": list(self.levels), "n_seeds": self.seeds_per_level(), "languages": self.languages(),
        }
        if seeds:
            d["seeds"] = [s.to_dict() for s in self.seeds]
        return d


@dataclass
class Catalogue:
    tasks: list[Task]
    source: str = ""

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise SchemaError(self.source or "catalogue", "task",
                          f"unknown task id {task_id!r}; `s2s-arena tasks` lists the {len(self.tasks)} tasks")

    def seeds(self, level: str | None = None, task: str | None = None, domain: str | None = None) -> list[Seed]:
        if level is not None and level not in LEVELS:
            raise SchemaError(self.source or "catalogue", "level",
                              f"unknown value {level!r}; expected one of {', '.join(LEVELS)}")
        tasks = [self.task(task)] if task is not None else self.tasks
        return [s for t in tasks for s in t.seeds
                if (level is None or s.level == level) and (domain is None or s.domain == domain)]

    def domains(self) -> list[str]:
        return sorted({t.domain for t in self.tasks})

    def languages(self) -> list[str]:
        return sorted({lang for t in self.tasks for lang in t.languages()})

    def seeds_per_level(self) -> dict[str, int]:
        counts = Counter(s.level for s in self.seeds())
        return {lv: counts.get(lv, 0) for lv in LEVELS}

    def summary(self) -> list[dict[str, Any]]:
        """One row per task: task, name, domain, levels, seeds per level, total, languages, v1."""
        return [
            {"task": t.id, "name": t.name, "domain": t.domain, "levels": list(t.levels),
             "n_seeds": t.seeds_per_level(), "total": len(t.seeds), "languages": t.languages(), "v1": t.v1}
            for t in self.tasks
        ]

    def select(self, domain: str | None = None, level: str | None = None, v1: bool | None = None) -> "Catalogue":
        """A catalogue narrowed to one domain, one level (tasks that have it, and only its seeds) or v1 tasks."""
        where = self.source or "catalogue"
        if domain is not None and domain not in self.domains():
            raise SchemaError(where, "domain", f"unknown value {domain!r}; expected one of {', '.join(self.domains())}")
        if level is not None and level not in LEVELS:
            raise SchemaError(where, "level", f"unknown value {level!r}; expected one of {', '.join(LEVELS)}")
        tasks = []
        for t in self.tasks:
            if (domain is not None and t.domain != domain) or (v1 is not None and t.v1 != v1):
                continue
            if level is not None:
                if level not in t.levels:
                    continue
                t = replace(t, levels=[level], seeds=[s for s in t.seeds if s.level == level])
            tasks.append(t)
        return Catalogue(tasks=tasks, source=self.source)

    def to_dict(self, seeds: bool = True) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_tasks": len(self.tasks),
            "n_seeds": sum(len(t.seeds) for t in self.tasks),
            "n_seeds_per_level": self.seeds_per_level(),
            "n_tasks_per_domain": dict(sorted(Counter(t.domain for t in self.tasks).items())),
            "domains": self.domains(),
            "languages": self.languages(),
            "tasks": [t.to_dict(seeds=seeds) for t in self.tasks],
        }


# --- loading ---------------------------------------------------------------------------------------

def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate every task file in a folder (default: the package's tasks) or one task file."""
    root = Path(path) if path is not None else DEFAULT_TASKS_DIR
    if not root.exists():
        raise SchemaError(str(root), None, "no such task folder or file")
    files = [root] if root.is_file() else sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if not files:
        raise SchemaError(str(root), None, "no task files (*.yaml) in this folder")
    tasks: list[Task] = []
    task_files: dict[str, str] = {}
    seed_files: dict[str, str] = {}
    for file in files:
        where = f"tasks/{file.name}" if path is None else str(file)
        task = load_task_file(file, where=where)
        if task.id in task_files:
            raise SchemaError(where, "id", f"duplicate task id {task.id!r} (also in {task_files[task.id]})")
        task_files[task.id] = where
        for i, seed in enumerate(task.seeds):
            if seed.id in seed_files:
                raise SchemaError(where, f"seeds[{i}].id",
                                  f"duplicate seed id {seed.id!r} (also in {seed_files[seed.id]})")
            seed_files[seed.id] = where
        tasks.append(task)
    tasks.sort(key=lambda t: t.id)
    return Catalogue(tasks=tasks, source=str(root))


def load_task_file(file: str | Path, where: str | None = None) -> Task:
    """Parse and validate one task file; errors name ``where`` (default: the path) and the field."""
    import yaml  # only the catalogue needs YAML; keep `import s2s_arena_dataset` light

    file = Path(file)
    where = where or str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SchemaError(where, None, f"cannot read the task file ({e})") from None
    try:
        # libyaml's C loader when present: the whole catalogue loads several times faster.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise SchemaError(where, None, f"malformed YAML{at}: {problem}") from None
    return parse_task(data, where=where, stem=file.stem)


def parse_task(data: Any, *, where: str, stem: str | None = None) -> Task:
    if not isinstance(data, Mapping):
        raise SchemaError(where, None, f"expected a mapping of task fields, got {type(data).__name__}")
    _no_unknown(data, _TASK_FIELDS, where, "")
    task_id = _text(data, "id", where, "id")
    if not _ID.match(task_id):
        raise SchemaError(where, "id", f"{task_id!r} is not a valid id; use lower-case letters, digits and _")
    if stem is not None and task_id != stem:
        raise SchemaError(where, "id", f"{task_id!r} differs from the file name; rename one so they match ({stem!r})")
    domain = _text(data, "domain", where, "domain")
    if not _ID.match(domain):
        raise SchemaError(where, "domain",
                          f"{domain!r} is not a valid domain name; use lower-case letters, digits and _")
    v1 = data.get("v1", False)
    if not isinstance(v1, bool):
        raise SchemaError(where, "v1", f"expected true or false, got {v1!r}")
    levels = data.get("levels")
    if not isinstance(levels, list) or not levels:
        raise SchemaError(where, "levels", f"expected a non-empty list of levels ({', '.join(LEVELS)}), got {levels!r}")
    for i, lv in enumerate(levels):
        if lv not in LEVELS:
            raise SchemaError(where, f"levels[{i}]", f"unknown value {lv!r}; expected one of {', '.join(LEVELS)}")
    if len(set(levels)) != len(levels):
        raise SchemaError(where, "levels", f"a level is listed twice in {levels!r}")
    task = Task(
        id=task_id, name=_text(data, "name", where, "name"), domain=domain, v1=v1,
        description=_text(data, "description", where, "description"),
        evaluation_target=_text(data, "evaluation_target", where, "evaluation_target"),
        levels=[lv for lv in LEVELS if lv in levels], path=where,
    )
    raw_seeds = data.get("seeds")
    if not isinstance(raw_seeds, list) or not raw_seeds:
        raise SchemaError(where, "seeds", "expected a non-empty list of seeds")
    task.seeds = [_parse_seed(raw, task, where, f"seeds[{i}]") for i, raw in enumerate(raw_seeds)]
    seen: dict[str, int] = {}
    for i, seed in enumerate(task.seeds):
        if seed.id in seen:
            raise SchemaError(where, f"seeds[{i}].id", f"duplicate seed id {seed.id!r} (also seeds[{seen[seed.id]}])")
        seen[seed.id] = i
    covered = {s.level for s in task.seeds}
    for lv in task.levels:
        if lv not in covered:
            raise SchemaError(where, "levels", f"level {lv} is listed but no seed has it; add a seed or drop the level")
    return task


def _parse_seed(raw: Any, task: Task, where: str, at: str) -> Seed:
    if not isinstance(raw, Mapping):
        raise SchemaError(where, at, f"expected a mapping of seed fields, got {type(raw).__name__}")
    _no_unknown(raw, _SEED_FIELDS, where, at + ".")
    seed_id = _text(raw, "id", where, f"{at}.id")
    if not _SEED_ID.match(seed_id) or not seed_id.startswith(task.id + "-"):
        raise SchemaError(where, f"{at}.id", f"{seed_id!r} is not a valid seed id; expected '{task.id}-<level>-<nn>', "
                                             f"e.g. '{task.id}-L2-01'")
    level = raw.get("level")
    if level not in LEVELS:
        raise SchemaError(where, f"{at}.level", f"unknown value {level!r}; expected one of {', '.join(LEVELS)}")
    if level not in task.levels:
        raise SchemaError(where, f"{at}.level", f"{level} is not in the task's levels [{', '.join(task.levels)}]")
    if f"-{level}-" not in seed_id:
        raise SchemaError(where, f"{at}.id", f"{seed_id!r} does not carry the seed's level {level}")
    language = _text(raw, "language", where, f"{at}.language")
    validate_attributes({"language": language}, where=where, field_name=at)
    instruction = _text(raw, "instruction", where, f"{at}.instruction")
    bad = _UNSPEAKABLE.search(instruction)
    if bad:
        raise SchemaError(where, f"{at}.instruction",
                          f"contains {bad.group()!r}; instructions are spoken, write plain text without markup")
    if _CJK.search(instruction) and language.split("-")[0] not in _CJK_LANGUAGES:
        raise SchemaError(where, f"{at}.instruction",
                          f"contains Chinese, Japanese or Korean characters but the instruction language is "
                          f"{language!r}; a {language} voice cannot speak them")
    cues = validate_attributes(raw.get("input_cues"), where=where, field_name=f"{at}.input_cues", input_side=True)
    reqs = validate_attributes(raw.get("requirements"), where=where, field_name=f"{at}.requirements")
    reference = _text(raw, "reference_response", where, f"{at}.reference_response")
    _check_pause_count(cues, instruction, where, f"{at}.input_cues.pauses", "instruction")
    if "accent" in cues and not language.lower().startswith("en"):
        # eSpeak NG renders an accent as another language's voice reading English text.
        raise SchemaError(where, f"{at}.input_cues.accent",
                          f"an accent cue needs an English instruction (language en), not {language!r}")
    _check_level_rules(level, cues, reqs, where, at)
    _check_reference(reqs, reference, where, at)
    target = raw.get("evaluation_target")
    if target is not None and (not isinstance(target, str) or not target.strip()):
        raise SchemaError(where, f"{at}.evaluation_target", "expected a non-empty sentence or no field at all")
    return Seed(id=seed_id, task=task.id, domain=task.domain, level=level, language=language,
                instruction=instruction.strip(), input_cues=cues, requirements=reqs,
                reference_response=reference.strip(), evaluation_target=(target or task.evaluation_target).strip())


def _check_level_rules(level: str, cues: dict, reqs: dict, where: str, at: str) -> None:
    """DESIGN.md's protocol: L0 none/none, L1 cues/no paralinguistic requirement, L2 none/some, L3 both."""
    cues_in = level in ("L1", "L3")
    required_out = level in ("L2", "L3")
    if cues_in and not cues:
        raise SchemaError(where, f"{at}.input_cues",
                          f"{level} needs paralinguistic cues in the instruction audio; give at least one")
    if not cues_in and cues:
        raise SchemaError(where, f"{at}.input_cues",
                          f"{level} instructions carry no paralinguistic cues; move {sorted(cues)} to an L1/L3 seed")
    paralinguistic = sorted(set(reqs) - CONTENT_ATTRIBUTES)
    if required_out and not paralinguistic:
        raise SchemaError(where, f"{at}.requirements",
                          f"{level} needs at least one paralinguistic requirement (not only "
                          f"{', '.join(sorted(CONTENT_ATTRIBUTES))})")
    if not required_out and paralinguistic:
        raise SchemaError(where, f"{at}.requirements.{paralinguistic[0]}",
                          f"{level} requires nothing paralinguistic of the response; only "
                          f"{', '.join(sorted(CONTENT_ATTRIBUTES))} may be required (or use L2/L3)")


def _check_reference(reqs: dict, reference: str, where: str, at: str) -> None:
    """The reference must be something a TTS rendering with the requirements would satisfy."""
    parts = [p.strip() for p in reference.split(PART_SEPARATOR.strip())]
    if any(not p for p in parts):
        raise SchemaError(where, f"{at}.reference_response",
                          f"an empty part between '{PART_SEPARATOR.strip()}' separators")
    expected: dict[str, int] = {a: len(v) for a, v in reqs.items() if a in ORDERED_ATTRIBUTES and isinstance(v, list)}
    if "repetitions" in reqs:
        expected["repetitions"] = reqs["repetitions"]
    for attr, n in expected.items():
        if n > 1 and len(parts) != n:
            raise SchemaError(where, f"{at}.reference_response",
                              f"requirements.{attr} asks for a sequence of {n}, but the reference has {len(parts)} "
                              f"part(s); separate the parts with '{PART_SEPARATOR}'")
    # Stress and pauses attach to whole words (that is how a renderer places them), so the named words
    # must be words of the reference, and a pause count needs that many word boundaries.
    words = {_norm_word(w) for w in reference.split()}
    for attr in ("emphasis", "pauses"):
        named = reqs.get(attr)
        for w in (named if isinstance(named, list) else [named] if isinstance(named, str) else []):
            if not all(_norm_word(x) in words for x in w.split()):
                raise SchemaError(where, f"{at}.requirements.{attr}",
                                  f"{w!r} does not occur as a word in the reference_response, so no rendering "
                                  "could satisfy it")
    _check_pause_count(reqs, reference, where, f"{at}.requirements.pauses", "reference_response")


def _check_pause_count(attrs: dict, text: str, where: str, path: str, what: str) -> None:
    n = attrs.get("pauses")
    if isinstance(n, int) and not isinstance(n, bool):
        for part in text.split(PART_SEPARATOR.strip()):
            if len(part.split()) < n + 1:
                raise SchemaError(where, path,
                                  f"{n} pause(s) need at least {n + 1} words in each part of the {what}; "
                                  f"{part.strip()!r} has {len(part.split())} (separate CJK phrases with spaces)")


def _norm_word(w: str) -> str:
    return re.sub(r"[^\w']+", "", w.lower())


def _text(d: Mapping[str, Any], key: str, where: str, path: str) -> str:
    value = d.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SchemaError(where, path, "missing (required)")
    if not isinstance(value, str):
        raise SchemaError(where, path, f"expected text, got {type(value).__name__} {value!r}")
    return value


def _no_unknown(d: Mapping[str, Any], known: Iterable[str], where: str, prefix: str) -> None:
    unknown = sorted(set(map(str, d)) - set(known))
    if unknown:
        raise SchemaError(where, prefix + unknown[0], f"unknown field; expected {', '.join(known)}")


# --- lint --------------------------------------------------------------------------------------------

GIVEAWAYS_FILE = Path(__file__).resolve().parent / "cue_giveaways.yaml"
# Coverage the build needs so that no result rests on one script: every task x level cell has at least
# two seeds and every instruction language at least three.
MIN_SEEDS_PER_CELL = 2
MIN_SEEDS_PER_LANGUAGE = 3
# Emotions an instruction may carry: those an independent classifier tells apart from one rendered clip
# (benchmarks/bench_emotion_classifier.py). Surprised was heard as happy and sarcastic as neutral, so
# they stay response requirements only (sarcasm in an instruction is voiced as annoyance: angry, slow).
INPUT_EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful")


def _giveaways() -> dict[str, dict[str, list[str]]]:
    import yaml

    return yaml.safe_load(GIVEAWAYS_FILE.read_text(encoding="utf-8"))


def cue_giveaways(seed: Seed, lexicon: Mapping[str, Any] | None = None) -> list[str]:
    """Phrases in an L1/L3 English instruction that say one of its own input cues out loud (then the
    cue is not needed to answer well). Other levels and languages return []."""
    if seed.level not in ("L1", "L3") or not seed.language.lower().startswith("en"):
        return []
    lex = lexicon if lexicon is not None else _giveaways()
    text = " " + re.sub(r"[^\w']+", " ", seed.instruction.lower().replace("\u2019", "'")) + " "
    found = []
    for attr, value in seed.input_cues.items():
        for v in (value if isinstance(value, list) else [value]):
            for phrase in (lex.get(attr) or {}).get(str(v), []):
                if f" {phrase} " in text:
                    found.append(f"{attr}={v}: {phrase!r}")
    return found


def lint(catalogue: Catalogue) -> list[str]:
    """Catalogue-wide problems a single task file cannot show: instructions that give their cue away,
    thin task x level cells, languages with too few seeds, duplicate seeds (same text and cues)."""
    lex = _giveaways()
    problems = []
    texts: dict[str, str] = {}
    for t in catalogue.tasks:
        per_level = t.seeds_per_level()
        for lv in t.levels:
            if per_level[lv] < MIN_SEEDS_PER_CELL:
                problems.append(f"{t.path}: level {lv} has {per_level[lv]} seed(s); give it at least {MIN_SEEDS_PER_CELL}")
        for s in t.seeds:
            emos = s.input_cues.get("emotion")
            for e in (emos if isinstance(emos, list) else [emos] if emos else []):
                if e not in INPUT_EMOTIONS:
                    problems.append(f"{t.path}: {s.id}: input emotion {e!r} cannot be told apart from one clip; "
                                    f"use one of {', '.join(INPUT_EMOTIONS)}")
            for g in cue_giveaways(s, lex):
                problems.append(f"{t.path}: {s.id}: the instruction names its own cue ({g}); let the voice carry it")
            # the same words with other cues are a minimal pair (only the voice differs): wanted
            key = repr((s.instruction, sorted(s.input_cues.items(), key=str)))
            if key in texts:
                problems.append(f"{t.path}: {s.id}: same instruction and cues as {texts[key]}")
            texts.setdefault(key, s.id)
    langs = Counter(s.language for s in catalogue.seeds())
    for lang, n in sorted(langs.items()):
        if n < MIN_SEEDS_PER_LANGUAGE:
            problems.append(f"language {lang}: {n} seed(s); give it at least {MIN_SEEDS_PER_LANGUAGE} or drop it")
    return problems
