"""`s2s-arena demo`: the main job on embedded defaults, offline, from nothing to a served leaderboard.

It runs the real subcommands in order (build -> generate the reference systems -> judge -> leaderboard
-> serve), so what the demo shows is exactly what a user gets from each step; every step resumes, so
a second run reuses the first one's work.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

HELP = "the main job on embedded defaults: build a small dataset, render reference systems, judge, leaderboard, serve"



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); reused and resumed")
    p.add_argument("--limit", type=int, default=40, help="samples in the small build (default 40)")
    p.add_argument("--full", action="store_true", help="build the full dataset (1,243+ samples) instead")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--responses", metavar="RESP", action="append", default=[],
                   help="also judge the real systems found in this responses folder (repeatable)")
    p.add_argument("--asr", metavar="SPEC", default=None,
                   help="ASR backend for the feature judge's content check, e.g. hf:/models/whisper-small, or "
                        "none (default: the bundled multilingual Whisper base that the asr extra installs)")
    p.add_argument("--workers", type=int, default=2, help="build processes (default 2)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap rounds for the leaderboard CIs")
    p.add_argument("--no-serve", action="store_true", help="stop after the leaderboard; do not serve the Space")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)


def _step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _call(argv: list[str]) -> None:
    from s2s_arena.cli import CommandError, main

    print("$ s2s-arena " + " ".join(argv), flush=True)
    rc = main(argv)
    if rc:
        raise CommandError(f"step `s2s-arena {argv[0]}` failed (exit status {rc}); its output is above")


def _link_real_systems(resp_dirs: list[str], resp: Path) -> list[str]:
    """Symlink each system folder of the given responses folders into the run's responses folder."""
    from s2s_arena.cli import CommandError
    from s2s_arena.systems import REFERENCE_SYSTEMS

    names = []
    for d in resp_dirs:
        root = Path(d).resolve()
        if not root.is_dir():
            raise CommandError(f"--responses {d}: not a folder")
        for sys_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if sys_dir.name in REFERENCE_SYSTEMS:
                continue
            target = resp / sys_dir.name
            if target.is_symlink() or not target.exists():
                if target.is_symlink():
                    target.unlink()
                target.symlink_to(sys_dir, target_is_directory=True)
                names.append(sys_dir.name)
    return names


def run(args: argparse.Namespace) -> int:
    t0 = time.time()
    run_dir = Path(args.out)
    data, resp, verdicts, plots = run_dir / "data", run_dir / "responses", run_dir / "verdicts.jsonl", run_dir / "plots"
    resp.mkdir(parents=True, exist_ok=True)

    _step("1/5 build the benchmark (seed -> augment -> QA)")
    build = ["build", "--out", str(data), "--seed", str(args.seed), "--workers", str(args.workers)]
    if not args.full:
        build += ["--limit", str(args.limit)]
    _call(build)

    from s2s_arena.systems import REFERENCE_SYSTEMS

    _step("2/5 render the reference systems" + (" and link the real ones" if args.responses else ""))
    for name in REFERENCE_SYSTEMS:
        _call(["generate", "--system", name, "--data", str(data), "--out", str(resp), "--seed", str(args.seed)])
    real = _link_real_systems(args.responses, resp)
    if real:
        print(f"real systems: {', '.join(real)}")

    _step("3/5 judge every pair of systems with the offline feature judge (both orders)")
    judge = ["judge", "--data", str(data), "--responses", str(resp), "--judge", "feature", "--out", str(verdicts)]
    if args.asr:
        judge += ["-o", f"asr={args.asr}"]
    _call(judge)

    _step("4/5 leaderboard (Bradley–Terry, 95% bootstrap CIs over instructions)")
    _call(["leaderboard", "--votes", str(verdicts), "--bootstrap", str(args.bootstrap), "--seed", str(args.seed),
           "--plot", str(plots), "--responses", str(resp)])
    print(f"\nrun folder: {run_dir.resolve()} (dataset, responses, verdicts, plots) — {time.time() - t0:.0f} s")

    if args.no_serve:
        return 0
    _step(f"5/5 serve the Space on http://{args.host}:{args.port} (Ctrl-C to stop)")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    _call(["serve", "--data", str(data), "--responses", str(resp), "--verdicts", str(verdicts),
           "--host", args.host, "--port", str(args.port), "--db", f"sqlite:///{(run_dir / 'votes.db').resolve()}"])
    return 0
