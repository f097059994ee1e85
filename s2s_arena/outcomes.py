"""Pairwise outcomes: one normalised table for human votes, judge verdicts and the v1 human labels.

Every rating and agreement statistic works on an :class:`Outcomes` table, whatever the source:

* our judge verdicts (``s2s-arena judge``; JSONL or CSV; ``verdict`` in :data:`schema.VERDICTS`),
* our human votes (the Space; JSONL, CSV or the SQLite vote store; ``winner`` a|b|tie|both_bad),
* the S2S-Arena v1 human labels in the TRACE format (a JSON list; ``label`` per dimension with
  values ``1``, ``2``, ``both_good``, ``both_bad``).

``score_a`` is system A's score (1 win, 0.5 tie, 0 loss). "Both bad" counts as a tie for the rating
and is kept as its own flag so the leaderboard can report a per-system both-bad rate.
"""

from __future__ import annotations

from s2s_arena.errors import MissingError
import csv
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .schema import VERDICTS, SchemaError

DIMENSIONS: tuple[str, ...] = ("overall", "content", "paralinguistics", "voice_quality")
FORMATS: tuple[str, ...] = ("auto", "votes", "verdicts", "s2s-arena-v1")
# Sample covariates a breakdown can group by (taken from the record when present).
SAMPLE_COVARIATES: tuple[str, ...] = ("level", "domain", "task", "language")
# Style features for style control: each record may carry ``<feature>_a`` and ``<feature>_b``
# (measured on the two responses); the table keeps the difference A - B.
STYLE_FEATURES: tuple[str, ...] = ("duration", "loudness", "speaking_rate")

# Which verdict field holds each dimension (the judge's per-aspect verdicts use "quality").
_VERDICT_FIELD = {"overall": "verdict", "content": "content", "paralinguistics": "paralinguistics",
                  "voice_quality": "quality"}
_WINNER_SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
_V1_LABEL = {"1": "a", "2": "b", "both_good": "tie", "both_bad": "both_bad"}
_VERDICT_WINNER = {"A>>B": "a", "A>B": "a", "A=B": "tie", "B>A": "b", "B>>A": "b", "both_bad": "both_bad"}


