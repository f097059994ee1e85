"""`s2s-arena votes export` and `s2s-arena votes import`: votes in and out of S2S-Arena's vote format.

``export`` writes a vote store's votes (or a votes file's) as JSONL, CSV, JSON or Parquet with the
published columns (sessions pseudonymised unless ``--keep-sessions``); ``import`` turns another
arena's battle log (FastChat / Chatbot Arena) into vote rows that ``leaderboard`` and ``agreement`` read.
"""

from __future__ import annotations

import argparse
import sys


def add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", nargs="?", default=None, metavar="DB",
                   help="votes.db (SQLite file), a database URL or a votes file (default: $S2S_ARENA_DB_URL)")
    p.add_argument("--out", required=True, metavar="FILE", help="output file: .jsonl, .csv, .json or .parquet")
    p.add_argument("--counted-only", action="store_true", help="only the votes that count for the board")
    p.add_argument("--keep-sessions", action="store_true",
                   help="keep the raw session ids (default: pseudonymised, as `publish votes` does)")


def add_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="FILE", help="a battle log: FastChat clean battles (JSON/JSONL) or raw *-conv.json logs")
    p.add_argument("--format", default="fastchat", choices=["fastchat"], help="the log's format (default fastchat)")
    p.add_argument("--out", required=True, metavar="FILE", help="vote rows to write: .jsonl, .csv, .json or .parquet")
    p.add_argument("--anonymous-only", action="store_true", help="drop votes cast with the model names visible")


def run_export(args: argparse.Namespace) -> int:
    import os

    from s2s_arena.cli import CommandError
    from s2s_arena.hub import export_votes, write_rows

    DB_URL_ENV = "S2S_ARENA_DB_URL"  # the Space's; not imported from its store, which needs SQLAlchemy
    source = args.db or os.environ.get(DB_URL_ENV)
    if not source:
        raise CommandError(f"no vote store: give DB (a votes.db file, a database URL or a votes file) or set ${DB_URL_ENV}")
    rows = export_votes(source, counted_only=args.counted_only, pseudonymise=not args.keep_sessions)
    path = write_rows(rows, args.out)
    counted = sum(bool(r.get("counted")) for r in rows)
    print(f"wrote {len(rows)} votes ({counted} counted) to {path}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from s2s_arena.hub import write_rows
    from s2s_arena.importers import import_votes

    rows = import_votes(args.source, args.format, anonymous_only=args.anonymous_only)
    path = write_rows(rows, args.out)
    counted = sum(bool(r.get("counted")) for r in rows)
    systems = sorted({r["system_a"] for r in rows} | {r["system_b"] for r in rows})
    print(f"wrote {len(rows)} votes ({counted} counted) over {len(systems)} systems to {path}; "
          f"rate them with `s2s-arena leaderboard --votes {path}`", file=sys.stderr)
    return 0
