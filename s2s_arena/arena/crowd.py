"""A simulated crowd that votes through the real arena, with known accuracy, position bias and a share
of careless voters: the check that the validity report recovers what was put in.

Bounded (a fixed number of voters and votes), local (in-process: the real :class:`Arena`, its planner,
its clip rendering and a real SQL vote store; listening is reported with explicit clock readings, so no
real time passes) and seeded.

The model. Every item (instruction + system pair) has one latent better system: a gold pair's is its
known better side (``reference``), any other pair's is drawn once from Bradley–Terry with the true
ratings. A careful voter attends with probability ``attention[kind]`` (``kind`` = content or
paralinguistic: what the two responses differ in) and then names the better system; otherwise they
lapse and pick the left response with probability ``left_bias``. A careless voter picks the left one
with probability ``careless_left`` whatever they hear. A careful voter who names a winner gives the
loser's reason with probability ``reason_rate``, drawn from that system's failure profile. The judge
is right with probability ``judge_accuracy[kind]``, the same in both orders.

:func:`expected_figures` turns the model and the battles actually served into the figures the report
should find (each vote's probability of naming the better system is known), so the comparison needs
no second simulation.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from s2s_arena.schema import FAILURES

from .gold import GOLD_SYSTEMS

CONTENT, PARA = "content", "paralinguistic"


@dataclass
class CrowdConfig:
    n_voters: int = 40
    votes_per_voter: int = 50
    careless_share: float = 0.2
    attention: dict[str, float] = field(default_factory=lambda: {CONTENT: 0.9, PARA: 0.7})
    left_bias: float = 0.8  # a careful voter's lapse picks the left response this often
    careless_left: float = 0.5
    reason_rate: float = 0.8
    judge_accuracy: dict[str, float] = field(default_factory=lambda: {CONTENT: 0.85, PARA: 0.7})
    ratings: dict[str, float] = field(default_factory=dict)  # true Bradley-Terry ratings (Elo scale)
    failure_profiles: dict[str, dict[str, float]] = field(default_factory=dict)
    seed: int = 0

    def profile(self, system: str, systems: Sequence[str]) -> dict[str, float]:
        if system in self.failure_profiles:
            return self.failure_profiles[system]
        # Default: each system has one dominant reason, in turn.
        main = FAILURES[sorted(systems).index(system) % len(FAILURES)] if system in systems else FAILURES[0]
        return {f: (0.7 if f == main else 0.15) for f in FAILURES}


def _u(*parts: Any) -> float:
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") / 2 ** 64


def difference_kind(sample: Any, a: str, b: str) -> str:
    """content | paralinguistic: what the two responses of a battle differ in, as a listener meets it."""
    from s2s_arena.validity import requirement_attribute

    pair = {a, b}
    if pair == {"reference", "flat"}:
        return PARA
    if "reference" in pair and pair & {"off_topic", "echo"}:
        return CONTENT
    return requirement_attribute(sample)


def true_better(cfg: CrowdConfig, sample: Any, a: str, b: str) -> str:
    """The item's latent better system (the same for every voter and for the judge)."""
    pair = {a, b}
    if "reference" in pair and pair & {"flat", "off_topic", "echo"}:
        return "reference"
    lo, hi = sorted(pair)
    r_lo, r_hi = cfg.ratings.get(lo, 1000.0), cfg.ratings.get(hi, 1000.0)
    p_lo = 1.0 / (1.0 + 10 ** ((r_hi - r_lo) / 400.0))
    return lo if _u(cfg.seed, "truth", sample.id, lo, hi) < p_lo else hi


def p_truth(cfg: CrowdConfig, careless: bool, kind: str, truth_left: bool) -> float:
    """Probability that a voter names the better system."""
    if careless:
        return cfg.careless_left if truth_left else 1.0 - cfg.careless_left
    att = cfg.attention[kind]
    return att + (1.0 - att) * (cfg.left_bias if truth_left else 1.0 - cfg.left_bias)


def listen_fully(arena: Any, battle: Any) -> None:
    """Report both clips fetched and played to the end, with clock readings in the past."""
    now = time.time()
    for side in ("a", "b"):
        tok = battle.clips[side]
        st = arena.clips[tok]
        size = _clip_size(st)
        arena.record_served(tok, 0, size - 1)
        arena.record_event(tok, "play", now=now - st.clip.duration_s - 1.0)
        arena.record_event(tok, "ended", now=now)


def _clip_size(st: Any) -> int:
    for attr in ("size", "n_bytes"):
        v = getattr(st, attr, None) or getattr(st.clip, attr, None)
        if isinstance(v, int):
            return v
    data = getattr(st.clip, "data", None)
    if data is not None:
        return len(data)
    raise RuntimeError("cannot tell a clip's size from the arena's clip state")


@dataclass
class SimVote:
    voter: str
    careless: bool
    token: str
    sample_id: str
    system_a: str
    system_b: str
    truth: str
    kind: str
    p_truth: float
    winner: str
    counted: bool
    reason: str


