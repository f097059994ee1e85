"""Data contracts shared by every face of S2S-Arena (see DESIGN.md, "Data contracts").

Everything that crosses a module boundary (a benchmark sample, a judge verdict, a human vote, a
system's metadata) is one of the dataclasses below, and every attribute of an instruction or a
response is checked against one vocabulary, so a typo in a task file fails loudly and early.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from s2s_arena.errors import ArenaError

LEVELS: tuple[str, ...] = ("L0", "L1", "L2", "L3")
LEVEL_DESCRIPTIONS: dict[str, str] = {
    "L0": "no paralinguistics in the instruction, none required in the response",
    "L1": "paralinguistics in the instruction must be understood; none required in the response",
    "L2": "no paralinguistics in the instruction; the response must produce them",
    "L3": "paralinguistics in the instruction and required in the response",
}
STAGES: tuple[str, ...] = ("seed", "augment")

# --- the requirement vocabulary -------------------------------------------------------------------
# Closed vocabularies: the value (or every element of a list, for sequences) must be one of these.
CLOSED_VOCABULARY: dict[str, tuple[str, ...]] = {
    "speaking_rate": ("slow", "normal", "fast"),
    "pitch": ("low", "normal", "high"),
    "volume": ("quiet", "normal", "loud"),
    "voice_quality": ("modal", "whisper", "breathy", "creaky"),
    "emotion": (
        "neutral", "happy", "sad", "angry", "fearful", "surprised", "disgusted", "calm", "sarcastic",
    ),
    "speaker_gender": ("female", "male"),
    "speaker_age": ("child", "adult", "elderly"),
    "style": ("singing", "reciting", "storytelling", "comedy", "tongue_twister", "sound_effect"),
}
# Open attributes: free values of a given shape.
OPEN_ATTRIBUTES: dict[str, str] = {
    "pauses": "a count (int >= 1) or a list of words after which to pause",
    "emphasis": "a word (or list of words) to stress",
    "accent": "an accent name, e.g. 'british', 'indian', 'scottish'",
    "language": "a BCP-47 tag, e.g. 'en', 'zh', 'es-MX'",
    "repetitions": "an int >= 1",
    "noise": "a background-noise type, e.g. 'babble', 'street', 'white' (instruction side only)",
    "snr_db": "a number: signal-to-noise ratio in dB (instruction side only, with noise)",
}
VOCABULARY: tuple[str, ...] = tuple(CLOSED_VOCABULARY) + tuple(OPEN_ATTRIBUTES)
# Requirements about WHAT is said rather than how: a neutral delivery of the right words meets them.
CONTENT_ATTRIBUTES: frozenset[str] = frozenset({"language", "repetitions"})
# Separates the parts of a multi-part text (a reference response said in three deliveries, the
# segments a synthesizer renders one by one, the parts prosody measures separately).
PART_SEPARATOR = "|"
INPUT_ONLY: frozenset[str] = frozenset({"noise", "snr_db"})
# Attributes whose value may be a list meaning "in sequence" (e.g. fast, then normal, then slow).
SEQUENCE_ATTRIBUTES: frozenset[str] = frozenset(
    {"speaking_rate", "pitch", "volume", "voice_quality", "emotion", "language", "emphasis"}
)

_BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# --- verdicts and votes -----------------------------------------------------------------------------
VERDICTS: tuple[str, ...] = ("A>>B", "A>B", "A=B", "B>A", "B>>A", "both_bad", "invalid")
ASPECTS: tuple[str, ...] = ("content", "paralinguistics", "quality")
# The outcome alphabet shared by votes and resolved verdicts, with system A's score in each: a tie and
# "both bad" count half a win for the rating; "both bad" is kept apart so a both-bad rate can be shown.
WINNER_SCORE: dict[str, float] = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


@dataclass(frozen=True)
class VerdictMeaning:
    """What one verdict string means: who won (a|b|tie|both_bad|invalid), system A's score (None for
    invalid), the signed strength of the preference from A's side (2, 1, 0, -1, -2) and the same
    judgement with A and B swapped. Every reader of verdict strings goes through this one table."""

    verdict: str
    winner: str
    score_a: float | None
    strength: int
    flipped: str


VERDICT_MEANING: dict[str, VerdictMeaning] = {m.verdict: m for m in (
    VerdictMeaning("A>>B", "a", 1.0, 2, "B>>A"),
    VerdictMeaning("A>B", "a", 1.0, 1, "B>A"),
    VerdictMeaning("A=B", "tie", 0.5, 0, "A=B"),
    VerdictMeaning("B>A", "b", 0.0, -1, "A>B"),
    VerdictMeaning("B>>A", "b", 0.0, -2, "A>>B"),
    VerdictMeaning("both_bad", "both_bad", 0.5, 0, "both_bad"),
    VerdictMeaning("invalid", "invalid", None, 0, "invalid"),
)}
WINNERS: tuple[str, ...] = tuple(WINNER_SCORE)
FAILURES: tuple[str, ...] = ("worse", "attempted_failed", "not_understood")
SYSTEM_KINDS: tuple[str, ...] = ("academic", "industrial")
ARCHITECTURES: tuple[str, ...] = ("cascade", "end-to-end", "hybrid", "reference", "other")


class SchemaError(ArenaError, ValueError):
    """A record or file does not match a data contract. The message names where and which field."""

    def __init__(self, where: str, field_name: str | None, message: str):
        self.where, self.field, self.detail = where, field_name, message
        loc = f"{where}: field '{field_name}'" if field_name else where
        super().__init__(f"{loc}: {message}")


def verdict_meaning(verdict: str, where: str = "verdict", field_name: str = "verdict") -> VerdictMeaning:
    """The meaning of a verdict string; a SchemaError naming ``where`` and the field otherwise."""
    try:
        return VERDICT_MEANING[verdict]
    except (KeyError, TypeError):
        raise SchemaError(where, field_name, f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}") from None


def flip_verdict(verdict: str) -> str:
    """The same judgement seen with A and B swapped."""
    return verdict_meaning(verdict).flipped


def verdict_winner(verdict: str) -> str:
    """a | b | tie | both_bad | invalid."""
    return verdict_meaning(verdict).winner


def verdict_score(verdict: str) -> float | None:
    """A's score in a verdict (1 win, 0.5 tie or both bad, 0 loss); None for invalid."""
    return verdict_meaning(verdict).score_a


