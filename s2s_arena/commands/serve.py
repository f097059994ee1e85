"""`s2s-arena serve`: run the voting Space locally (votes in SQLite, or PostgreSQL with --db)."""

from __future__ import annotations

import argparse
import os

HELP = "serve the voting Space (Gradio) on 127.0.0.1: listen, vote, leaderboard"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR", help="benchmark dataset folder (s2s-arena build --out DIR) or Hub id")
    p.add_argument("--responses", required=True, metavar="RESP", help="responses folder RESP/<system>/<sample_id>.wav")
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy URL of the vote store (default: $S2S_ARENA_DB_URL, else sqlite:///DIR/votes.db)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--verdicts", default=None, metavar="FILE", help="judge verdicts (JSONL/CSV) for the judge board and agreement")
    p.add_argument("--config", default="all", help="dataset config (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pair sampler")
    p.add_argument("--min-listen", type=float, default=0.8,
                   help="share of each clip that must be heard before a vote counts (default 0.8)")
    p.add_argument("--votes-per-minute", type=int, default=10, help="counted votes per session per minute (default 10)")
    p.add_argument("--client-votes-per-minute", type=int, default=120,
                   help="counted votes per client address per minute (default 120)")
    p.add_argument("--battles-per-minute", type=int, default=30,
                   help="new battles per session per minute; more are refused, nothing stored (default 30)")
    p.add_argument("--client-battles-per-minute", type=int, default=300,
                   help="new battles per client address per minute (default 300)")
    p.add_argument("--api-only", action="store_true",
                   help="serve the arena's HTTP API without the Gradio page (load and crash tests)")
    p.add_argument("--hub-repo", default=None, metavar="REPO",
                   help="also mirror votes to this Hub dataset repo with scheduled commits (off by default)")


def run(args: argparse.Namespace) -> int:
    from s2s_arena.cli import CommandError

    for flag, path in (("--responses", args.responses), ("--verdicts", args.verdicts)):
        if path and not os.path.exists(path):
            raise CommandError(f"{flag} {path}: no such file or folder")
    if not 0.0 <= args.min_listen <= 1.0:
        raise CommandError(f"--min-listen {args.min_listen}: expected a share between 0 and 1")
    for flag in ("--votes-per-minute", "--client-votes-per-minute", "--battles-per-minute",
                 "--client-battles-per-minute"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value < 1:
            raise CommandError(f"{flag} {value}: expected at least 1")
    from s2s_arena.arena.web import serve

    serve(args.data, args.responses, args.db, host=args.host, port=args.port, verdicts=args.verdicts,
          config=args.config, seed=args.seed, min_listen=args.min_listen,
          votes_per_minute_session=args.votes_per_minute,
          votes_per_minute_client=args.client_votes_per_minute,
          battles_per_minute_session=args.battles_per_minute,
          battles_per_minute_client=args.client_battles_per_minute, hub_repo=args.hub_repo, ui=not args.api_only)
    return 0
