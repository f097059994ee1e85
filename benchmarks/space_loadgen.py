"""Simulated voters for the load benchmark and the crash test: real HTTP against a running Space.

Each voter does what a browser does through the arena's own routes: open a battle, download both
clips, report play for both, wait as long as the longer clip lasts (read from the downloaded WAV, so
the server's play clock unlocks the vote honestly), report ended, then vote. A vote counts as acknowledged only when the server answered
200 with its ``vote_id``: the server sends that answer after the commit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import httpx
import numpy as np

from s2s_arena.audio import AudioError, read_raw


@dataclass
class LoadResult:
    acked: list[str] = field(default_factory=list)  # vote ids the server acknowledged
    counted: int = 0
    vote_rtt_s: list[float] = field(default_factory=list)  # POST /api/vote round trips
    battle_rtt_s: list[float] = field(default_factory=list)
    errors: int = 0  # requests that failed (connection refused while the server was down, 5xx)
    battles_refused: int = 0  # POST /api/battle answered 429 (over the battle rate limit)

    def summary(self) -> dict[str, float]:
        def pct(xs: list[float], q: float) -> float:
            return float(np.percentile(xs, q)) * 1000 if xs else float("nan")

        return {"votes_acked": len(self.acked), "votes_counted": self.counted, "errors": self.errors,
                "vote_p50_ms": pct(self.vote_rtt_s, 50), "vote_p95_ms": pct(self.vote_rtt_s, 95),
                "battle_p50_ms": pct(self.battle_rtt_s, 50), "battle_p95_ms": pct(self.battle_rtt_s, 95),
                "battles_refused": self.battles_refused}


def clip_seconds(wav: bytes) -> float:
    """Duration of a served clip (a bare PCM WAV)."""
    x, sr = read_raw(wav, where="served clip")
    return x.shape[0] / sr


async def _voter(i: int, url: str, stop: asyncio.Event, out: LoadResult, clip_wait_s: float | None,
                 seed: int) -> None:
    rng = np.random.default_rng(seed + i)
    # Each voter keeps its own cookie jar: the server issues its session on the first answer.
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not stop.is_set():
            try:
                t0 = time.perf_counter()
                r = await client.post("/api/battle", json={})
                if r.status_code == 429:  # over the battle limit: wait as told, as a browser would
                    out.battles_refused += 1
                    await asyncio.sleep(min(5.0, float(r.headers.get("retry-after", "1"))))
                    continue
                if r.status_code != 200:
                    out.errors += 1
                    await asyncio.sleep(0.2)
                    continue
                out.battle_rtt_s.append(time.perf_counter() - t0)
                b = r.json()
                durations = []
                for side in ("a", "b"):
                    clip = await client.get(b[side])
                    durations.append(clip_seconds(clip.content) if clip.status_code == 200 else 0.0)
                    await client.post(b[side] + "/play")
                # Both clips "play" at once; the longer one decides when both have been heard.
                await asyncio.sleep(max(durations) + 0.05 if clip_wait_s is None else clip_wait_s)
                for side in ("a", "b"):
                    await client.post(b[side] + "/ended")
                winner = ("a", "b", "tie", "both_bad")[int(rng.integers(4))]
                t0 = time.perf_counter()
                r = await client.post("/api/vote", json={"token": b["token"], "winner": winner})
                if r.status_code == 200:
                    out.vote_rtt_s.append(time.perf_counter() - t0)
                    res = r.json()
                    out.acked.append(res["vote_id"])
                    out.counted += bool(res["counted"])
                else:
                    out.errors += 1
            except (httpx.TransportError, ValueError, AudioError):
                out.errors += 1  # the server is down (crash test) or answered garbage; try again
                await asyncio.sleep(0.2)


async def run_voters_async(url: str, n_voters: int, stop: asyncio.Event, out: LoadResult, *,
                           clip_wait_s: float | None = None, seed: int = 0) -> LoadResult:
    await asyncio.gather(*(_voter(i, url, stop, out, clip_wait_s, seed) for i in range(n_voters)))
    return out


def run_voters(url: str, n_voters: int, duration_s: float, *, clip_wait_s: float | None = None,
               seed: int = 0) -> LoadResult:
    """Run ``n_voters`` concurrent voters for ``duration_s`` seconds (blocking). ``clip_wait_s=None``
    waits each battle's real clip length; a number waits that long instead (shorter: votes are
    stored as ``not_listened``)."""
    out = LoadResult()

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_voters_async(url, n_voters, stop, out, clip_wait_s=clip_wait_s, seed=seed))
        await asyncio.sleep(duration_s)
        stop.set()
        await task

    asyncio.run(main())
    return out


def run_voters_until(url: str, n_voters: int, stop: "threading.Event", out: LoadResult, *,
                     clip_wait_s: float | None = None, seed: int = 0) -> LoadResult:
    """Like :func:`run_voters`, until another thread sets ``stop`` (the crash test kills the server
    meanwhile)."""

    async def main() -> None:
        done = asyncio.Event()
        task = asyncio.create_task(run_voters_async(url, n_voters, done, out, clip_wait_s=clip_wait_s, seed=seed))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        done.set()
        await task

    asyncio.run(main())
    return out


def wait_until_up(url: str, timeout_s: float = 180.0) -> float:
    """Seconds until ``/healthz`` answers (the server process is importing Gradio meanwhile)."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return time.time() - t0
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up within {timeout_s:.0f} s")
