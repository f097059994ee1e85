"""Pairwise outcomes: the one meaning of votes, judge verdicts and the v1 human labels.

Every rating, win rate and agreement statistic works on an :class:`Outcomes` table, whatever the source:

* our judge verdicts (``s2s-arena judge``; JSONL or CSV; ``verdict`` in :data:`schema.VERDICTS`),
* our human votes (the Space; JSONL, CSV or the SQLite vote store; ``winner`` a|b|tie|both_bad),
* the S2S-Arena v1 human labels in the TRACE format (a JSON list; ``label`` per dimension with
  values ``1``, ``2``, ``both_good``, ``both_bad``).

Judge verdicts are rows per ORDERED pair; a judged pair is one piece of evidence, so they are first
resolved here (:func:`resolve`): the two orders of a pair become one outcome, and when they disagree
the pair is a tie and counted as inconsistent. This module is the only place that does so; the metric,
``judge``, ``calibrate``, ``leaderboard``, ``agreement`` and the Space all read outcomes through it,
so one verdict file gives the same outcomes and n in every command.

``score_a`` is system A's score (1 win, 0.5 tie, 0 loss). "Both bad" counts as a tie for the rating
and is kept as its own flag so the leaderboard can report a per-system both-bad rate. ``cluster`` is
the unit a bootstrap resamples: the sample's seed (one instruction text, however many voices and noise
conditions render it), else the sample itself.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import MissingError
from .schema import ASPECTS, VERDICT_MEANING, WINNER_SCORE, SchemaError, Verdict, verdict_meaning

DIMENSIONS: tuple[str, ...] = ("overall", "content", "paralinguistics", "voice_quality")
FORMATS: tuple[str, ...] = ("auto", "votes", "verdicts", "s2s-arena-v1")
# Sample covariates a breakdown can group by (taken from the record when present).
SAMPLE_COVARIATES: tuple[str, ...] = ("level", "domain", "task", "language")
# Style features for style control: each record may carry ``<feature>_a`` and ``<feature>_b``
# (measured on the two responses); the table keeps the difference A - B.
STYLE_FEATURES: tuple[str, ...] = ("duration", "loudness", "speaking_rate")
# The reason the protocol gives a byte-identical pair it ties without asking the judge.
IDENTICAL_REASON = "identical audio: a tie without asking the judge"

# Which verdict field holds each dimension (the judge's per-aspect verdicts use "quality").
_VERDICT_FIELD = {"overall": "verdict", "content": "content", "paralinguistics": "paralinguistics",
                  "voice_quality": "quality"}
_V1_LABEL = {"1": "a", "2": "b", "both_good": "tie", "both_bad": "both_bad"}


# --- resolution of judged pairs ------------------------------------------------------------------------
@dataclass
class PairOutcome:
    """The resolved result of one judged pair, from ``system_a``'s side (the system shown first in the
    ``ab`` order: the candidate). ``consistent`` is None when the judge did not decide both orders
    (identical audio, an invalid order, a single-order run)."""

    sample_id: str
    system_a: str
    system_b: str
    outcome: str  # a | b | tie | both_bad | invalid
    verdict: str  # the resolved verdict string from system_a's side
    consistent: bool | None
    identical: bool = False
    aspects: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    judge: str = ""
    covariates: dict[str, str] = field(default_factory=dict)
    cluster: str = ""
    # order-level position evidence: decisive judgements, and how many of them the first-shown side won
    decisive: int = 0
    first_won: int = 0

    @property
    def score_a(self) -> float | None:
        return WINNER_SCORE.get(self.outcome)

    @property
    def invalid_kind(self) -> str:
        return invalid_kind(" | ".join(self.reasons))


def invalid_kind(reason: str) -> str:
    """A short category for an invalid judgement's reason, for counting failures by kind."""
    r = reason or ""
    low = r.lower()
    if "input error" in low or "could not read" in low:
        return "unreadable input"
    if "unparseable" in low or "unparsable" in low or "no verdict" in low:
        return "unparseable judge output"
    m = re.search(r"\b([A-Z][A-Za-z]*(?:Error|Exception|Timeout|Exit))\b", r)
    if m:
        return f"judge error ({m.group(1)})"
    if "timed out" in low or "timeout" in low:
        return "judge error (timeout)"
    return "judge error" if "judge" in low or "failed" in low else (re.sub(r"^\[\w+\]\s*", "", r).split(":")[0][:60] or "no reason given")


