"""Evidence that the votes mean something: the arena's validity report.

Every figure is computed from the vote rows the Space stores (``VoteStore.votes()`` joined with the
battle roles of :mod:`s2s_arena.arena.roles`, or an export of them), optionally with a judge's
verdicts and the benchmark's requirements:

* **gold**: each voter's accuracy on gold battles (controlled pairs with a known better side); voters
  with at least ``min_gold`` gold answers and an accuracy below ``min_accuracy`` are *flagged*, and
  every vote of a flagged voter is left out of everything below (and of the ratings);
* **inter-annotator agreement** on items (instruction + system pair) voted by two or more different
  voters: raw agreement and Cohen's kappa on the first two annotations, Fleiss' kappa on all of them,
  overall and per level;
* **position bias**: the first-slot (left) pick rate, and swap consistency: agreement between two
  voters who heard the pair in opposite orders, against two who heard it in the same order;
* **judge against humans**: pair-level agreement and kappa, system-level Spearman / Kendall, overall,
  per level and per requirement attribute (content vs paralinguistic);
* **error analysis**: the voters' failure reasons for the losing response, per system and per level,
  and the items where voters disagree with each other or with the judge.

Labels are canonical (the alphabetically first system of the pair): first wins / second wins / tie,
``both_bad`` merged into tie as the rating does. Confidence intervals are percentile bootstraps that
resample instructions (``sample_id``), or voters for per-voter rates, seeded.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .schema import FAILURES, SchemaError

ROLE_ORDINARY, ROLE_GOLD, ROLE_RESERVE = "ordinary", "gold", "reserve"
GOLD_REASON = "gold"  # exclusion_reason of a gold vote: stored, never rated
ATTR_CONTENT, ATTR_PARA = "content", "paralinguistic"
DEFAULT_MIN_GOLD = 5
DEFAULT_MIN_ACCURACY = 0.7
_LABEL = {0: "first", 1: "second", 2: "tie"}


# --- rows ---------------------------------------------------------------------------------------------
def _is_true(v: Any) -> bool:
    return v in (True, 1, "true", "True", "1")


def canonical_label(row: Mapping[str, Any]) -> tuple[str, int]:
    """(item key ``sample|lo|hi``, 3-way label: 0 = lo won, 1 = hi won, 2 = tie or both bad)."""
    a, b, w = str(row["system_a"]), str(row["system_b"]), row["winner"]
    lo, hi = sorted((a, b))
    if w in ("a", "b"):
        won = a if w == "a" else b
        label = 0 if won == lo else 1
    else:
        label = 2
    return f"{row['sample_id']}|{lo}|{hi}", label


def is_gold(row: Mapping[str, Any]) -> bool:
    return row.get("role") == ROLE_GOLD or row.get("exclusion_reason") == GOLD_REASON


def requirement_attribute(sample: Any) -> str:
    """``paralinguistic`` when the sample requires a delivery a neutral voice does not already have,
    else ``content`` (only what is said is judged)."""
    from .judging.calibration import paralinguistic_attributes

    reqs = sample.requirements if hasattr(sample, "requirements") else sample
    return ATTR_PARA if paralinguistic_attributes(dict(reqs or {})) else ATTR_CONTENT


# --- gold ---------------------------------------------------------------------------------------------
def gold_accuracy(rows: Iterable[Mapping[str, Any]], *, min_gold: int = DEFAULT_MIN_GOLD,
                  min_accuracy: float = DEFAULT_MIN_ACCURACY) -> dict[str, dict[str, Any]]:
    """Per voter (``session``): gold answers, correct ones, accuracy, a Laplace-smoothed reliability
    ``(correct + 1) / (n + 2)`` and ``flagged`` (at least ``min_gold`` answers, accuracy below
    ``min_accuracy``). Only gold votes that passed the listening and rate checks are answers (their
    ``exclusion_reason`` is ``gold``); a tie or "both bad" on a gold pair is a wrong answer."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.get("exclusion_reason") != GOLD_REASON or r.get("gold_expected") not in ("a", "b"):
            continue
        d = out.setdefault(str(r["session"]), {"n": 0, "correct": 0, "by_kind": Counter(), "wrong_by_kind": Counter()})
        d["n"] += 1
        ok = r["winner"] == r["gold_expected"]
        d["correct"] += int(ok)
        kind = r.get("gold_kind") or "?"
        d["by_kind"][kind] += 1
        if not ok:
            d["wrong_by_kind"][kind] += 1
    for d in out.values():
        d["accuracy"] = d["correct"] / d["n"]
        d["reliability"] = (d["correct"] + 1) / (d["n"] + 2)
        d["flagged"] = d["n"] >= min_gold and d["accuracy"] < min_accuracy
        d["by_kind"], d["wrong_by_kind"] = dict(d["by_kind"]), dict(d["wrong_by_kind"])
    return out