def verdict_for(winner: str, strong: bool = False) -> str:
    """The verdict string of an outcome (a|b|tie|both_bad|invalid), e.g. ``a`` -> ``A>B``."""
    if winner == "a":
        return "A>>B" if strong else "A>B"
    if winner == "b":
        return "B>>A" if strong else "B>A"
    return {"tie": "A=B", "both_bad": "both_bad", "invalid": "invalid"}[winner]


def _check_value(attr: str, value: Any, where: str, field_path: str) -> None:
    if attr in CLOSED_VOCABULARY:
        allowed = CLOSED_VOCABULARY[attr]
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and attr not in SEQUENCE_ATTRIBUTES:
            raise SchemaError(where, field_path, f"{attr} takes one value, got a list {value!r}")
        if not values:
            raise SchemaError(where, field_path, "an empty list; give at least one value")
        for v in values:
            if v not in allowed:
                raise SchemaError(where, field_path, f"unknown value {v!r}; expected one of {', '.join(allowed)}")
        return
    if attr == "pauses":
        if isinstance(value, bool) or not (
            (isinstance(value, int) and value >= 1)
            or (isinstance(value, list) and value and all(isinstance(w, str) and w for w in value))
        ):
            raise SchemaError(where, field_path, f"expected {OPEN_ATTRIBUTES['pauses']}, got {value!r}")
    elif attr == "repetitions":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SchemaError(where, field_path, f"expected {OPEN_ATTRIBUTES['repetitions']}, got {value!r}")
    elif attr == "snr_db":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(where, field_path, f"expected {OPEN_ATTRIBUTES['snr_db']}, got {value!r}")
    elif attr == "language":
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, str) or not _BCP47.match(v):
                raise SchemaError(where, field_path, f"expected {OPEN_ATTRIBUTES['language']}, got {v!r}")
    elif attr == "emphasis":
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise SchemaError(where, field_path, f"expected {OPEN_ATTRIBUTES['emphasis']}, got {value!r}")
    elif attr in ("accent", "noise"):
        if not isinstance(value, str) or not value.strip():
            raise SchemaError(where, field_path, f"expected {OPEN_ATTRIBUTES[attr]}, got {value!r}")


