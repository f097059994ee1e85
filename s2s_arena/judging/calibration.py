"""Judge calibration on controlled pairs whose true ordering is known (``s2s-arena calibrate``).

The reference systems (``s2s_arena.systems.reference``) give three kinds of labelled pairs per sample:

* paralinguistic-only: ``reference`` vs ``flat`` (same words, required vs neutral delivery), for
  samples that require paralinguistics; ``measurable`` marks those with at least one requirement
  the feature judge measures from audio alone (the issue's targets are stated on these);
* content-only: ``reference`` vs ``off_topic`` and ``reference`` vs ``echo`` (same delivery, wrong
  words); a judge that abstains on content (the feature judge without ASR) is reported as abstained
  there rather than scored;
* identical: a response against a byte-identical copy, judged by the judge itself (not short-cut by
  the protocol), which must tie.

Every non-identical pair is judged in both orders and resolved with ``s2s_arena.judging.protocol``
(disagreement = tie = inconsistent). Accuracy is the share of pairs whose resolved winner is the
reference; ties count as misses.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from s2s_arena.jsonl import append_jsonl, read_jsonl
from s2s_arena.schema import CONTENT_ATTRIBUTES, Sample, Verdict

from .judges.base import Judge

PARALINGUISTIC, CONTENT, IDENTICAL = "paralinguistic", "content", "identical"
DIFFERENCE_TYPES = (PARALINGUISTIC, CONTENT, IDENTICAL)
TARGETS = {"paralinguistic_accuracy_measurable": 0.95, "swap_consistency": 0.95, "identical_tie_rate": 0.99}
# Requirements about what is said, not how (schema.CONTENT_ATTRIBUTES) never make a pair paralinguistic.
# Values a neutral delivery already has: requiring them makes no difference between reference and flat.
NEUTRAL_VALUES = {"speaking_rate": "normal", "pitch": "normal", "volume": "normal", "voice_quality": "modal",
                  "emotion": "neutral"}
IDENTICAL_COPY = "reference_copy"
VERDICTS_FILE = "verdicts.jsonl"


def paralinguistic_attributes(requirements: dict[str, Any]) -> list[str]:
    """Requirements on HOW to speak that a neutral delivery does not already meet."""
    out = []
    for attr, value in requirements.items():
        if attr in CONTENT_ATTRIBUTES:
            continue
        values = value if isinstance(value, list) else [value]
        if attr in NEUTRAL_VALUES and all(v == NEUTRAL_VALUES[attr] for v in values):
            continue
        out.append(attr)
    return out


def measurable_attributes(requirements: dict[str, Any]) -> list[str]:
    """Requirements the feature judge measures from audio alone (see feature_rules.yaml)."""
    out = []
    for attr, value in requirements.items():
        seq = isinstance(value, list) and len(value) > 1
        single = value[0] if isinstance(value, list) and len(value) == 1 else value
        if attr == "speaking_rate":
            out.append(attr)
        elif attr in ("pitch", "volume") and (seq or single in ("low", "high", "quiet", "loud")):
            out.append(attr)
        elif attr == "voice_quality" and not seq and single in ("whisper", "modal"):
            out.append(attr)
        elif attr in ("pauses", "speaker_gender"):
            out.append(attr)
        elif attr == "style" and value == "tongue_twister":
            out.append(attr)
        elif attr == "emphasis" and not seq:
            out.append(attr)
    return out


@dataclass
class LabelledPair:
    sample: Sample
    kind: str  # paralinguistic | content | identical
    system_a: str  # the system that should win (or the original, for identical pairs)
    system_b: str
    attributes: list[str] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)  # attributes the feature judge measures

    @property
    def measurable(self) -> bool:
        return bool(self.measured)

    @property
    def key(self) -> str:
        return f"{self.sample.id}|{self.system_a}|{self.system_b}"


def labelled_pairs(samples: Sequence[Sample], available: dict[str, set[str]]) -> tuple[list[LabelledPair], list[dict[str, str]]]:
    """The labelled pairs for ``samples``; ``available`` = system -> sample ids with a response.

    Returns (pairs, missing): a pair whose response is missing is listed in ``missing`` (counted in
    the report), never silently dropped.
    """
    pairs: list[LabelledPair] = []
    missing: list[dict[str, str]] = []

    def want(s: Sample, kind: str, a: str, b: str, attrs: list[str], measured: list[str] | None = None) -> None:
        lacking = [x for x in {a, b} - {IDENTICAL_COPY} if s.id not in available.get(x, set())]
        if lacking:
            missing.append({"sample_id": s.id, "kind": kind, "pair": f"{a} vs {b}", "missing": ", ".join(sorted(lacking))})
            return
        pairs.append(LabelledPair(s, kind, a, b, attrs, list(measured or [])))

    for s in samples:
        para = paralinguistic_attributes(s.requirements)
        if para:
            want(s, PARALINGUISTIC, "reference", "flat", para, measurable_attributes({a: s.requirements[a] for a in para}))
        want(s, CONTENT, "reference", "off_topic", ["content"])
        want(s, CONTENT, "reference", "echo", ["content"])
        want(s, IDENTICAL, "reference", IDENTICAL_COPY, [])
    return pairs, missing


# --- judging ------------------------------------------------------------------------------------------
def _row(v: Verdict, pair: LabelledPair, j_meta: dict[str, Any], content_key: str = "") -> dict[str, Any]:
    row = v.to_dict()
    row.update({"pair": pair.key, "content_key": content_key, "kind": pair.kind, "attributes": pair.attributes,
                "measured": pair.measured, "abstained": list(j_meta.get("abstained", []))})
    return row


def _read_done(path: Path, prompt_hash: str) -> dict[str, list[dict[str, Any]]]:
    """Rows of an earlier run of the same judge configuration, by pair key (for resuming)."""
    done: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, row in read_jsonl(path, skip_bad=True):
        if row.get("prompt_hash") == prompt_hash:
            done[row["pair"]].append(row)
    return {k: v for k, v in done.items() if {r["order"] for r in v} == {"ab", "ba"}}


def judge_labelled(judge: Judge, pairs: Sequence[LabelledPair], responses: dict[str, Any], out_dir: Path,
                   *, cache: Any = None, progress: bool = True) -> list[dict[str, Any]]:
    """Judge every pair in both orders, appending rows to ``out_dir/verdicts.jsonl`` (resumable)."""
    from tqdm.auto import tqdm

    from s2s_arena.audio import audio_hash
    from s2s_arena.benchmark import instruction_audio

    from .judges.base import stable_hash
    from .protocol import Pair, judge_pairs

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / VERDICTS_FILE
    done = _read_done(path, judge.config_hash())
    rows: list[dict[str, Any]] = []
    for pair in tqdm(pairs, desc=f"calibrating ({judge.name})", unit="pair", disable=not progress):
        if pair.key in done:
            by_order = {r["order"]: r for r in done[pair.key]}
            rows.extend([by_order["ab"], by_order["ba"]])
            continue
        try:
            a = responses[pair.system_a].audio(pair.sample.id)
            b = a.copy() if pair.kind == IDENTICAL else responses[pair.system_b].audio(pair.sample.id)
            instr = instruction_audio(pair.sample) if judge.listens_to_instruction else None
            # Augmented variants of one seed share text and requirements, so their reference-system
            # responses are often the same audio: the report also counts distinct pairs.
            content_key = stable_hash([audio_hash(a), audio_hash(b), pair.sample.requirements])
            item = Pair(pair.sample, pair.system_a, pair.system_b, a, b, instr)
        except (ValueError, OSError) as e:  # unreadable response audio: invalid, counted
            item = Pair(pair.sample, pair.system_a, pair.system_b, None, None, error=f"could not read the responses: {e}")
            content_key = pair.key
        # The benchmark's own protocol (both orders, cache, contained judge errors); identical pairs
        # are put to the judge, since tying them by itself is what this control measures.
        judged: dict[int, dict] = {}
        verdicts = judge_pairs(judge, [item], cache=cache, tie_identical=False, judgements_out=judged)
        new_rows = [_row(v, pair, judged[0][v.order].meta, content_key) for v in verdicts]
        append_jsonl(path, new_rows)
        rows.extend(new_rows)
    return rows


# --- scoring ------------------------------------------------------------------------------------------
def _outcomes(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per pair: resolved outcome from the expected winner's side, consistency, abstention."""
    from .protocol import resolve

    by_pair: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_pair[r["pair"]].append(r)
    out = []
    for key, rs in by_pair.items():
        (res,) = resolve([Verdict.from_row(r) for r in rs])
        first = next(r for r in rs if r["order"] == "ab")
        expected_a = first["system_a"]  # the ab row shows the expected winner first
        outcome = res.outcome
        if outcome in ("a", "b"):
            outcome = "expected" if (outcome == "a") == (res.system_a == expected_a) else "reversed"
        content_abstained = all("content" in r.get("abstained", []) for r in rs)
        out.append({"pair": key, "content_key": first.get("content_key") or key,
                    "kind": first["kind"], "attributes": first["attributes"],
                    "measured": first.get("measured", []), "measurable": bool(first.get("measured")),
                    "level": first["level"], "task": first["task"],
                    "outcome": outcome, "consistent": res.consistent, "content_abstained": content_abstained})
    return out


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _acc(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    valid = [r for r in records if r["outcome"] != "invalid"]
    hits = sum(r["outcome"] == "expected" for r in valid)
    distinct = list({r["content_key"]: r for r in valid}.values())
    return {"n": n, "n_invalid": n - len(valid), "accuracy": _rate(hits, len(valid)),
            "correct": hits, "ties": sum(r["outcome"] in ("tie", "both_bad") for r in valid),
            "reversed": sum(r["outcome"] == "reversed" for r in valid),
            "n_distinct": len(distinct),
            "accuracy_distinct": _rate(sum(r["outcome"] == "expected" for r in distinct), len(distinct))}


def score(rows: Sequence[dict[str, Any]], missing: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """The calibration report (JSON-able): accuracy by difference type, attribute and level, swap
    consistency, identical-pair tie rate, and the targets with whether each is met."""
    recs = _outcomes(rows)
    para = [r for r in recs if r["kind"] == PARALINGUISTIC]
    para_meas = [r for r in para if r["measurable"]]
    content = [r for r in recs if r["kind"] == CONTENT]
    ident = [r for r in recs if r["kind"] == IDENTICAL]
    judged_twice = [r for r in recs if r["kind"] != IDENTICAL and r["consistent"] is not None]
    content_abst = [r for r in content if r["content_abstained"]]

    by_attr: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in para:
        for a in r["attributes"]:
            by_attr[a if a in r["measured"] else f"{a} (not measured)"].append(r)
    by_level: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in recs:
        if r["kind"] != IDENTICAL:
            by_level[r["level"]][r["kind"]].append(r)

    ident_ok = sum(r["outcome"] in ("tie", "both_bad") for r in ident)
    consistency = _rate(sum(bool(r["consistent"]) for r in judged_twice), len(judged_twice))
    report: dict[str, Any] = {
        "paralinguistic": _acc(para),
        "paralinguistic_measurable": _acc(para_meas),
        "content": {**_acc(content), "abstained": len(content_abst),
                    "accuracy_when_not_abstained": _acc([r for r in content if not r["content_abstained"]])["accuracy"]},
        "identical": {"n": len(ident), "ties": ident_ok, "tie_rate": _rate(ident_ok, len(ident))},
        "swap_consistency": consistency,
        "n_inconsistent": sum(r["consistent"] is False for r in judged_twice),
        "by_attribute": {a: {**_acc(v), "measurable": any(a in r["measured"] for r in v)}
                         for a, v in sorted(by_attr.items())},
        "by_level": {lv: {k: _acc(v) for k, v in sorted(kinds.items())} for lv, kinds in sorted(by_level.items())},
        "missing_pairs": list(missing),
    }
    values = {"paralinguistic_accuracy_measurable": report["paralinguistic_measurable"]["accuracy"],
              "swap_consistency": consistency, "identical_tie_rate": report["identical"]["tie_rate"]}
    report["targets"] = {k: {"value": values[k], "target": t, "met": values[k] is not None and values[k] >= t}
                         for k, t in TARGETS.items()}
    report["content_target_note"] = (
        "content-only pairs: the judge abstained on content in "
        f"{len(content_abst)} of {len(content)} pairs (no ASR backend)" if content_abst else
        "content-only pairs judged on content")
    return report


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def markdown_table(report: dict[str, Any], judge_name: str = "") -> str:
    """The calibration report as Markdown tables (the README shows one from a real run)."""
    lines = []
    title = f"Calibration of the `{judge_name}` judge" if judge_name else "Calibration"
    lines += [f"### {title}", "",
              "| difference | pairs | correct | ties | reversed | invalid | accuracy | distinct pairs | accuracy on distinct |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [("paralinguistic-only (measurable)", report["paralinguistic_measurable"]),
            ("paralinguistic-only (all)", report["paralinguistic"])]
    c = report["content"]
    all_abstained = c["n"] > 0 and c.get("abstained") == c["n"]
    if not all_abstained:
        rows.append(("content-only", c))
    for name, a in rows:
        lines.append(f"| {name} | {a['n']} | {a['correct']} | {a['ties']} | {a['reversed']} | {a['n_invalid']} | "
                     f"{_pct(a['accuracy'])} | {a['n_distinct']} | {_pct(a['accuracy_distinct'])} |")
    if all_abstained:
        lines.append(f"| content-only | {c['n']} | | | | | abstained (no ASR) | | |")
        lines += ["", f"With content abstained, the overall verdict on content-only pairs rests on delivery alone "
                  f"(the other text changes rate, pauses, prominence): reference preferred in {c['correct']}, "
                  f"tie in {c['ties']}, other preferred in {c['reversed']} of {c['n']} pairs."]
    elif c.get("abstained"):
        lines.append(f"| content-only, judge abstained on content | {c['abstained']} | | | | | abstained | | |")
    ident = report["identical"]
    lines += ["", f"Identical pairs tied: {ident['ties']}/{ident['n']} ({_pct(ident['tie_rate'])}); "
              f"swap consistency: {_pct(report['swap_consistency'])} ({report['n_inconsistent']} inconsistent pairs).", ""]
    lines += ["| attribute (paralinguistic-only pairs) | measurable | pairs | accuracy |", "|---|:---:|---:|---:|"]
    for attr, a in report["by_attribute"].items():
        lines.append(f"| {attr} | {'yes' if a['measurable'] else 'no'} | {a['n']} | {_pct(a['accuracy'])} |")
    lines += ["", "| level | paralinguistic-only pairs | accuracy | content-only pairs | accuracy |", "|---|---:|---:|---:|---:|"]
    for lv, kinds in report["by_level"].items():
        p, c2 = kinds.get(PARALINGUISTIC), kinds.get(CONTENT)
        c_acc = "abstained" if (c2 and all_abstained) else (_pct(c2["accuracy"]) if c2 else "n/a")
        lines.append(f"| {lv} | {p['n'] if p else 0} | {_pct(p['accuracy']) if p else 'n/a'} | "
                     f"{c2['n'] if c2 else 0} | {c_acc} |")
    lines += ["", "| target | value | required | met |", "|---|---:|---:|:---:|"]
    for k, t in report["targets"].items():
        lines.append(f"| {k} | {_pct(t['value'])} | {_pct(t['target'])} | {'yes' if t['met'] else 'NO'} |")
    if report["missing_pairs"]:
        lines += ["", f"{len(report['missing_pairs'])} pairs could not be formed (a response is missing)."]
    return "\n".join(lines) + "\n"


# --- the whole run ------------------------------------------------------------------------------------
def run_calibration(judge: Judge, samples: Sequence[Sample], resp_dir: str | Path, out_dir: str | Path, *,
                    render: bool = True, seed: int = 0, synth: str = "espeak", cache: Any = None,
                    progress: bool = True) -> dict[str, Any]:
    """Render the reference systems (resumable) if asked, judge the labelled pairs, write
    ``calibration.json``, ``calibration.md``, ``verdicts.jsonl`` and ``manifest.json`` into ``out_dir``."""
    from s2s_arena import __version__
    from s2s_arena.audio import atomic_write_bytes
    from s2s_arena.responses import load_responses
    from s2s_arena.systems.reference import REFERENCE_SYSTEMS, render_reference_systems

    t0 = time.time()
    resp_dir, out_dir = Path(resp_dir), Path(out_dir)
    if render:
        render_reference_systems(samples, resp_dir, seed=seed, synth_spec=synth, progress=progress)
    responses = load_responses(resp_dir, systems=list(REFERENCE_SYSTEMS))
    available = {name: set(r.responses) for name, r in responses.items()}
    pairs, missing = labelled_pairs(samples, available)
    rows = judge_labelled(judge, pairs, responses, out_dir, cache=cache, progress=progress)
    report = score(rows, missing)
    report["judge"] = {"name": judge.name, "version": judge.version, "config_hash": judge.config_hash()}
    report["n_samples"] = len(samples)
    report["levels"] = sorted({s.level for s in samples})
    atomic_write_bytes(out_dir / "calibration.json", (json.dumps(report, indent=2, default=str) + "\n").encode())
    atomic_write_bytes(out_dir / "calibration.md", markdown_table(report, judge.name).encode())
    manifest = {"what": "judge calibration on reference-system pairs (s2s-arena calibrate)",
                "judge": report["judge"], "responses": str(resp_dir), "seed": seed, "synth": synth,
                "n_samples": len(samples), "n_pairs": len(pairs), "n_missing_pairs": len(missing),
                "s2s_arena_version": __version__, "wall_s": round(time.time() - t0, 1)}
    atomic_write_bytes(out_dir / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return report
