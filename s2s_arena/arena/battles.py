"""Battle lifecycle: show a sample and two anonymous responses, measure listening, take one vote.

Listening is measured on the server, from two things the browser cannot fake without actually
spending the time:

* the bytes of each clip's speech served by ``/clip/<token>`` (Range requests are counted; a clip that
  was never downloaded cannot have been heard), and
* a server-side play clock: the page reports ``play`` / ``pause`` / ``ended`` of each clip, and the
  server times the intervals between them with its own clock, each interval and the total capped at
  the clip's speech duration. A visitor (or a script) must let real time pass to accumulate listening.

``listened = min(speech bytes served / speech bytes, clock / duration)``. Voting unlocks when both
clips reach ``min_listen`` (0.8 by default: the last words of a clip are often silence).

A vote **counts** only when it is the battle's first counted vote, both clips were heard, the voter
may vote (signed in where the operator requires it) and neither the voter nor the voter's address is
over its limit of *counted* votes. Otherwise it is stored with ``counted = false`` and the reason
(``after_reveal``, ``not_listened``, ``anonymous``, ``rate_limited``), but only a few times per battle
(``max_uncounted_per_battle``) and per address a minute: beyond that it is refused and nothing is
stored. **The systems are revealed only with a counted vote**, so a script cannot learn which system
sounds how by voting without listening.

A battle belongs to the voter who started it: a vote from any other voter is refused. Starting a
battle writes a ``battles`` row and renders clips, so battle creation has its own per-voter and
per-address limits: a battle over either is refused with :class:`RateLimited` before anything is
stored or rendered.

A response that cannot be decoded is skipped (the pair is drawn again) and logged for the operator;
what the visitor sees never names a system. The sampler's seed is fresh for every process unless the
caller fixes it.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from s2s_arena import __version__
from s2s_arena.schema import FAILURES, WINNERS, Sample, SchemaError, Vote

from .identity import Voter
from .media import Clip, Pcm, PcmCache, RenderCache, new_token, plan_battle_clips
from .sampler import PairChoice, sample_pair
from .store import VoteStore

APP_VERSION = __version__  # recorded with every vote: the package version, defined once
log = logging.getLogger("s2s_arena.arena")


class BattleError(ValueError):
    """A request the arena cannot serve (unknown token, bad choice); shown to the visitor as is, so its
    message never names a system."""

    status = 400


class RateLimited(BattleError):
    """Refused because a voter or an address is over a limit; ``retry_after_s`` says when the next one
    will be accepted. Nothing was stored."""

    status = 429

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotYours(BattleError):
    """A vote on a battle another voter started."""

    status = 403


@dataclass
class ClipState:
    clip: Clip
    battle: str
    side: str  # "a" | "b" | "instruction"
    bytes_served: set = field(default_factory=set)  # byte ranges (start, end) served, merged on read
    clock_s: float = 0.0
    playing_since: float | None = None

    def fetched_fraction(self) -> float:
        """Share of the speech's bytes served (the padding around it does not count)."""
        lo, hi = self.clip.speech_span
        size = hi - lo + 1
        covered, last_end = 0, lo - 1
        for start, end in sorted(self.bytes_served):
            start, end = max(start, last_end + 1), min(end, hi)
            if end < start:
                continue
            covered += end - start + 1
            last_end = end
        return min(1.0, covered / size) if size > 0 else 0.0

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
    voter: str  # Voter.key of whoever started it
    address: str
    sample: Sample
    pair: PairChoice
    shown_at: float
    clips: dict[str, str]  # side -> clip token
    counted: bool = False  # a counted vote (and so the reveal) happened
    n_uncounted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def voted(self) -> bool:
        return self.counted or self.n_uncounted > 0


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

    @property
    def revealed(self) -> bool:
        """The systems are shown only with a counted vote."""
        return self.counted


def as_voter(voter: Voter | str, address: str = "") -> Voter:
    """A Voter from a plain key (Python callers and tests that have no web request)."""
    return voter if isinstance(voter, Voter) else Voter(str(voter), address)