def run_crowd(arena: Any, cfg: CrowdConfig) -> tuple[list[SimVote], dict[str, bool]]:
    """Let the crowd vote: voters take turns (so re-served battles reach other voters), each casting
    ``votes_per_voter`` votes. Returns the votes (with what the model expected of each) and voter ->
    careless."""
    rng = np.random.default_rng(cfg.seed)
    voters = [f"sim-voter-{i:03d}" for i in range(cfg.n_voters)]
    n_careless = int(round(cfg.careless_share * cfg.n_voters))
    careless = {v: i < n_careless for i, v in enumerate(rng.permutation(voters).tolist())}
    systems = arena.systems
    out: list[SimVote] = []
    for _ in range(cfg.votes_per_voter):
        for v in voters:
            b = arena.new_battle(v, client=f"10.0.0.{voters.index(v) % 250}")
            a_sys, b_sys = b.pair.system_a, b.pair.system_b
            truth = true_better(cfg, b.sample, a_sys, b_sys)
            kind = difference_kind(b.sample, a_sys, b_sys)
            truth_left = truth == a_sys
            p = p_truth(cfg, careless[v], kind, truth_left)
            if careless[v]:
                winner = "a" if rng.random() < cfg.careless_left else "b"
            elif rng.random() < cfg.attention[kind]:
                winner = "a" if truth_left else "b"
            else:
                winner = "a" if rng.random() < cfg.left_bias else "b"
            failure = None
            if rng.random() < cfg.reason_rate:
                loser = b_sys if winner == "a" else a_sys
                if careless[v]:
                    failure = FAILURES[int(rng.integers(len(FAILURES)))]
                else:
                    prof = cfg.profile(loser, systems)
                    ps = np.array([prof[f] for f in FAILURES])
                    failure = FAILURES[int(rng.choice(len(FAILURES), p=ps / ps.sum()))]
            listen_fully(arena, b)
            res = arena.vote(b.token, winner, failure, session=v, client=f"10.0.0.{voters.index(v) % 250}")
            out.append(SimVote(v, careless[v], b.token, b.sample.id, a_sys, b_sys, truth, kind, p, winner,
                               res.counted, res.reason))
    return out, careless


def simulated_judge(cfg: CrowdConfig, samples: Sequence[Any], systems: Sequence[str]) -> list[dict[str, Any]]:
    """Verdict rows (both orders) of a judge that is right with probability ``judge_accuracy[kind]`` on
    every pair of ``systems`` on every sample."""
    from s2s_arena.schema import Verdict

    rows = []
    for s in samples:
        for i, a in enumerate(sorted(systems)):
            for b in sorted(systems)[i + 1:]:
                truth = true_better(cfg, s, a, b)
                kind = difference_kind(s, a, b)
                right = _u(cfg.seed, "judge", s.id, a, b) < cfg.judge_accuracy[kind]
                winner = truth if right else (b if truth == a else a)
                for order, (x, y) in (("ab", (a, b)), ("ba", (b, a))):
                    v = Verdict(sample_id=s.id, system_a=x, system_b=y, verdict="A>B" if winner == x else "B>A",
                                order=order, judge="simulated", judge_version="1")
                    row = v.to_dict()
                    row["level"] = s.level
                    rows.append(row)
    return rows


def expected_figures(cfg: CrowdConfig, votes: Sequence[SimVote], rows: Sequence[Mapping[str, Any]],
                     flagged: set[str]) -> dict[str, float]:
    """What the report should find, from the model and the battles actually served: for every figure the
    expectation given each vote's known probability of naming the better system."""
    from s2s_arena.validity import annotations, clean_votes

    by_token = {v.token: v for v in votes}
    # Gold accuracy over all voters: the kept voters' figure is raised by the flagging itself.
    gold = [r for r in rows if r.get("exclusion_reason") == "gold"]
    exp: dict[str, float] = {}
    if gold:
        exp["gold_accuracy_all"] = float(np.mean([by_token[r["battle_token"]].p_truth for r in gold]))
        for kind in (CONTENT, PARA):
            ps = [by_token[r["battle_token"]].p_truth for r in gold if r.get("gold_kind") == kind]
            if ps:
                exp[f"gold_accuracy_{kind}"] = float(np.mean(ps))
    clean = clean_votes(rows, flagged)
    first = []
    for r in clean:
        v = by_token[r["battle_token"]]
        truth_left = v.truth == v.system_a
        first.append(v.p_truth if truth_left else 1.0 - v.p_truth)
    exp["first_slot_rate"] = float(np.mean(first)) if first else math.nan
    pairs = [(x, y) for x, y, *_ in (anns for anns in annotations(clean).values() if len(anns) >= 2)]
    conf = np.zeros((3, 3))
    agree = {"all": [], "swapped": [], "same": []}
    for x, y in pairs:
        vx, vy = by_token[x["row"]["battle_token"]], by_token[y["row"]["battle_token"]]
        lo = sorted((vx.system_a, vx.system_b))[0]
        mx = np.array([vx.p_truth, 1 - vx.p_truth, 0.0]) if vx.truth == lo else np.array([1 - vx.p_truth, vx.p_truth, 0.0])
        my = np.array([vy.p_truth, 1 - vy.p_truth, 0.0]) if vy.truth == lo else np.array([1 - vy.p_truth, vy.p_truth, 0.0])
        conf += np.outer(mx, my)
        po = vx.p_truth * vy.p_truth + (1 - vx.p_truth) * (1 - vy.p_truth)
        agree["all"].append(po)
        agree["swapped" if vx.system_a != vy.system_a else "same"].append(po)
    if pairs:
        total = conf.sum()
        p_o = np.trace(conf) / total
        p_e = float((conf.sum(1) / total) @ (conf.sum(0) / total))
        exp["cohen_agreement"] = float(p_o)
        exp["cohen_kappa"] = float((p_o - p_e) / (1 - p_e))
        exp["swap_consistency"] = float(np.mean(agree["swapped"])) if agree["swapped"] else math.nan
        exp["same_order_agreement"] = float(np.mean(agree["same"])) if agree["same"] else math.nan
    # Judge vs human: every item weighs one, its human votes share that weight.
    items: dict[str, list[float]] = {}
    for r in clean:
        v = by_token[r["battle_token"]]
        g = cfg.judge_accuracy[v.kind]
        lo, hi = sorted((v.system_a, v.system_b))
        items.setdefault(f"{v.sample_id}|{lo}|{hi}", []).append(v.p_truth * g + (1 - v.p_truth) * (1 - g))
    if items:
        exp["judge_agreement"] = float(np.mean([np.mean(x) for x in items.values()]))
    return exp


