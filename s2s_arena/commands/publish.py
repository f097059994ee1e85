"""`s2s-arena publish WHAT`: put a benchmark, responses, votes, results or the metric on the Hub."""

from __future__ import annotations

import argparse

HELP = "publish to the Hugging Face Hub: a dataset folder, a responses folder, votes, results or the metric (--dry-run lists the files)"

WHATS = {
    "dataset": "a benchmark folder written by `s2s-arena build` (Parquet + card), as a dataset repo",
    "responses": "a responses folder RESP/<system>/ as the dataset the Space and `judge --responses` read",
    "votes": "a vote store (votes.db or a database URL) or votes file as a dataset (sessions pseudonymised)",
    "results": "a results folder written by `s2s-arena leaderboard --export DIR` (its results/ dataset)",
    "metric": "the evaluate module (this checkout's s2s_arena_metric/) as a Space, for evaluate.load(REPO)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=list(WHATS), metavar="WHAT",
                   help="; ".join(f"{k}: {v}" for k, v in WHATS.items()))
    p.add_argument("source", nargs="?", default=None, metavar="SOURCE",
                   help="the folder, store or file to publish (not for metric)")
    p.add_argument("--repo", required=True, metavar="USER/NAME", help="Hub repository id to create or update")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded (and stage it); send nothing")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--staging", metavar="DIR", default=None,
                   help="where responses/votes are staged as a dataset folder (default: a temporary folder; "
                        "kept with --dry-run so it can be inspected or loaded)")
    from .args import add_list_argument

    add_list_argument(p, "--systems", metavar="A,B", help="responses: only these systems (default: all)")
    p.add_argument("--counted-only", action="store_true", help="votes: publish only counted votes")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the cached `hf auth login`)")


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from s2s_arena import hub
    from s2s_arena.cli import CommandError

    hub.check_repo_id(args.repo)
    if args.what != "metric" and not args.source:
        raise CommandError(f"publish {args.what}: SOURCE missing ({WHATS[args.what]})")
    if args.what == "metric" and args.source:
        raise CommandError("publish metric takes no SOURCE: it publishes this checkout's s2s_arena_metric/")
    if args.systems and args.what != "responses":
        raise CommandError("--systems applies to `publish responses` only")

    staging = None
    if args.what in ("responses", "votes"):
        staging = Path(args.staging) if args.staging else Path(tempfile.mkdtemp(prefix=f"s2s_arena_{args.what}_"))
    if args.what == "dataset":
        plan = hub.plan_dataset(args.source, args.repo)
    elif args.what == "responses":
        folder = hub.stage_responses(args.source, staging, systems=args.systems)
        plan = hub.plan_folder(folder, args.repo, "dataset", "responses")
    elif args.what == "votes":
        folder = hub.stage_votes(args.source, staging, counted_only=args.counted_only)
        plan = hub.plan_folder(folder, args.repo, "dataset", "votes")
    elif args.what == "results":
        src = Path(args.source)
        folder = src / "results" if (src / "results" / "README.md").is_file() else src
        plan = hub.plan_dataset(folder, args.repo)
        plan.what = "leaderboard results"
    else:
        plan = hub.plan_metric(args.repo)

    for line in plan.lines():
        print(line)
    if args.dry_run:
        if staging is not None:
            print(f"dry run: staged in {staging} (load it with datasets.load_dataset({str(staging)!r}, split='train')); nothing sent")
        else:
            print("dry run: nothing sent")
        return 0
    url = hub.upload(plan, token=args.token, private=args.private, message=args.message)
    print(f"published to {url}")
    if staging is not None and not args.staging:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return 0