class Arena:
    """The battles of one server process over a benchmark, its responses and a vote store."""

    def __init__(
        self,
        samples: Sequence[Sample],
        responses: Mapping[str, Any],
        store: VoteStore,
        *,
        seed: int | None = None,
        min_listen: float = 0.8,
        votes_per_minute_session: int = 6,
        votes_per_minute_client: int = 6,
        battles_per_minute_session: int = 30,
        battles_per_minute_client: int = 120,
        max_uncounted_per_battle: int = 2,
        uncounted_per_minute_client: int = 60,
        board_provider: Any = None,
        max_battles: int = 10_000,
        planner: Any = None,
    ):
        self.samples = {s.id: s for s in samples}
        self.responses = responses  # system -> SystemResponses
        self.store = store
        self.min_listen = min_listen
        # A fixed seed repeats the battle order after every restart, which a visitor can learn.
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._rng_lock = threading.Lock()
        self.voter_limit = RateLimiter(votes_per_minute_session)
        self.address_limit = RateLimiter(votes_per_minute_client)
        self.uncounted_limit = RateLimiter(uncounted_per_minute_client)
        self.max_uncounted_per_battle = max_uncounted_per_battle
        self._vote_gate = threading.Lock()
        self.battle_session_limit = RateLimiter(battles_per_minute_session)
        self.battle_client_limit = RateLimiter(battles_per_minute_client)
        self._battle_gate = threading.Lock()
        self.board_provider = board_provider  # () -> {system: leaderboard row}, for the sampler
        # Gold battles and re-served battles (s2s_arena.arena.reserve.ValidityPlanner); None: ordinary only.
        self.planner = planner
        self.cache = PcmCache()
        self.rendered = RenderCache()
        self.battles: dict[str, Battle] = {}
        self.clips: dict[str, ClipState] = {}
        self.max_battles = max_battles
        self.broken: set[tuple[str, str]] = set()  # (system, sample) pairs that could not be decoded
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
    def new_battle(self, voter: Voter | str, client: str = "", level: str | None = None) -> Battle:
        """Start a battle for ``voter``; :class:`RateLimited` (nothing stored) when the voter or its
        address is over its battle limit."""
        voter = as_voter(voter, client)
        self._admit_battle(voter)
        for _ in range(8):  # a broken response is dropped and the pair drawn again
            plan = None
            if self.planner is not None:
                with self._rng_lock:
                    plan = self.planner.plan(voter.key, level, self.rng)
            if plan is not None:
                sample, pair = plan.sample, PairChoice(plan.system_a, plan.system_b, plan.p_pair)
            else:
                sample, pair = self.choose(level)
            pcms = self._pcms(sample, pair, plan)
            if pcms is not None:
                return self._open(voter, sample, pair, pcms, plan)
        raise BattleError("no battle could be prepared right now; please try again in a moment")

    def choose(self, level: str | None = None) -> tuple[Sample, PairChoice]:
        """Which sample and which (ordered) pair the next battle shows."""
        with self._lock:
            playable = {sid: set(s) for sid, s in self.playable.items()}
        candidates = [sid for sid in playable if not level or self.samples[sid].level == level]
        if not candidates:
            raise BattleError(f"no sample of level {level!r} has two responses")
        pairs = {tuple(sorted(p)) for sid in candidates for p in _pairs(playable[sid])}
        board = None
        if self.board_provider is not None:
            try:
                board = self.board_provider()
            except Exception:  # a leaderboard that cannot be computed yet must not stop the arena
                board = None
        with self._rng_lock:
            pair = sample_pair(sorted(pairs), self.store.pair_counts(), self.rng, board)
            both = sorted(sid for sid in candidates if {pair.system_a, pair.system_b} <= playable[sid])
            sid = both[int(self.rng.integers(len(both)))]
        return self.samples[sid], pair

    def _pcms(self, sample: Sample, pair: PairChoice, plan: Any = None) -> dict[str, Pcm] | None:
        """Decoded audio of both responses (and the instruction); None when a response is broken (it is
        logged and never drawn again)."""
        sid, out = sample.id, {}
        responses = plan.sources if plan is not None and plan.sources else self.responses
        prefix = plan.cache_prefix if plan is not None else ""
        for side, system in (("a", pair.system_a), ("b", pair.system_b)):
            sr = responses[system]
            try:
                out[side] = self.cache.get(f"{prefix}{system}/{sid}", lambda sr=sr: sr.responses[sid].audio_path,
                                           where=f"response {system}/{sid}")
            except Exception as e:  # noqa: BLE001 - any failure to decode means: not servable
                if plan is not None and plan.sources:  # a gold response: logged, the next draw goes on
                    log.warning("gold response %s/%s cannot be served: %s", system, sid, e)
                    return None
                self._drop_broken(system, sid, e)
                return None
        if sample.audio is not None:
            try:
                out["instruction"] = self.cache.get(f"instruction/{sid}", lambda: sample.audio,
                                                    where=f"sample {sid}: audio")
            except Exception as e:  # noqa: BLE001 - the battle still works without the spoken instruction
                log.warning("instruction audio of sample %s cannot be served (%s); shown as text only", sid, e)
        return out

    def _drop_broken(self, system: str, sid: str, error: Exception) -> None:
        log.warning("response %s/%s cannot be served and is skipped from now on: %s", system, sid, error)
        with self._lock:
            self.broken.add((system, sid))
            left = self.playable.get(sid, set()) - {system}
            if len(left) >= 2:
                self.playable[sid] = left
            else:
                self.playable.pop(sid, None)
        if not self.playable:
            raise BattleError("no battle can be served right now; the operator has been told")

    def _open(self, voter: Voter, sample: Sample, pair: PairChoice, pcms: dict[str, Pcm],
              role: Any = None) -> Battle:
        token = new_token()
        plans = plan_battle_clips(pcms)
        clips = {side: self._add_clip(plan, token, side) for side, plan in plans.items()}
        now = time.time()
        battle = Battle(token, voter.key, voter.address, sample, pair, now, clips)
        if role is not None:  # its role is stored first: a gold battle is never taken for an ordinary one
            self.planner.register(self.store, token, role)
        self.store.add_battle(dict(
            token=token, session=voter.key, client=voter.address, created_at=now, sample_id=sample.id,
            level=sample.level, domain=sample.domain, task=sample.task, system_a=pair.system_a,
            system_b=pair.system_b, p_pair=pair.p_pair, duration_a=plans["a"].duration_s,
            duration_b=plans["b"].duration_s,
        ))
        with self._lock:
            self.battles[token] = battle
            self._forget_old()
        return battle

    def _admit_battle(self, voter: Voter) -> None:
        # A refused battle is not recorded: it stored nothing, and a visitor who waits gets back in.
        now = time.time()
        with self._battle_gate:
            limits = ((self.battle_session_limit, voter.key, "this session"),
                      (self.battle_client_limit, voter.address or voter.key, "your address"))
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
            if self.planner is not None:
                self.planner.forget(old_token)

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

    def clip_bytes(self, clip_token: str) -> bytes:
        return self.rendered.get(clip_token, self.clip(clip_token).clip)

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
    def vote(self, token: str, winner: str, failure: str | None = None, *, voter: Voter | str | None = None,
             session: str | None = None, client: str = "") -> VoteResult:
        """Store one vote (committed before this returns). Raises :class:`RateLimited` (nothing stored)
        when the battle or the address has used up its allowance of votes that do not count."""
        if winner not in WINNERS:
            raise BattleError(f"winner {winner!r}: expected one of {', '.join(WINNERS)}")
        if failure in ("", None):
            failure = None
        elif failure not in FAILURES or winner not in ("a", "b"):
            raise BattleError(f"failure {failure!r}: expected one of {', '.join(FAILURES)}, and only with a winner")
        b = self.battle(token)
        voter = as_voter(voter if voter is not None else (session or b.voter), client or b.address)
        if voter.key != b.voter:
            raise NotYours("this battle was started in another session; start a new one")
        now = time.time()
        with b.lock:
            la, lb = self.listening(token, now)
            reason = self._uncounted_reason(b, voter, la, lb, now)
            if reason:
                self._admit_uncounted(b, voter, now)
            # A gold vote is stored as not counted (it never enters a rating) but answered like a counted one.
            gold = not reason and self.planner is not None and self.planner.is_gold(token)
            vote = Vote(
                vote_id=uuid.uuid4().hex, session=voter.key, sample_id=b.sample.id, system_a=b.pair.system_a,
                system_b=b.pair.system_b, winner=winner, shown_at=b.shown_at, voted_at=now, p_pair=b.pair.p_pair,
                failure=failure, listened_a=round(la, 4), listened_b=round(lb, 4), counted=not reason and not gold,
                exclusion_reason=reason or ("gold" if gold else ""), app_version=APP_VERSION,
            )
            stored = self.store.add_vote(vote, battle_token=token, client=voter.address, reveal=not reason)
            if stored.counted or gold:
                b.counted = True
            if self.planner is not None:
                self.planner.after_vote(b, voter.key, stored.counted)
        if gold:
            return VoteResult(stored, True, "")
        return VoteResult(stored, stored.counted, stored.exclusion_reason)

    def _uncounted_reason(self, b: Battle, voter: Voter, la: float, lb: float, now: float) -> str:
        if b.counted:
            return "after_reveal"
        if la < self.min_listen or lb < self.min_listen:
            return "not_listened"
        if not voter.can_count:
            return voter.why_not or "anonymous"
        # Only counted votes use up a budget: a neighbour's unheard clicks cannot lock an honest voter out.
        with self._vote_gate:
            keys = ((self.voter_limit, voter.key), (self.address_limit, voter.address or voter.key))
            if any(lim.wait_s(key, now) > 0 for lim, key in keys):
                return "rate_limited"
            for lim, key in keys:
                lim.hit(key, now)
        return ""

    def _admit_uncounted(self, b: Battle, voter: Voter, now: float) -> None:
        if b.n_uncounted >= self.max_uncounted_per_battle:
            raise RateLimited("this battle takes no more votes; start a new one", 0.0)
        key = voter.address or voter.key
        with self._vote_gate:
            wait = self.uncounted_limit.wait_s(key, now)
            if wait > 0:
                raise RateLimited(f"too many votes that do not count from your address; please wait "
                                  f"{math.ceil(wait)} s", wait)
            self.uncounted_limit.hit(key, now)
        b.n_uncounted += 1


def _pairs(systems: set[str]) -> list[tuple[str, str]]:
    s = sorted(systems)
    return [(s[i], s[j]) for i in range(len(s)) for j in range(i + 1, len(s))]
