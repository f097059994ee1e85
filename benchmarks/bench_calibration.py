"""Calibration throughput: labelled pairs judged one per judge call vs in batches (``judge_labelled``).

Each mode gets its own feature judge with a fresh bundled recogniser that keeps transcripts in memory
only (no disk cache) and a fresh embedder, so both pay for every clip; the script prints s/pair for each
mode and checks that the verdict rows are the same (everything but the measured latency). Piper renders
a different waveform on every call (its noise is not seeded), so its synthesized classes (non_answer,
judge_note, wrong_facts) differ run to run in audio and content key: compare verdicts there.

    .venv/bin/python benchmarks/bench_calibration.py --data DATA --responses RESP/piper --synth piper \
        --limit 2 --classes non_answer,silence,mp3 --batch-pairs 1,24
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def fresh_judge(workers: int):
    from s2s_arena.asr import FasterWhisperASR, whisper_base_dir
    from s2s_arena.judging.judges.feature import FeatureJudge
    from s2s_arena.semantics import default_embedder

    model = whisper_base_dir()
    if model is None:
        raise SystemExit("the bundled Whisper base is not installed (make setup)")
    # The same name as the default recogniser, so the judge's configuration (and verdict rows) match it.
    asr = FasterWhisperASR(str(model), name="bundled:whisper-base", cache_dir=None)
    emb = type(default_embedder())()
    return FeatureJudge(asr=asr, embedder=emb, workers=workers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--responses", required=True, help="one voice family's responses folder")
    ap.add_argument("--synth", default="espeak")
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--levels", default="")
    ap.add_argument("--classes", default="non_answer,silence,mp3")
    ap.add_argument("--batch-pairs", default="1,24")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.judging.calibration import judge_labelled, labelled_pairs
    from s2s_arena.responses import load_responses
    from s2s_arena.systems.reference import REFERENCE_SYSTEMS

    samples = load_benchmark(args.data, levels=[x for x in args.levels.split(",") if x] or None, limit=args.limit)
    responses = load_responses(args.responses, systems=list(REFERENCE_SYSTEMS))
    available = {name: set(r.responses) for name, r in responses.items()}
    classes = [c for c in args.classes.split(",") if c and c != "none"]
    pairs, missing = labelled_pairs(samples, available, classes)
    print(f"{len(samples)} samples, {len(pairs)} pairs ({len(missing)} missing), classes {classes}, "
          f"voice {args.synth}, workers {args.workers}")
    results = {}
    for bp in [int(x) for x in args.batch_pairs.split(",")]:
        judge = fresh_judge(args.workers)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rows = judge_labelled(judge, pairs, responses, Path(tmp), progress=False, synth=args.synth,
                                  samples=samples, batch_pairs=bp)
            wall = time.perf_counter() - t0
        judge.close()
        results[bp] = [{k: v for k, v in r.items() if k != "latency_s"} for r in rows]
        print(f"batch_pairs={bp:>3}: {wall:7.1f} s for {len(pairs)} pairs = {wall / max(1, len(pairs)):.2f} s/pair")
    modes = list(results)
    for bp in modes[1:]:
        same = json.dumps(results[bp], sort_keys=True) == json.dumps(results[modes[0]], sort_keys=True)
        diff = [(a["pair"], a["order"], sorted(k for k in a if a[k] != b.get(k)))
                for a, b in zip(results[modes[0]], results[bp]) if a != b]
        verdicts_same = [r["verdict"] for r in results[modes[0]]] == [r["verdict"] for r in results[bp]]
        print(f"verdict rows batch_pairs={modes[0]} vs {bp}: {'identical' if same else 'DIFFERENT'}"
              + ("" if same else f" ({len(diff)} rows differ, e.g. {diff[:3]}; verdicts "
                                 f"{'all the same' if verdicts_same else 'DIFFER'})"))


if __name__ == "__main__":
    main()
