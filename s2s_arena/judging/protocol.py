"""Judge pairs of spoken responses: both orders, identical-pair ties, a verdict cache, resolution.

This is the one place that turns a Judge (which decides ONE ordered pair) into the protocol of the
benchmark: every pair is shown in both orders; byte-identical responses tie without asking the
judge; when the two orders disagree the pair is a tie and counts as inconsistent; decisions are cached
by content so that a repeated evaluation costs nothing. It also summarises resolved pairs into win
rates with a seeded seed-clustered bootstrap CI (used by the evaluate module and `s2s-arena judge`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from s2s_arena.audio import SAMPLE_RATE, audio_hash
from s2s_arena.outcomes import IDENTICAL_REASON, PairOutcome, invalid_reasons, resolve
from s2s_arena.schema import Sample, Verdict

from .judges.base import Judge, Judgement, PairInput, stable_hash

# resolve / PairOutcome / IDENTICAL_REASON live in the core (s2s_arena.outcomes) and are re-exported here
__all__ = ["IDENTICAL_REASON", "Pair", "PairOutcome", "VerdictCache", "as_cache", "bootstrap_rate_ci", "cache_key",
           "iter_judge_pairs", "judge_pairs", "resolve", "summarize"]

CACHE_ENV = "S2S_ARENA_CACHE"


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "s2s_arena"))


# --- what is judged -----------------------------------------------------------------------------------
@dataclass
class Pair:
    """Two systems' responses to one sample, in canonical order (system_a is the candidate)."""

    sample: Sample
    system_a: str
    system_b: str
    audio_a: np.ndarray | None
    audio_b: np.ndarray | None
    instruction_audio: np.ndarray | None = None
    sr: int = SAMPLE_RATE
    error: str = ""  # set when an input could not be read: the pair is counted invalid, never judged

    def ordered(self, order: str) -> PairInput:
        a, b = (self.audio_a, self.audio_b) if order == "ab" else (self.audio_b, self.audio_a)
        return PairInput(self.sample, a, b, self.instruction_audio, self.sr)


def _sample_fingerprint(sample: Sample) -> str:
    """What of a sample a judge sees besides audio; part of the cache key (same audio, other task)."""
    return stable_hash(
        [sample.instruction_text, sample.level, sample.task, sample.evaluation_target,
         sample.requirements, sample.input_cues, sample.language]
    )


def cache_key(judge: Judge, item: PairInput) -> str:
    instr = audio_hash(item.instruction_audio) if (item.instruction_audio is not None and judge.listens_to_instruction) else ""
    return stable_hash(
        [audio_hash(item.audio_a), audio_hash(item.audio_b), instr, _sample_fingerprint(item.sample),
         judge.name, judge.version, judge.config_hash()],
        length=32,
    )


# --- the verdict cache --------------------------------------------------------------------------------
class VerdictCache:
    """Judgements by cache key in SQLite (``<dir>/verdicts.sqlite``); safe across threads and processes.

    Transient failures (an endpoint timing out) are not stored, so a later run retries them; a
    deterministic ``invalid`` (a model that never produced the format) is stored like any decision.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.path = Path(directory or default_cache_dir()) / "verdicts.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, judgement TEXT NOT NULL, created REAL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Judgement | None:
        with self._lock:
            row = self._db.execute("SELECT judgement FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        try:
            j = Judgement(**json.loads(row[0]))
        except (ValueError, TypeError):  # a row from an incompatible version: judge again
            self.misses += 1
            return None
        self.hits += 1
        j.meta = {**j.meta, "cached": True}
        return j

    def put(self, key: str, judgement: Judgement) -> None:
        if judgement.meta.get("transient"):
            return
        data = json.dumps({"verdict": judgement.verdict, "content": judgement.content,
                           "paralinguistics": judgement.paralinguistics, "quality": judgement.quality,
                           "reason": judgement.reason, "meta": judgement.meta}, default=str)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?)", (key, data, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def as_cache(cache: VerdictCache | str | os.PathLike | bool | None) -> VerdictCache | None:
    """None/False: no cache; True: the default directory; a path: that directory."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, VerdictCache):
        return cache
    return VerdictCache(None if cache is True else cache)


# --- judging ------------------------------------------------------------------------------------------
def _identical_judgement() -> Judgement:
    return Judgement("A=B", reason=IDENTICAL_REASON, meta={"identical": True})


