"""A tiny but real judge for exercising the judging machinery: it prefers the louder clip.

It measures integrated loudness (s2s_arena.audio.loudness_lufs), so its decisions follow the audio
and a swap of A and B flips them; it counts its calls so tests can check caching and batching.
A position-biased variant always prefers whatever is shown first, to test inconsistency handling.
"""

from __future__ import annotations

from s2s_arena.audio import loudness_lufs
from s2s_arena.judging.judges.base import Judge, Judgement, PairInput


class LouderJudge(Judge):
    name = "test-louder"
    version = "1"

    def __init__(self, margin_db: float = 1.0):
        self.margin_db = margin_db
        self.calls = 0
        self.items_seen = 0
        self.batch_sizes: list[int] = []

    def config(self):
        return {"margin_db": self.margin_db}

    def judge(self, items: list[PairInput]) -> list[Judgement]:
        self.calls += 1
        self.items_seen += len(items)
        self.batch_sizes.append(len(items))
        out = []
        for it in items:
            la, lb = loudness_lufs(it.audio_a, it.sr), loudness_lufs(it.audio_b, it.sr)
            d = la - lb
            v = "A>B" if d > self.margin_db else "B>A" if d < -self.margin_db else "A=B"
            out.append(Judgement(v, quality=v, reason=f"loudness A {la:.1f} LUFS, B {lb:.1f} LUFS"))
        return out


class FirstShownJudge(LouderJudge):
    """Always prefers response A: maximal position bias."""

    name = "test-first-shown"

    def judge(self, items):
        self.calls += 1
        self.items_seen += len(items)
        return [Judgement("A>B", reason="always A") for _ in items]


class BrokenJudge(LouderJudge):
    """Raises on every batch: the orchestration must turn that into counted invalid rows."""

    name = "test-broken"

    def judge(self, items):
        self.calls += 1
        raise RuntimeError("model server went away")
