"""`s2s-arena calibrate`: a judge's accuracy on controlled pairs with known winners (reference systems)."""

from __future__ import annotations

import argparse

HELP = "calibrate a judge on reference-system pairs (paralinguistic-only, content-only, identical)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge", default="feature", help="judge spec: feature (default), hf:<model>, openai:<model>, hybrid")
    p.add_argument("--data", required=True, help="benchmark dataset folder (s2s-arena build --out DIR) or Hub id")
    p.add_argument("--responses", default=None,
                   help="responses folder holding reference/flat/off_topic/echo (rendered there if absent; "
                        "default OUT/responses)")
    p.add_argument("--limit", type=int, default=None, help="at most N samples (round-robin over levels)")
    from .args import add_list_argument

    add_list_argument(p, "--levels", choices=("L0", "L1", "L2", "L3"), metavar="LEVEL", help="only these levels: L2,L3 or L2 L3")
    p.add_argument("--out", default=None, help="output folder (default runs/calibration-<judge>)")
    p.add_argument("--seed", type=int, default=0, help="seed for the reference systems' voices and off-topic picks")
    p.add_argument("--synth", default="espeak", help="synthesizer for the reference systems (default espeak)")
    add_list_argument(p, "--voices", metavar="SYNTH", default=None,
                      help="voice families to calibrate on, one run each (e.g. espeak,piper): responses in "
                           "RESPONSES/<voice>, reports in OUT/<voice> and a per-family table in OUT/calibration.md; "
                           "overrides --synth")
    p.add_argument("--asr", default=None, help="feature judge: ASR backend spec for content, or none "
                   "(default: the bundled multilingual Whisper base that the asr extra installs)")
    from s2s_arena.judging.calibration import CLASSES

    add_list_argument(p, "--classes", metavar="CLASS", default=None,
                      help="derived classes to add (default all): " + ", ".join(CLASSES) + "; 'none' for none")
    p.add_argument("--batch-pairs", type=int, default=None,
                   help="labelled pairs per judge call (default 24): the feature judge recognises a call's "
                        "clips together; rows are saved after every batch, so a killed run resumes")
    p.add_argument("--workers", type=int, default=1,
                   help="feature judge: processes measuring a batch's clips (default 1; same verdicts)")
    p.add_argument("--no-render", action="store_true", help="do not render missing reference responses; judge what is there")
    p.add_argument("--cache", default=None, help="verdict cache folder (default: none, so figures are fresh)")


def run(args: argparse.Namespace) -> int:
    import json
    import re
    from pathlib import Path

    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.cli import CommandError
    from s2s_arena.judging.calibration import markdown_table, run_calibration
    from s2s_arena.judging.judges import get_judge

    if args.limit is not None and args.limit < 1:
        raise CommandError(f"--limit: expected a positive number of samples, got {args.limit}")
    out = Path(args.out or f"runs/calibration-{re.sub(r'[^A-Za-z0-9._+-]+', '-', args.judge)}")
    resp = Path(args.responses) if args.responses else out / "responses"
    if args.batch_pairs is not None and args.batch_pairs < 1:
        raise CommandError(f"--batch-pairs: expected a positive number of pairs, got {args.batch_pairs}")
    if args.workers < 1:
        raise CommandError(f"--workers: expected a positive number of processes, got {args.workers}")
    options: dict = {"asr": args.asr} if args.asr else {}
    if args.workers > 1:
        options["workers"] = args.workers
    if options and not args.judge.startswith(("feature", "hybrid")):
        raise CommandError(f"--asr and --workers apply to the feature and hybrid judges, not {args.judge!r}")
    if args.judge.startswith("hybrid") and options:
        options = {"feature_options": options}  # the hybrid judge's own feature judge takes them
    judge = get_judge(args.judge, **options)
    from s2s_arena.judging.calibration import BATCH_PAIRS

    batch = {"batch_pairs": args.batch_pairs or BATCH_PAIRS}
    samples = load_benchmark(args.data, levels=args.levels, limit=args.limit)
    if not samples:
        raise CommandError(f"{args.data}: no samples (levels {args.levels or 'all'})")
    cache = None
    if args.cache:
        from s2s_arena.judging.protocol import VerdictCache

        cache = VerdictCache(args.cache)
    try:
        from s2s_arena.judging.calibration import CLASSES

        classes = list(CLASSES) if args.classes is None else [c for c in args.classes if c != "none"]
        if args.voices:
            from s2s_arena.audio import atomic_write_bytes
            from s2s_arena.judging.calibration import voice_family_table

            reports = {}
            for voice in dict.fromkeys(args.voices):
                reports[voice] = run_calibration(judge, samples, resp / voice, out / voice, render=not args.no_render,
                                                 seed=args.seed, synth=voice, cache=cache, classes=classes, **batch)
            table = voice_family_table(reports, judge.name)
            atomic_write_bytes(out / "calibration.md", table.encode())
            atomic_write_bytes(out / "calibration.json", (json.dumps(reports, indent=2, default=str) + "\n").encode())
        else:
            report = run_calibration(judge, samples, resp, out, render=not args.no_render, seed=args.seed,
                                     synth=args.synth, cache=cache, classes=classes, **batch)
    finally:
        judge.close()
        if cache is not None:
            cache.close()
    if args.voices:
        print(table)
        met = {v: {k: t["met"] for k, t in r["targets"].items()} for v, r in reports.items()}
        print(json.dumps({"targets_met": met}))
        print(f"responses: {', '.join(str(resp / v) for v in reports)}")
        print(f"report: {out / 'calibration.md'} (per voice family) and {', '.join(str(out / v / 'calibration.md') for v in reports)}")
        return 0
    print(markdown_table(report, judge.name))
    met = {k: v["met"] for k, v in report["targets"].items()}
    print(json.dumps({"targets_met": met}))
    print(f"responses: {resp}")
    print(f"report: {out / 'calibration.md'} and {out / 'calibration.json'}; verdicts: {out / 'verdicts.jsonl'}")
    return 0