@dataclass
class Outcomes:
    """A columnar table of pairwise outcomes (numpy arrays of equal length).

    ``first_is_a`` says whether system A was presented first (left, or first in the judge prompt); our
    votes and verdicts always name the first-presented system ``system_a``, so it is True for them;
    ``source`` names the file(s) the rows came from; ``n_invalid`` counts judge verdicts dropped as
    ``invalid`` and ``n_excluded`` votes the Space marked as not counted. ``self_pairs`` holds the
    scores of identical pairs (a system against itself, a judge calibration control) when they were
    asked for with ``allow_self=True``; they never enter the table.
    """

    sample_id: np.ndarray
    system_a: np.ndarray
    system_b: np.ndarray
    score_a: np.ndarray
    is_tie: np.ndarray
    both_bad: np.ndarray
    weight: np.ndarray
    first_is_a: np.ndarray
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    style: dict[str, np.ndarray] = field(default_factory=dict)
    annotator: np.ndarray | None = None
    source: str = ""
    n_invalid: int = 0
    n_excluded: int = 0
    self_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0))

    # --- basic views -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.score_a.shape[0])

    @property
    def level(self) -> np.ndarray | None:
        return self.covariates.get("level")

    @property
    def domain(self) -> np.ndarray | None:
        return self.covariates.get("domain")

    @property
    def task(self) -> np.ndarray | None:
        return self.covariates.get("task")

    @property
    def language(self) -> np.ndarray | None:
        return self.covariates.get("language")

    @property
    def systems(self) -> list[str]:
        import pandas as pd

        return sorted(set(pd.unique(self.system_a).tolist()) | set(pd.unique(self.system_b).tolist()))

    def codes(self, systems: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Systems (sorted) and the integer index of A and B in every row."""
        import pandas as pd

        systems = list(systems) if systems is not None else self.systems
        ia = pd.Categorical(self.system_a, categories=systems).codes.astype(np.int64)
        ib = pd.Categorical(self.system_b, categories=systems).codes.astype(np.int64)
        if (ia < 0).any() or (ib < 0).any():
            raise SchemaError(self.source or "outcomes", "system_a",
                              f"outcomes name systems outside {', '.join(systems)}")
        return systems, ia, ib

    def winner(self) -> np.ndarray:
        """Outcome labels a|b|tie|both_bad (as in votes)."""
        out = np.where(self.score_a == 1.0, "a", np.where(self.score_a == 0.0, "b", "tie")).astype(object)
        out[self.both_bad] = "both_bad"
        return out

    def subset(self, mask: np.ndarray) -> "Outcomes":
        mask = np.asarray(mask)
        return Outcomes(
            sample_id=self.sample_id[mask], system_a=self.system_a[mask], system_b=self.system_b[mask],
            score_a=self.score_a[mask], is_tie=self.is_tie[mask], both_bad=self.both_bad[mask],
            weight=self.weight[mask], first_is_a=self.first_is_a[mask],
            covariates={k: v[mask] for k, v in self.covariates.items()},
            style={k: v[mask] for k, v in self.style.items()},
            annotator=None if self.annotator is None else self.annotator[mask],
            source=self.source, n_invalid=self.n_invalid, n_excluded=self.n_excluded,
            self_pairs=self.self_pairs,
        )

    def to_frame(self):
        """A pandas DataFrame with one row per outcome."""
        import pandas as pd

        cols: dict[str, Any] = {
            "sample_id": self.sample_id, "system_a": self.system_a, "system_b": self.system_b,
            "score_a": self.score_a, "is_tie": self.is_tie, "both_bad": self.both_bad,
            "weight": self.weight, "first_is_a": self.first_is_a,
        }
        cols.update(self.covariates)
        cols.update({f"style_{k}": v for k, v in self.style.items()})
        if self.annotator is not None:
            cols["annotator"] = self.annotator
        return pd.DataFrame(cols)

    @staticmethod
    def concat(parts: Sequence["Outcomes"]) -> "Outcomes":
        """Rows of several tables in order; covariates missing from a part are filled with None/NaN."""
        if not parts:
            raise SchemaError("outcomes", None, "nothing to concatenate (no input files)")
        if len(parts) == 1:
            return parts[0]
        cov_keys = sorted({k for p in parts for k in p.covariates})
        style_keys = sorted({k for p in parts for k in p.style})

        def cat(get, fill):
            return np.concatenate([get(p) if get(p) is not None else np.full(len(p), fill, dtype=object)
                                   for p in parts])

        annot = None
        if any(p.annotator is not None for p in parts):
            annot = cat(lambda p: p.annotator, None)
        return Outcomes(
            sample_id=cat(lambda p: p.sample_id, None), system_a=cat(lambda p: p.system_a, None),
            system_b=cat(lambda p: p.system_b, None),
            score_a=np.concatenate([p.score_a for p in parts]),
            is_tie=np.concatenate([p.is_tie for p in parts]),
            both_bad=np.concatenate([p.both_bad for p in parts]),
            weight=np.concatenate([p.weight for p in parts]),
            first_is_a=np.concatenate([p.first_is_a for p in parts]),
            covariates={k: cat(lambda p, k=k: p.covariates.get(k), None) for k in cov_keys},
            style={k: np.concatenate([p.style.get(k, np.full(len(p), np.nan)) for p in parts]).astype(float)
                   for k in style_keys},
            annotator=annot,
            source=" + ".join(p.source for p in parts if p.source),
            n_invalid=sum(p.n_invalid for p in parts), n_excluded=sum(p.n_excluded for p in parts),
            self_pairs=np.concatenate([p.self_pairs for p in parts]),
        )

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def from_records(
        cls,
        rows: Iterable[Mapping[str, Any]],
        where: str = "records",
        *,
        dimension: str = "overall",
        allow_self: bool = False,
        weights: bool = True,
    ) -> "Outcomes":
        """Build the table from dicts with ``system_a``, ``system_b`` and one of ``winner`` (votes),
        ``verdict`` (judge verdicts; ``invalid`` rows are dropped and counted), ``score_a``, or a v1
        ``label`` mapping. ``where`` names the source in error messages (``<where>: record <i>``).

        Votes carrying ``p_pair`` get the inverse-propensity weight ``1 / p_pair`` (``weights=False``
        ignores it); votes with ``counted: false`` are skipped and counted in ``n_excluded``.
        """
        _check_dimension(dimension, where)
        cols: dict[str, list] = {k: [] for k in ("sample_id", "a", "b", "score", "tie", "bad", "w", "first")}
        cov: dict[str, list] = {k: [] for k in SAMPLE_COVARIATES}
        style: dict[str, list] = {k: [] for k in STYLE_FEATURES}
        annot: list = []
        self_scores: list[float] = []
        n_invalid = n_excluded = 0
        n_rows = 0
        for i, row in enumerate(rows):
            n_rows += 1
            rec = f"{where}: record {i}"
            if not isinstance(row, Mapping):
                raise SchemaError(rec, None, f"expected an object, got {type(row).__name__}")
            if row.get("counted") in (False, 0, "false", "False", "0"):
                n_excluded += 1
                continue
            a, b = _system(row, "system_a", "model_a", rec), _system(row, "system_b", "model_b", rec)
            winner = _winner(row, dimension, rec)
            if winner is None:
                n_invalid += 1
                continue
            score = _WINNER_SCORE[winner] if isinstance(winner, str) else winner
            if a == b:
                if not allow_self:
                    raise SchemaError(rec, "system_b", f"a system cannot be paired with itself ({a!r})")
                self_scores.append(score)
                continue
            w = 1.0
            if weights and row.get("p_pair") not in (None, ""):
                p = _number(row["p_pair"], rec, "p_pair")
                if not 0.0 < p <= 1.0:
                    raise SchemaError(rec, "p_pair", f"expected a probability in (0, 1], got {row['p_pair']!r}")
                w = 1.0 / p
            elif row.get("weight") not in (None, ""):
                w = _number(row["weight"], rec, "weight")
                if not w > 0:
                    raise SchemaError(rec, "weight", f"expected a positive number, got {row['weight']!r}")
            sid = row.get("sample_id", row.get("instruction_id"))
            cols["sample_id"].append(str(sid) if sid not in (None, "") else f"#{where}:{i}")
            cols["a"].append(a)
            cols["b"].append(b)
            cols["score"].append(score)
            cols["tie"].append(score == 0.5)
            cols["bad"].append(winner == "both_bad")
            cols["w"].append(w)
            # system_a is the system presented first (left in the Space, first in the judge prompt:
            # the metric writes a swapped-order verdict with the systems swapped, order="ba").
            cols["first"].append(True)
            for k in SAMPLE_COVARIATES:
                v = row.get(k)
                cov[k].append(None if v in (None, "") else str(v))
            for k in STYLE_FEATURES:
                style[k].append(_style_diff(row, k, rec))
            annot.append(row.get("session") or row.get("judge") or row.get("annotator"))
        if n_rows == 0:
            raise SchemaError(where, None, "no records (empty input)")
        if not cols["a"] and not self_scores:
            raise SchemaError(where, None, f"no usable outcomes ({n_invalid} invalid, {n_excluded} not counted)")
        return cls(
            sample_id=np.array(cols["sample_id"], dtype=object),
            system_a=np.array(cols["a"], dtype=object), system_b=np.array(cols["b"], dtype=object),
            score_a=np.array(cols["score"], dtype=float), is_tie=np.array(cols["tie"], dtype=bool),
            both_bad=np.array(cols["bad"], dtype=bool), weight=np.array(cols["w"], dtype=float),
            first_is_a=np.array(cols["first"], dtype=bool),
            covariates={k: np.array(v, dtype=object) for k, v in cov.items() if any(x is not None for x in v)},
            style={k: np.array(v, dtype=float) for k, v in style.items() if not np.all(np.isnan(v))},
            annotator=np.array(annot, dtype=object) if any(x is not None for x in annot) else None,
            source=where, n_invalid=n_invalid, n_excluded=n_excluded,
            self_pairs=np.array(self_scores, dtype=float),
        )


def _check_dimension(dimension: str, where: str) -> None:
    if dimension not in DIMENSIONS:
        raise SchemaError(where, "dimension", f"unknown dimension {dimension!r}; expected one of {', '.join(DIMENSIONS)}")


def _system(row: Mapping[str, Any], key: str, alt: str, rec: str) -> str:
    name = row.get(key, row.get(alt))
    if not isinstance(name, str) or not name.strip():
        raise SchemaError(rec, key, f"missing or empty system name (got {name!r})")
    return name.strip()


def _number(value: Any, rec: str, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SchemaError(rec, name, f"expected a number, got {value!r}") from None
    if not np.isfinite(x):
        raise SchemaError(rec, name, f"expected a finite number, got {value!r}")
    return x


def _style_diff(row: Mapping[str, Any], feature: str, rec: str) -> float:
    va, vb = row.get(f"{feature}_a"), row.get(f"{feature}_b")
    if va in (None, "") or vb in (None, ""):
        return float("nan")
    return _number(va, rec, f"{feature}_a") - _number(vb, rec, f"{feature}_b")


def _winner(row: Mapping[str, Any], dimension: str, rec: str) -> str | float | None:
    """The outcome of one record as a|b|tie|both_bad (or a raw score_a); None = invalid verdict."""
    if isinstance(row.get("label"), Mapping):  # S2S-Arena v1 (TRACE)
        label = row["label"].get(dimension)
        if label is None:
            raise SchemaError(rec, f"label.{dimension}", f"missing; this record has {', '.join(row['label'])}")
        if str(label) not in _V1_LABEL:
            raise SchemaError(rec, f"label.{dimension}",
                              f"unknown label {label!r}; expected one of {', '.join(_V1_LABEL)}")
        return _V1_LABEL[str(label)]
    if "verdict" in row:
        if row.get("verdict") == "invalid":
            return None  # an unparsable judgement: its per-aspect fields are defaults, not verdicts
        key = _VERDICT_FIELD[dimension]
        verdict = row.get(key)
        if verdict in (None, ""):
            raise SchemaError(rec, key, "missing verdict")
        if verdict not in VERDICTS:
            raise SchemaError(rec, key, f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
        return None if verdict == "invalid" else _VERDICT_WINNER[verdict]
    if dimension != "overall":
        raise SchemaError(rec, "dimension", f"votes have only the 'overall' dimension, not {dimension!r}")
    if "winner" in row:
        winner = row["winner"]
        if winner not in _WINNER_SCORE:
            raise SchemaError(rec, "winner", f"unknown outcome {winner!r}; expected one of a, b, tie, both_bad")
        return winner
    if "score_a" in row:
        s = _number(row["score_a"], rec, "score_a")
        if s not in (0.0, 0.5, 1.0):
            raise SchemaError(rec, "score_a", f"expected 1, 0.5 or 0, got {row['score_a']!r}")
        return {1.0: "a", 0.0: "b", 0.5: "tie"}[s]
    raise SchemaError(rec, "winner", "no outcome: expected one of 'winner' (votes), 'verdict' (judge), "
                                     "'score_a', or a v1 'label'")


# --- files --------------------------------------------------------------------------------------------
def detect_format(rows: Sequence[Mapping[str, Any]], where: str) -> str:
    """votes | verdicts | s2s-arena-v1, from the first record's fields."""
    if not rows:
        raise SchemaError(where, None, "no records (empty input)")
    first = rows[0]
    if not isinstance(first, Mapping):
        raise SchemaError(f"{where}: record 0", None, f"expected an object, got {type(first).__name__}")
    if isinstance(first.get("label"), Mapping) and "model_a" in first:
        return "s2s-arena-v1"
    if "verdict" in first:
        return "verdicts"
    if "winner" in first or "score_a" in first:
        return "votes"
    raise SchemaError(f"{where}: record 0", None,
                      "cannot tell the format: expected 'winner' (votes), 'verdict' (judge verdicts) "
                      "or 'label' + 'model_a' (S2S-Arena v1)")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL, JSON (list, or {"votes"|"verdicts"|"records": [...]}), CSV or SQLite file."""
    path = Path(path)
    if not path.is_file():
        raise MissingError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        return _read_sqlite(path)
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise SchemaError(str(path), None, "empty file (no records)")
    suffix = path.suffix.lower()
    if suffix == ".csv" or (suffix not in (".json", ".jsonl") and not text.lstrip().startswith(("{", "["))):
        return _read_csv(path, text)
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(str(path), None, f"not valid JSON ({e})") from None
        return data
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if n == 1:  # perhaps one JSON object holding the list
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError:
                    raise SchemaError(f"{path}: line {n}", None, f"not valid JSON ({e})") from None
                for key in ("votes", "verdicts", "records", "data"):
                    if isinstance(obj, dict) and isinstance(obj.get(key), list):
                        return obj[key]
                raise SchemaError(str(path), None, "a JSON object without a list of records") from None
            raise SchemaError(f"{path}: line {n}", None, f"not valid JSON ({e})") from None
    if len(rows) == 1 and isinstance(rows[0], dict):
        for key in ("votes", "verdicts", "records", "data"):
            if isinstance(rows[0].get(key), list):
                return rows[0][key]
    return rows


def _read_csv(path: Path, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise SchemaError(str(path), None, "a CSV file without a header row")
    rows = []
    for row in reader:
        # Empty cells are absent values; JSON-looking cells (a v1 "label" column) are decoded.
        clean = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        if isinstance(clean.get("label"), str) and clean["label"].startswith("{"):
            clean["label"] = json.loads(clean["label"])
        rows.append(clean)
    return rows


def _read_sqlite(path: Path) -> list[dict[str, Any]]:
    """Votes from a SQLite vote store: the first table holding system_a, system_b and winner."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for table in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            if {"system_a", "system_b"} <= set(cols) and ("winner" in cols or "verdict" in cols):
                query = f'SELECT * FROM "{table}" ORDER BY rowid'
                if "battle_token" in cols and "battles" in tables:
                    # The Space keeps what was shown (level, domain, task, durations) per battle.
                    shown = [r[1] for r in con.execute('PRAGMA table_info("battles")')]
                    extra = [c for c in SAMPLE_COVARIATES + tuple(f"{f}_{s}" for f in STYLE_FEATURES for s in "ab")
                             if c in shown and c not in cols]
                    if "token" in shown and extra:
                        picks = ", ".join(f'b."{c}" AS "{c}"' for c in extra)
                        query = (f'SELECT v.*, {picks} FROM "{table}" v LEFT JOIN battles b '
                                 f'ON b.token = v.battle_token ORDER BY v.rowid')
                cur = con.execute(query)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()
    raise SchemaError(str(path), None,
                      f"no table with columns system_a, system_b and winner/verdict (tables: {', '.join(tables) or 'none'})")


def _v1_task(row: Mapping[str, Any]) -> str | None:
    # v1 instruction paths look like "input/<task>/<file>.wav".
    parts = str(row.get("instruction_path", "")).split("/")
    return parts[1] if len(parts) >= 3 else None


def load_outcomes(
    path: str | Path, fmt: str = "auto", dimension: str = "overall", *, allow_self: bool = False,
    weights: bool = True,
) -> Outcomes:
    """Read one file of votes, verdicts or v1 labels into an :class:`Outcomes` table."""
    where = str(path)
    if fmt not in FORMATS:
        raise SchemaError(where, "format", f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    _check_dimension(dimension, where)
    rows = read_rows(path)
    if not isinstance(rows, list):
        raise SchemaError(where, None, "expected a list of records")
    detected = detect_format(rows, where)
    if fmt != "auto" and fmt != detected:
        raise SchemaError(where, None, f"asked for format {fmt!r} but the records look like {detected!r}")
    if detected == "s2s-arena-v1":
        rows = [dict(r, sample_id=r.get("instruction_id"), task=_v1_task(r), language="en")
                if isinstance(r, Mapping) else r for r in rows]
    return Outcomes.from_records(rows, where, dimension=dimension, allow_self=allow_self, weights=weights)


def load_many(paths: Sequence[str | Path], fmt: str = "auto", dimension: str = "overall", **kw) -> Outcomes:
    return Outcomes.concat([load_outcomes(p, fmt, dimension, **kw) for p in paths])


def load_system_metadata(resp_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``RESP/<system>/system.json`` of every system under a responses folder, by system name."""
    from .schema import SystemInfo

    resp_dir = Path(resp_dir)
    if not resp_dir.is_dir():
        raise MissingError(f"{resp_dir}: no such folder (expected RESP/<system>/system.json)")
    meta: dict[str, dict[str, Any]] = {}
    for sj in sorted(resp_dir.glob("*/system.json")):
        try:
            d = json.loads(sj.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SchemaError(str(sj), None, f"not valid JSON ({e})") from None
        info = SystemInfo.from_dict(d, where=str(sj))
        meta[info.name] = info.to_dict()
        meta.setdefault(sj.parent.name, info.to_dict())
    if not meta:
        raise SchemaError(str(resp_dir), None, "no <system>/system.json files found")
    return meta


def measure_response_style(resp_dir: str | Path, system: str, sample_id: str,
                           texts: Mapping[tuple[str, str], str] | None = None) -> dict[str, float]:
    """Style features of one response ``RESP/<system>/<sample_id>.wav``: duration (s), loudness
    (LUFS) and speaking rate (words per second of the manifest transcript; NaN without one)."""
    from .audio import SAMPLE_RATE, load_audio, loudness_lufs

    path = Path(resp_dir) / system / f"{sample_id}.wav"
    if not path.is_file():
        return {k: float("nan") for k in STYLE_FEATURES}
    x = load_audio(path, sr=SAMPLE_RATE, where=str(path), check=False)
    duration = x.shape[0] / SAMPLE_RATE
    loud = loudness_lufs(x, SAMPLE_RATE)
    words = len((texts or {}).get((system, sample_id), "").split())
    return {"duration": duration, "loudness": loud if np.isfinite(loud) else float("nan"),
            "speaking_rate": words / duration if words and duration > 0 else float("nan")}


def attach_style(outcomes: Outcomes, resp_dir: str | Path) -> Outcomes:
    """Fill ``outcomes.style`` (A - B differences) by measuring the responses under ``resp_dir``
    (each response once). Features already carried by the records are kept; pairs whose audio is
    missing get NaN and are left out of a style-controlled fit."""
    resp_dir = Path(resp_dir)
    texts: dict[tuple[str, str], str] = {}
    for manifest in resp_dir.glob("*/manifest.jsonl"):
        for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SchemaError(f"{manifest}: line {n}", None, f"not valid JSON ({e})") from None
            if isinstance(row, Mapping) and row.get("text") and row.get("sample_id"):
                texts[(row.get("system") or manifest.parent.name, str(row["sample_id"]))] = str(row["text"])
    cache: dict[tuple[str, str], dict[str, float]] = {}

    def feats(system: str, sid: str) -> dict[str, float]:
        if (system, sid) not in cache:
            cache[(system, sid)] = measure_response_style(resp_dir, system, sid, texts)
        return cache[(system, sid)]

    style = dict(outcomes.style)
    for k in STYLE_FEATURES:
        if k in style and np.isfinite(style[k]).any():
            continue
        style[k] = np.array([feats(a, s)[k] - feats(b, s)[k] for a, b, s in
                             zip(outcomes.system_a, outcomes.system_b, outcomes.sample_id.astype(str))], dtype=float)
    out = outcomes.subset(np.ones(len(outcomes), dtype=bool))
    out.style = {k: v for k, v in style.items() if np.isfinite(v).any()}
    return out
