"""The Space's agreement tab: the validity report of the votes stored so far, recomputed when the
number of stored votes changes (gold votes are stored uncounted, so all votes are the key)."""

from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict
from typing import Any


class ValidityView:
    def __init__(self, arena: Any, judge: Any = None, *, bootstrap: int = 200, seed: int = 0):
        self.arena, self.judge = arena, judge
        self.bootstrap, self.seed = bootstrap, seed
        self._lock = threading.Lock()
        self._key: int | None = None
        self._md = ""
        self._report: dict[str, Any] | None = None

    def report(self) -> dict[str, Any] | None:
        self.markdown()
        return self._report

    def markdown(self) -> str:
        from s2s_arena import validity
        from s2s_arena.schema import SchemaError

        from .roles import vote_rows

        store = self.arena.store
        n = store.count()
        with self._lock:
            if self._key == n and self._md:
                return self._md
            rows = vote_rows(store)
            if not rows:
                md, rep = "No votes yet: the validity report appears with the first votes.", None
            else:
                attrs = {sid: validity.requirement_attribute(s) for sid, s in self.arena.samples.items()}
                judge = None
                if self.judge is not None:
                    judge = self.judge.subset(self.judge.score_a == self.judge.score_a)  # a copy: covariates get added
                try:
                    rep = validity.validity_report(rows, judge=judge, attributes=attrs, bootstrap=self.bootstrap,
                                                   seed=self.seed, source="vote store")
                    # Voter keys stay private: the tab shows counts, not who was flagged.
                    rep["gold"]["flagged"] = []
                    rep["gold"]["voters"] = {}
                    md = validity.markdown(rep)
                except SchemaError as e:
                    md, rep = f"The validity report cannot be computed yet: {getattr(e, 'detail', e)}", None
            self._key, self._md, self._report = n, md, rep
            return md


# --- error analysis: the disagreements, playable ------------------------------------------------------
DISAGREEMENT_CLIP_PATH = "/agreement/clip/"
LISTED_PLAYABLE = 20  # as many as the report's Markdown table shows


class DisagreementClips:
    """Clips of the pairs in the disagreement list, under random tokens issued per listing.

    Only :meth:`ValidityView.listing` issues tokens, and only for the two responses of a listed item (a
    pair that voters already voted on), so no URL can ask for an arbitrary (sample, system): the route is
    no oracle for open battles. Every listing plans a fresh rendering (new lead, padding and dither, as a
    battle does), so these bytes never match the bytes of any battle; one token keeps one rendering, so a
    player's Range requests read consistent bytes."""

    def __init__(self, arena: Any, *, max_items: int = 400, ttl_s: float = 3600.0):
        from .media import RenderCache

        self.arena = arena
        self.max_items, self.ttl_s = max_items, ttl_s
        self._clips: OrderedDict[str, tuple[float, Any, tuple[str, str]]] = OrderedDict()
        self._lock = threading.Lock()
        # Its own cache: listening here must not evict the clips of running battles.
        self.rendered = RenderCache(max_items=16)

    def issue(self, sample_id: str, first: str, second: str) -> tuple[str, str] | None:
        """Tokens for (first, second) on ``sample_id``; None when either response cannot be decoded."""
        from .media import new_token, plan_battle_clips

        arena, pcms = self.arena, {}
        for side, system in (("a", first), ("b", second)):
            sr = arena.responses.get(system)
            if sr is None or sample_id not in sr.responses or (system, sample_id) in arena.broken:
                return None
            try:
                pcms[side] = arena.cache.get(f"{system}/{sample_id}", lambda sr=sr: sr.responses[sample_id].audio_path,
                                             where=f"response {system}/{sample_id}")
            except Exception:  # noqa: BLE001 - an undecodable response is listed without a player
                return None
        plans = plan_battle_clips(pcms)
        now = time.monotonic()
        out = []
        with self._lock:
            for side, system in (("a", first), ("b", second)):
                tok = new_token()
                self._clips[tok] = (now, plans[side], (sample_id, system))
                out.append(tok)
            while len(self._clips) > self.max_items:
                self._clips.popitem(last=False)
        return out[0], out[1]

    def pair_of(self, token: str) -> tuple[str, str] | None:
        """(sample, system) a live token serves; for tests and logs."""
        with self._lock:
            item = self._clips.get(token)
        return item[2] if item else None

    def get(self, token: str) -> bytes | None:
        with self._lock:
            item = self._clips.get(token)
            if item is not None and time.monotonic() - item[0] > self.ttl_s:
                del self._clips[token]
                item = None
        return None if item is None else self.rendered.get(token, item[1])


def listing(view: ValidityView, clips: DisagreementClips, *, limit: int = LISTED_PLAYABLE) -> list[dict[str, Any]]:
    """The first ``limit`` disagreements of the current report, each with two fresh clip URLs (or None)."""
    rep = view.report()
    out = []
    for d in (rep or {}).get("disagreements", [])[:limit]:
        toks = clips.issue(d["sample_id"], d["system_first"], d["system_second"])
        item = {k: d[k] for k in ("sample_id", "level", "system_first", "system_second", "human", "judge",
                                  "voters_disagree", "judge_disagrees")}
        item["clip_first"] = DISAGREEMENT_CLIP_PATH + toks[0] if toks else None
        item["clip_second"] = DISAGREEMENT_CLIP_PATH + toks[1] if toks else None
        out.append(item)
    return out


def listing_html(items: list[dict[str, Any]]) -> str:
    """The disagreement list with a native player per response (no listening events are reported)."""
    if not items:
        return ""
    e = html.escape

    def player(url: str | None, label: str) -> str:
        if not url:
            return f'<div class="arena-clip"><b>{e(label)}</b><br><i>audio unavailable</i></div>'
        return (f'<div class="arena-clip"><b>{e(label)}</b><br>'
                f'<audio controls preload="none" src="{e(url)}"></audio></div>')

    parts = ["<h3>Listen to the disagreements</h3>",
             "<p class='arena-meta'>Pairs already voted on where voters disagree with each other or with the "
             "judge; each response is a fresh rendering.</p>"]
    for d in items:
        why = " and ".join(w for w, on in (("voters disagree", d["voters_disagree"]),
                                            ("the judge disagrees", d["judge_disagrees"])) if on)
        parts.append(f'<div class="disagreement" data-sample="{e(d["sample_id"])}">'
                     f'<div class="arena-meta">sample <code>{e(d["sample_id"])}</code> · level {e(str(d["level"]))} · '
                     f'voters: {e(", ".join(d["human"]))} · judge: {e(d["judge"] or "n/a")} · {e(why)}</div>'
                     f'<div style="display:flex;gap:1em">{player(d["clip_first"], d["system_first"])}'
                     f'{player(d["clip_second"], d["system_second"])}</div></div>')
    return "\n".join(parts)
