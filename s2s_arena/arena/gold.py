"""Gold battles: controlled pairs with a known better side, served exactly like other battles.

The pairs are the calibration classes of :mod:`s2s_arena.judging.calibration`, made from the reference
systems (:mod:`s2s_arena.systems.reference`) rendered for the same benchmark:

* content: ``reference`` (the right answer) against ``off_topic`` or ``echo`` (a fluent wrong
  answer, the instruction parroted back), both delivered as required;
* paralinguistic: ``reference`` against ``flat`` (the same words without the required delivery), for
  samples whose requirements a neutral voice does not already meet.

Identical pairs (a response against itself) are not used: they have no better side. Which side the
better response is shown on is drawn at random per battle, so "always left" earns chance.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from s2s_arena.schema import SchemaError

from .roles import ROLE_GOLD, BattlePlan

GOLD_SYSTEMS = ("reference", "flat", "off_topic", "echo")


class GoldPool:
    """The gold pairs available for a benchmark; ``share`` of all new battles are drawn from it."""

    def __init__(self, samples: Sequence[Any], responses: Mapping[str, Any], share: float = 0.1, *,
                 kinds: Sequence[str] = ("content", "paralinguistic"), own_responses: bool = False):
        from s2s_arena.judging.calibration import CONTENT, IDENTICAL, PARALINGUISTIC, labelled_pairs

        if not 0.0 <= share < 1.0:
            raise SchemaError("gold", "share", f"expected a share in [0, 1), got {share!r}")
        self.share = float(share)
        self.responses = {k: v for k, v in responses.items() if k in GOLD_SYSTEMS}
        # Clips of a separate gold folder must not meet the arena's own in the clip cache.
        self.cache_prefix = "" if own_responses else "gold:"
        available = {name: set(r.responses) for name, r in self.responses.items()}
        wanted = {"content": CONTENT, "paralinguistic": PARALINGUISTIC}
        unknown = set(kinds) - set(wanted)
        if unknown:
            raise SchemaError("gold", "kinds", f"unknown gold kind(s) {sorted(unknown)}; expected content, paralinguistic")
        pairs, _missing = labelled_pairs(list(samples), available)
        self.pairs = [p for p in pairs if p.kind != IDENTICAL and p.kind in {wanted[k] for k in kinds}]
        if self.share > 0 and not self.pairs:
            raise SchemaError("gold responses", None,
                              "no gold pair can be formed: the reference systems (reference, flat, off_topic, echo) "
                              "have no responses for these samples (render them with `s2s-arena generate`)")

    @classmethod
    def from_dir(cls, resp_dir: Any, samples: Sequence[Any], share: float = 0.1, **kw: Any) -> "GoldPool":
        from s2s_arena.responses import load_responses

        found = load_responses(str(resp_dir))
        return cls(samples, {k: v for k, v in found.items() if k in GOLD_SYSTEMS}, share, **kw)

    def __len__(self) -> int:
        return len(self.pairs)

    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.pairs:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def pick(self, rng: np.random.Generator, level: str | None = None) -> BattlePlan | None:
        """One gold battle (None when no pair fits the level); the better side is left or right at random."""
        pool = [p for p in self.pairs if not level or p.sample.level == level]
        if not pool:
            return None
        p = pool[int(rng.integers(len(pool)))]
        better_left = bool(rng.random() < 0.5)
        a, b = (p.system_a, p.system_b) if better_left else (p.system_b, p.system_a)
        return BattlePlan(sample=p.sample, system_a=a, system_b=b, p_pair=1.0, role=ROLE_GOLD,
                          sources=self.responses, cache_prefix=self.cache_prefix,
                          gold_expected="a" if better_left else "b", gold_kind=p.kind)
