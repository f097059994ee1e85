"""`s2s-arena build`: render the task catalogue into the benchmark dataset folder (two stages + QA)."""

from __future__ import annotations

import argparse

HELP = "build the benchmark dataset (seed -> augment -> QA) as a Hugging Face dataset folder"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="dataset folder to write (an earlier build there is resumed/replaced)")
    p.add_argument("--limit", type=int, default=None, help="small build: at most N samples spread over tasks and levels")
    p.add_argument("--seed", type=int, default=0, help="random seed (variants, noises); same seed, same dataset")
    p.add_argument("--levels", type=_csv, default=None, help="only these levels, e.g. L1,L3")
    p.add_argument("--tasks", type=_csv, default=None, help="only these task ids (comma-separated)")
    p.add_argument("--workers", type=int, default=2, help="render/QA processes (default 2)")
    p.add_argument("--human", default=None, help="folder of human recordings with manifest.csv (replace or extend seeds)")
    p.add_argument("--asr", default=None, help="ASR backend spec for the round-trip WER check (off by default)")
    p.add_argument("--max-wer", type=float, default=None, help="drop samples whose ASR round-trip WER is above this (default 0.5)")
    p.add_argument("--paraphraser", default=None,
                   help="optional paraphraser: 'hf:<model-or-path>' or 'openai:<model>@<base_url>' (off by default)")
    p.add_argument("--synth", default="espeak", help="speech synthesizer: 'espeak' (default) or 'hf:<model-or-path>'")
    p.add_argument("--catalogue", default=None, help="task folder or file (default: the package's tasks)")
    p.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="after building, upload the folder as a Hub dataset")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from s2s_arena_dataset.pipeline.build import build_dataset, push_to_hub, summary_lines

    out = build_dataset(
        Path(args.out), limit=args.limit, seed=args.seed, levels=args.levels, tasks=args.tasks,
        workers=max(1, args.workers), human=args.human, asr=args.asr, paraphraser=args.paraphraser,
        max_wer=args.max_wer, catalogue=args.catalogue, synth=args.synth,
    )
    for line in summary_lines(out):
        print(line)
    print(f'load it: datasets.load_dataset("{out}", "all", split="L2")')
    if args.push_to_hub:
        url = push_to_hub(out, args.push_to_hub, private=args.private)
        print(f"published: {url}")
    return 0
