"""Ratings from pairwise outcomes: win matrices, online Elo, Bradley–Terry with bootstrap CIs.

The leaderboard's rating is the Bradley–Terry maximum-likelihood strength (ties and "both bad"
count half a win each), displayed as ``1000 + 400 * log10(strength)`` with the strengths' geometric
mean at 1000 (or a named anchor system at 1000).

Why it is fast: outcomes are reduced once to sufficient statistics per (instruction, system pair):
weighted wins of either side and ties. A bootstrap round that resamples instructions is then just
a reweighting of those clusters, i.e. one sparse matrix product giving per-pair counts for a block
of rounds, followed by a warm-started Newton fit of a K-parameter problem done for all rounds of
the block at once (batched K x K solves). Nothing in a round touches the raw outcomes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .outcomes import SAMPLE_COVARIATES, STYLE_FEATURES, Outcomes
from .schema import SchemaError

DISPLAY_BASE = 1000.0
DISPLAY_SCALE = 400.0 / math.log(10.0)  # natural-log strength -> display points
DEFAULT_MIN_VOTES = 30
# Bootstrap rounds may leave a system without a win or a comparison; a very wide Gaussian prior on
# the natural-log strengths (sd 10) keeps such rounds finite while moving ordinary fits by ~1e-4.
BOOTSTRAP_RIDGE = 1e-2
_BLOCK = 256  # bootstrap rounds per batched fit
_BLOCK_CELLS = 4_000_000  # ... and at most this many cluster weights per block (~32 MB)
_CHUNK_CELLS = 250_000  # cluster counts drawn at once in Bradley–Terry bootstrap rounds (~2 MB)


def _one_blas_thread():
    """BLAS limited to one thread: the fits solve hundreds of small K x K systems at once, and a
    threaded LAPACK spends more on waking threads than on the work (on a busy 2-core machine a
    (256, 100, 100) batched solve took 1.6 s threaded and 0.12 s on one thread)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the fits are right, only slower on small problems
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _block(n_clusters: int) -> int:
    return int(max(8, min(_BLOCK, _BLOCK_CELLS // max(n_clusters, 1))))


# --- counts ------------------------------------------------------------------------------------------
@dataclass
class WinMatrix:
    """Counts between every two systems: ``wins[i, j]`` = times system i beat system j."""

    systems: list[str]
    wins: np.ndarray
    ties: np.ndarray
    both_bad: np.ndarray

    @property
    def n(self) -> np.ndarray:
        return self.wins + self.wins.T + self.ties

    @property
    def fraction(self) -> np.ndarray:
        """(wins + ties / 2) / comparisons for row system vs column system; NaN where never compared."""
        n = self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            f = (self.wins + 0.5 * self.ties) / n
        f[n == 0] = np.nan
        return f

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.fraction, index=self.systems, columns=self.systems)


def win_matrix(outcomes: Outcomes, systems: Sequence[str] | None = None) -> WinMatrix:
    systems, ia, ib = outcomes.codes(systems)
    k = len(systems)
    wins = np.zeros((k, k))
    ties = np.zeros((k, k))
    bad = np.zeros((k, k))
    np.add.at(wins, (ia, ib), outcomes.score_a == 1.0)
    np.add.at(wins, (ib, ia), outcomes.score_a == 0.0)
    np.add.at(ties, (ia, ib), outcomes.is_tie)
    np.add.at(bad, (ia, ib), outcomes.both_bad)
    return WinMatrix(systems, wins, ties + ties.T, bad + bad.T)


# --- online Elo ---------------------------------------------------------------------------------------
def elo(outcomes: Outcomes, k: float = 32, init: float = 1000, base: float = 10, scale: float = 400) -> dict[str, float]:
    """Online Elo in record order, as in the S2S-Arena paper: E_A = 1 / (1 + base^((R_B - R_A) / scale)),
    R_A += K (S_A - E_A), R_B += K (E_A - S_A). Order-dependent by design (kept to reproduce the paper)."""
    ratings = {s: float(init) for s in outcomes.systems}
    for a, b, s in zip(outcomes.system_a.tolist(), outcomes.system_b.tolist(), outcomes.score_a.tolist()):
        ra, rb = ratings[a], ratings[b]
        expected = 1.0 / (1.0 + base ** ((rb - ra) / scale))
        ratings[a] = ra + k * (s - expected)
        ratings[b] = rb - k * (s - expected)
    return ratings


# --- sufficient statistics ----------------------------------------------------------------------------
@dataclass
class PairStats:
    """Per (cluster, unordered pair i < j) weighted wins of i, wins of j and ties, as a sparse matrix."""

    systems: list[str]
    pair_i: np.ndarray  # (P,)
    pair_j: np.ndarray
    clusters: np.ndarray  # cluster ids (Outcomes.cluster: the seed, else the sample), (C,)
    matrix: Any  # scipy.sparse CSR (C, 3P): [wins_i | wins_j | ties]
    totals: np.ndarray  # (3P,) over all clusters, weight 1 each

    @property
    def n_pairs(self) -> int:
        return int(self.pair_i.shape[0])

    def split(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.n_pairs
        return t[..., :p], t[..., p:2 * p], t[..., 2 * p:]


def pair_stats(outcomes: Outcomes, systems: Sequence[str] | None = None, weights: bool = True,
               clusters: np.ndarray | None = None) -> PairStats:
    """Reduce outcomes to sufficient statistics per (cluster, pair). Clusters are ``outcomes.cluster``
    (seeds: the renderings of one instruction are one piece of evidence); ``clusters`` fixes their order
    (e.g. the union of two sources' clusters, so two tables can share the same bootstrap draws)."""
    from scipy import sparse

    if len(outcomes) == 0:
        raise SchemaError(outcomes.source or "outcomes", None, "no outcomes to rate")
    systems, ia, ib = outcomes.codes(systems)
    k = len(systems)
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    pair_key = lo * k + hi
    pairs, pair_idx = np.unique(pair_key, return_inverse=True)
    if clusters is None:
        import pandas as pd

        cl_idx, clusters = pd.factorize(outcomes.cluster, sort=True)
        clusters = np.asarray(clusters, dtype=object)
    else:
        clusters = np.asarray(clusters)
        lookup = {c: n for n, c in enumerate(clusters.tolist())}
        cl_idx = np.fromiter((lookup[c] for c in outcomes.cluster.astype(str)), dtype=np.int64, count=len(outcomes))
    w = outcomes.weight if weights else np.ones(len(outcomes))
    a_is_lo = ia == lo
    win_a, win_b = outcomes.score_a == 1.0, outcomes.score_a == 0.0
    wins_lo = w * np.where(a_is_lo, win_a, win_b)
    wins_hi = w * np.where(a_is_lo, win_b, win_a)
    ties = w * outcomes.is_tie
    p = pairs.shape[0]
    rows = np.concatenate([cl_idx, cl_idx, cl_idx])
    cols = np.concatenate([pair_idx, pair_idx + p, pair_idx + 2 * p])
    data = np.concatenate([wins_lo, wins_hi, ties])
    m = sparse.csr_matrix((data, (rows, cols)), shape=(len(clusters), 3 * p))
    m.sum_duplicates()
    m.eliminate_zeros()
    totals = np.asarray(m.sum(axis=0)).ravel()
    return PairStats(systems, pairs // k, pairs % k, clusters, m, totals)


# --- Bradley–Terry fits --------------------------------------------------------------------------------
def _fit_bt_batch(pi: np.ndarray, pj: np.ndarray, k: int, score_i: np.ndarray, n: np.ndarray,
                  ridge: float, theta0: np.ndarray | None = None, tol: float = 1e-10,
                  max_iter: int = 100) -> np.ndarray:
    """Newton's method for R independent BT problems at once: score_i, n are (R, P); returns (R, K)
    natural-log strengths with mean zero. With ridge 0 the gauge is fixed by adding 11^T to the
    (then singular) Hessian, which leaves a mean-zero Newton step unchanged."""
    from scipy import sparse

    r = score_i.shape[0]
    n_pairs = pi.shape[0]
    rows = np.arange(n_pairs)
    # Pair -> system incidence as sparse matrices: these products are small, and dense BLAS calls
    # that small lose more to thread start-up than they gain (badly so on a busy machine).
    d_t = sparse.csr_matrix((np.r_[np.ones(n_pairs), -np.ones(n_pairs)], (np.r_[pi, pj], np.r_[rows, rows])),
                            shape=(k, n_pairs))
    touches_t = abs(d_t)
    off_ij, off_ji = pi * k + pj, pj * k + pi  # flat positions of the pairs in a K x K Hessian
    diag = np.arange(k) * (k + 1)
    theta = np.zeros((r, k)) if theta0 is None else np.array(np.broadcast_to(theta0, (r, k)), dtype=float)
    extra = np.full((k, k), 1.0 / k) if ridge == 0 else np.eye(k) * ridge  # gauge or ridge
    active = np.ones(r, dtype=bool)
    for _ in range(max_iter):
        th = theta[active]
        prob = 1.0 / (1.0 + np.exp(th[:, pj] - th[:, pi]))
        resid = score_i[active] - n[active] * prob
        grad = (d_t @ resid.T).T - ridge * th
        v = n[active] * prob * (1.0 - prob)
        # The Hessian of a BT log-likelihood is a weighted graph Laplacian: -v on each pair's two
        # off-diagonal cells, the sum of v over a system's pairs on the diagonal. Scattering it
        # costs O(R P) instead of the O(R P K^2) of D^T diag(v) D.
        hess = np.zeros((th.shape[0], k * k))
        hess[:, off_ij] = -v
        hess[:, off_ji] = -v
        hess[:, diag] = (touches_t @ v.T).T
        hess = hess.reshape(-1, k, k) + extra
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        # Damping: far from the optimum (a system without wins in a resample) a full Newton step
        # can overshoot; a bounded step keeps the iteration monotone enough to converge.
        big = np.abs(step).max(axis=1, keepdims=True)
        step = step * np.minimum(1.0, 3.0 / np.maximum(big, 1e-300))
        theta[active] = th + step
        done = np.abs(step).max(axis=1) < tol
        idx = np.flatnonzero(active)
        active[idx[done]] = False
        if not active.any():
            break
    return theta - theta.mean(axis=1, keepdims=True)


def _strongly_connected(k: int, pi: np.ndarray, pj: np.ndarray, wins_i: np.ndarray, wins_j: np.ndarray,
                        ties: np.ndarray) -> bool:
    """The BT maximum-likelihood estimate exists (finite) iff the 'scored at least something against'
    graph is strongly connected (Ford 1957); a tie counts both ways."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    i_to_j = (wins_i + ties) > 0
    j_to_i = (wins_j + ties) > 0
    rows = np.concatenate([pi[i_to_j], pj[j_to_i]])
    cols = np.concatenate([pj[i_to_j], pi[j_to_i]])
    g = csr_matrix((np.ones(rows.shape[0]), (rows, cols)), shape=(k, k))
    n, _ = connected_components(g, directed=True, connection="strong")
    return n == 1


def _davidson_nll(params: np.ndarray, pi, pj, wi, wj, t, ridge):
    k = params.shape[0] - 1
    theta, log_nu = params[:k], params[k]
    a, b = theta[pi], theta[pj]
    c = log_nu + 0.5 * (a + b)
    m = np.maximum(np.maximum(a, b), c)
    ea, eb, ec = np.exp(a - m), np.exp(b - m), np.exp(c - m)
    den = ea + eb + ec
    log_den = m + np.log(den)
    tot = wi + wj + t
    ll = np.sum(wi * a + wj * b + t * c - tot * log_den)
    fa, fb, fc = ea / den, eb / den, ec / den
    ga = wi + 0.5 * t - tot * (fa + 0.5 * fc)
    gb = wj + 0.5 * t - tot * (fb + 0.5 * fc)
    grad = np.zeros_like(params)
    np.add.at(grad, pi, ga)
    np.add.at(grad, pj, gb)
    grad[k] = np.sum(t - tot * fc)
    # the ridge (bootstrap rounds only) keeps degenerate resamples finite
    reg = 0.5 * ridge * np.sum(theta ** 2)
    grad[:k] -= ridge * theta
    return -(ll - reg), -grad


def _fit_davidson(pi, pj, k, wi, wj, t, ridge, x0=None) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    x0 = np.zeros(k + 1) if x0 is None else x0
    res = minimize(_davidson_nll, x0, args=(pi, pj, wi, wj, t, ridge), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15})
    theta = res.x[:k] - res.x[:k].mean()
    return theta, float(np.exp(res.x[k]))


@dataclass
class Fit:
    """A point fit plus bootstrap replicates, in natural-log strength (mean zero)."""

    systems: list[str]
    theta: np.ndarray  # (K,)
    samples: np.ndarray  # (R, K); R = 0 without bootstrap
    regularized: bool
    tie_param: float | None = None  # Davidson's nu


def _cluster_counts(n_clusters: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial resampling of clusters: (rounds, n_clusters) int64, how often each was drawn.
    Successive calls continue one stream, so drawing R rounds in chunks gives the same counts as at once."""
    draws = rng.integers(0, n_clusters, size=(rounds, n_clusters), dtype=np.int64)
    draws += (np.arange(rounds, dtype=np.int64) * n_clusters)[:, None]
    return np.bincount(draws.ravel(), minlength=rounds * n_clusters).reshape(rounds, n_clusters)


def _cluster_weights(n_clusters: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`_cluster_counts` as floats, ready to multiply with per-cluster statistics."""
    return _cluster_counts(n_clusters, rounds, rng).astype(float)


def _resampled_totals(stats_t, rounds: int, draw) -> np.ndarray:
    """Per-pair totals of ``rounds`` bootstrap rounds, (rounds, 3P). ``stats_t`` is the (3P, C) CSC
    transpose of the cluster statistics, ``draw(r)`` returns (r, C) cluster counts.

    Counts are drawn a few rounds at a time (at most ``_CHUNK_CELLS`` of them): memory stays bounded
    however many clusters there are, and laid out cluster-major the chunk is read once, cluster by
    cluster, while the (3P, r) result stays in cache (a round-major or larger layout made the product
    a scattered read of tens of MB per pair)."""
    n_clusters = stats_t.shape[1]
    chunk = max(1, min(rounds, _CHUNK_CELLS // max(n_clusters, 1)))
    out = np.empty((rounds, stats_t.shape[0]))
    for start in range(0, rounds, chunk):
        r = min(chunk, rounds - start)
        counts = draw(r).T.astype(float, order="C")  # (C, r)
        out[start:start + r] = (stats_t @ counts).T
    return out


def _distinct_rows(m) -> tuple[Any, np.ndarray]:
    """The distinct rows of a CSR matrix and how often each occurs."""
    m = m.tocsr()
    m.sort_indices()
    seen: dict[bytes, int] = {}
    kind = np.empty(m.shape[0], dtype=np.int64)
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        key = m.indices[lo:hi].tobytes() + b"|" + m.data[lo:hi].tobytes()
        kind[r] = seen.setdefault(key, len(seen))
    first = np.unique(kind, return_index=True)[1]
    return m[first], np.bincount(kind, minlength=len(seen)).astype(float)


def fit(outcomes: Outcomes, *, ties: str = "half", weights: bool = True, bootstrap: int = 0, seed: int = 0,
        systems: Sequence[str] | None = None, clusters: np.ndarray | None = None) -> Fit:
    """Bradley–Terry fit (natural-log strengths, mean zero) and optional cluster-bootstrap replicates."""
    if ties not in ("half", "davidson"):
        raise SchemaError("ratings", "ties", f"unknown tie model {ties!r}; expected 'half' or 'davidson'")
    with _one_blas_thread():
        return _fit(outcomes, ties=ties, weights=weights, bootstrap=bootstrap, seed=seed, systems=systems,
                    clusters=clusters)


def _fit(outcomes: Outcomes, *, ties: str, weights: bool, bootstrap: int, seed: int,
         systems: Sequence[str] | None, clusters: np.ndarray | None) -> Fit:
    st = pair_stats(outcomes, systems, weights=weights, clusters=clusters)
    k = len(st.systems)
    wi, wj, t = st.split(st.totals)
    connected = _strongly_connected(k, st.pair_i, st.pair_j, wi, wj, t)
    nu = None
    ridge = 0.0 if connected else BOOTSTRAP_RIDGE
    if ties == "half":
        theta = _fit_bt_batch(st.pair_i, st.pair_j, k, (wi + 0.5 * t)[None], (wi + wj + t)[None], ridge)[0]
    else:
        theta, nu = _fit_davidson(st.pair_i, st.pair_j, k, wi, wj, t, ridge)
    samples = np.zeros((0, k))
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        out = []
        matrix, draw = st.matrix, None
        if clusters is None:
            # Clusters with identical statistics (e.g. one outcome per instruction) are
            # interchangeable: drawing C clusters with replacement is then a multinomial over the
            # distinct kinds, which costs rounds x kinds draws instead of rounds x C.
            matrix, freq = _distinct_rows(st.matrix)
            if matrix.shape[0] < 0.5 * st.matrix.shape[0]:
                n_c, pvals = st.matrix.shape[0], freq / freq.sum()

                def draw(r):
                    return rng.multinomial(n_c, pvals, size=r)
            else:
                matrix = st.matrix
        if draw is None:
            def draw(r):
                return _cluster_counts(matrix.shape[0], r, rng)
        stats_t = matrix.T  # CSC, no copy
        for start in range(0, bootstrap, _BLOCK):
            r = min(_BLOCK, bootstrap - start)
            tot = _resampled_totals(stats_t, r, draw)  # (r, 3P)
            bwi, bwj, bt = st.split(tot)
            if ties == "half":
                out.append(_fit_bt_batch(st.pair_i, st.pair_j, k, bwi + 0.5 * bt, bwi + bwj + bt,
                                         BOOTSTRAP_RIDGE, theta0=theta))
            else:
                x0 = np.append(theta, np.log(max(nu, 1e-6)))
                out.append(np.stack([_fit_davidson(st.pair_i, st.pair_j, k, bwi[q], bwj[q], bt[q],
                                                   BOOTSTRAP_RIDGE, x0)[0]
                                     for q in range(r)]))
        samples = np.concatenate(out)
    return Fit(st.systems, theta, samples, regularized=not connected, tie_param=nu)


def _to_display(theta: np.ndarray, systems: list[str], anchor: str | None) -> np.ndarray:
    if anchor is not None:
        if anchor not in systems:
            raise SchemaError("ratings", "anchor", f"unknown anchor system {anchor!r}; systems: {', '.join(systems)}")
        theta = theta - theta[..., [systems.index(anchor)]]
    return DISPLAY_BASE + DISPLAY_SCALE * theta


def bradley_terry(outcomes: Outcomes, ties: str = "half", anchor: str | None = None,
                  weights: bool = True) -> dict[str, float]:
    """Bradley–Terry ratings on the display scale (1000 + 400 log10 strength), system -> rating."""
    f = fit(outcomes, ties=ties, weights=weights)
    return dict(zip(f.systems, _to_display(f.theta, f.systems, anchor).tolist()))


# --- leaderboard --------------------------------------------------------------------------------------
def _counts(outcomes: Outcomes, systems: list[str]) -> dict[str, np.ndarray]:
    _, ia, ib = outcomes.codes(systems)
    k = len(systems)

    def both(mask_a, mask_b):
        return np.bincount(ia, weights=mask_a, minlength=k) + np.bincount(ib, weights=mask_b, minlength=k)

    win_a, win_b = (outcomes.score_a == 1.0).astype(float), (outcomes.score_a == 0.0).astype(float)
    tie = outcomes.is_tie.astype(float)
    bad = outcomes.both_bad.astype(float)
    return {"n": both(np.ones(len(outcomes)), np.ones(len(outcomes))), "wins": both(win_a, win_b),
            "losses": both(win_b, win_a), "ties": both(tie, tie), "both_bad": both(bad, bad)}


def _ranks(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    # rank (UB): 1 + number of systems whose lower bound is above this one's upper bound
    return 1 + (low[None, :] > high[:, None]).sum(axis=1)


def board_from_fit(f: Fit, outcomes: Outcomes, *, anchor: str | None = None, ci: float = 0.95,
                   min_votes: int = DEFAULT_MIN_VOTES, metadata: Mapping[str, Mapping[str, Any]] | None = None
                   ) -> list[dict[str, Any]]:
    rating = _to_display(f.theta, f.systems, anchor)
    if f.samples.shape[0]:
        boot = _to_display(f.samples, f.systems, anchor)
        alpha = (1.0 - ci) / 2.0
        low, high = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
    else:
        low = high = rating.copy()
    ranks = _ranks(low, high)
    c = _counts(outcomes, f.systems)
    rows = []
    for i, s in enumerate(f.systems):
        n = int(c["n"][i])
        row = {
            "system": s, "rating": float(rating[i]), "ci_low": float(low[i]), "ci_high": float(high[i]),
            "rank": int(ranks[i]), "n": n, "wins": int(c["wins"][i]), "ties": int(c["ties"][i]),
            "losses": int(c["losses"][i]),
            "win_rate": float((c["wins"][i] + 0.5 * c["ties"][i]) / n) if n else float("nan"),
            "both_bad_rate": float(c["both_bad"][i] / n) if n else float("nan"),
            "preliminary": bool(n < min_votes),
        }
        if metadata and s in metadata:
            for key in ("kind", "architecture", "backbone", "organisation"):
                if metadata[s].get(key):
                    row[key] = metadata[s][key]
        rows.append(row)
    rows.sort(key=lambda r: (-r["rating"], r["system"]))
    return rows


def leaderboard(outcomes: Outcomes, bootstrap: int = 1000, seed: int = 0, anchor: str | None = None,
                min_votes: int = DEFAULT_MIN_VOTES, metadata: Mapping[str, Mapping[str, Any]] | None = None,
                *, ties: str = "half", weights: bool = True, ci: float = 0.95) -> list[dict[str, Any]]:
    """One row per system, best first: rating (display scale), bootstrap CI (instructions resampled,
    seeded), rank (UB), counts, win rate ((wins + ties/2) / n), both-bad rate, and ``preliminary``
    when the system has fewer than ``min_votes`` outcomes."""
    f = fit(outcomes, ties=ties, weights=weights, bootstrap=bootstrap, seed=seed)
    return board_from_fit(f, outcomes, anchor=anchor, ci=ci, min_votes=min_votes, metadata=metadata)


# --- breakdowns ---------------------------------------------------------------------------------------
def rate_ci(score: np.ndarray, count: np.ndarray, clusters: np.ndarray, bootstrap: int, seed: int,
            ci: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score rate per column (score / count) with a cluster-bootstrap percentile CI; score/count are
    (rows, G), ``clusters`` (rows,) the resampling units. The one bootstrap of a rate in the project
    (win rates in ``judge``, the metric and breakdowns); ratings resample the same way (``fit``)."""
    cl, inv = np.unique(clusters.astype(str), return_inverse=True)
    g = score.shape[1]
    cs, cn = np.zeros((len(cl), g)), np.zeros((len(cl), g))
    np.add.at(cs, inv, score)
    np.add.at(cn, inv, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = cs.sum(0) / cn.sum(0)
        if bootstrap <= 0:
            return rate, rate.copy(), rate.copy()
        rng = np.random.default_rng(seed)
        reps = []
        block = _block(len(cl))
        for start in range(0, bootstrap, block):
            cw = _cluster_weights(len(cl), min(block, bootstrap - start), rng)
            reps.append((cw @ cs) / (cw @ cn))
    reps = np.concatenate(reps)
    alpha = (1.0 - ci) / 2.0
    with warnings.catch_warnings():  # a column with no comparisons stays NaN; it is not reported
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(reps, [alpha, 1.0 - alpha], axis=0)
    return rate, low, high


def breakdown(outcomes: Outcomes, by: str = "level", *, metadata: Mapping[str, Mapping[str, Any]] | None = None,
              bootstrap: int = 1000, seed: int = 0, ci: float = 0.95, weights: bool = True) -> list[dict[str, Any]]:
    """Win rates with CIs by group.

    ``by`` a sample covariate (level, domain, task, language): one row per (group, system) with the
    system's win rate on that group's instructions. ``by`` a system metadata key (kind, architecture,
    backbone, ... from ``system.json``): one row per group with the group's win rate in comparisons
    against systems of other groups (the paper's design-factor analysis).
    """
    w = outcomes.weight if weights else np.ones(len(outcomes))
    rows: list[dict[str, Any]] = []
    if by in SAMPLE_COVARIATES or by in outcomes.covariates:
        values = outcomes.covariates.get(by)
        if values is None or all(v is None for v in values):
            raise SchemaError(outcomes.source or "outcomes", by,
                              f"the outcomes carry no {by!r}; cannot break down by it")
        systems, ia, ib = outcomes.codes()
        for group in sorted({v for v in values if v is not None}):
            sub = values == group
            n_rows = int(sub.sum())
            k = len(systems)
            score = np.zeros((n_rows, k))
            count = np.zeros((n_rows, k))
            r = np.arange(n_rows)
            sa, ws = outcomes.score_a[sub], w[sub]
            score[r, ia[sub]] += ws * sa
            score[r, ib[sub]] += ws * (1.0 - sa)
            count[r, ia[sub]] += ws
            count[r, ib[sub]] += ws
            rate, low, high = rate_ci(score, count, outcomes.cluster[sub], bootstrap, seed, ci)
            c = _counts(outcomes.subset(sub), systems)
            for i, s in enumerate(systems):
                if c["n"][i] == 0:
                    continue
                rows.append({"by": by, "group": group, "system": s, "n": int(c["n"][i]),
                             "wins": int(c["wins"][i]), "ties": int(c["ties"][i]), "losses": int(c["losses"][i]),
                             "win_rate": float(rate[i]), "ci_low": float(low[i]), "ci_high": float(high[i])})
        return rows
    if not metadata:
        raise SchemaError("breakdown", "by", f"{by!r} is not a sample field ({', '.join(SAMPLE_COVARIATES)}); "
                                             "a system field needs system metadata (--systems RESP_DIR)")
    missing = [s for s in outcomes.systems if s not in metadata]
    if missing:
        raise SchemaError("breakdown", "systems", f"no system.json for {', '.join(missing)}")
    group_of = {s: str(metadata[s].get(by) or "") for s in outcomes.systems}
    if not any(group_of.values()):
        raise SchemaError("breakdown", by, f"no system.json sets {by!r}")
    ga = np.array([group_of[s] for s in outcomes.system_a], dtype=object)
    gb = np.array([group_of[s] for s in outcomes.system_b], dtype=object)
    cross = ga != gb
    groups = sorted(set(group_of.values()))
    gi = {g: n for n, g in enumerate(groups)}
    ia = np.array([gi[g] for g in ga[cross]], dtype=int)
    ib = np.array([gi[g] for g in gb[cross]], dtype=int)
    n_rows = int(cross.sum())
    if n_rows == 0:
        raise SchemaError("breakdown", by, f"no comparisons between systems of different {by!r}")
    score = np.zeros((n_rows, len(groups)))
    count = np.zeros((n_rows, len(groups)))
    r = np.arange(n_rows)
    sa, ws = outcomes.score_a[cross], w[cross]
    score[r, ia] += ws * sa
    score[r, ib] += ws * (1.0 - sa)
    count[r, ia] += ws
    count[r, ib] += ws
    rate, low, high = rate_ci(score, count, outcomes.cluster[cross], bootstrap, seed, ci)
    sub = outcomes.subset(cross)
    for n_g, g in enumerate(groups):
        in_a, in_b = ia == n_g, ib == n_g
        wins = int(((sub.score_a == 1) & in_a).sum() + ((sub.score_a == 0) & in_b).sum())
        losses = int(((sub.score_a == 0) & in_a).sum() + ((sub.score_a == 1) & in_b).sum())
        ties_ = int((sub.is_tie & (in_a | in_b)).sum())
        rows.append({"by": by, "group": g or "(unset)", "systems": sorted(s for s, v in group_of.items() if v == g),
                     "n": int((in_a | in_b).sum()), "wins": wins, "ties": ties_, "losses": losses,
                     "win_rate": float(rate[n_g]), "ci_low": float(low[n_g]), "ci_high": float(high[n_g])})
    return rows


# --- style control ------------------------------------------------------------------------------------
def _fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, k: int, ridge: float,
                  beta0: np.ndarray | None = None, max_iter: int = 100) -> np.ndarray:
    """Weighted logistic regression with fractional outcomes (ties = 0.5) by Newton's method; the
    first k coefficients are system strengths (gauge fixed by the ridge, re-centred at the end)."""
    p = x.shape[1]
    beta = np.zeros(p) if beta0 is None else beta0.copy()
    pen = np.zeros(p)
    pen[:k] = ridge
    for _ in range(max_iter):
        prob = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (w * (y - prob)) - pen * beta
        hess = (x * (w * prob * (1 - prob))[:, None]).T @ x + np.diag(pen) + 1e-12 * np.eye(p)
        step = np.linalg.solve(hess, grad)
        step *= min(1.0, 3.0 / max(np.abs(step).max(), 1e-300))
        beta = beta + step
        if np.abs(step).max() < 1e-10:
            break
    beta[:k] -= beta[:k].mean()
    return beta


def style_controlled(outcomes: Outcomes, covariates: Sequence[str] = STYLE_FEATURES, *, bootstrap: int = 200,
                     seed: int = 0, anchor: str | None = None, ci: float = 0.95, weights: bool = True,
                     min_votes: int = DEFAULT_MIN_VOTES) -> dict[str, Any]:
    """Bradley–Terry with style covariates: logit P(A beats B) = theta_A - theta_B + sum_k beta_k z_k,
    where z_k is the A - B difference of feature k divided by its standard deviation (so beta_k is
    the log-odds change per SD of difference). Returns the coefficients with CIs, the style-controlled
    leaderboard (with each system's raw rating and rank beside it) and how many outcomes were used."""
    covariates = list(covariates)
    missing = [c for c in covariates if c not in outcomes.style]
    if missing:
        raise SchemaError(outcomes.source or "outcomes", "style",
                          f"no {', '.join(missing)} differences in the outcomes (records need "
                          f"<feature>_a and <feature>_b, e.g. {missing[0]}_a / {missing[0]}_b)")
    z = np.stack([outcomes.style[c] for c in covariates], axis=1)
    ok = np.all(np.isfinite(z), axis=1)
    used = outcomes.subset(ok)
    if len(used) == 0:
        raise SchemaError(outcomes.source or "outcomes", "style", "no outcome has all style features")
    z = z[ok]
    sd = z.std(axis=0)
    sd[sd == 0] = 1.0
    z = z / sd
    systems, ia, ib = used.codes()
    k = len(systems)
    x = np.zeros((len(used), k + len(covariates)))
    r = np.arange(len(used))
    x[r, ia] = 1.0
    x[r, ib] = -1.0
    x[:, k:] = z
    w = used.weight if weights else np.ones(len(used))
    beta = _fit_logistic(x, used.score_a, w, k, BOOTSTRAP_RIDGE)
    samples = np.zeros((0, beta.shape[0]))
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        cl, inv = np.unique(used.cluster.astype(str), return_inverse=True)
        reps = []
        block = _block(len(cl))
        for start in range(0, bootstrap, block):
            cw = _cluster_weights(len(cl), min(block, bootstrap - start), rng)
            reps += [_fit_logistic(x, used.score_a, w * cw[q, inv], k, BOOTSTRAP_RIDGE, beta) for q in range(cw.shape[0])]
        samples = np.stack(reps)
    alpha = (1.0 - ci) / 2.0
    coefs = []
    for n_c, c in enumerate(covariates):
        col = samples[:, k + n_c] if samples.shape[0] else np.array([beta[k + n_c]])
        coefs.append({"feature": c, "coef": float(beta[k + n_c]), "ci_low": float(np.quantile(col, alpha)),
                      "ci_high": float(np.quantile(col, 1 - alpha)), "sd_of_difference": float(sd[n_c])})
    f = Fit(systems, beta[:k], samples[:, :k], regularized=True)
    board = board_from_fit(f, used, anchor=anchor, ci=ci, min_votes=min_votes)
    raw = {row["system"]: row for row in leaderboard(used, bootstrap=bootstrap, seed=seed, anchor=anchor,
                                                         ci=ci, weights=weights, min_votes=min_votes)}
    for row in board:
        row["raw_rating"] = raw[row["system"]]["rating"]
        row["raw_rank"] = raw[row["system"]]["rank"]
    return {"coefficients": coefs, "board": board, "n_used": len(used), "n_dropped": int((~ok).sum())}
