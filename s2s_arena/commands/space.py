"""`s2s-arena space --out DIR`: assemble a Space folder that runs on Hugging Face Spaces as it is."""

from __future__ import annotations

import argparse

HELP = "assemble a ready Hugging Face Space folder (app, card, the package, requirements from PyPI)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (push it to a Gradio Space as it is)")
    p.add_argument("--wheel", default=None, metavar="WHL",
                   help="an already built s2s-arena wheel (default: build one from this checkout)")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")


def run(args: argparse.Namespace) -> int:
    from s2s_arena.arena.spacefolder import assemble

    out = assemble(args.out, wheel=args.wheel, force=args.force)
    print(f"Space folder ready: {out}")
    print("next: push it to a Gradio Space (e.g. `hf upload USER/SPACE " + str(out) + " --repo-type space`), then set "
          "S2S_ARENA_DATA and S2S_ARENA_RESPONSES (Hub dataset ids) and, for synced votes, S2S_ARENA_VOTES_REPO "
          "plus an HF_TOKEN secret")
    return 0
