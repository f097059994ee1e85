"""The risk sweep: which counted votes look scripted or coordinated, and so stay out of the board.

Run over every counted vote (it reads the store; it never changes a stored vote: votes are append-only,
and a flag is a conclusion drawn from them that a better sweep may revise). Each rule names its reason:

* ``velocity`` - more than ``max_per_hour`` counted votes in any hour from one voter, or from one
  address: the votes past the limit are flagged.
* ``parallel`` - listening to two battles at once. Each vote needs at least
  ``min_listen * longer clip`` seconds of listening before it; when that interval overlaps the voter's
  previous vote, two battles were "heard" at the same time. A voter with ``min_votes`` or more counted
  votes, at least ``parallel_share`` of them overlapping, has those votes flagged.
* ``snap`` - a decision faster than hearing both responses one after the other and pressing a button
  (``min_listen * (a + b) + snap_margin_s`` after the battle was shown). Everybody may be quick once; a
  voter with ``min_votes`` or more counted votes, at least ``snap_share`` of them snaps, has them flagged.
* ``bias`` - a voter who picks one system (or its opponent) far more often than everybody else does:
  a one-sided binomial test of the voter's decisive votes on that system against the other voters'
  rate, at ``bias_alpha``, with at least ``bias_min_n`` decisive votes and a share of at least
  ``bias_min_share`` (or at most ``1 - bias_min_share``). The voter's votes on that system are flagged.
* ``cluster`` - accounts and sessions linked by a shared address, pooled (``cluster_min_voters`` or
  more voters): the same bias and velocity tests on the pooled votes. Rotating sessions or accounts
  from one machine lands them all in one cluster.

Every threshold is a field of :class:`RiskConfig`; ``s2s-arena votes audit`` prints what was flagged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

REASONS = ("velocity", "parallel", "snap", "bias", "cluster", "gold")


@dataclass(frozen=True)
class RiskConfig:
    min_listen: float = 0.8
    max_per_hour: int = 120
    min_votes: int = 5
    parallel_share: float = 0.5
    snap_margin_s: float = 1.0
    snap_share: float = 0.6
    bias_min_n: int = 8
    bias_min_share: float = 0.85
    bias_alpha: float = 1e-3
    cluster_min_voters: int = 3


@dataclass
class Assessment:
    """The sweep's result: ``flags`` maps vote_id -> reasons; ``clean`` are the counted votes kept."""

    flags: dict[str, list[str]]
    clean: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    findings: list[dict[str, Any]] = field(default_factory=list)  # one per voter / cluster and rule
    config: RiskConfig = field(default_factory=RiskConfig)

    def reason_counts(self) -> dict[str, int]:
        c = Counter(r for reasons in self.flags.values() for r in reasons)
        return {r: c[r] for r in REASONS if c[r]}

    def to_dict(self) -> dict[str, Any]:
        return {"n_counted": len(self.clean) + len(self.flagged), "n_clean": len(self.clean),
                "n_flagged": len(self.flagged), "reasons": self.reason_counts(), "findings": self.findings,
                "config": asdict(self.config)}


def assess(votes: Iterable[Mapping[str, Any]], config: RiskConfig | None = None, *,
           gold_failed: Iterable[str] = ()) -> Assessment:
    """Sweep the counted votes among ``votes`` (rows of ``VoteStore.votes``). ``gold_failed``: voters who
    failed gold battles (``s2s_arena.arena.roles.gold_failed_voters``); all their votes are flagged."""
    cfg = config or RiskConfig()
    rows = sorted((dict(v) for v in votes if v.get("counted")),
                  key=lambda r: (float(r.get("voted_at") or 0.0), r["vote_id"]))
    flags: dict[str, list[str]] = defaultdict(list)
    findings: list[dict[str, Any]] = []

    def flag(vote_ids: Iterable[str], reason: str, **finding: Any) -> None:
        ids = [v for v in vote_ids]
        for vid in ids:
            if reason not in flags[vid]:
                flags[vid].append(reason)
        if ids:
            findings.append({"reason": reason, "votes": len(ids), **finding})

    by_voter: dict[str, list[dict]] = defaultdict(list)
    by_address: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_voter[str(r.get("session") or "")].append(r)
        if r.get("client"):
            by_address[str(r["client"])].append(r)

    for voter, vs in by_voter.items():
        flag(_over_rate(vs, cfg.max_per_hour), "velocity", voter=voter)
        flag(_parallel(vs, cfg), "parallel", voter=voter)
        flag(_snaps(vs, cfg), "snap", voter=voter)
    for address, vs in by_address.items():
        flag(_over_rate(vs, cfg.max_per_hour), "velocity", address=address)

    for voter in sorted(set(map(str, gold_failed)) & set(by_voter)):
        flag([r["vote_id"] for r in by_voter[voter]], "gold", voter=voter)

    win_totals = _decisive_totals(rows)
    for voter, vs in by_voter.items():
        for system, ids, k, n, p0 in _biased(vs, win_totals, cfg):
            flag(ids, "bias", voter=voter, system=system, wins=k, decisive=n, others_rate=round(p0, 3))

    for members in _clusters(rows):
        if len(members) < cfg.cluster_min_voters:
            continue
        # What the voters' own rules did not already catch: a cluster is the way round those rules.
        pooled = [r for v in members for r in by_voter[v] if r["vote_id"] not in flags]
        label = sorted(members)
        for system, ids, k, n, p0 in _biased(pooled, win_totals, cfg):
            flag(ids, "cluster", voters=label, system=system, wins=k, decisive=n, others_rate=round(p0, 3))
        over = _over_rate(sorted(pooled, key=lambda r: r["voted_at"]), cfg.max_per_hour)
        flag(over, "cluster", voters=label, rule="velocity")

    clean = [r for r in rows if r["vote_id"] not in flags]
    flagged = [{**r, "risk": flags[r["vote_id"]]} for r in rows if r["vote_id"] in flags]
    return Assessment(dict(flags), clean, flagged, findings, cfg)


