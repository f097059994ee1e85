"""Pair sampling for the arena: which two systems a visitor hears next.

Exposure is balanced first: pairs with the fewest counted votes get most of the probability. Among
pairs with similar exposure, the sampler leans toward pairs whose ratings are close (the most
informative comparison) or uncertain (wide confidence intervals). Every pick returns the exact
probability of that unordered pair, stored with the vote so ratings can re-weight by ``1 / p_pair``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class PairChoice:
    system_a: str  # shown left
    system_b: str  # shown right
    p_pair: float  # probability of this unordered pair under the distribution it was drawn from


def pair_weights(
    pairs: Sequence[tuple[str, str]],
    counts: Mapping[tuple[str, str], int],
    board: Mapping[str, Mapping[str, float]] | None = None,
    *,
    exposure_temperature: float = 1.0,
    closeness_scale: float = 100.0,
) -> np.ndarray:
    """Unnormalised weights, one per pair (names in each pair sorted).

    ``exp(-(n - n_min) / T)`` puts the least-voted pairs first; the information term
    ``(1 + uncertainty) / (1 + |rating gap| / scale)`` (from a leaderboard: rating, ci_low, ci_high)
    prefers close or uncertain pairs. Without a board all pairs with equal exposure are equally likely.
    """
    n = np.array([counts.get(tuple(sorted(p)), 0) for p in pairs], dtype=float)
    w = np.exp(-(n - n.min()) / max(exposure_temperature, 1e-9))
    if board:
        info = np.ones(len(pairs))
        for i, (a, b) in enumerate(pairs):
            ra, rb = board.get(a), board.get(b)
            if not ra or not rb:
                continue  # an unrated system: leave it at the neutral weight
            gap = abs(float(ra["rating"]) - float(rb["rating"]))
            width = _ci_width(ra) + _ci_width(rb)
            info[i] = (1.0 + width / (2 * closeness_scale)) / (1.0 + gap / closeness_scale)
        w = w * info
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        w = np.ones(len(pairs))
    return w


def _ci_width(row: Mapping[str, float]) -> float:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or not math.isfinite(float(lo)) or not math.isfinite(float(hi)):
        return 0.0
    return max(0.0, float(hi) - float(lo))


def all_pairs(systems: Sequence[str]) -> list[tuple[str, str]]:
    return list(itertools.combinations(sorted(set(systems)), 2))


def sample_pair(
    pairs: Sequence[tuple[str, str]],
    counts: Mapping[tuple[str, str], int],
    rng: np.random.Generator,
    board: Mapping[str, Mapping[str, float]] | None = None,
    *,
    exposure_temperature: float = 1.0,
) -> PairChoice:
    """Draw one of the candidate ``pairs`` (e.g. those that answered a common sample), then a random
    left/right order."""
    pairs = sorted({tuple(sorted(p)) for p in pairs if p[0] != p[1]})
    if not pairs:
        raise ValueError("no pair of two different systems to choose from")
    w = pair_weights(pairs, counts, board, exposure_temperature=exposure_temperature)
    p = w / w.sum()
    i = int(rng.choice(len(pairs), p=p))
    a, b = pairs[i]
    if rng.random() < 0.5:
        a, b = b, a
    return PairChoice(a, b, float(p[i]))