def validate_attributes(
    attrs: Mapping[str, Any] | None, *, where: str, field_name: str = "requirements", input_side: bool = False
) -> dict[str, Any]:
    """Check a requirements / input_cues mapping against the vocabulary; return a plain dict copy.

    ``where`` names the file or record (it starts every error message); ``input_side`` allows the
    instruction-only attributes (noise, snr_db).
    """
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise SchemaError(where, field_name, f"expected a mapping of attribute -> value, got {type(attrs).__name__}")
    out: dict[str, Any] = {}
    for attr, value in attrs.items():
        path = f"{field_name}.{attr}"
        if attr not in VOCABULARY:
            raise SchemaError(where, path, f"unknown attribute; expected one of {', '.join(VOCABULARY)}")
        if attr in INPUT_ONLY and not input_side:
            raise SchemaError(where, path, f"'{attr}' describes instruction audio only (input_cues), not a response")
        _check_value(attr, value, where, path)
        out[attr] = list(value) if isinstance(value, list) else value
    if "snr_db" in out and "noise" not in out:
        raise SchemaError(where, f"{field_name}.snr_db", "snr_db needs a 'noise' type beside it")
    return out


def _require(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d or d[key] is None or d[key] == "":
        raise SchemaError(where, key, "missing (required)")
    return d[key]


def _check_choice(value: Any, allowed: Iterable[str], where: str, field_name: str) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise SchemaError(where, field_name, f"unknown value {value!r}; expected one of {', '.join(map(str, allowed))}")


class _Record:
    """Common to_dict / from_dict for the contract dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def _known(cls, d: Mapping[str, Any], where: str) -> dict[str, Any]:
        if not isinstance(d, Mapping):
            raise SchemaError(where, None, f"expected an object, got {type(d).__name__}")
        names = set(cls.field_names())
        unknown = sorted(set(d) - names)
        if unknown:
            raise SchemaError(where, unknown[0], f"unknown field; {cls.__name__} has {', '.join(sorted(names))}")
        return dict(d)


@dataclass
class Requirement(_Record):
    """One attribute a response must show (or an instruction carries), e.g. speaking_rate = [fast, slow]."""

    attribute: str
    value: Any

    def __post_init__(self) -> None:
        validate_attributes({self.attribute: self.value}, where="requirement", input_side=True)

    @staticmethod
    def from_mapping(attrs: Mapping[str, Any]) -> list["Requirement"]:
        return [Requirement(k, v) for k, v in attrs.items()]


@dataclass
class Sample(_Record):
    """One benchmark row. ``audio`` is whatever the caller holds (path, bytes dict, decoded dict)."""

    id: str
    level: str
    domain: str
    task: str
    language: str
    instruction_text: str
    evaluation_target: str
    requirements: dict[str, Any] = field(default_factory=dict)
    input_cues: dict[str, Any] = field(default_factory=dict)
    reference_response: str = ""
    seed_id: str = ""
    stage: str = "seed"
    augmentation: dict[str, Any] = field(default_factory=dict)
    source: str = "tts:espeak-ng"
    qa: dict[str, Any] = field(default_factory=dict)
    audio: Any = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        where = f"sample {self.id!r}" if self.id else "sample"
        for key in ("id", "domain", "task", "language", "instruction_text", "evaluation_target"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key).strip():
                raise SchemaError(where, key, "missing or empty (a non-empty string is required)")
        _check_choice(self.level, LEVELS, where, "level")
        _check_choice(self.stage, STAGES, where, "stage")
        _check_value("language", self.language, where, "language")
        self.requirements = validate_attributes(self.requirements, where=where, field_name="requirements")
        self.input_cues = validate_attributes(self.input_cues, where=where, field_name="input_cues", input_side=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str | None = None) -> "Sample":
        if where is None:
            where = f"sample {d.get('id', '?')!r}" if isinstance(d, Mapping) else "sample"
        d = cls._known(d, where)
        for key in ("id", "level", "task", "instruction_text"):
            _require(d, key, where)
        d.setdefault("domain", "unknown")
        d.setdefault("language", "en")
        d.setdefault("evaluation_target", "Which response follows the spoken instruction better?")
        return cls(**d)


@dataclass
class SystemInfo(_Record):
    """``RESP/<system>/system.json``: who made a system and how it is built (for grouped breakdowns)."""

    name: str
    version: str = ""
    organisation: str = ""
    kind: str = "academic"
    architecture: str = "other"
    backbone: str = ""
    description: str = ""
    spec: str = ""

    def __post_init__(self) -> None:
        where = f"system {self.name!r}"
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+\-]*", self.name or ""):
            raise SchemaError(where, "name", "expected a non-empty name of letters, digits, '.', '_', '+', '-'")
        _check_choice(self.kind, SYSTEM_KINDS, where, "kind")
        _check_choice(self.architecture, ARCHITECTURES, where, "architecture")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "system.json") -> "SystemInfo":
        d = cls._known(d, where)
        _require(d, "name", where)
        try:
            return cls(**d)
        except SchemaError as e:
            raise SchemaError(where, e.field, e.detail) from None


@dataclass
class Response(_Record):
    """One system's spoken response to one sample (a row of ``RESP/<system>/manifest.jsonl``)."""

    sample_id: str
    system: str
    audio_path: str = ""
    text: str = ""
    latency_first_audio_s: float | None = None
    latency_total_s: float | None = None
    error: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"response {self.system!r}/{self.sample_id!r}"
        if not self.sample_id:
            raise SchemaError(where, "sample_id", "missing (required)")
        if not self.system:
            raise SchemaError(where, "system", "missing (required)")

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.audio_path)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "response") -> "Response":
        return cls(**cls._known(d, where))


