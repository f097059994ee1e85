"""Battle lifecycle: show a sample and two anonymous responses, measure listening, take one vote.

Listening is measured on the server, from two things the browser cannot fake without actually
spending the time:

* the bytes of each clip served by ``/clip/<token>`` (Range requests are counted; a clip that was
  never downloaded cannot have been heard), and
* a server-side play clock: the page reports ``play`` / ``pause`` / ``ended`` of each clip, and the
  server times the intervals between them with its own clock, each interval and the total capped at
  the clip's duration. A visitor (or a script) must let real time pass to accumulate listening.

``listened = min(bytes served / clip size, clock / duration)``. Voting unlocks when both clips reach
``min_listen`` (0.8 by default: the last words of a clip are often silence). A vote that arrives
anyway (through the API, or a tampered page) is stored with ``counted = false`` and
``exclusion_reason = "not_listened"``; a second vote on a battle is stored as ``after_reveal``; a
session or client over its rate limit is stored as ``rate_limited``.

Starting a battle writes a ``battles`` row and re-encodes clips, so battle creation has its own
per-session and per-client limits (the same :class:`RateLimiter`): a battle over either limit is
refused with :class:`RateLimited` before anything is stored or encoded.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from s2s_arena.schema import FAILURES, WINNERS, Sample, SchemaError, Vote

from .media import Clip, ClipCache, new_token
from .sampler import PairChoice, sample_pair
from .store import VoteStore

APP_VERSION = "0.1.0"


class BattleError(ValueError):
    """A request the arena cannot serve (unknown token, bad choice); shown to the visitor as is."""


@dataclass
class ClipState:
    clip: Clip
    battle: str
    side: str  # "a" | "b" | "instruction"
    bytes_served: set = field(default_factory=set)  # byte ranges (start, end) served, merged on read
    clock_s: float = 0.0
    playing_since: float | None = None

    def fetched_fraction(self) -> float:
        size = len(self.clip.data)
        covered, last_end = 0, -1
        for start, end in sorted(self.bytes_served):
            if end <= last_end:
                continue
            covered += end - max(start, last_end + 1) + 1
            last_end = end
        return min(1.0, covered / size) if size else 0.0

    def heard_s(self, now: float) -> float:
        running = 0.0
        if self.playing_since is not None:
            running = min(self.clip.duration_s, max(0.0, now - self.playing_since))
        return min(self.clip.duration_s, self.clock_s + running)

    def listened(self, now: float) -> float:
        if self.clip.duration_s <= 0:
            return 0.0
        return min(self.fetched_fraction(), self.heard_s(now) / self.clip.duration_s)


@dataclass
class Battle:
    token: str
    session: str
    client: str
    sample: Sample
    pair: PairChoice
    shown_at: float
    clips: dict[str, str]  # side -> clip token
    voted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class RateLimited(BattleError):
    """A battle refused because its session or client started too many; ``retry_after_s`` says when
    the next one will be accepted."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimiter:
    """At most ``limit`` events per ``window_s`` per key (sliding window, in memory)."""

    def __init__(self, limit: int, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._events: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _window(self, key: str, now: float) -> deque:
        q = self._events.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def hit(self, key: str, now: float) -> bool:
        """Record an event; False when the key is over its limit."""
        with self._lock:
            q = self._window(key, now)
            q.append(now)
            return len(q) <= self.limit

    def wait_s(self, key: str, now: float) -> float:
        """Seconds until ``key`` may have one more event (0 when it may now); records nothing."""
        with self._lock:
            q = self._window(key, now)
            if not q:
                self._events.pop(key, None)  # keys that went quiet do not pile up
            if len(q) < self.limit:
                return 0.0
            if self.limit <= 0:
                return self.window_s
            return max(0.0, q[len(q) - self.limit] + self.window_s - now)


@dataclass
class VoteResult:
    vote: Vote
    counted: bool
    reason: str


class Arena:
    """The battles of one server process over a benchmark, its responses and a vote store."""

    def __init__(
        self,
        samples: Sequence[Sample],
        responses: Mapping[str, Any],
        store: VoteStore,
        *,
        seed: int = 0,
        min_listen: float = 0.8,
        votes_per_minute_session: int = 10,
        votes_per_minute_client: int = 120,
        battles_per_minute_session: int = 30,
        battles_per_minute_client: int = 300,
        board_provider: Any = None,
        max_battles: int = 10_000,
    ):
        self.samples = {s.id: s for s in samples}
        self.responses = responses  # system -> SystemResponses
        self.store = store
        self.min_listen = min_listen
        self.rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self.session_limit = RateLimiter(votes_per_minute_session)
        self.client_limit = RateLimiter(votes_per_minute_client)
        self.battle_session_limit = RateLimiter(battles_per_minute_session)
        self.battle_client_limit = RateLimiter(battles_per_minute_client)
        self._battle_gate = threading.Lock()
        self.board_provider = board_provider  # () -> {system: leaderboard row}, for the sampler
        self.cache = ClipCache()
        self.battles: dict[str, Battle] = {}
        self.clips: dict[str, ClipState] = {}
        self.max_battles = max_battles
        self._lock = threading.Lock()
        # Which systems answered each sample: a pair can only be shown on a sample both answered.
        self.answered: dict[str, set[str]] = {}
        for system, sr in responses.items():
            for sid in sr.responses:
                if sid in self.samples:
                    self.answered.setdefault(sid, set()).add(system)
        self.playable = {sid: sys for sid, sys in self.answered.items() if len(sys) >= 2}
        if not self.playable:
            raise SchemaError("responses", None,
                              "no benchmark sample has responses from two systems; nothing to compare "
                              f"(systems: {', '.join(sorted(responses)) or 'none'}, samples: {len(self.samples)})")

    @property
    def systems(self) -> list[str]:
        return sorted({s for v in self.playable.values() for s in v})

    def levels(self) -> list[str]:
        return sorted({self.samples[sid].level for sid in self.playable})

    # --- battle creation --------------------------------------------------------------------------
    def new_battle(self, session: str, client: str = "", level: str | None = None) -> Battle:
        """Start a battle; :class:`RateLimited` (nothing stored) when the session or client is over
        its battle limit."""
        self._admit_battle(session, client)
        candidates = [sid for sid in self.playable if not level or self.samples[sid].level == level]
        if not candidates:
            raise BattleError(f"no sample of level {level!r} has two responses")
        pairs = {tuple(sorted(p)) for sid in candidates for p in _pairs(self.playable[sid])}
        board = None
        if self.board_provider is not None:
            try:
                board = self.board_provider()
            except Exception:  # a leaderboard that cannot be computed yet must not stop the arena
                board = None
        with self._rng_lock:
            pair = sample_pair(sorted(pairs), self.store.pair_counts(), self.rng, board)
            both = [sid for sid in candidates if {pair.system_a, pair.system_b} <= self.playable[sid]]
            sid = both[int(self.rng.integers(len(both)))]
        sample = self.samples[sid]
        token = new_token()
        clips = {}
        for side, system in (("a", pair.system_a), ("b", pair.system_b)):
            sr = self.responses[system]
            clip = self.cache.get(f"{system}/{sid}", lambda sr=sr: sr.responses[sid].audio_path,
                                  where=f"response {system}/{sid}")
            clips[side] = self._add_clip(clip, token, side)
        if sample.audio is not None:
            clip = self.cache.get(f"instruction/{sid}", lambda: sample.audio, where=f"sample {sid}: audio")
            clips["instruction"] = self._add_clip(clip, token, "instruction")
        now = time.time()
        battle = Battle(token, session, client, sample, pair, now, clips)
        self.store.add_battle(dict(
            token=token, session=session, client=client, created_at=now, sample_id=sid, level=sample.level,
            domain=sample.domain, task=sample.task, system_a=pair.system_a, system_b=pair.system_b,
            p_pair=pair.p_pair, duration_a=self.clips[clips["a"]].clip.duration_s,
            duration_b=self.clips[clips["b"]].clip.duration_s,
        ))
        with self._lock:
            self.battles[token] = battle
            self._forget_old()
        return battle

    def _admit_battle(self, session: str, client: str) -> None:
        # A refused battle is not recorded: it stored nothing, and a visitor who waits gets back in.
        now = time.time()
        with self._battle_gate:
            limits = ((self.battle_session_limit, session, "this session"),
                      (self.battle_client_limit, client or session, "your address"))
            for limiter, key, who in limits:
                wait = limiter.wait_s(key, now)
                if wait > 0:
                    raise RateLimited(f"too many new battles from {who} (at most {limiter.limit} a minute); "
                                      f"please wait {math.ceil(wait)} s and try again", wait)
            for limiter, key, _ in limits:
                limiter.hit(key, now)

    def _add_clip(self, clip: Clip, battle: str, side: str) -> str:
        tok = new_token()
        with self._lock:
            self.clips[tok] = ClipState(clip, battle, side)
        return tok

    def _forget_old(self) -> None:
        # Bounded memory: the oldest battles go first (their votes, if any, are in the store).
        while len(self.battles) > self.max_battles:
            old_token = next(iter(self.battles))
            old = self.battles.pop(old_token)
            for t in old.clips.values():
                self.clips.pop(t, None)

    def battle(self, token: str) -> Battle:
        b = self.battles.get(token) if isinstance(token, str) else None
        if b is None:
            raise BattleError("unknown or expired battle; start a new one")
        return b

    # --- listening --------------------------------------------------------------------------------
    def clip(self, clip_token: str) -> ClipState:
        st = self.clips.get(clip_token) if isinstance(clip_token, str) else None
        if st is None:
            raise BattleError("unknown clip")
        return st

    def record_served(self, clip_token: str, start: int, end: int) -> None:
        st = self.clip(clip_token)
        with self._lock:
            st.bytes_served.add((start, end))

    def record_event(self, clip_token: str, kind: str, now: float | None = None) -> None:
        st = self.clip(clip_token)
        now = time.time() if now is None else now
        with self._lock:
            if kind == "play":
                if st.playing_since is None:
                    st.playing_since = now
            elif kind in ("pause", "ended", "stop"):
                if st.playing_since is not None:
                    st.clock_s = st.heard_s(now)
                    st.playing_since = None
            else:
                raise BattleError(f"unknown clip event {kind!r}; expected play, pause or ended")

    def listening(self, token: str, now: float | None = None) -> tuple[float, float]:
        b = self.battle(token)
        now = time.time() if now is None else now
        return self.clips[b.clips["a"]].listened(now), self.clips[b.clips["b"]].listened(now)

    def unlocked(self, token: str) -> bool:
        la, lb = self.listening(token)
        return la >= self.min_listen and lb >= self.min_listen

    # --- voting -----------------------------------------------------------------------------------
    def vote(self, token: str, winner: str, failure: str | None = None, *, session: str | None = None,
             client: str = "") -> VoteResult:
        """Store one vote (committed before this returns) and reveal the pair."""
        if winner not in WINNERS:
            raise BattleError(f"winner {winner!r}: expected one of {', '.join(WINNERS)}")
        if failure in ("", None):
            failure = None
        elif failure not in FAILURES or winner not in ("a", "b"):
            raise BattleError(f"failure {failure!r}: expected one of {', '.join(FAILURES)}, and only with a winner")
        b = self.battle(token)
        now = time.time()
        with b.lock:
            la, lb = self.listening(token, now)
            session = session or b.session
            reason = ""
            if b.voted:
                reason = "after_reveal"
            elif la < self.min_listen or lb < self.min_listen:
                reason = "not_listened"
            # Both limiters always see the vote, so flooding one key cannot dodge the other.
            ok_session = self.session_limit.hit(session, now)
            ok_client = self.client_limit.hit(client or session, now)
            if not reason and not (ok_session and ok_client):
                reason = "rate_limited"
            vote = Vote(
                vote_id=uuid.uuid4().hex, session=session, sample_id=b.sample.id, system_a=b.pair.system_a,
                system_b=b.pair.system_b, winner=winner, shown_at=b.shown_at, voted_at=now, p_pair=b.pair.p_pair,
                failure=failure, listened_a=round(la, 4), listened_b=round(lb, 4), counted=not reason,
                exclusion_reason=reason, app_version=APP_VERSION,
            )
            stored = self.store.add_vote(vote, battle_token=token, client=client, reveal=not b.voted)
            b.voted = True
        return VoteResult(stored, stored.counted, stored.exclusion_reason)


def _pairs(systems: set[str]) -> list[tuple[str, str]]:
    s = sorted(systems)
    return [(s[i], s[j]) for i in range(len(s)) for j in range(i + 1, len(s))]
