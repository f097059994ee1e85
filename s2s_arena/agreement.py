"""Agreement between two sources of pairwise outcomes, and a single source's position bias.

Works the same for judge vs human, human vs human (double-annotated items) and judge vs judge: both
sides are :class:`~s2s_arena.outcomes.Outcomes`. Items are matched on (sample_id, unordered system
pair); outcomes are compared in a canonical orientation (the alphabetically first system of the
pair), so a vote on "B vs A" and a verdict on "A vs B" meet. When an item has several outcomes on a
side, every cross pair counts with weight 1 / (n_a n_b), so each item weighs one.

Labels: 4-way = first wins | second wins | tie | both_bad; 3-way merges both_bad into tie (as the
rating does). Confidence intervals resample seeds (``Outcomes.cluster``), seeded. Judge verdicts arrive
resolved (both orders of a pair are one outcome; see ``s2s_arena.outcomes.resolve``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .outcomes import Outcomes
from .ratings import _cluster_weights, fit
from .schema import SchemaError

LABELS_4 = ("first", "second", "tie", "both_bad")
LABELS_3 = ("first", "second", "tie")


def canonical(outcomes: Outcomes) -> tuple[np.ndarray, np.ndarray]:
    """Item keys ``sample_id|lo|hi`` and 4-way label codes (0 first=lo wins, 1 hi wins, 2 tie, 3 both_bad)."""
    a, b = outcomes.system_a.astype(str), outcomes.system_b.astype(str)
    a_first = a < b
    lo, hi = np.where(a_first, a, b), np.where(a_first, b, a)
    keys = np.char.add(np.char.add(np.char.add(np.char.add(outcomes.sample_id.astype(str), "|"), lo), "|"), hi)
    lo_won = np.where(a_first, outcomes.score_a == 1.0, outcomes.score_a == 0.0)
    hi_won = np.where(a_first, outcomes.score_a == 0.0, outcomes.score_a == 1.0)
    label = np.full(len(outcomes), 2, dtype=np.int64)
    label[lo_won] = 0
    label[hi_won] = 1
    label[outcomes.both_bad] = 3
    return keys, label


def _match(a: Outcomes, b: Outcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Matched (label_a, label_b, weight, sample cluster, number of items) over items on both sides."""
    ka, la = canonical(a)
    kb, lb = canonical(b)
    by_b: dict[str, list[int]] = {}
    for n, k in enumerate(kb.tolist()):
        by_b.setdefault(k, []).append(n)
    by_a: dict[str, list[int]] = {}
    for n, k in enumerate(ka.tolist()):
        by_a.setdefault(k, []).append(n)
    out_a, out_b, w, cl = [], [], [], []
    n_items = 0
    for key, rows_a in by_a.items():
        rows_b = by_b.get(key)
        if not rows_b:
            continue
        n_items += 1
        weight = 1.0 / (len(rows_a) * len(rows_b))
        for i in rows_a:
            for j in rows_b:
                out_a.append(la[i])
                out_b.append(lb[j])
                w.append(weight)
                cl.append(a.cluster[i])
    return (np.array(out_a, dtype=np.int64), np.array(out_b, dtype=np.int64), np.array(w, dtype=float),
            np.array(cl, dtype=object), n_items)


