"""How intelligible are the built instructions? Word error rate of a real ASR on the stored audio.

    .venv/bin/python benchmarks/bench_intelligibility.py --data DIR [--asr bundled:whisper-base]
    .venv/bin/python benchmarks/bench_intelligibility.py --limit 120 [--workers 2] [--asr ...]
    .venv/bin/python benchmarks/bench_intelligibility.py --tasks a,b,c      (every seed and variant of them)

With ``--data`` it reads a built dataset folder; with ``--limit`` it first builds that many samples
(spread over levels and tasks, the intelligibility gate on) into a temporary folder and times the
build. Every clip of the ``main`` and ``robustness`` configs is transcribed again by ``--asr``
(default: the bundled recogniser the gate uses; ``bundled:whisper-tiny.en`` gives an independent
second opinion for English) and scored against its instruction text (numbers as words, CER for CJK).
Prints corpus WER (errors over reference words), mean WER and the share of clips with WER > 0.5, per
config, condition, voice backend and language. Targets (issue 12): main corpus WER <= 0.15 and at
most 5 % of all clips above 0.5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _summary(rows: list[dict]) -> str:
    from s2s_arena_dataset.pipeline.report import wer_summary

    s = wer_summary(rows)
    if not s["n"]:
        return "n=0"
    return f"n={s['n']:4d}  corpus WER {s['corpus_wer']:.3f}  mean {s['mean_wer']:.3f}  >0.5: {100 * s['share_over_0.5']:.1f}%"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="a built dataset folder")
    ap.add_argument("--limit", type=int, default=None, help="build this many samples first (temporary folder)")
    ap.add_argument("--tasks", default=None, help="with --limit: only these tasks (comma-separated), every variant")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--asr", default="auto", help="recogniser for the measurement (default: the gate's)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary build")
    args = ap.parse_args()
    if not args.data and not args.limit and not args.tasks:
        ap.error("give --data DIR, --limit N or --tasks a,b")

    import pyarrow.parquet as pq

    from s2s_arena import audio as A
    from s2s_arena_dataset.pipeline.qa import intelligibility_wer
    from s2s_arena_dataset.pipeline.render import load_gate_asr

    tmp = None
    if args.data:
        data = Path(args.data)
    else:
        from s2s_arena_dataset.pipeline.build import build_dataset

        tmp = Path(tempfile.mkdtemp(prefix="s2s_bench_intel_"))
        t0, c0 = time.perf_counter(), os.times()
        tasks = [t for t in (args.tasks or "").split(",") if t] or None
        data = build_dataset(tmp / "ds", limit=args.limit, seed=args.seed, workers=args.workers, progress=False,
                             tasks=tasks)
        wall, c1 = time.perf_counter() - t0, os.times()
        cpu = (c1.user + c1.children_user + c1.system + c1.children_system) - (c0.user + c0.children_user + c0.system + c0.children_system)
        m = json.loads((data / "manifest.json").read_text())
        print(f"build of {m['jobs']} jobs (kept {m['kept']}) with {args.workers} workers: wall {wall:.0f} s, "
              f"CPU {cpu:.0f} s, {wall / max(1, m['jobs']):.2f} s/job wall; load average {os.getloadavg()[0]:.1f}")
        r = json.loads((data / "build_report.json").read_text())
        print(f"gate ({r['gate']['asr']}): {r['gate']['outcomes']}")
    asr = load_gate_asr(args.asr)
    if asr is None:
        print("no ASR installed: nothing to measure")
        return 1
    rows = []
    t0 = time.perf_counter()
    for shard in sorted(data.glob("data/*/L[0-3]-*.parquet")):
        for rec in pq.read_table(shard).to_pylist():
            aug = json.loads(rec["augmentation"])
            x = A.load_audio(rec["audio"]["bytes"])
            cues = json.loads(rec["input_cues"])
            langs = cues.get("language")
            lang = None if isinstance(langs, list) and len(set(langs)) > 1 else rec["language"]
            hyp = asr.transcribe(x, A.SAMPLE_RATE, language=lang)
            rows.append({"qa": {"wer": intelligibility_wer(rec["instruction_text"], hyp, rec["language"])},
                         "instruction_text": rec["instruction_text"], "subset": aug.get("subset") or "main",
                         "condition": aug.get("condition") or "clean", "source": rec["source"],
                         "language": rec["language"], "id": rec["id"], "hyp": hyp})
    print(f"measured with {getattr(asr, 'name', args.asr)} on {len(rows)} clips in {time.perf_counter() - t0:.0f} s")
    print(f"{'all clips':28s} {_summary(rows)}")
    for key in ("subset", "condition", "source", "language"):
        for v in sorted({r[key] for r in rows}):
            print(f"{key + ' ' + v:28s} {_summary([r for r in rows if r[key] == v])}")
    worst = sorted(rows, key=lambda r: -r["qa"]["wer"])[:5]
    print("worst clips:")
    for r in worst:
        print(f"  {r['qa']['wer']:.2f} {r['id']} [{r['condition']}, {r['source']}] {r['instruction_text'][:60]!r} -> {r['hyp'][:60]!r}")
    if tmp and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp:
        print(f"build kept in {data}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