@dataclass
class Verdict(_Record):
    """A judge's decision on one ordered pair (A shown first)."""

    sample_id: str
    system_a: str
    system_b: str
    verdict: str
    order: str = "ab"
    content: str = "A=B"
    paralinguistics: str = "A=B"
    quality: str = "A=B"
    reason: str = ""
    judge: str = ""
    judge_version: str = ""
    prompt_hash: str = ""
    latency_s: float = 0.0
    # The judged sample's covariates, so a verdict file alone can be broken down (leaderboard --by
    # level) and its bootstrap can resample seeds (renderings of one instruction are not independent).
    level: str = ""
    domain: str = ""
    task: str = ""
    language: str = ""
    seed_id: str = ""

    def __post_init__(self) -> None:
        where = f"verdict {self.sample_id!r} ({self.system_a} vs {self.system_b})"
        if self.level:
            _check_choice(self.level, LEVELS, where, "level")
        for key in ("sample_id", "system_a", "system_b"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise SchemaError(where, key, "missing or empty")
        if self.system_a == self.system_b:
            raise SchemaError(where, "system_b", f"a system cannot be paired with itself ({self.system_a!r})")
        _check_choice(self.verdict, VERDICTS, where, "verdict")
        _check_choice(self.order, ("ab", "ba"), where, "order")
        for aspect in ASPECTS:
            _check_choice(getattr(self, aspect), VERDICTS, where, aspect)

    @property
    def score_a(self) -> float | None:
        return verdict_score(self.verdict)

    @property
    def judge_key(self) -> tuple[str, str, str]:
        """Which judge configuration decided this row: rows of two configurations never resolve together."""
        return (self.judge, self.judge_version, self.prompt_hash)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "verdict") -> "Verdict":
        return cls(**cls._known(d, where))

    @classmethod
    def from_row(cls, d: Mapping[str, Any], where: str = "verdict") -> "Verdict":
        """A verdict from a row that may carry more (calibration labels, style features): extra keys are
        ignored, the contract's own fields are checked."""
        if not isinstance(d, Mapping):
            raise SchemaError(where, None, f"expected an object, got {type(d).__name__}")
        names = set(cls.field_names())
        return cls(**{k: v for k, v in d.items() if k in names and v is not None})

    @staticmethod
    def sample_fields(sample: "Sample") -> dict[str, str]:
        """The covariates a verdict row copies from its sample."""
        return {"level": sample.level, "domain": sample.domain, "task": sample.task,
                "language": sample.language, "seed_id": sample.seed_id or sample.id}


