"""`s2s-arena build`: render the task catalogue into the benchmark dataset folder (two stages + QA)."""

from __future__ import annotations

import argparse

HELP = "build the benchmark dataset (seed -> augment -> QA) as a Hugging Face dataset folder"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="dataset folder to write (an earlier build there is resumed/replaced)")
    p.add_argument("--limit", type=int, default=None, help="small build: at most N samples spread over tasks and levels")
    p.add_argument("--seed", type=int, default=0, help="random seed (variants, noises); same seed, same dataset")
    from s2s_arena.commands.args import add_list_argument

    add_list_argument(p, "--levels", choices=("L0", "L1", "L2", "L3"), metavar="LEVEL", help="only these levels: L1,L3 or L1 L3")
    add_list_argument(p, "--tasks", metavar="TASK", help="only these task ids: a,b or a b")
    p.add_argument("--workers", type=int, default=2, help="render/QA processes (default 2)")
    p.add_argument("--human", default=None, help="folder of human recordings with manifest.csv (replace or extend seeds)")
    p.add_argument("--asr", default=None,
                   help="recogniser of the intelligibility gate: 'auto' (default: the bundled Whisper when installed), "
                        "'none' (no gate) or an ASR spec such as 'bundled:whisper-tiny.en'")
    p.add_argument("--max-wer", type=float, default=None,
                   help="gate bar for the main set: re-render, then drop, samples whose WER is above it (default 0.34; "
                        "robustness variants: at least 0.5)")
    p.add_argument("--paraphraser", default=None,
                   help="optional paraphraser: 'hf:<model-or-path>' or 'openai:<model>@<base_url>' (off by default)")
    p.add_argument("--synth", default="auto",
                   help="speech synthesizer: 'auto' (default: the Piper neural voice mixed with eSpeak NG when Piper is "
                        "installed, else eSpeak NG), 'mix', 'piper', 'espeak' or 'hf:<model-or-path>'")
    p.add_argument("--keep-work", action="store_true", help="keep OUT/.work (the per-sample log and audio) after success")
    p.add_argument("--catalogue", default=None, help="task folder or file (default: the package's tasks)")
    p.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="after building, upload the folder as a Hub dataset")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from s2s_arena_dataset.pipeline.build import build_dataset, push_to_hub, summary_lines

    out = build_dataset(
        Path(args.out), limit=args.limit, seed=args.seed, levels=args.levels, tasks=args.tasks,
        workers=max(1, args.workers), human=args.human, asr=args.asr, paraphraser=args.paraphraser,
        max_wer=args.max_wer, catalogue=args.catalogue, synth=args.synth, keep_work=args.keep_work,
    )
    for line in summary_lines(out):
        print(line)
    print(f'load it: datasets.load_dataset("{out}", "main", split="L2")   (or "all", "robustness", a task id)')
    if args.push_to_hub:
        url = push_to_hub(out, args.push_to_hub, private=args.private)
        print(f"published: {url}")
    return 0
