"""Local vs Ray engine: the `feature` judge over the same pairs, throughput of each, same verdicts.

    .venv/bin/python benchmarks/bench_engine.py [--samples 24] [--concurrency 2] [--data DIR]

Builds (or reads) a benchmark, renders the `reference` and `flat` reference systems, and judges
every (reference, flat) pair in both orders with `s2s_arena.judging.protocol.judge_pairs`, once with
engine="local" and once with engine="ray" (a local Ray cluster on this machine, `--concurrency`
actors). Ray is timed twice: cold (cluster + actor start included) and warm (cluster up).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--data", help="an existing dataset folder (default: build one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.responses import load_responses
    from s2s_arena.systems.reference import render_reference_systems
    from s2s_arena.judging.judges import get_judge
    from s2s_arena.judging.protocol import Pair, judge_pairs

    work = Path(tempfile.mkdtemp(prefix="bench_engine_"))
    data = args.data
    if not data:
        from s2s_arena_dataset.pipeline.build import build_dataset

        data = build_dataset(work / "ds", limit=args.samples, seed=args.seed, progress=False)
    samples = load_benchmark(data, limit=args.samples)
    render_reference_systems(samples, work / "resp", systems=("reference", "flat"), seed=args.seed, progress=False)
    resp = load_responses(work / "resp")
    pairs = [Pair(s, "reference", "flat", resp["reference"].audio(s.id), resp["flat"].audio(s.id))
             for s in samples if s.id in resp["reference"].responses and s.id in resp["flat"].responses]
    judge = get_judge("feature")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{len(pairs)} (reference, flat) pairs, both orders, feature judge, batch size {args.batch_size}")

    stats: dict = {}

    def timed(engine: str, **kw):
        stats.clear()
        t = time.perf_counter()
        verdicts = judge_pairs(judge, pairs, engine=engine, batch_size=args.batch_size, cache=None, stats=stats, **kw)
        return verdicts, time.perf_counter() - t

    local, t_local = timed("local")
    n_calls = stats["judge_calls"]  # ordered pairs the judge actually decided (identical audio is not judged)
    print(f"judge calls per run: {n_calls} ({stats})")
    print(f"local          : {t_local:7.2f} s  {n_calls / t_local:7.2f} calls/s")

    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter() - t0
    cold, t_cold = timed("ray", concurrency=args.concurrency)
    warm, t_warm = timed("ray", concurrency=args.concurrency)
    ray.shutdown()
    print(f"ray cold       : {t_cold:7.2f} s  {n_calls / t_cold:7.2f} calls/s  (+{t_init:.1f} s ray.init; "
          f"{args.concurrency} actors started inside)")
    print(f"ray warm       : {t_warm:7.2f} s  {n_calls / t_warm:7.2f} calls/s  ({args.concurrency} actors)")

    key = lambda v: (v.sample_id, v.order)  # noqa: E731
    same = [(a.verdict, a.content, a.paralinguistics, a.quality) for a in sorted(local, key=key)] == \
           [(b.verdict, b.content, b.paralinguistics, b.quality) for b in sorted(warm, key=key)] == \
           [(c.verdict, c.content, c.paralinguistics, c.quality) for c in sorted(cold, key=key)]
    print(f"same verdicts local vs ray: {same}")


if __name__ == "__main__":
    main()