def observed_figures(report: Mapping[str, Any]) -> dict[str, tuple[float | None, list[float] | None]]:
    """The report's figures that :func:`expected_figures` predicts, each with its CI."""
    g, ia, pb = report["gold"], report["inter_annotator"], report["position_bias"]
    out = {"gold_accuracy_all": (g["accuracy_all"]["value"], g["accuracy_all"]["ci"]),
           **{f"gold_accuracy_{k}": (d["value"], d["ci"]) for k, d in g["by_kind"].items()},
           "first_slot_rate": (pb["first_slot_rate"]["value"], pb["first_slot_rate"]["ci"]),
           "cohen_agreement": (ia["cohen"]["agreement"], ia["cohen"]["agreement_ci"]),
           "cohen_kappa": (ia["cohen"]["kappa"], ia["cohen"]["kappa_ci"]),
           "swap_consistency": (pb["swap_consistency"]["value"], pb["swap_consistency"]["ci"]),
           "same_order_agreement": (pb["same_order_agreement"]["value"], pb["same_order_agreement"]["ci"])}
    jv = report.get("judge_vs_human")
    if jv and "error" not in jv["overall"]:
        out["judge_agreement"] = (jv["overall"]["agreement_3way"], jv["overall"]["agreement_3way_ci"])
    return out


# --- materials ----------------------------------------------------------------------------------------
def synthetic_materials(root: str | Path, systems: Sequence[str] = ("sys-a", "sys-b", "sys-c", "sys-d", "sys-e"),
                        n_samples: int = 24, seed: int = 0) -> tuple[list[Any], Path, Path]:
    """Samples over the four levels (half requiring a delivery), a responses folder ``root/responses``
    with short synthetic clips for ``systems`` and a gold folder ``root/gold`` with the four reference
    systems. The crowd never listens, so the clips only have to be real audio the arena can render."""
    from s2s_arena.responses import ResponseWriter
    from s2s_arena.schema import Sample, SystemInfo

    root = Path(root)
    reqs = [{}, {}, {"speaking_rate": "fast"}, {"emotion": "happy"}]
    samples = []
    for i in range(n_samples):
        level = ("L0", "L1", "L2", "L3")[i % 4]
        samples.append(Sample(
            id=f"sim-{i:03d}", level=level, domain="simulation", task=f"task-{i % 3}", language="en",
            instruction_text=f"Simulated instruction number {i}.", evaluation_target="Which response is better?",
            requirements=dict(reqs[i % 4]), reference_response=f"Simulated answer {i}.", seed_id=f"seed-{i // 2}"))
    rng = np.random.default_rng(seed)
    sr = 24000
    for name in list(systems) + list(GOLD_SYSTEMS):
        w = ResponseWriter(root / ("gold" if name in GOLD_SYSTEMS else "responses"), SystemInfo(name=name, description="synthetic clip for the crowd simulation"))
        for s in samples:
            if s.id in w.done:
                continue
            n = int(sr * (0.6 + 0.4 * rng.random()))
            t = np.arange(n) / sr
            f0 = 110 + 220 * rng.random()
            x = 0.2 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(n)
            w.write(s.id, x.astype(np.float32), sr, text=s.reference_response)
    return samples, root / "responses", root / "gold"


def default_ratings(systems: Sequence[str]) -> dict[str, float]:
    """Evenly spaced true ratings, 200 points apart (a 76% win chance between neighbours), best first
    in the given order."""
    return {s: 1000.0 + 200.0 * (len(systems) - 1 - i) for i, s in enumerate(systems)}