def flagged_sessions(rows: Iterable[Mapping[str, Any]], *, min_gold: int = DEFAULT_MIN_GOLD,
                     min_accuracy: float = DEFAULT_MIN_ACCURACY) -> set[str]:
    """The voters who failed gold: the risk sweep excludes every vote of theirs."""
    return {s for s, d in gold_accuracy(rows, min_gold=min_gold, min_accuracy=min_accuracy).items() if d["flagged"]}


def clean_votes(rows: Iterable[Mapping[str, Any]], flagged: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Counted votes on real pairs (gold left out) from voters not flagged."""
    flagged = set(flagged)
    return [dict(r) for r in rows if _is_true(r.get("counted")) and not is_gold(r)
            and str(r.get("session")) not in flagged]


# --- bootstrap helpers --------------------------------------------------------------------------------
def _cluster_sums(values: np.ndarray, clusters: Sequence[Any]) -> tuple[np.ndarray, int]:
    _, inv = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
    n = int(inv.max()) + 1 if len(inv) else 0
    sums = np.zeros((n,) + values.shape[1:])
    np.add.at(sums, inv, values)
    return sums, n


def _draws(n_clusters: int, bootstrap: int, seed: int) -> np.ndarray:
    from .ratings import _cluster_weights

    return _cluster_weights(n_clusters, bootstrap, np.random.default_rng(seed))


def _interval(reps: np.ndarray, ci: float) -> list[float] | None:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    a = (1.0 - ci) / 2.0
    return [float(np.quantile(reps, a)), float(np.quantile(reps, 1.0 - a))]


def ratio_with_ci(num: Sequence[float], den: Sequence[float], clusters: Sequence[Any], *, bootstrap: int,
                  seed: int, ci: float = 0.95) -> dict[str, Any]:
    """sum(num) / sum(den) with a cluster-bootstrap CI."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if den.sum() <= 0:
        return {"value": None, "ci": None, "n": 0}
    sums, n_cl = _cluster_sums(np.stack([num, den], axis=1), clusters)
    res: dict[str, Any] = {"value": float(num.sum() / den.sum()), "n": float(den.sum()), "clusters": n_cl}
    if bootstrap > 0:
        b = _draws(n_cl, bootstrap, seed) @ sums
        with np.errstate(invalid="ignore", divide="ignore"):
            res["ci"] = _interval(b[:, 0] / b[:, 1], ci)
    else:
        res["ci"] = None
    return res


# --- inter-annotator agreement ------------------------------------------------------------------------
def annotations(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Item key -> one annotation per voter (their first), in vote order."""
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key, label = canonical_label(r)
        who = str(r.get("session"))
        if (key, who) in seen:
            continue
        seen.add((key, who))
        items[key].append({"label": label, "session": who, "sample_id": str(r["sample_id"]),
                           "level": r.get("level"), "first": str(r["system_a"]), "row": r})
    return items


def _cohen_from_conf(conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = conf.sum(axis=(-1, -2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = np.trace(conf, axis1=-2, axis2=-1) / total
        pa, pb = conf.sum(-1) / total[..., None], conf.sum(-2) / total[..., None]
        p_e = (pa * pb).sum(-1)
        return p_o, (p_o - p_e) / (1 - p_e)


def _pair_stats(pairs: list[tuple[dict, dict]], *, bootstrap: int, seed: int, ci: float) -> dict[str, Any]:
    """Raw agreement and Cohen's kappa (3-way) of annotation pairs, CIs over instructions."""
    if not pairs:
        return {"n_items": 0, "agreement": None, "kappa": None}
    cells = np.zeros((len(pairs), 9))
    for n, (x, y) in enumerate(pairs):
        cells[n, x["label"] * 3 + y["label"]] = 1.0
    sums, n_cl = _cluster_sums(cells, [x["sample_id"] for x, _ in pairs])
    p_o, kappa = _cohen_from_conf(sums.sum(0).reshape(3, 3))
    res: dict[str, Any] = {"n_items": len(pairs), "n_instructions": n_cl, "agreement": float(p_o),
                           "kappa": float(kappa), "agreement_ci": None, "kappa_ci": None}
    if bootstrap > 0:
        bo, bk = _cohen_from_conf((_draws(n_cl, bootstrap, seed) @ sums).reshape(-1, 3, 3))
        res["agreement_ci"], res["kappa_ci"] = _interval(bo, ci), _interval(bk, ci)
    return res


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of an (items, categories) table of rater counts (items may have different
    numbers of raters, each at least 2)."""
    counts = np.asarray(counts, dtype=float)
    n_i = counts.sum(1)
    if counts.shape[0] == 0 or (n_i < 2).any():
        raise ValueError("fleiss_kappa: every item needs at least two ratings")
    p_i = ((counts ** 2).sum(1) - n_i) / (n_i * (n_i - 1))
    p_j = counts.sum(0) / n_i.sum()
    p_e = float((p_j ** 2).sum())
    return float((p_i.mean() - p_e) / (1 - p_e)) if p_e < 1 else float("nan")


def _fleiss(items: list[list[dict]], *, bootstrap: int, seed: int, ci: float) -> dict[str, Any]:
    if not items:
        return {"n_items": 0, "kappa": None, "kappa_ci": None}
    counts = np.zeros((len(items), 3))
    for n, anns in enumerate(items):
        for a in anns:
            counts[n, a["label"]] += 1
    n_i = counts.sum(1)
    p_i = ((counts ** 2).sum(1) - n_i) / (n_i * (n_i - 1))
    # Per cluster: sum of P_i, number of items, category counts, number of ratings.
    stats = np.concatenate([p_i[:, None], np.ones((len(items), 1)), counts, n_i[:, None]], axis=1)
    sums, n_cl = _cluster_sums(stats, [anns[0]["sample_id"] for anns in items])

    def kappa(s: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            p_bar = s[..., 0] / s[..., 1]
            p_j = s[..., 2:5] / s[..., 5:6]
            p_e = (p_j ** 2).sum(-1)
            return (p_bar - p_e) / (1 - p_e)

    res: dict[str, Any] = {"n_items": len(items), "n_ratings": int(n_i.sum()), "kappa": float(kappa(sums.sum(0))),
                           "kappa_ci": None}
    if bootstrap > 0:
        res["kappa_ci"] = _interval(kappa(_draws(n_cl, bootstrap, seed) @ sums), ci)
    return res


def inter_annotator(rows: Sequence[Mapping[str, Any]], *, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
                    ) -> dict[str, Any]:
    """Human-human agreement on items voted by two or more voters: overall, per level, and the
    swap split that measures position effects (the first two annotations of every item)."""
    items = {k: v for k, v in annotations(rows).items() if len(v) >= 2}
    multi = list(items.values())
    pairs = [(v[0], v[1]) for v in multi]
    res: dict[str, Any] = {"n_items": len(multi), "n_annotations": sum(len(v) for v in multi)}
    res["cohen"] = _pair_stats(pairs, bootstrap=bootstrap, seed=seed, ci=ci)
    res["fleiss"] = _fleiss(multi, bootstrap=bootstrap, seed=seed, ci=ci)
    res["swapped"] = _pair_stats([p for p in pairs if p[0]["first"] != p[1]["first"]], bootstrap=bootstrap,
                                 seed=seed, ci=ci)
    res["same_order"] = _pair_stats([p for p in pairs if p[0]["first"] == p[1]["first"]], bootstrap=bootstrap,
                                    seed=seed, ci=ci)
    levels = sorted({str(p[0]["level"]) for p in pairs if p[0]["level"] is not None})
    res["by_level"] = {lv: {"cohen": _pair_stats([p for p in pairs if str(p[0]["level"]) == lv],
                                                 bootstrap=bootstrap, seed=seed, ci=ci),
                            "fleiss": _fleiss([v for v in multi if str(v[0]["level"]) == lv],
                                              bootstrap=bootstrap, seed=seed, ci=ci)}
                       for lv in levels}
    return res


def position_bias(rows: Sequence[Mapping[str, Any]], *, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
                  ) -> dict[str, Any]:
    """First-slot pick rate over decisive votes (CI over voters) and swap consistency (agreement of two
    voters who heard the pair in opposite orders; CI over instructions), next to the agreement of two
    who heard it in the same order: a gap between the two is what position bias costs."""
    decisive = [r for r in rows if r["winner"] in ("a", "b")]
    first = ratio_with_ci([r["winner"] == "a" for r in decisive], [1.0] * len(decisive),
                          [str(r.get("session")) for r in decisive], bootstrap=bootstrap, seed=seed, ci=ci)
    pairs = [(v[0], v[1]) for v in annotations(rows).values() if len(v) >= 2]
    swapped = [p for p in pairs if p[0]["first"] != p[1]["first"]]
    same = [p for p in pairs if p[0]["first"] == p[1]["first"]]
    out = {"n_votes": len(rows), "n_decisive": len(decisive), "first_slot_rate": first,
           "tie_rate": float(np.mean([r["winner"] not in ("a", "b") for r in rows])) if rows else None}
    for name, group in (("swap_consistency", swapped), ("same_order_agreement", same)):
        out[name] = ratio_with_ci([float(x["label"] == y["label"]) for x, y in group], [1.0] * len(group),
                                  [x["sample_id"] for x, _ in group], bootstrap=bootstrap, seed=seed, ci=ci)
    return out


# --- judge against humans -----------------------------------------------------------------------------
def _with_attribute(outcomes: Any, attributes: Mapping[str, str] | None) -> Any:
    if attributes:
        outcomes.covariates["attribute"] = np.array([attributes.get(str(s)) for s in outcomes.sample_id],
                                                    dtype=object)
    return outcomes


def human_outcomes(rows: Sequence[Mapping[str, Any]], attributes: Mapping[str, str] | None = None,
                   where: str = "votes") -> Any:
    from .outcomes import Outcomes

    keep = ("sample_id", "system_a", "system_b", "winner", "p_pair", "session", "level", "domain", "task")
    return _with_attribute(Outcomes.from_records([{k: r.get(k) for k in keep} for r in rows], where), attributes)


def _compare(human: Any, judge: Any, bootstrap: int, seed: int, ci: float) -> dict[str, Any]:
    from . import agreement

    out: dict[str, Any] = {}
    try:
        la = agreement.label_agreement(judge, human, bootstrap=bootstrap, seed=seed, ci=ci)
        out.update({k: la[k] for k in ("n_matched_items", "n_matched_instructions", "agreement_3way", "kappa_3way",
                                       "decisive_agreement")})
        out["agreement_3way_ci"] = la.get("agreement_3way_ci")
        out["kappa_3way_ci"] = la.get("kappa_3way_ci")
    except SchemaError as e:
        out["error"] = getattr(e, "detail", str(e))
        return out
    try:
        sl = agreement.system_correlation(judge, human, bootstrap=bootstrap, seed=seed, ci=ci)
        out["system_level"] = sl
    except SchemaError as e:
        out["system_level"] = {"error": getattr(e, "detail", str(e))}
    return out


def judge_vs_human(human: Any, judge: Any, *, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
                   ) -> dict[str, Any]:
    """Pair-level agreement and kappa, and system-level Spearman / Kendall with CIs, between a judge's
    verdicts and the human votes: overall, per level and per requirement attribute (when the
    outcomes carry an ``attribute`` covariate)."""
    res: dict[str, Any] = {"judge": judge.source, "overall": _compare(human, judge, bootstrap, seed, ci)}
    for cov in ("level", "attribute"):
        hv, jv = human.covariates.get(cov), judge.covariates.get(cov)
        if hv is None:
            continue
        if jv is None and cov == "attribute":
            continue
        groups = sorted({str(x) for x in hv if x is not None})
        split: dict[str, Any] = {}
        for g in groups:
            h = human.subset(hv.astype(str) == g)
            j = judge.subset(jv.astype(str) == g) if jv is not None else judge
            split[g] = _compare(h, j, bootstrap, seed, ci)
        res[f"by_{cov}"] = split
    return res


# --- error analysis -----------------------------------------------------------------------------------
def failure_reasons(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The voters' reasons why the worse response lost (the paper's three cases), counted against the
    losing system, per system and per level."""
    by_system: dict[str, Counter] = defaultdict(Counter)
    by_level: dict[str, Counter] = defaultdict(Counter)
    by_sys_level: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    n_decisive = n_reasoned = 0
    for r in rows:
        if r["winner"] not in ("a", "b"):
            continue
        n_decisive += 1
        f = r.get("failure")
        if f not in FAILURES:
            continue
        n_reasoned += 1
        loser = str(r["system_b"] if r["winner"] == "a" else r["system_a"])
        lv = str(r.get("level") or "?")
        by_system[loser][f] += 1
        by_level[lv][f] += 1
        by_sys_level[loser][lv][f] += 1

    def shares(c: Counter) -> dict[str, Any]:
        n = sum(c.values())
        return {"n": n, **{f: c[f] for f in FAILURES}, **{f"{f}_share": (c[f] / n if n else None) for f in FAILURES}}

    return {"n_decisive": n_decisive, "n_with_reason": n_reasoned,
            "by_system": {s: shares(c) for s, c in sorted(by_system.items())},
            "by_level": {lv: shares(c) for lv, c in sorted(by_level.items())},
            "by_system_level": {s: {lv: shares(c) for lv, c in sorted(d.items())} for s, d in sorted(by_sys_level.items())}}


def _judge_labels(judge: Any) -> dict[str, list[int]]:
    from .agreement import canonical

    keys, labels = canonical(judge)
    out: dict[str, list[int]] = defaultdict(list)
    for k, lab in zip(keys.tolist(), labels.tolist()):
        out[k].append(min(int(lab), 2))
    return out


def disagreements(rows: Sequence[Mapping[str, Any]], judge: Any = None, *, limit: int = 200) -> list[dict[str, Any]]:
    """Items where two voters gave different outcomes, or where the voters' majority and the judge's
    (majority over its orders) differ; each with both systems and every label (canonical)."""
    jl = _judge_labels(judge) if judge is not None else {}
    out = []
    for key, anns in annotations(rows).items():
        labels = [a["label"] for a in anns]
        human_major = Counter(labels).most_common(1)[0][0]
        j = jl.get(key)
        judge_major = Counter(j).most_common(1)[0][0] if j else None
        among = len(set(labels)) > 1
        vs_judge = judge_major is not None and judge_major != human_major
        if not (among or vs_judge):
            continue
        sid, lo, hi = key.split("|", 2)
        out.append({"sample_id": sid, "level": anns[0]["level"], "system_first": lo, "system_second": hi,
                    "human": [_LABEL[x] for x in labels], "judge": _LABEL[judge_major] if judge_major is not None else None,
                    "voters_disagree": among, "judge_disagrees": vs_judge})
    out.sort(key=lambda d: (not (d["voters_disagree"] and d["judge_disagrees"]), d["sample_id"]))
    return out[:limit]


# --- the whole report ---------------------------------------------------------------------------------
def validity_report(rows: Sequence[Mapping[str, Any]], *, judge: Any = None,
                    attributes: Mapping[str, str] | None = None, bootstrap: int = 1000, seed: int = 0,
                    ci: float = 0.95, min_gold: int = DEFAULT_MIN_GOLD, min_accuracy: float = DEFAULT_MIN_ACCURACY,
                    also_excluded: Iterable[str] = (), source: str = "") -> dict[str, Any]:
    """The validity report (JSON-able) of the vote rows; ``judge`` is an Outcomes table of verdicts,
    ``attributes`` maps sample_id -> content | paralinguistic, ``also_excluded`` adds voters another
    check (the risk sweep) flagged."""
    rows = [dict(r) for r in rows]
    if not rows:
        raise SchemaError(source or "votes", None, "no votes to report on")
    gold = gold_accuracy(rows, min_gold=min_gold, min_accuracy=min_accuracy)
    flagged = {s for s, d in gold.items() if d["flagged"]} | set(also_excluded)
    clean = clean_votes(rows, flagged)
    counted = [r for r in rows if _is_true(r.get("counted"))]
    roles = Counter(r.get("role") or (ROLE_GOLD if is_gold(r) else ROLE_ORDINARY) for r in rows)
    gold_votes = [r for r in rows if r.get("exclusion_reason") == GOLD_REASON and r.get("gold_expected")]
    kept_gold = [r for r in gold_votes if str(r["session"]) not in flagged]
    report: dict[str, Any] = {
        "source": source, "bootstrap": bootstrap, "seed": seed, "ci": ci,
        "settings": {"min_gold": min_gold, "min_accuracy": min_accuracy},
        "n_votes": len(rows), "n_counted": len(counted), "n_clean": len(clean),
        "n_voters": len({str(r.get("session")) for r in rows}), "roles": dict(roles),
        "gold": {
            "n_votes": len(gold_votes), "n_voters": len(gold),
            "n_flagged": sum(d["flagged"] for d in gold.values()),
            "flagged": sorted(s for s, d in gold.items() if d["flagged"]),
            "n_votes_excluded": sum(1 for r in counted if str(r.get("session")) in flagged and not is_gold(r)),
            "accuracy_all": ratio_with_ci([r["winner"] == r["gold_expected"] for r in gold_votes],
                                          [1.0] * len(gold_votes), [str(r["session"]) for r in gold_votes],
                                          bootstrap=bootstrap, seed=seed, ci=ci),
            "accuracy_kept": ratio_with_ci([r["winner"] == r["gold_expected"] for r in kept_gold],
                                           [1.0] * len(kept_gold), [str(r["session"]) for r in kept_gold],
                                           bootstrap=bootstrap, seed=seed, ci=ci),
            # Over all voters: the kept voters' accuracy is raised by the selection itself (flagging
            # removes those whose gold went badly), so the per-kind figures are taken before it.
            "by_kind": {k: ratio_with_ci([r["winner"] == r["gold_expected"] for r in gold_votes if r.get("gold_kind") == k],
                                         [1.0 for r in gold_votes if r.get("gold_kind") == k],
                                         [str(r["session"]) for r in gold_votes if r.get("gold_kind") == k],
                                         bootstrap=bootstrap, seed=seed, ci=ci)
                        for k in sorted({str(r.get("gold_kind")) for r in gold_votes if r.get("gold_kind")})},
            "voters": gold,
        },
        "also_excluded": sorted(set(also_excluded)),
    }
    report["inter_annotator"] = inter_annotator(clean, bootstrap=bootstrap, seed=seed, ci=ci)
    report["position_bias"] = position_bias(clean, bootstrap=bootstrap, seed=seed, ci=ci)
    report["failure_reasons"] = failure_reasons(clean)
    if judge is not None and clean:
        judge = _with_attribute(judge, attributes)
        human = human_outcomes(clean, attributes, where=source or "votes")
        report["judge_vs_human"] = judge_vs_human(human, judge, bootstrap=bootstrap, seed=seed, ci=ci)
    report["disagreements"] = disagreements(clean, judge)
    return report


# --- Markdown -----------------------------------------------------------------------------------------
def _f(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _fci(d: Mapping[str, Any] | None, key: str = "value", pct: bool = False) -> str:
    if not d:
        return "n/a"
    c = d.get(f"{key}_ci") if key != "value" else d.get("ci")
    s = _f(d.get(key), pct)
    if c and s != "n/a":
        s += f" [{_f(c[0], pct)}, {_f(c[1], pct)}]"
    return s


def markdown(report: Mapping[str, Any], *, max_disagreements: int = 20) -> str:
    """The report as ``validity.md``: numbers, then how they were obtained."""
    g, ia, pb = report["gold"], report["inter_annotator"], report["position_bias"]
    L: list[str] = ["# Validity report", ""]
    L.append(f"{report['n_votes']} votes stored from {report['n_voters']} voters ({report['n_counted']} counted); "
             f"battles by role: " + ", ".join(f"{k} {v}" for k, v in sorted(report["roles"].items())) + ". "
             f"{report['n_clean']} votes remain after leaving out gold battles and the votes of flagged voters.")
    L += ["", "## Gold battles (controlled pairs with a known better side)", "",
          "| statistic | value [95% CI] |", "|---|---|",
          f"| gold answers | {g['n_votes']} from {g['n_voters']} voters |",
          f"| accuracy, all voters | {_fci(g['accuracy_all'], pct=True)} |",
          f"| accuracy, voters kept | {_fci(g['accuracy_kept'], pct=True)} |"]
    for k, d in g["by_kind"].items():
        L.append(f"| accuracy on {k} gold, all voters | {_fci(d, pct=True)} |")
    st = report["settings"]
    L.append(f"| voters flagged (>= {st['min_gold']} gold answers, accuracy < {100 * st['min_accuracy']:.0f}%) | "
             f"{g['n_flagged']} of {g['n_voters']}; {g['n_votes_excluded']} of their counted votes excluded |")
    if report.get("also_excluded"):
        L.append(f"| voters excluded by the risk sweep | {len(report['also_excluded'])} |")
    L += ["", "## Agreement between voters (items voted by two or more voters)", "",
          f"{ia['n_items']} items, {ia['n_annotations']} annotations. Labels: first system wins / second wins / "
          "tie (both bad counts as a tie).", "",
          "| set | items | raw agreement [95% CI] | Cohen's kappa [95% CI] | Fleiss' kappa [95% CI] |",
          "|---|---:|---|---|---|",
          f"| all | {ia['cohen']['n_items']} | {_fci(ia['cohen'], 'agreement')} | {_fci(ia['cohen'], 'kappa')} | "
          f"{_fci(ia['fleiss'], 'kappa')} |"]
    for lv, d in ia["by_level"].items():
        L.append(f"| level {lv} | {d['cohen']['n_items']} | {_fci(d['cohen'], 'agreement')} | "
                 f"{_fci(d['cohen'], 'kappa')} | {_fci(d['fleiss'], 'kappa')} |")
    L += ["", "## Position bias", "", "| statistic | value [95% CI] | n |", "|---|---|---:|",
          f"| first-slot (left) pick rate, decisive votes | {_fci(pb['first_slot_rate'], pct=True)} | {pb['n_decisive']} |",
          f"| swap consistency (two voters, opposite orders) | {_fci(pb['swap_consistency'], pct=True)} | "
          f"{int(pb['swap_consistency'].get('n') or 0)} |",
          f"| agreement, two voters, same order | {_fci(pb['same_order_agreement'], pct=True)} | "
          f"{int(pb['same_order_agreement'].get('n') or 0)} |",
          f"| tie or both-bad rate | {_f(pb['tie_rate'], pct=True)} | {pb['n_votes']} |"]
    jv = report.get("judge_vs_human")
    if jv:
        L += ["", f"## Judge against humans (`{jv['judge']}`)", "",
              "| split | items | agreement [95% CI] | Cohen's kappa [95% CI] | Spearman [95% CI] | Kendall [95% CI] |",
              "|---|---:|---|---|---|---|"]

        def row(name: str, d: Mapping[str, Any]) -> str:
            if "error" in d:
                return f"| {name} | 0 | n/a: {d['error']} | | | |"
            sl = d.get("system_level") or {}
            corr = ("n/a", "n/a") if "error" in sl else (_fci(sl, "spearman"), _fci(sl, "kendall"))
            return (f"| {name} | {d['n_matched_items']} | {_fci(d, 'agreement_3way')} | {_fci(d, 'kappa_3way')} | "
                    f"{corr[0]} | {corr[1]} |")

        L.append(row("all", jv["overall"]))
        for lv, d in jv.get("by_level", {}).items():
            L.append(row(f"level {lv}", d))
        for at, d in jv.get("by_attribute", {}).items():
            L.append(row(f"{at} requirements", d))
    fr = report["failure_reasons"]
    L += ["", "## Why the worse response lost (voters' reasons, counted against the loser)", "",
          f"{fr['n_with_reason']} of {fr['n_decisive']} decisive votes gave a reason.", "",
          "| loser | reasons | followed, but worse | attempted, failed | did not understand |", "|---|---:|---:|---:|---:|"]
    for name, d in list(fr["by_system"].items()) + [(f"level {k}", v) for k, v in fr["by_level"].items()]:
        L.append(f"| {name} | {d['n']} | {_f(d['worse_share'], True)} | {_f(d['attempted_failed_share'], True)} | "
                 f"{_f(d['not_understood_share'], True)} |")
    dis = report["disagreements"]
    L += ["", f"## Items where voters disagree with each other or with the judge ({len(dis)})", ""]
    if dis:
        L += ["| sample | level | first | second | voters | judge |", "|---|---|---|---|---|---|"]
        for d in dis[:max_disagreements]:
            L.append(f"| {d['sample_id']} | {d['level']} | {d['system_first']} | {d['system_second']} | "
                     f"{', '.join(d['human'])} | {d['judge'] or ''} |")
        if len(dis) > max_disagreements:
            L.append(f"\n({len(dis) - max_disagreements} more in validity.json)")
    L += ["", "## How these numbers were obtained", "",
          "- Gold battles are controlled pairs with a known better side (a correct answer against a content "
          "failure, or the required delivery against the same words without it), served like every other "
          "battle. Their votes never enter the ratings. A voter with at least "
          f"{st['min_gold']} gold answers and an accuracy below {100 * st['min_accuracy']:.0f}% is flagged, and "
          "all their votes are left out of the ratings and of everything below the gold table.",
          "- Double annotation: a share of battles is re-served to other voters (half with the sides swapped). "
          "Agreement uses each voter's first vote on an item (instruction + system pair); Cohen's kappa and raw "
          "agreement compare the first two voters of every item, Fleiss' kappa uses all of them.",
          "- Swap consistency is the agreement of two voters who heard the pair in opposite orders; the same "
          "figure for two voters who heard it in the same order is its reference: the gap is the effect of "
          "position. The first-slot rate is the share of decisive votes for the left response (0.5 = no bias).",
          "- Judge against humans: items are matched on instruction + system pair; every judge verdict (both "
          "orders) meets every human vote with weight 1 / (n_judge n_human). System level: Bradley–Terry "
          "ratings of both sides over their common systems, Spearman and Kendall tau-b.",
          f"- CIs: {report['bootstrap']} percentile-bootstrap rounds (seed {report['seed']}), resampling "
          "instructions, or voters for the gold accuracy and the first-slot rate.", ""]
    if report.get("source"):
        L.append(f"Source: `{report['source']}`.\n")
    return "\n".join(L)


def write_report(report: Mapping[str, Any], out_dir: str | Path, name: str = "validity") -> tuple[Path, Path]:
    """``<name>.md`` and ``<name>.json`` into ``out_dir`` (atomically)."""
    import json

    from .audio import atomic_write_bytes

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / f"{name}.md", out_dir / f"{name}.json"
    atomic_write_bytes(js, (json.dumps(report, indent=2, default=_json_default) + "\n").encode())
    atomic_write_bytes(md, markdown(report).encode())
    return md, js


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)




# --- commands -----------------------------------------------------------------------------------------
def report_from_sources(votes: str, *, verdicts: Sequence[str] = (), data: str | None = None,
                        bootstrap: int = 1000, seed: int = 0, min_gold: int = DEFAULT_MIN_GOLD,
                        min_accuracy: float = DEFAULT_MIN_ACCURACY) -> dict[str, Any]:
    """The report of a votes store (database URL or SQLite file) or an export of its rows, with an
    optional judge (verdict files) and benchmark (for the requirement attribute of each sample)."""
    from .arena.roles import load_vote_rows

    rows = load_vote_rows(str(votes))
    judge = None
    if verdicts:
        from .outcomes import load_many

        judge = load_many(list(verdicts), "verdicts")
    attributes = None
    if data:
        from .benchmark import load_benchmark

        attributes = {s.id: requirement_attribute(s) for s in load_benchmark(str(data))}
    return validity_report(rows, judge=judge, attributes=attributes, bootstrap=bootstrap, seed=seed,
                           min_gold=min_gold, min_accuracy=min_accuracy, source=str(votes))


def vote_sources(paths: Sequence[str]) -> list[str]:
    """The inputs among ``paths`` that hold human votes (a store, or vote rows), not judge verdicts."""
    from .outcomes import detect_format, read_rows

    out = []
    for p in paths:
        try:
            rows = read_rows(p)
            if rows and detect_format(rows, str(p)) == "votes":
                out.append(str(p))
        except (SchemaError, OSError, ValueError):
            continue
    return out


def write_for_leaderboard(inputs: Sequence[str], out_dir: str | Path, *, bootstrap: int = 1000, seed: int = 0
                          ) -> Path:
    """``validity.md`` (and ``validity.json``) next to a leaderboard export: the report of the human
    votes among ``inputs``, compared with the judge verdicts among them; a short note when the
    leaderboard rests on verdicts alone (a judge's own checks are in ``s2s-arena calibrate``)."""
    from .arena.roles import load_vote_rows
    from .audio import atomic_write_bytes

    votes = vote_sources(inputs)
    if not votes:
        path = Path(out_dir) / "validity.md"
        atomic_write_bytes(path, ("# Validity report\n\nThis leaderboard rests on judge verdicts only "
                                  f"({', '.join(map(str, inputs))}); no human votes, so no voter agreement, gold "
                                  "accuracy or judge-vs-human figures. The judge's accuracy on controlled pairs "
                                  "is measured by `s2s-arena calibrate`.\n").encode())
        return path
    rows = [r for v in votes for r in load_vote_rows(v)]
    judge = None
    verdicts = [p for p in inputs if str(p) not in votes]
    if verdicts:
        from .outcomes import load_many

        try:
            judge = load_many(list(verdicts), "verdicts")
        except SchemaError:
            judge = None
    rep = validity_report(rows, judge=judge, bootstrap=bootstrap, seed=seed, source=", ".join(votes))
    return write_report(rep, out_dir)[0]