def _over_rate(vs: list[dict], max_per_hour: int) -> list[str]:
    times = [float(r["voted_at"]) for r in vs]
    out, lo = [], 0
    for i, t in enumerate(times):
        while times[lo] <= t - 3600.0:
            lo += 1
        if i - lo + 1 > max_per_hour:
            out.append(vs[i]["vote_id"])
    return out


def _need_s(r: Mapping[str, Any], min_listen: float, both: bool) -> float:
    da, db = float(r.get("duration_a") or 0.0), float(r.get("duration_b") or 0.0)
    return min_listen * ((da + db) if both else max(da, db))


def _parallel(vs: list[dict], cfg: RiskConfig) -> list[str]:
    if len(vs) < cfg.min_votes:
        return []
    overlapping = [vs[i]["vote_id"] for i in range(1, len(vs)) if _need_s(vs[i], cfg.min_listen, False) > 0
                   and float(vs[i]["voted_at"]) - _need_s(vs[i], cfg.min_listen, False) < float(vs[i - 1]["voted_at"]) - 1e-6]
    return overlapping if len(overlapping) >= cfg.parallel_share * len(vs) else []


def _snaps(vs: list[dict], cfg: RiskConfig) -> list[str]:
    if len(vs) < cfg.min_votes:
        return []
    timed = [r for r in vs if _need_s(r, cfg.min_listen, True) > 0 and float(r.get("shown_at") or 0) > 0]
    if len(timed) < cfg.min_votes:
        return []  # votes without battle timings (imported, or from an older store) cannot be judged
    vs = timed
    snaps = [r["vote_id"] for r in vs
             if float(r["voted_at"]) - float(r["shown_at"]) < _need_s(r, cfg.min_listen, True) + cfg.snap_margin_s]
    return snaps if len(snaps) >= cfg.snap_share * len(vs) else []


def _decisive_totals(rows: list[dict]) -> dict[str, list[int]]:
    """system -> [wins, decisive votes it took part in]."""
    tot: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r["winner"] not in ("a", "b"):
            continue
        w = r["system_a"] if r["winner"] == "a" else r["system_b"]
        for s in (r["system_a"], r["system_b"]):
            tot[s][1] += 1
            tot[s][0] += s == w
    return tot


def _biased(vs: list[dict], totals: Mapping[str, list[int]], cfg: RiskConfig):
    """(system, vote ids on it, wins, decisive, others' rate) for each system ``vs`` is one-sided on."""
    from scipy.stats import binom

    own = _decisive_totals(vs)
    for system, (k, n) in sorted(own.items()):
        if n < cfg.bias_min_n:
            continue
        ok, on = totals.get(system, [0, 0])
        # Everybody else's rate, smoothed towards one half so that a system few others voted on is not extreme.
        p0 = (ok - k + 1.0) / (on - n + 2.0)
        share = k / n
        if share >= cfg.bias_min_share:
            p = float(binom.sf(k - 1, n, p0))
        elif share <= 1.0 - cfg.bias_min_share:
            p = float(binom.cdf(k, n, p0))
        else:
            continue
        if p < cfg.bias_alpha and not math.isnan(p):
            ids = [r["vote_id"] for r in vs if system in (r["system_a"], r["system_b"])]
            yield system, ids, k, n, p0


def _clusters(rows: list[dict]) -> list[set[str]]:
    """Voters connected through shared addresses (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        voter, address = str(r.get("session") or ""), r.get("client")
        find(voter)
        if address:
            a, b = find(voter), find("@" + str(address))
            if a != b:
                parent[a] = b
    groups: dict[str, set[str]] = defaultdict(set)
    for node in list(parent):
        if not node.startswith("@"):
            groups[find(node)].add(node)
    return [g for g in groups.values() if len(g) > 1]


def is_vote_store(source: str) -> bool:
    """A database URL or a SQLite file written by the arena's vote store (it has votes and battles)."""
    if "://" in str(source):
        return True
    import sqlite3
    from pathlib import Path

    path = Path(source)
    try:
        with open(path, "rb") as f:
            if not f.read(16).startswith(b"SQLite format 3"):
                return False
    except OSError:
        return False
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    return {"votes", "battles"} <= tables


def sweep_store(source: str, config: RiskConfig | None = None) -> Assessment:
    """The same sweep the Space's board runs, over a stored arena (URL or SQLite file): gold-failed voters
    and every risk rule, so `s2s-arena leaderboard STORE` and the Space rank the same clean votes."""
    from s2s_arena.validity import flagged_sessions

    from .roles import load_vote_rows

    rows = load_vote_rows(str(source))
    return assess(rows, config, gold_failed=flagged_sessions(rows))
