"""Double annotation: a share of battles is re-served to other voters, half of them with the sides
swapped, so that agreement between voters and position effects are measured from real use.

A battle whose vote counted joins a queue; a later new battle is, with probability ``share``, the
oldest queued battle that the visitor has not voted on: same sample, same pair, a fresh battle (new
token, new clip URLs) like any other. Re-serves alternate between the original order and the swapped
one, so exactly half (give or take one) are swapped. Each original is re-served ``copies`` times.

A re-served vote is an ordinary counted vote (the same pair was drawn once by the sampler, with the
stored ``p_pair``; repeating it keeps the pair mix of the sampler, so the ratings' weights still hold).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from s2s_arena.schema import SchemaError

from .roles import ROLE_RESERVE, BattlePlan


@dataclass
class _Pending:
    token: str
    sample: Any
    system_a: str
    system_b: str
    p_pair: float
    voters: set[str] = field(default_factory=set)
    left: int = 1


class Reserve:
    """The queue of battles waiting for another voter (bounded, in memory)."""

    def __init__(self, share: float = 0.2, copies: int = 1, max_pending: int = 5000):
        if not 0.0 <= share < 1.0:
            raise SchemaError("reserve", "share", f"expected a share in [0, 1), got {share!r}")
        if copies < 1:
            raise SchemaError("reserve", "copies", f"expected at least 1, got {copies!r}")
        self.share, self.copies, self.max_pending = float(share), int(copies), int(max_pending)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._lock = threading.Lock()
        self._served = 0

    def __len__(self) -> int:
        return len(self._pending)

    def offer(self, token: str, sample: Any, system_a: str, system_b: str, p_pair: float, voter: str) -> None:
        """An ordinary battle got a counted vote from ``voter``: queue it for another voter."""
        with self._lock:
            self._pending[token] = _Pending(token, sample, system_a, system_b, p_pair, {voter}, self.copies)
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)

    def voted(self, origin: str, voter: str) -> None:
        """A re-served copy of ``origin`` got a vote: that voter must not get it again."""
        with self._lock:
            p = self._pending.get(origin)
            if p is not None:
                p.voters.add(voter)

    def pick(self, voter: str, level: str | None = None) -> BattlePlan | None:
        """The oldest queued battle this voter has not voted on (None when there is none)."""
        with self._lock:
            for token, p in self._pending.items():
                if voter in p.voters or (level and p.sample.level != level):
                    continue
                p.left -= 1
                if p.left <= 0:
                    del self._pending[token]
                swapped = self._served % 2 == 1
                self._served += 1
                a, b = (p.system_b, p.system_a) if swapped else (p.system_a, p.system_b)
                return BattlePlan(sample=p.sample, system_a=a, system_b=b, p_pair=p.p_pair, role=ROLE_RESERVE,
                                  origin=token, swapped=swapped)
        return None


class ValidityPlanner:
    """What the arena asks before drawing a battle and after storing a vote: gold and re-serves."""

    def __init__(self, gold: Any = None, reserve: Reserve | None = None):
        self.gold, self.reserve = gold, reserve
        self.roles: dict[str, BattlePlan] = {}  # token -> plan, for the battles this process serves
        self._lock = threading.Lock()

    def plan(self, voter: str, level: str | None, rng: np.random.Generator) -> BattlePlan | None:
        """Gold with probability ``gold.share``; else a re-serve with probability ``reserve.share``
        (when one is waiting for this voter); else None (the sampler draws an ordinary battle)."""
        u = float(rng.random())
        if self.gold is not None and u < self.gold.share:
            plan = self.gold.pick(rng, level)
            if plan is not None:
                return plan
        if self.reserve is not None and float(rng.random()) < self.reserve.share:
            return self.reserve.pick(voter, level)
        return None

    def register(self, store: Any, token: str, plan: BattlePlan) -> None:
        from .roles import add_role

        add_role(store, plan, token)  # before the battle row: a crash never leaves an unmarked gold battle
        with self._lock:
            self.roles[token] = plan

    def forget(self, token: str) -> None:
        with self._lock:
            self.roles.pop(token, None)

    def is_gold(self, token: str) -> bool:
        p = self.roles.get(token)
        return p is not None and p.role == "gold"

    def after_vote(self, battle: Any, voter: str, counted: bool) -> None:
        """Queue an ordinary battle with a counted vote for another voter; note re-serve voters."""
        if self.reserve is None or not counted:
            return
        p = self.roles.get(battle.token)
        if p is None:
            self.reserve.offer(battle.token, battle.sample, battle.pair.system_a, battle.pair.system_b,
                               battle.pair.p_pair, voter)
        elif p.role == ROLE_RESERVE and p.origin:
            self.reserve.voted(p.origin, voter)


def make_planner(samples: Any, responses: Mapping[str, Any], store: Any = None, *, gold_share: float = 0.0,
                 gold_responses: Any = None, reserve_share: float = 0.0, reserve_copies: int = 1
                 ) -> ValidityPlanner | None:
    """The planner for a Space: gold from ``gold_responses`` (a responses folder, or a mapping of
    loaded systems; default: the arena's own responses, which must then hold the reference systems)
    and re-serves; None when both shares are 0. With ``store``, its role table is created."""
    from .gold import GoldPool
    from .roles import ensure_table

    if gold_share <= 0 and reserve_share <= 0:
        return None
    if store is not None:
        ensure_table(store)
    gold = None
    if gold_share > 0:
        if gold_responses is None:
            gold = GoldPool(samples, responses, gold_share, own_responses=True)
        elif isinstance(gold_responses, Mapping):
            gold = GoldPool(samples, gold_responses, gold_share)
        else:
            gold = GoldPool.from_dir(gold_responses, samples, gold_share)
    reserve = Reserve(reserve_share, reserve_copies) if reserve_share > 0 else None
    return ValidityPlanner(gold, reserve)