@dataclass
class Vote(_Record):
    """A human vote, append-only. ``system_a`` / ``system_b`` are as shown (left / right)."""

    vote_id: str
    session: str
    sample_id: str
    system_a: str
    system_b: str
    winner: str
    shown_at: float = 0.0
    voted_at: float = 0.0
    p_pair: float | None = None
    failure: str | None = None
    listened_a: float = 0.0
    listened_b: float = 0.0
    counted: bool = True
    exclusion_reason: str = ""
    app_version: str = ""

    def __post_init__(self) -> None:
        where = f"vote {self.vote_id!r}"
        for key in ("vote_id", "sample_id", "system_a", "system_b"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise SchemaError(where, key, "missing or empty")
        if self.system_a == self.system_b:
            raise SchemaError(where, "system_b", f"a system cannot be paired with itself ({self.system_a!r})")
        _check_choice(self.winner, WINNERS, where, "winner")
        if self.failure is not None:
            _check_choice(self.failure, FAILURES, where, "failure")
        if self.p_pair is not None and not (0.0 < float(self.p_pair) <= 1.0):
            raise SchemaError(where, "p_pair", f"expected a probability in (0, 1], got {self.p_pair!r}")

    @property
    def score_a(self) -> float:
        return WINNER_SCORE[self.winner]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "vote") -> "Vote":
        return cls(**cls._known(d, where))


# Mapping columns are stored as JSON text in the Hugging Face dataset: their values mix strings,
# numbers and lists ("fast" vs ["fast", "normal", "slow"]), which no single Arrow type holds.
JSON_COLUMNS: tuple[str, ...] = ("requirements", "input_cues", "augmentation", "qa")
# One row of the Hugging Face dataset: every Sample field, in the data contract's column order, with what
# it means (the dataset card documents the fields from here, the writer writes exactly these columns).
SAMPLE_FIELD_DOCS: dict[str, str] = {
    "id": "sample id: `<seed_id>-s` (stage 1), `<seed_id>-a<k>` (stage-2 variant k), or a human recording's id",
    "level": "L0-L3 (see Levels)",
    "domain": "the task's domain",
    "task": "task id (also the name of the task's config)",
    "language": "BCP-47 language of the spoken instruction",
    "instruction_text": "transcript of the spoken instruction (the paraphrase, when one was used)",
    "audio": "the spoken instruction, 24 kHz mono FLAC",
    "input_cues": "JSON: paralinguistic attributes present in the instruction audio",
    "requirements": "JSON: what the spoken response must do, in the requirement vocabulary",
    "evaluation_target": "one sentence a voter or judge answers",
    "reference_response": "text of a good answer (guidance only; evaluation is reference-free)",
    "seed_id": "the catalogue seed this sample renders (its renderings share it: bootstraps resample seeds)",
    "stage": "`seed` (stage 1) or `augment` (stage 2)",
    "augmentation": ("JSON: `voice` (`piper:<speaker>` or an eSpeak NG voice), `rate` (x the cue's rate), `pitch` "
                     "(st), `condition`, `subset` (main | robustness), `noise`, `snr_db` (target; in a room: "
                     "reverberant speech over room tone), `snr_measured_db`, `rir` (`rt60_s`, `drr_db` "
                     "direct-to-reverberant ratio, `c50_db` clarity), `paraphrased`"),
    "source": "`tts:piper` (neural voice), `tts:espeak-ng` (formant synthesis) or `human`",
    "qa": ("JSON: `measured` prosody (and the `neutral` twin's), `checks` (each with expected/measured/pass), "
           "`asr_text`, `wer`, `max_wer`, `asr` (the gate's recogniser), `gate` (every try: voice, condition, WER; "
           "outcome), `pass`, `reasons`"),
}
DATASET_COLUMNS: tuple[str, ...] = tuple(SAMPLE_FIELD_DOCS)
if set(DATASET_COLUMNS) != set(Sample.field_names()):  # pragma: no cover - a contract edited in one place only
    raise RuntimeError(f"SAMPLE_FIELD_DOCS and Sample disagree: {sorted(set(DATASET_COLUMNS) ^ set(Sample.field_names()))}")


def sample_from_row(row: Mapping[str, Any], where: str | None = None) -> Sample:
    """Build a Sample from a dataset row (JSON-text columns decoded), ignoring unknown columns. The
    one reader of dataset rows: the benchmark loader, the metric and the writer's check go through it."""
    import json

    names = set(Sample.field_names())
    where = where or f"sample {row.get('id', '?')!r}"
    d = {k: v for k, v in row.items() if k in names}
    for key in JSON_COLUMNS:
        if isinstance(d.get(key), str):
            try:
                d[key] = json.loads(d[key]) if d[key].strip() else {}
            except json.JSONDecodeError as e:
                raise SchemaError(where, key, f"not valid JSON text ({e})") from None
    return Sample.from_dict(d, where=where)
