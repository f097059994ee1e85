"""Time the FULL benchmark build (no --limit) and report peak memory; then check it loads.

    .venv/bin/python benchmarks/bench_build.py [--out DIR] [--workers 2] [--seed 0] [--keep]

Builds from scratch into a fresh folder (a resumed build would time nothing), prints wall and CPU
time, samples per second, peak resident memory of the main process and of the largest worker, the
per-level counts, and the time for `datasets.load_dataset` to decode one sample of every split.
Target (issues 2 and 12): the full build, intelligibility gate included (bundled Whisper on every
sample, Piper + eSpeak NG voices), in under 15 minutes on the 2-core development machine. On a shared
machine wall time says little: compare the CPU time, which the script prints too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="build folder (default: a temporary folder, removed unless --keep)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    from s2s_arena_dataset.pipeline.build import build_dataset

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="s2s_bench_build_")) / "bench"
    if out.exists():
        shutil.rmtree(out)
    load = os.getloadavg()
    t0, c0 = time.perf_counter(), os.times()
    build_dataset(out, seed=args.seed, workers=args.workers, progress=True)
    wall = time.perf_counter() - t0
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (
        c1.children_system - c0.children_system)
    manifest = json.loads((out / "manifest.json").read_text())
    report = json.loads((out / "build_report.json").read_text())
    size_mb = sum(p.stat().st_size for p in (out / "data").rglob("*.parquet")) / 1e6

    from datasets import load_dataset

    t1 = time.perf_counter()
    decoded = {}
    for split in report["counts"]["level"]:
        ds = load_dataset(str(out), "all", split=split)
        decoded[split] = (len(ds), ds[0]["audio"].get_all_samples().sample_rate)
    load_s = time.perf_counter() - t1

    print(f"machine: {os.cpu_count()} CPUs, load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print(f"catalogue: {manifest['catalogue']['tasks']} tasks, {manifest['catalogue']['seeds']} seeds; "
          f"variants per seed {manifest['variants_per_seed']}; workers {args.workers}")
    print(f"rendered {manifest['jobs']} candidates, kept {manifest['kept']}, rejected {manifest['rejected']} "
          f"({', '.join(f'{k} {v}' for k, v in report['rejections'].items()) or 'none'})")
    print("kept per level: " + ", ".join(f"{k} {v}" for k, v in report["counts"]["level"].items())
          + f"; tasks {len(report['counts']['task'])}; languages {len(report['counts']['language'])}")
    print(f"full build wall time: {wall:.1f} s ({wall / 60:.1f} min; target < 15 min) - "
          f"{manifest['jobs'] / wall:.2f} candidates/s")
    print(f"CPU time (main + workers + espeak-ng): {cpu:.1f} s = {cpu / manifest['jobs'] * 1000:.0f} ms per candidate")
    print(f"peak RSS: main process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"largest child {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")
    print(f"dataset: {size_mb:.1f} MB of Parquet in {sum(1 for _ in (out / 'data').rglob('*.parquet'))} shards")
    print(f"load_dataset(all) of every split + decode one sample: {load_s:.1f} s; "
          + ", ".join(f"{k}: {n} rows @ {sr} Hz" for k, (n, sr) in decoded.items()))
    print(f"output: {out}")
    if not args.out and not args.keep:
        shutil.rmtree(out.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