def _kappa_from_confusion(conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed agreement and Cohen's kappa from (..., L, L) weighted confusion matrices."""
    total = conf.sum(axis=(-1, -2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = np.trace(conf, axis1=-2, axis2=-1) / total
        pa = conf.sum(axis=-1) / total[..., None]
        pb = conf.sum(axis=-2) / total[..., None]
        p_e = (pa * pb).sum(axis=-1)
        kappa = (p_o - p_e) / (1.0 - p_e)
    return p_o, kappa


def cohen_kappa(labels_a, labels_b, weights=None, n_labels: int | None = None) -> float:
    """Cohen's kappa of two label sequences (integer codes or strings), optionally weighted."""
    labels_a, labels_b = list(labels_a), list(labels_b)
    if len(labels_a) != len(labels_b) or not labels_a:
        raise ValueError("cohen_kappa: need two non-empty label sequences of equal length")
    cats = sorted(set(labels_a) | set(labels_b), key=str)
    idx = {c: n for n, c in enumerate(cats)}
    size = max(n_labels or 0, len(cats))
    conf = np.zeros((size, size))
    w = np.ones(len(labels_a)) if weights is None else np.asarray(weights, dtype=float)
    np.add.at(conf, ([idx[x] for x in labels_a], [idx[x] for x in labels_b]), w)
    return float(_kappa_from_confusion(conf)[1])


def _quantiles(reps: np.ndarray, ci: float) -> tuple[float, float]:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - ci) / 2.0
    return float(np.quantile(reps, alpha)), float(np.quantile(reps, 1.0 - alpha))


def label_agreement(a: Outcomes, b: Outcomes, *, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
                    ) -> dict[str, Any]:
    """Agreement rate and Cohen's kappa, 3-way and 4-way, on matched items, with bootstrap CIs."""
    la, lb, w, cl, n_items = _match(a, b)
    res: dict[str, Any] = {"n_matched_items": n_items, "n_matched_instructions": len(set(cl.tolist())),
                           "n_matched_pairs": float(w.sum())}
    if len(la) == 0:
        raise SchemaError(f"{a.source} vs {b.source}", "sample_id",
                          "no item (sample_id + system pair) is judged on both sides; nothing to compare")
    clusters, inv = np.unique(cl.astype(str), return_inverse=True)
    for name, n_lab, merge in (("3way", 3, True), ("4way", 4, False)):
        xa, xb = (np.minimum(la, 2), np.minimum(lb, 2)) if merge else (la, lb)
        per_cluster = np.zeros((len(clusters), n_lab * n_lab))
        np.add.at(per_cluster, (inv, xa * n_lab + xb), w)
        conf = per_cluster.sum(0).reshape(n_lab, n_lab)
        p_o, kappa = _kappa_from_confusion(conf)
        res[f"agreement_{name}"] = float(p_o)
        res[f"kappa_{name}"] = float(kappa)
        res[f"confusion_{name}"] = conf.tolist()
        if bootstrap > 0:
            rng = np.random.default_rng(seed)
            cw = _cluster_weights(len(clusters), bootstrap, rng)
            boot = (cw @ per_cluster).reshape(bootstrap, n_lab, n_lab)
            bo, bk = _kappa_from_confusion(boot)
            res[f"agreement_{name}_ci"] = _quantiles(bo, ci)
            res[f"kappa_{name}_ci"] = _quantiles(bk, ci)
    # Agreement on who won, where both sides named a winner.
    decisive = (la < 2) & (lb < 2)
    res["n_decisive_both"] = float(w[decisive].sum())
    res["decisive_agreement"] = float((w * (la == lb))[decisive].sum() / w[decisive].sum()) if decisive.any() else None
    return res


def position_bias(outcomes: Outcomes) -> dict[str, Any]:
    """First-slot pick rate (share of decisive order-level judgements won by the system presented
    first), position consistency (items judged in both orders: share with the same outcome; for judge
    verdicts this is the resolution's own count, for votes the same annotator's two arrangements) and the
    identical-pair tie rate (a system against itself should be a tie)."""
    decisive = int(outcomes.decisive.sum())
    res: dict[str, Any] = {
        "n": len(outcomes),
        "n_decisive": decisive,
        "first_slot_pick_rate": float(outcomes.first_won.sum() / decisive) if decisive else None,
        "tie_rate": float(outcomes.is_tie.mean()) if len(outcomes) else None,
    }
    resolved = np.isfinite(outcomes.consistent)
    checks = [bool(x) for x in outcomes.consistent[resolved]]
    keys, labels = canonical(outcomes)
    who = outcomes.annotator.astype(str) if outcomes.annotator is not None else np.full(len(outcomes), "")
    # Which system of the canonical pair was presented first: the A/B labels of a record may be
    # either way round, so "swapped" means the canonical first system moved slot.
    lo_first = outcomes.first_is_a == (outcomes.system_a.astype(str) < outcomes.system_b.astype(str))
    seen: dict[tuple[str, str, bool], int] = {}
    for n, (k, a, f) in enumerate(zip(keys.tolist(), who.tolist(), lo_first.tolist())):
        if not resolved[n]:  # a resolved pair already holds both orders
            seen.setdefault((k, a, f), labels[n])
    checks += [bool(min(lab, 2) == min(seen[(k, a, False)], 2))
               for (k, a, f), lab in seen.items() if f and (k, a, False) in seen]
    res["n_swapped_pairs"] = len(checks)
    res["position_consistency"] = float(np.mean(checks)) if checks else None
    sp = outcomes.self_pairs
    res["n_identical_pairs"] = int(sp.shape[0])
    res["identical_pair_tie_rate"] = float(np.mean(sp == 0.5)) if sp.shape[0] else None
    return res


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Spearman correlation of (R, K) arrays (average ranks for ties)."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=-1), rankdata(y, axis=-1)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(-1) / np.sqrt((rx ** 2).sum(-1) * (ry ** 2).sum(-1))


def _kendall(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Kendall tau-b of (R, K) arrays."""
    i, j = np.triu_indices(x.shape[-1], k=1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(-1) / np.sqrt((sx != 0).sum(-1) * (sy != 0).sum(-1))


def system_correlation(a: Outcomes, b: Outcomes, *, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
                       ) -> dict[str, Any]:
    """Spearman and Kendall (tau-b) correlation of the two sources' Bradley–Terry ratings over their
    common systems; the CI resamples instructions jointly (the same draw for both sides)."""
    common = sorted(set(a.systems) & set(b.systems))
    if len(common) < 3:
        raise SchemaError(f"{a.source} vs {b.source}", "system_a",
                          f"need at least 3 systems rated by both sides for a rank correlation, got {common}")
    a = a.subset(np.isin(a.system_a, common) & np.isin(a.system_b, common))
    b = b.subset(np.isin(b.system_a, common) & np.isin(b.system_b, common))
    clusters = np.array(sorted(set(a.cluster.astype(str).tolist()) | set(b.cluster.astype(str).tolist())))
    fa = fit(a, systems=common, bootstrap=bootstrap, seed=seed, clusters=clusters)
    fb = fit(b, systems=common, bootstrap=bootstrap, seed=seed, clusters=clusters)
    res: dict[str, Any] = {"systems": common,
                           "spearman": float(_spearman(fa.theta, fb.theta)),
                           "kendall": float(_kendall(fa.theta, fb.theta))}
    if bootstrap > 0:
        res["spearman_ci"] = _quantiles(_spearman(fa.samples, fb.samples), ci)
        res["kendall_ci"] = _quantiles(_kendall(fa.samples, fb.samples), ci)
    return res


def share_clusters(a: Outcomes, b: Outcomes) -> tuple[Outcomes, Outcomes]:
    """Both sides resampled by the same units: a sample whose seed either side knows (verdict rows
    carry it, votes may not) is clustered by that seed on both sides."""
    seed_of: dict[str, str] = {}
    for o in (a, b):
        for sid, cl in zip(o.sample_id.astype(str).tolist(), o.cluster.astype(str).tolist()):
            if cl != sid:
                seed_of.setdefault(sid, cl)
    out = []
    for o in (a, b):
        o = o.subset(np.ones(len(o), dtype=bool))
        o.cluster = np.array([seed_of.get(s, c) for s, c in zip(o.sample_id.astype(str).tolist(),
                                                                o.cluster.astype(str).tolist())], dtype=object)
        out.append(o)
    return out[0], out[1]


def compare(a: Outcomes, b: Outcomes, *, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95) -> dict[str, Any]:
    """Everything at once: label agreement and kappa, system-level rank correlation, and each side's
    position bias. ``a`` and ``b`` may be a judge and humans, two humans, or two judges."""
    a, b = share_clusters(a, b)
    res: dict[str, Any] = {"a": a.source, "b": b.source, "n_a": len(a), "n_b": len(b)}
    res.update(label_agreement(a, b, bootstrap=bootstrap, seed=seed, ci=ci))
    try:
        res["system_level"] = system_correlation(a, b, bootstrap=bootstrap, seed=seed, ci=ci)
    except SchemaError as e:
        res["system_level"] = {"error": e.detail}
    res["position_bias_a"] = position_bias(a)
    res["position_bias_b"] = position_bias(b)
    return res


def split_double_annotated(outcomes: Outcomes) -> tuple[Outcomes, Outcomes]:
    """For human-vs-human agreement inside one file: the first and the second outcome of every item
    (sample_id + pair) that was annotated at least twice, as two tables."""
    keys, _ = canonical(outcomes)
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for n, k in enumerate(keys.tolist()):
        if k not in first:
            first[k] = n
        elif k not in second:
            second[k] = n
    if not second:
        raise SchemaError(outcomes.source or "outcomes", "sample_id", "no item is annotated twice")
    items = sorted(second)
    one = outcomes.subset(np.array([first[k] for k in items]))
    two = outcomes.subset(np.array([second[k] for k in items]))
    one.source, two.source = f"{outcomes.source} (1st annotation)", f"{outcomes.source} (2nd annotation)"
    return one, two