def _merge(x: str, y: str) -> tuple[str, bool]:
    """Two verdicts from the same side -> (resolved, consistent). Same winner keeps the weaker strength."""
    mx, my = VERDICT_MEANING[x], VERDICT_MEANING[y]
    if mx.winner != my.winner:
        return "A=B", False
    if x == y:
        return x, True
    return ("A>B" if mx.winner == "a" else "B>A"), True  # A>>B with A>B: the weaker claim both orders support


def _from_side(verdict: str, shown_first: str, system_a: str) -> str:
    return verdict if shown_first == system_a else VERDICT_MEANING[verdict].flipped


def _resolve_group(rows: Sequence[Verdict], dimension: str = "overall") -> PairOutcome:
    """One pair's rows (one per order; a later row of the same order replaces an earlier one)."""
    by_first: dict[str, Verdict] = {}
    for r in rows:
        by_first[r.system_a] = r  # the system shown first identifies the order, whatever 'order' says
    ordered = list(by_first.values())
    head = next((r for r in ordered if r.order == "ab"), ordered[0])
    sys_a, sys_b = head.system_a, head.system_b
    field_name = _VERDICT_FIELD[dimension]
    identical = all(r.reason == IDENTICAL_REASON for r in ordered)
    reasons = [f"[{r.order}] {r.reason}" for r in ordered if r.reason]
    cov = {}
    for k in SAMPLE_COVARIATES:
        v = next((getattr(r, k) for r in ordered if getattr(r, k)), "")
        if v:
            cov[k] = v
    seed = next((r.seed_id for r in ordered if r.seed_id), "")
    base = dict(sample_id=head.sample_id, system_a=sys_a, system_b=sys_b, identical=identical, reasons=reasons,
                judge=head.judge, covariates=cov, cluster=seed or head.sample_id)
    # An unparsable judgement's per-aspect fields are defaults, not verdicts: the whole order is invalid.
    if any(r.verdict == "invalid" or getattr(r, field_name) == "invalid" for r in ordered):
        return PairOutcome(outcome="invalid", verdict="invalid", consistent=None, **base)
    decisive = first_won = 0
    for r in ordered:
        w = VERDICT_MEANING[getattr(r, field_name)].winner
        decisive += w in ("a", "b")
        first_won += w == "a"
    views = [_from_side(getattr(r, field_name), r.system_a, sys_a) for r in ordered]
    if len(views) == 1:
        verdict, consistent = views[0], None
    else:
        verdict, consistent = _merge(views[0], views[1])
    aspects = {}
    for aspect in ASPECTS:
        vals = [_from_side(getattr(r, aspect), r.system_a, sys_a) for r in ordered]
        aspects[aspect] = vals[0] if len(vals) == 1 else _merge(vals[0], vals[1])[0]
    if identical:
        consistent = None
    return PairOutcome(outcome=VERDICT_MEANING[verdict].winner, verdict=verdict, consistent=consistent,
                       aspects=aspects, decisive=decisive, first_won=first_won, **base)


def pair_key(v: Verdict) -> tuple:
    """What makes two verdict rows the same judged pair: sample, unordered systems, judge configuration."""
    return (v.sample_id, frozenset((v.system_a, v.system_b))) + v.judge_key


def resolve(verdicts: Iterable[Verdict | Mapping[str, Any]], dimension: str = "overall") -> list[PairOutcome]:
    """Group verdict rows into judged pairs (sample, unordered systems, judge configuration) and resolve
    each: both orders -> one outcome, disagreement a tie (``consistent=False``), an invalid order makes
    the pair invalid. Pairs come out in first-seen order."""
    _check_dimension(dimension, "verdicts")
    groups: dict[tuple, list[Verdict]] = {}
    for i, v in enumerate(verdicts):
        if not isinstance(v, Verdict):
            v = Verdict.from_row(v, where=f"verdicts: record {i}")
        groups.setdefault(pair_key(v), []).append(v)
    return [_resolve_group(rows, dimension) for rows in groups.values()]


