"""Crash test: SIGKILL the Space under voting load, restart it; every acknowledged vote is stored.

Data: the mini benchmark built by the real pipeline and real spoken responses (``arena_responses``).
The simulated voters (``benchmarks/space_loadgen.py``) wait each battle's real clip length.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from s2s_arena.arena.store import VoteStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from space_loadgen import LoadResult, run_voters_until, wait_until_up  # noqa: E402
from space_testkit import free_port

pytestmark = pytest.mark.slow


def start_server(data: Path, resp: Path, db: str, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "s2s_arena.cli", "serve", "--data", str(data), "--responses", str(resp),
           "--db", db, "--port", str(port), "--votes-per-minute", "1000", "--client-votes-per-minute", "100000",
           "--battles-per-minute", "1000", "--client-battles-per-minute", "100000",  # 50 voters, one address
           "--api-only"]  # the page is not under test here (test_space_browser is); the vote path is
    return subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})


def test_sigkill_under_load_loses_no_acknowledged_vote(tmp_path, mini_dataset, arena_responses):
    data, resp = mini_dataset, arena_responses
    db = f"sqlite:///{tmp_path / 'votes.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    proc = start_server(data, resp, db, port, log)
    try:
        print(f'up after {wait_until_up(url):.1f} s')
        out, stop = LoadResult(), threading.Event()
        voters = threading.Thread(target=run_voters_until, args=(url, 50, stop, out), daemon=True)
        voters.start()
        deadline = time.time() + 90
        while len(out.acked) < 40 and time.time() < deadline:
            time.sleep(0.05)
        before_kill = len(out.acked)
        assert before_kill >= 40, f"only {before_kill} votes acknowledged before the kill; see {log}"
        proc.send_signal(signal.SIGKILL)  # mid-load: votes are in flight right now
        proc.wait(timeout=10)
        time.sleep(0.5)
        errors_at_kill = out.errors
        proc = start_server(data, resp, db, port, log)
        print(f'{before_kill} acked before the kill; restarted in {wait_until_up(url):.1f} s')
        deadline = time.time() + 90
        while len(out.acked) < before_kill + 20 and time.time() < deadline:
            time.sleep(0.05)
        stop.set()
        voters.join(timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert len(out.acked) >= before_kill + 20, "voting did not resume after the restart"
    assert out.errors > errors_at_kill  # the voters really saw the server die
    assert out.counted >= len(out.acked) // 2  # they waited the real clip lengths: their votes count
    store = VoteStore(db)
    stored = store.vote_ids()
    missing = set(out.acked) - stored
    assert not missing, f"{len(missing)} acknowledged votes lost: {sorted(missing)[:5]}"
    assert len(set(out.acked)) == len(out.acked)
    store.close()
