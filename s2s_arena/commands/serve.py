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
    p.add_argument("--config", default=None,
                   help="dataset config (default: the dataset's default, `main` = everyday conditions; `robustness`, `all` or a task id)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the pair sampler (default: fresh randomness per start, so the battle order cannot be learned)")
    p.add_argument("--min-listen", type=float, default=0.8,
                   help="share of each clip that must be heard before a vote counts (default 0.8)")
    p.add_argument("--votes-per-minute", type=int, default=6,
                   help="counted votes per voter (account or session) per minute (default 6)")
    p.add_argument("--client-votes-per-minute", type=int, default=6,
                   help="counted votes per client address per minute (default 6); votes that do not count use no budget")
    p.add_argument("--max-uncounted-per-battle", type=int, default=2,
                   help="votes that do not count stored per battle before further ones are refused (default 2)")
    p.add_argument("--battles-per-minute", type=int, default=30,
                   help="new battles per session per minute; more are refused, nothing stored (default 30)")
    p.add_argument("--client-battles-per-minute", type=int, default=120,
                   help="new battles per client address per minute (default 120)")
    p.add_argument("--trusted-proxy", action="append", default=None, metavar="ADDR",
                   help="address or network (CIDR) of a reverse proxy whose X-Forwarded-For is believed; repeatable "
                        "(default: $S2S_ARENA_TRUSTED_PROXIES, else none: the TCP peer is the client)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--require-login", action="store_true", default=None,
                     help="counted votes need Sign in with Hugging Face (the default on Spaces)")
    who.add_argument("--allow-anonymous", action="store_true", default=None,
                     help="count votes of visitors who are not signed in (the default locally)")
    p.add_argument("--api-only", action="store_true",
                   help="serve the arena's HTTP API without the Gradio page (load and crash tests)")
    p.add_argument("--gold-share", type=float, default=None, metavar="P",
                   help="share of battles that are gold (a known better side; their votes check the voter and are never "
                        "rated). Default 0.05 when the reference systems (reference, flat, off_topic, echo) are in "
                        "--gold-responses or --responses, else 0")
    p.add_argument("--gold-responses", default=None, metavar="RESP",
                   help="responses folder with the reference systems for gold battles (default: --responses)")
    p.add_argument("--reserve-share", type=float, default=0.1, metavar="P",
                   help="share of battles re-served to another voter (half with the sides swapped) for agreement (default 0.1)")
    p.add_argument("--hub-repo", default=None, metavar="REPO",
                   help="also mirror votes to this Hub dataset repo with scheduled commits (off by default)")


def run(args: argparse.Namespace) -> int:
    from s2s_arena.cli import CommandError

    for flag, path in (("--responses", args.responses), ("--verdicts", args.verdicts)):
        if path and not os.path.exists(path):
            raise CommandError(f"{flag} {path}: no such file or folder")
    if not 0.0 <= args.min_listen <= 1.0:
        raise CommandError(f"--min-listen {args.min_listen}: expected a share between 0 and 1")
    if args.max_uncounted_per_battle < 0:
        raise CommandError(f"--max-uncounted-per-battle {args.max_uncounted_per_battle}: expected 0 or more")
    for flag in ("--votes-per-minute", "--client-votes-per-minute", "--battles-per-minute",
                 "--client-battles-per-minute"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value < 1:
            raise CommandError(f"{flag} {value}: expected at least 1")
    from pathlib import Path

    from s2s_arena.arena.web import serve

    for flag in ("gold_share", "reserve_share"):
        value = getattr(args, flag)
        if value is not None and not 0.0 <= value < 1.0:
            raise CommandError(f"--{flag.replace('_', '-')} {value}: expected a share in [0, 1)")
    gold_dir = Path(args.gold_responses or args.responses)
    if args.gold_responses and not gold_dir.is_dir():
        raise CommandError(f"--gold-responses {args.gold_responses}: no such folder")
    has_gold = all((gold_dir / name / "system.json").is_file() for name in ("reference", "flat", "off_topic", "echo"))
    gold_share = args.gold_share if args.gold_share is not None else (0.05 if has_gold else 0.0)
    if gold_share > 0 and not has_gold:
        raise CommandError(f"--gold-share {gold_share}: {gold_dir} lacks the reference systems reference, flat, "
                           "off_topic, echo (render them with `s2s-arena generate --system reference` ...)")

    serve(args.data, args.responses, args.db, host=args.host, port=args.port, verdicts=args.verdicts,
          config=args.config, seed=args.seed, min_listen=args.min_listen,
          votes_per_minute_session=args.votes_per_minute,
          votes_per_minute_client=args.client_votes_per_minute,
          battles_per_minute_session=args.battles_per_minute,
          battles_per_minute_client=args.client_battles_per_minute, max_uncounted_per_battle=args.max_uncounted_per_battle,
          trusted_proxies=args.trusted_proxy, require_login=args.require_login, allow_anonymous=args.allow_anonymous,
          hub_repo=args.hub_repo, ui=not args.api_only, gold_share=gold_share,
          gold_responses=args.gold_responses, reserve_share=args.reserve_share)
    return 0
