"""``hybrid[:<lm spec>]``: the feature judge for what can be measured, an audio-LM for the rest.

Per aspect: broken audio is vetoed by the feature judge (the LM is not asked); content comes from the
audio-LM (or from the feature judge's ASR when the LM fails); paralinguistics from the feature judge's
measurements for the requirements it can measure and from the audio-LM for those it cannot (emotion,
accent, age ...), averaged when a sample has both; quality from the audio-LM. The overall verdict
puts content before paralinguistics before quality (lexicographic) at L0/L1; at L2/L3, where
producing the paralinguistics is the task, paralinguistics weigh as much as content.
"""

from __future__ import annotations

from s2s_arena.errors import ConfigError
import os
from typing import Any

from s2s_arena.schema import VERDICT_MEANING

from .base import Judge, Judgement, PairInput

# signed strength of each preference verdict (A>>B 2 ... B>>A -2), from the one verdict table
SCORE = {v: m.strength for v, m in VERDICT_MEANING.items() if m.winner in ("a", "b", "tie")}
LM_ENV = "S2S_ARENA_HYBRID_LM"


def _verdict(score: float) -> str:
    if score >= 1.5:
        return "A>>B"
    if score > 0:
        return "A>B"
    if score <= -1.5:
        return "B>>A"
    if score < 0:
        return "B>A"
    return "A=B"


class HybridJudge(Judge):
    version = "1"

    def __init__(self, lm: str | Judge | None = None, *, feature: Judge | None = None,
                 feature_options: dict[str, Any] | None = None, lm_options: dict[str, Any] | None = None,
                 paralinguistic_levels: tuple[str, ...] = ("L2", "L3"), paralinguistic_weight: float = 1.0):
        from . import get_judge

        lm = lm or os.environ.get(LM_ENV)
        if not lm:
            raise ConfigError(f"judge 'hybrid': no audio-LM given; use hybrid:hf:<model> or hybrid:openai:<model> (or set {LM_ENV})")
        self.lm = get_judge(lm, **(lm_options or {}))
        self.feature = feature or get_judge("feature", **(feature_options or {}))
        self.paralinguistic_levels = tuple(paralinguistic_levels)
        self.paralinguistic_weight = float(paralinguistic_weight)
        self.name = f"hybrid:{self.lm.name}"

    def config(self) -> Any:
        return {"feature": [self.feature.name, self.feature.version, self.feature.config_hash()],
                "lm": [self.lm.name, self.lm.version, self.lm.config_hash()],
                "paralinguistic_levels": self.paralinguistic_levels, "paralinguistic_weight": self.paralinguistic_weight}

    @property
    def listens_to_instruction(self) -> bool:
        return self.lm.listens_to_instruction

    def judge(self, items: list[PairInput]) -> list[Judgement]:
        measured = self.feature.judge(items)
        ask = [i for i, m in enumerate(measured) if m.verdict != "invalid" and not m.meta.get("veto")]
        heard = dict(zip(ask, self.lm.judge([items[i] for i in ask]) if ask else []))
        out = []
        for i, (item, m) in enumerate(zip(items, measured)):
            if m.verdict == "invalid" or m.meta.get("veto"):
                out.append(Judgement(m.verdict, m.content, m.paralinguistics, m.quality,
                                     reason=f"[feature] {m.reason}", meta={"feature": m.meta}))
            else:
                out.append(self.fuse(item, m, heard[i]))
        return out

    def fuse(self, item: PairInput, m: Judgement, lm: Judgement) -> Judgement:
        abstained = set(m.meta.get("abstained", []))
        meta = {"feature": m.meta, "lm": lm.meta}
        reason = f"[feature] {m.reason}\n[{self.lm.name}] {lm.reason}"
        if lm.verdict == "invalid":
            if "content" in abstained:  # nothing can judge content: never guess it
                return Judgement.invalid(f"audio-LM gave no verdict and content cannot be measured: {lm.reason}", **meta)
            content = m.content
        else:
            content = lm.content
        requirements = set(item.sample.requirements)
        measurable = requirements - abstained
        unmeasured = requirements & abstained
        para_scores = []
        if measurable:
            para_scores.append(SCORE[m.paralinguistics])
        if (unmeasured or not requirements) and lm.verdict != "invalid":
            para_scores.append(SCORE[lm.paralinguistics])
        para = _verdict(sum(para_scores) / len(para_scores)) if para_scores else "A=B"
        quality = lm.quality if lm.verdict != "invalid" else m.quality
        c, p, q = SCORE[content], SCORE[para], SCORE[quality]
        if item.sample.level in self.paralinguistic_levels:
            total = c + self.paralinguistic_weight * p
            overall = _verdict(max(-2.0, min(2.0, total))) if total else _verdict(q)
        else:
            overall = content if c else (para if p else quality)
        if lm.verdict == "both_bad" and c == 0:
            overall = "both_bad"
        meta["fusion"] = {"content": content, "paralinguistics": para, "quality": quality,
                          "measured": sorted(measurable), "heard": sorted(unmeasured)}
        return Judgement(overall, content=content, paralinguistics=para, quality=quality, reason=reason, meta=meta)

    def close(self) -> None:
        self.lm.close()
        self.feature.close()