def invalid_reasons(outcomes: Iterable[PairOutcome]) -> dict[str, int]:
    """Invalid pairs counted by kind of failure, most frequent first."""
    counts = Counter(o.invalid_kind for o in outcomes if o.outcome == "invalid")
    return dict(counts.most_common())


@dataclass
class Outcomes:
    """A columnar table of pairwise outcomes (numpy arrays of equal length), one row per piece of
    evidence: a vote, a v1 label, or a judged pair (both orders resolved into one).

    ``first_is_a`` says whether system A was presented first (left, or first in the judge prompt); our
    votes name the first-presented system ``system_a``; a resolved pair names the system shown first in
    its ``ab`` order. ``cluster`` is the bootstrap's resampling unit (seed, else sample). Position
    evidence: ``decisive`` counts order-level decisive judgements behind a row and ``first_won`` how
    many of them the first-shown system won; ``consistent`` is 1/0 for pairs judged in both orders and
    NaN otherwise. ``source`` names the file(s); ``n_invalid`` counts judged pairs dropped as invalid
    (``invalid_kinds`` by kind) and ``n_excluded`` votes the Space marked as not counted. ``self_pairs``
    holds the scores of identical pairs (a system against itself, a calibration control) when they were
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
    cluster: np.ndarray | None = None
    consistent: np.ndarray | None = None
    decisive: np.ndarray | None = None
    first_won: np.ndarray | None = None
    invalid_kinds: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.score_a)
        if self.cluster is None:
            self.cluster = np.asarray(self.sample_id, dtype=object)
        if self.consistent is None:
            self.consistent = np.full(n, np.nan)
        if self.decisive is None:
            self.decisive = (np.asarray(self.score_a) != 0.5).astype(np.int64)
        if self.first_won is None:
            won = np.where(self.first_is_a, np.asarray(self.score_a) == 1.0, np.asarray(self.score_a) == 0.0)
            self.first_won = won.astype(np.int64)

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

    def _factorized(self) -> tuple[np.ndarray, list]:
        """Codes of system_a then system_b (2N,) into their distinct names, by hashing the object
        arrays once (pandas' Categorical would first copy 1M names into Arrow strings, 10x slower)."""
        import pandas as pd

        idx, uniq = pd.factorize(np.concatenate([self.system_a, self.system_b]).astype(object))
        return idx.astype(np.int64), [str(u) for u in uniq]

    @property
    def systems(self) -> list[str]:
        return sorted(self._factorized()[1]) if len(self) else []

    def codes(self, systems: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Systems (sorted) and the integer index of A and B in every row."""
        idx, uniq = self._factorized()
        systems = list(systems) if systems is not None else sorted(uniq)
        pos = {s: i for i, s in enumerate(systems)}
        both = np.array([pos.get(u, -1) for u in uniq], dtype=np.int64)[idx] if uniq else idx
        ia, ib = both[: len(self)], both[len(self):]
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
            self_pairs=self.self_pairs, cluster=self.cluster[mask], consistent=self.consistent[mask],
            decisive=self.decisive[mask], first_won=self.first_won[mask], invalid_kinds=dict(self.invalid_kinds),
        )

    def to_frame(self):
        """A pandas DataFrame with one row per outcome."""
        import pandas as pd

        cols: dict[str, Any] = {
            "sample_id": self.sample_id, "system_a": self.system_a, "system_b": self.system_b,
            "score_a": self.score_a, "is_tie": self.is_tie, "both_bad": self.both_bad,
            "weight": self.weight, "first_is_a": self.first_is_a, "cluster": self.cluster,
            "consistent": self.consistent,
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
        kinds: Counter = Counter()
        for p in parts:
            kinds.update(p.invalid_kinds)
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
            cluster=cat(lambda p: p.cluster, None),
            consistent=np.concatenate([p.consistent for p in parts]).astype(float),
            decisive=np.concatenate([p.decisive for p in parts]),
            first_won=np.concatenate([p.first_won for p in parts]),
            invalid_kinds=dict(kinds.most_common()),
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
        ``verdict`` (judge verdicts: the rows of one judged pair are resolved into one outcome by
        :func:`resolve`; invalid pairs are dropped and counted), ``score_a``, or a v1 ``label`` mapping.
        ``where`` names the source in error messages (``<where>: record <i>``).

        Votes carrying ``p_pair`` get the inverse-propensity weight ``1 / p_pair`` (``weights=False``
        ignores it); votes with ``counted: false`` are skipped and counted in ``n_excluded``.
        """
        _check_dimension(dimension, where)
        out: list[dict[str, Any] | tuple] = []  # a finished record, or the key of a judged pair
        groups: dict[tuple, list[tuple[Verdict, Mapping[str, Any], str]]] = {}
        self_scores: list[float] = []
        n_excluded = 0
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
            if "verdict" in row and not isinstance(row.get("label"), Mapping):
                _check_verdict_fields(row, dimension, rec)
                if a == b:
                    if not allow_self:
                        raise SchemaError(rec, "system_b", f"a system cannot be paired with itself ({a!r})")
                    score = VERDICT_MEANING[row[_VERDICT_FIELD[dimension]]].score_a
                    if score is not None and row["verdict"] != "invalid":
                        self_scores.append(score)
                    continue
                v = _verdict_row(row, rec, a, b, i, where)
                key = pair_key(v)
                if key not in groups:
                    groups[key] = []
                    out.append(key)
                groups[key].append((v, row, rec))
                continue
            winner = _winner(row, dimension, rec)
            score = WINNER_SCORE[winner]
            if a == b:
                if not allow_self:
                    raise SchemaError(rec, "system_b", f"a system cannot be paired with itself ({a!r})")
                self_scores.append(score)
                continue
            sid = row.get("sample_id", row.get("instruction_id"))
            sid = str(sid) if sid not in (None, "") else f"#{where}:{i}"
            seed = row.get("seed_id")
            out.append({
                "sample_id": sid, "a": a, "b": b, "score": score, "bad": winner == "both_bad",
                "w": _weight(row, rec, weights), "cluster": str(seed) if seed not in (None, "") else sid,
                "cov": {k: (None if row.get(k) in (None, "") else str(row.get(k))) for k in SAMPLE_COVARIATES},
                "style": {k: _style_diff(row, k, rec) for k in STYLE_FEATURES},
                "annot": row.get("session") or row.get("judge") or row.get("annotator"),
                "consistent": np.nan, "decisive": int(score != 0.5), "first_won": int(score == 1.0),
            })
        if n_rows == 0:
            raise SchemaError(where, None, "no records (empty input)")
        records: list[dict[str, Any]] = []
        invalid: list[PairOutcome] = []
        for item in out:
            if isinstance(item, dict):
                records.append(item)
                continue
            members = groups[item]
            res = _resolve_group([v for v, _, _ in members], dimension)
            if res.outcome == "invalid":
                invalid.append(res)
                continue
            first_row, first_rec = members[0][1], members[0][2]
            style = {}
            for k in STYLE_FEATURES:  # from the side of the resolved system_a
                diffs = [(_style_diff(r, k, rc) if v.system_a == res.system_a else -_style_diff(r, k, rc))
                         for v, r, rc in members]
                style[k] = next((d for d in diffs if np.isfinite(d)), float("nan"))
            cov = {k: res.covariates.get(k) for k in SAMPLE_COVARIATES}
            records.append({
                "sample_id": res.sample_id, "a": res.system_a, "b": res.system_b, "score": res.score_a,
                "bad": res.outcome == "both_bad", "w": _weight(first_row, first_rec, weights),
                "cluster": res.cluster, "cov": cov, "style": style, "annot": res.judge or None,
                "consistent": np.nan if res.consistent is None else float(res.consistent),
                "decisive": res.decisive, "first_won": res.first_won,
            })
        n_invalid = len(invalid)
        if not records and not self_scores:
            raise SchemaError(where, None, f"no usable outcomes ({n_invalid} invalid, {n_excluded} not counted)")
        score = np.array([r["score"] for r in records], dtype=float)
        annot = [r["annot"] for r in records]
        cov = {k: np.array([r["cov"][k] for r in records], dtype=object) for k in SAMPLE_COVARIATES}
        style = {k: np.array([r["style"][k] for r in records], dtype=float) for k in STYLE_FEATURES}
        return cls(
            sample_id=np.array([r["sample_id"] for r in records], dtype=object),
            system_a=np.array([r["a"] for r in records], dtype=object),
            system_b=np.array([r["b"] for r in records], dtype=object),
            score_a=score, is_tie=score == 0.5, both_bad=np.array([r["bad"] for r in records], dtype=bool),
            weight=np.array([r["w"] for r in records], dtype=float),
            # system_a is the system presented first (left in the Space, first in the judge's ab order)
            first_is_a=np.ones(len(records), dtype=bool),
            covariates={k: v for k, v in cov.items() if any(x is not None for x in v)},
            style={k: v for k, v in style.items() if not np.all(np.isnan(v))},
            annotator=np.array(annot, dtype=object) if any(x is not None for x in annot) else None,
            source=where, n_invalid=n_invalid, n_excluded=n_excluded,
            self_pairs=np.array(self_scores, dtype=float),
            cluster=np.array([r["cluster"] for r in records], dtype=object),
            consistent=np.array([r["consistent"] for r in records], dtype=float),
            decisive=np.array([r["decisive"] for r in records], dtype=np.int64),
            first_won=np.array([r["first_won"] for r in records], dtype=np.int64),
            invalid_kinds=invalid_reasons(invalid),
        )

    @classmethod
    def from_pairs(cls, pairs: Sequence[PairOutcome], where: str = "pairs") -> "Outcomes":
        """The table of already-resolved pairs (what ``judge`` and the metric hold in memory)."""
        valid = [p for p in pairs if p.outcome != "invalid"]
        score = np.array([p.score_a for p in valid], dtype=float)
        cov = {k: np.array([p.covariates.get(k) for p in valid], dtype=object) for k in SAMPLE_COVARIATES}
        annot = [p.judge or None for p in valid]
        return cls(
            sample_id=np.array([p.sample_id for p in valid], dtype=object),
            system_a=np.array([p.system_a for p in valid], dtype=object),
            system_b=np.array([p.system_b for p in valid], dtype=object),
            score_a=score, is_tie=score == 0.5, both_bad=np.array([p.outcome == "both_bad" for p in valid], dtype=bool),
            weight=np.ones(len(valid)), first_is_a=np.ones(len(valid), dtype=bool),
            covariates={k: v for k, v in cov.items() if any(x is not None for x in v)},
            annotator=np.array(annot, dtype=object) if any(annot) else None, source=where,
            n_invalid=len(pairs) - len(valid),
            cluster=np.array([p.cluster or p.sample_id for p in valid], dtype=object),
            consistent=np.array([np.nan if p.consistent is None else float(p.consistent) for p in valid], dtype=float),
            decisive=np.array([p.decisive for p in valid], dtype=np.int64),
            first_won=np.array([p.first_won for p in valid], dtype=np.int64),
            invalid_kinds=invalid_reasons(pairs),
        )


def _check_verdict_fields(row: Mapping[str, Any], dimension: str, rec: str) -> None:
    for key in ("verdict", _VERDICT_FIELD[dimension]):
        value = row.get(key)
        if value in (None, ""):
            raise SchemaError(rec, key, "missing verdict")
        verdict_meaning(value, rec, key)


def _verdict_row(row: Mapping[str, Any], rec: str, a: str, b: str, i: int, where: str) -> Verdict:
    """A verdict record as a Verdict (errors name the record); text columns read from CSV stay text."""
    sid = row.get("sample_id", row.get("instruction_id"))
    d = {k: row[k] for k in Verdict.field_names() if row.get(k) not in (None, "")}
    d.update(sample_id=str(sid) if sid not in (None, "") else f"#{where}:{i}", system_a=a, system_b=b)
    for k in ("judge", "judge_version", "prompt_hash", "reason", "seed_id") + SAMPLE_COVARIATES:
        if k in d:
            d[k] = str(d[k])
    d.pop("latency_s", None)
    try:
        return Verdict(**d)
    except SchemaError as e:
        raise SchemaError(rec, e.field, e.detail) from None


def _weight(row: Mapping[str, Any], rec: str, weights: bool) -> float:
    if weights and row.get("p_pair") not in (None, ""):
        p = _number(row["p_pair"], rec, "p_pair")
        if not 0.0 < p <= 1.0:
            raise SchemaError(rec, "p_pair", f"expected a probability in (0, 1], got {row['p_pair']!r}")
        return 1.0 / p
    if row.get("weight") not in (None, ""):
        w = _number(row["weight"], rec, "weight")
        if not w > 0:
            raise SchemaError(rec, "weight", f"expected a positive number, got {row['weight']!r}")
        return w
    return 1.0


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


def _winner(row: Mapping[str, Any], dimension: str, rec: str) -> str:
    """The outcome of a vote, v1 label or score record as a|b|tie|both_bad."""
    if isinstance(row.get("label"), Mapping):  # S2S-Arena v1 (TRACE)
        label = row["label"].get(dimension)
        if label is None:
            raise SchemaError(rec, f"label.{dimension}", f"missing; this record has {', '.join(row['label'])}")
        if str(label) not in _V1_LABEL:
            raise SchemaError(rec, f"label.{dimension}",
                              f"unknown label {label!r}; expected one of {', '.join(_V1_LABEL)}")
        return _V1_LABEL[str(label)]
    if dimension != "overall":
        raise SchemaError(rec, "dimension", f"votes have only the 'overall' dimension, not {dimension!r}")
    if "winner" in row:
        winner = row["winner"]
        if winner not in WINNER_SCORE:
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
                    extra = [c for c in SAMPLE_COVARIATES + ("seed_id",) + tuple(f"{f}_{s}" for f in STYLE_FEATURES for s in "ab")
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
    """``RESP/<system>/system.json`` of every system under a responses folder, by system name (and by
    folder name), read through :mod:`s2s_arena.responses`."""
    from .responses import SYSTEM_JSON, read_system_info

    resp_dir = Path(resp_dir)
    if not resp_dir.is_dir():
        raise MissingError(f"{resp_dir}: no such folder (expected RESP/<system>/system.json)")
    meta: dict[str, dict[str, Any]] = {}
    for d in sorted(p for p in resp_dir.iterdir() if (p / SYSTEM_JSON).is_file()):
        info = read_system_info(d)
        meta[info.name] = info.to_dict()
        meta.setdefault(d.name, info.to_dict())
    if not meta:
        raise SchemaError(str(resp_dir), None, "no <system>/system.json files found")
    return meta


def measure_response_style(audio: np.ndarray | None, text: str = "") -> dict[str, float]:
    """Style features of one response (24 kHz mono audio): duration (s), loudness (LUFS) and speaking
    rate (words per second of its transcript; NaN without one). NaN everywhere without audio."""
    from .audio import SAMPLE_RATE, loudness_lufs

    if audio is None:
        return {k: float("nan") for k in STYLE_FEATURES}
    duration = audio.shape[0] / SAMPLE_RATE
    loud = loudness_lufs(audio, SAMPLE_RATE)
    words = len((text or "").split())
    return {"duration": duration, "loudness": loud if np.isfinite(loud) else float("nan"),
            "speaking_rate": words / duration if words and duration > 0 else float("nan")}


def attach_style(outcomes: Outcomes, resp_dir: str | Path) -> Outcomes:
    """Fill ``outcomes.style`` (A - B differences) by measuring the responses under ``resp_dir``
    (read through :mod:`s2s_arena.responses`; each response once). Features already carried by the
    records are kept; pairs whose audio is missing get NaN and are left out of a style-controlled fit."""
    from .responses import load_responses

    systems = load_responses(resp_dir)
    cache: dict[tuple[str, str], dict[str, float]] = {}

    def feats(system: str, sid: str) -> dict[str, float]:
        if (system, sid) not in cache:
            found = systems.get(system)
            resp = found.responses.get(sid) if found is not None else None
            audio = found.audio(sid) if resp is not None else None
            cache[(system, sid)] = measure_response_style(audio, resp.text if resp is not None else "")
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
