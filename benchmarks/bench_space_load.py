"""Load benchmark of the Space: 50 concurrent simulated voters on 127.0.0.1, then a SIGKILL crash check.

    .venv/bin/python benchmarks/bench_space_load.py [--voters 50|200] [--seconds 30] [--limit 16] [--db URL]
                                                    [--cache DIR | --data D --responses R]

Target: 50 voters, vote round trip p95 < 100 ms on SQLite and on PostgreSQL; 200 voters reported.

Starts ``s2s-arena serve`` as a separate process (Gradio page included), measures the page load
(``GET /`` plus the Gradio config, over HTTP) and runs the voters against the arena's HTTP routes
(battle, both clips, play clock for as long as the clips last, vote) for a bounded time; reports the
vote round trip p50/p95 and votes per second. Then it kills the server with SIGKILL while the voters
are still voting, restarts it, lets voting resume, and checks that every acknowledged vote is in the
store. Without --data it builds the real benchmark (``build_dataset(limit=...)``: spoken instructions)
and renders the four reference systems' spoken responses into --cache (reused when run again).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from space_loadgen import LoadResult, run_voters_until, wait_until_up  # noqa: E402
from s2s_arena.arena.store import VoteStore  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "s2s_arena.cli", "serve", "--data", str(args.data), "--responses",
           str(args.responses), "--db", args.db, "--port", str(port), "--votes-per-minute", "1000",
           "--client-votes-per-minute", "1000000",
           # 50 voters share one address (127.0.0.1): the per-client battle limit is lifted for them.
           "--battles-per-minute", "1000", "--client-battles-per-minute", "1000000"]
    return subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})


def build_arena(cache: Path, limit: int) -> tuple[Path, Path]:
    """The real benchmark and the reference systems' responses, built once into ``cache``."""
    data, resp = cache / "data", cache / "responses"
    if not (cache / "ready").exists():
        from s2s_arena.benchmark import load_benchmark
        from s2s_arena.systems.reference import render_reference_systems
        from s2s_arena_dataset.pipeline.build import build_dataset

        data.mkdir(parents=True, exist_ok=True)
        data = Path(build_dataset(data, limit=limit, seed=0))
        render_reference_systems(load_benchmark(data), resp, seed=0)  # resumable
        (cache / "ready").write_text(str(data) + "\n")
    data = Path((cache / "ready").read_text().strip())
    print(f"benchmark: {data} · responses: {resp}", flush=True)
    return data, resp


def clip_lengths(data: str | Path, resp: str | Path) -> dict[str, float]:
    """How long the responses the voters listen to are (they wait that long per battle)."""
    from s2s_arena.audio import read_raw
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.responses import load_responses

    ids = {s.id for s in load_benchmark(str(data))}
    secs = []
    for sr in load_responses(str(resp)).values():
        for sid, r in sr.responses.items():
            if sid in ids:
                x, rate = read_raw(r.audio_path)
                secs.append(x.shape[0] / rate)
    return {"samples": len(ids), "mean": round(float(np.mean(secs)), 1), "max": round(float(np.max(secs)), 1)}


def page_load_ms(url: str, n: int = 20) -> tuple[float, float]:
    """p50 / p95 of GET / followed by GET /config (what a browser needs before it can render)."""
    times = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            assert c.get("/").status_code == 200
            assert c.get("/config").status_code == 200
            times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voters", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30.0, help="load phase length")
    p.add_argument("--limit", type=int, default=16, help="samples in the benchmark built when --data is not given")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "s2s_arena_bench_space_data"),
                   help="where the built benchmark and its responses are kept between runs")
    p.add_argument("--db", default=None, help="vote store URL (default: SQLite in the work folder)")
    p.add_argument("--data", default=None)
    p.add_argument("--responses", default=None)
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="s2s_arena_bench_space_"))
    if not args.data:
        args.data, args.responses = build_arena(Path(args.cache) / f"limit{args.limit}", args.limit)
    clip_s = clip_lengths(args.data, args.responses)
    args.db = args.db or f"sqlite:///{work / 'votes.db'}"
    port, log = free_port(), work / "server.log"
    url = f"http://127.0.0.1:{port}"
    proc = start(args, port, log)
    try:
        startup = wait_until_up(url)
        load_p50, load_p95 = page_load_ms(url)
        # Phase 1: steady load.
        out, stop = LoadResult(), threading.Event()
        th = threading.Thread(target=run_voters_until, args=(url, args.voters, stop, out),
                              daemon=True)
        t0 = time.time()
        th.start()
        time.sleep(args.seconds)
        load_during_p50, load_during_p95 = page_load_ms(url, n=10)
        stop.set()
        th.join()
        elapsed = time.time() - t0
        steady = out.summary()
        # Phase 2: crash under load.
        crash, stop2 = LoadResult(), threading.Event()
        th = threading.Thread(target=run_voters_until, args=(url, args.voters, stop2, crash),
                              daemon=True)
        th.start()
        while len(crash.acked) < 50:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        acked_before_kill = len(crash.acked)
        proc = start(args, port, log)
        restart = wait_until_up(url)
        n_after = len(crash.acked)
        while len(crash.acked) < n_after + 50:
            time.sleep(0.05)
        stop2.set()
        th.join()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = VoteStore(args.db)
    stored = store.vote_ids()
    acked = set(out.acked) | set(crash.acked)
    missing = acked - stored
    store.close()
    figures = {
        # The machine may be shared: its load says how much of each figure is the arena's own time.
        "cpu_count": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "voters": args.voters, "load_seconds": round(elapsed, 1), "samples": clip_s["samples"],
        "response_seconds_mean": clip_s["mean"], "response_seconds_max": clip_s["max"],
        "db": args.db.split("@")[-1], "server_startup_s": round(startup, 1),
        "page_load_idle_p50_ms": round(load_p50, 1), "page_load_idle_p95_ms": round(load_p95, 1),
        "page_load_under_load_p50_ms": round(load_during_p50, 1), "page_load_under_load_p95_ms": round(load_during_p95, 1),
        "votes_acked": steady["votes_acked"], "votes_counted": steady["votes_counted"], "votes_per_s": round(steady["votes_acked"] / elapsed, 1),
        "vote_rtt_p50_ms": round(steady["vote_p50_ms"], 1), "vote_rtt_p95_ms": round(steady["vote_p95_ms"], 1),
        "battle_rtt_p50_ms": round(steady["battle_p50_ms"], 1), "battle_rtt_p95_ms": round(steady["battle_p95_ms"], 1),
        "errors_steady": steady["errors"], "battles_refused_steady": steady["battles_refused"],
        "crash_acked_before_kill": acked_before_kill, "crash_acked_total": len(crash.acked),
        "crash_restart_s": round(restart, 1), "acked_votes_missing_from_store": len(missing),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(f"server log: {log}")
    if missing:
        print(f"FAIL: {len(missing)} acknowledged votes are not in the store", file=sys.stderr)
        return 1
    print("crash check: every acknowledged vote is in the store")
    return 0


if __name__ == "__main__":
    sys.exit(main())