def _call_judge(judge: Judge, items: list[PairInput]) -> list[Judgement]:
    """One batch; a judge that breaks its contract (raises, wrong count) gives invalid rows, not a crash."""
    start = time.perf_counter()
    try:
        out = judge.judge(items)
        if len(out) != len(items):
            raise RuntimeError(f"judge {judge.name} returned {len(out)} judgements for {len(items)} pairs")
    except Exception as e:  # noqa: BLE001 - contained here by design: one bad batch never ends the run
        return [Judgement.invalid(f"judge error: {type(e).__name__}: {e}", transient=True) for _ in items]
    per_item = (time.perf_counter() - start) / max(1, len(items))
    for j in out:
        j.meta.setdefault("latency_s", per_item)
    return out


class _Worker:
    """Picklable batch worker for s2s_arena.engine.map_batches (ray ships it to actors)."""

    def __init__(self, judge: Judge):
        self.judge = judge

    def __call__(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        judgements = _call_judge(self.judge, [row["input"] for row in batch])
        return [{"key": row["key"], "judgement": j} for row, j in zip(batch, judgements)]


def _verdict_row(judge: Judge, pair: Pair, order: str, j: Judgement) -> Verdict:
    # system_a of a Verdict row is the system SHOWN FIRST (the "A" of its verdict string).
    first, second = (pair.system_a, pair.system_b) if order == "ab" else (pair.system_b, pair.system_a)
    return Verdict(
        sample_id=pair.sample.id, system_a=first, system_b=second, verdict=j.verdict, order=order,
        content=j.content, paralinguistics=j.paralinguistics, quality=j.quality, reason=j.reason,
        judge=judge.name, judge_version=judge.version, prompt_hash=judge.config_hash(),
        latency_s=float(j.meta.get("latency_s", 0.0) if not j.meta.get("cached") else 0.0),
        **Verdict.sample_fields(pair.sample),
    )


def iter_judge_pairs(
    judge: Judge, pairs: Sequence[Pair], *, both_orders: bool = True, cache: Any = None,
    engine: str = "local", batch_size: int = 8, concurrency: int = 1, num_gpus: float = 0.0,
    stats: dict | None = None, tie_identical: bool = True, judgements_out: dict | None = None,
) -> Iterator[tuple[int, list[Verdict]]]:
    """Yield ``(pair index, verdict rows)`` as pairs finish (pair order with engine="local").

    ``tie_identical=False`` asks the judge about byte-identical pairs too (calibration's control:
    a judge must tie them by itself); ``judgements_out`` receives ``{pair index: {order: Judgement}}``
    for callers that need a judgement's ``meta`` (what it abstained on)."""
    from s2s_arena.engine import map_batches

    cache = as_cache(cache)
    orders = ("ab", "ba") if both_orders else ("ab",)
    stats = stats if stats is not None else {}
    stats.setdefault("judge_calls", 0)
    stats.setdefault("cache_hits", 0)
    stats.setdefault("identical", 0)
    done: dict[int, dict[str, Judgement]] = defaultdict(dict)
    waiting: dict[str, list[tuple[int, str]]] = defaultdict(list)  # cache key -> (pair, order)
    todo: list[dict[str, Any]] = []
    for i, pair in enumerate(pairs):
        for order in orders:
            if pair.error:
                done[i][order] = Judgement.invalid(f"input error: {pair.error}", input_error=True)
                continue
            item = pair.ordered(order)
            if tie_identical and audio_hash(item.audio_a) == audio_hash(item.audio_b):
                stats["identical"] += 1
                done[i][order] = _identical_judgement()
                continue
            key = cache_key(judge, item)
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                stats["cache_hits"] += 1
                done[i][order] = hit
                continue
            if key not in waiting:
                todo.append({"key": key, "input": item})
            waiting[key].append((i, order))

    def finished(i: int) -> bool:
        return len(done[i]) == len(orders)

    emitted: set[int] = set()
    pending_emit = sorted(i for i in range(len(pairs)) if finished(i))
    for i in pending_emit:
        emitted.add(i)
        if judgements_out is not None:
            judgements_out[i] = dict(done[i])
        yield i, [_verdict_row(judge, pairs[i], o, done[i][o]) for o in orders]
    if todo:
        worker = _Worker(judge)
        for row in map_batches(todo, lambda: worker, engine=engine, batch_size=batch_size,
                               concurrency=concurrency, num_gpus=num_gpus, desc=f"judging ({judge.name})"):
            stats["judge_calls"] += 1
            j: Judgement = row["judgement"]
            if cache is not None:
                cache.put(row["key"], j)
            for i, order in waiting[row["key"]]:
                done[i][order] = j
                if finished(i) and i not in emitted:
                    emitted.add(i)
                    if judgements_out is not None:
                        judgements_out[i] = dict(done[i])
                    yield i, [_verdict_row(judge, pairs[i], o, done[i][o]) for o in orders]


def judge_pairs(
    judge: Judge, pairs: Sequence[Pair], *, both_orders: bool = True, cache: Any = None,
    engine: str = "local", batch_size: int = 8, **kwargs: Any,
) -> list[Verdict]:
    """Verdict rows (``ab`` then ``ba`` per pair) for every pair, in pair order."""
    by_pair = dict(iter_judge_pairs(judge, pairs, both_orders=both_orders, cache=cache, engine=engine,
                                    batch_size=batch_size, **kwargs))
    return [v for i in range(len(pairs)) for v in by_pair[i]]


# --- resolution and summaries --------------------------------------------------------------------------
# Resolution lives in the core (s2s_arena.outcomes) so every reader of verdicts shares it; these names
# stay importable from here because the protocol is where judging code looks for them.


def bootstrap_rate_ci(values: np.ndarray, clusters: Sequence[str], *, rounds: int = 1000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of mean(values), resampling whole clusters (seeds) with replacement; the rating
    engine's one cluster bootstrap (:func:`s2s_arena.ratings.rate_ci`)."""
    from s2s_arena.ratings import rate_ci

    values = np.asarray(values, dtype=float)
    if values.size == 0 or rounds <= 0:
        return (float("nan"), float("nan"))
    _, low, high = rate_ci(values[:, None], np.ones((values.size, 1)), np.asarray(clusters, dtype=object),
                           rounds, seed, level)
    return (float(low[0]), float(high[0]))


def summarize(outcomes: Sequence[PairOutcome], *, candidate: str | None = None,
              groups: Mapping[str, Mapping[str, str]] | None = None,
              bootstrap: int = 1000, seed: int = 0, by: Sequence[str] = ("level", "task")) -> dict[str, Any]:
    """Win / tie / loss / both-bad rates of ``candidate`` (default: each outcome's system_a).

    Rates are over VALID pairs (invalid ones are counted in ``n_invalid`` and by kind in
    ``invalid_reasons``, never dropped silently and never turned into a verdict). The CI resamples seeds
    (the verdict rows' ``seed_id``, else the sample). Breakdowns use each outcome's own covariates
    (copied from the sample into its verdict rows); ``groups`` (sample_id -> {"level": ..}) fills in
    what the rows lack.
    """
    result = _rates(outcomes, candidate, bootstrap, seed)
    groups = groups or {}
    for key in by:
        parts: dict[str, list[PairOutcome]] = defaultdict(list)
        for o in outcomes:
            value = o.covariates.get(key) or groups.get(o.sample_id, {}).get(key)
            if value is not None:
                parts[str(value)].append(o)
        result[f"by_{key}"] = {k: _rates(v, candidate, bootstrap, seed) for k, v in sorted(parts.items())}
    return result


def _rates(outcomes: Sequence[PairOutcome], candidate: str | None, bootstrap: int, seed: int) -> dict[str, Any]:
    n = len(outcomes)
    valid = [o for o in outcomes if o.outcome != "invalid"]
    side = []
    for o in valid:
        me = candidate or o.system_a
        if o.outcome in ("tie", "both_bad"):
            side.append(o.outcome)
        else:
            side.append("win" if (o.outcome == "a") == (o.system_a == me) else "loss")
    k = len(valid)
    count = {s: side.count(s) for s in ("win", "tie", "loss", "both_bad")}
    judged_twice = [o for o in valid if o.consistent is not None]
    wins = np.array([s == "win" for s in side], dtype=float)
    ci = bootstrap_rate_ci(wins, [o.cluster or o.sample_id for o in valid], rounds=bootstrap, seed=seed)
    rate = (lambda c: c / k) if k else (lambda c: float("nan"))
    return {
        "win_rate": rate(count["win"]),
        "tie_rate": rate(count["tie"]),
        "loss_rate": rate(count["loss"]),
        "both_bad_rate": rate(count["both_bad"]),
        # Ties count half: the usual single-number summary of a pairwise comparison.
        "score": rate(count["win"] + 0.5 * (count["tie"] + count["both_bad"])),
        "win_rate_ci": [ci[0], ci[1]],
        "n": n,
        "n_valid": k,
        "n_invalid": n - k,
        "invalid_reasons": invalid_reasons(outcomes),
        "n_identical": sum(o.identical for o in outcomes),
        "position_consistency": (sum(bool(o.consistent) for o in judged_twice) / len(judged_twice)) if judged_twice else float("nan"),
        "n_inconsistent": sum(o.consistent is False for o in judged_twice),
    }
