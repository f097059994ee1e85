"""`s2s-arena votes ACTION`: work on a Space's vote store.

``audit`` runs the risk sweep (``s2s_arena.arena.risk``) over the counted votes and reports what is
left out of the board and why, with the board before and after. Each action is a function in
``ACTIONS`` with its own sub-parser, so further actions (e.g. an export) slot in beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HELP = "vote store tools: `votes audit` reports which counted votes the risk sweep excludes and why"


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", nargs="?", default=None, metavar="DB",
                   help="votes.db (SQLite file) or an SQLAlchemy URL (default: $S2S_ARENA_DB_URL)")


def _add_audit(p: argparse.ArgumentParser) -> None:
    _store_arg(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write every excluded vote with its reasons as JSON lines")
    p.add_argument("--min-listen", type=float, default=0.8, help="the Space's --min-listen (default 0.8)")
    p.add_argument("--max-per-hour", type=int, default=None, help="velocity: counted votes an hour per voter or address")
    p.add_argument("--bias-alpha", type=float, default=None, help="significance of the one-sided bias test")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap rounds for the boards' CIs (default 0: none)")


from .votes_io import add_export, add_import, run_export, run_import  # noqa: E402  (stdlib-only module)

ACTIONS = {"audit": ("report the votes the risk sweep excludes, and the board before and after", _add_audit),
           "export": ("write the votes as JSONL/CSV/JSON/Parquet (sessions pseudonymised)", add_export),
           "import": ("turn a FastChat / Chatbot Arena battle log into vote rows", add_import)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="votes_action", metavar="ACTION")
    for name, (help_, add) in ACTIONS.items():
        add(sub.add_parser(name, help=help_, description=help_))


def open_db(spec: str | None):
    """A VoteStore from a SQLite path or a URL (UsageError when neither is given or the file is missing)."""
    from s2s_arena.arena.store import DB_URL_ENV, VoteStore
    from s2s_arena.cli import CommandError

    spec = spec or os.environ.get(DB_URL_ENV)
    if not spec:
        raise CommandError(f"no vote store: give DB (a votes.db file or a database URL) or set ${DB_URL_ENV}")
    if "://" not in spec:
        if not Path(spec).is_file():
            raise CommandError(f"{spec}: no such vote store file")
        spec = f"sqlite:///{Path(spec).resolve()}"
    return VoteStore(spec)


def run(args: argparse.Namespace) -> int:
    from s2s_arena.cli import CommandError

    action = getattr(args, "votes_action", None)
    if action is None:
        raise CommandError("expected an action: " + ", ".join(ACTIONS))
    return globals()[f"run_{action}"](args)


def run_audit(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from s2s_arena.arena.risk import RiskConfig, assess
    from s2s_arena.cli import CommandError

    if not 0.0 <= args.min_listen <= 1.0:
        raise CommandError(f"--min-listen {args.min_listen}: expected a share between 0 and 1")
    cfg = RiskConfig(min_listen=args.min_listen)
    if args.max_per_hour is not None:
        cfg = replace(cfg, max_per_hour=args.max_per_hour)
    if args.bias_alpha is not None:
        cfg = replace(cfg, bias_alpha=args.bias_alpha)
    from s2s_arena.arena.roles import gold_failed_voters

    store = open_db(args.db)
    try:
        rows = store.votes()
        gold_failed = gold_failed_voters(store)
    finally:
        store.close()
    res = assess(rows, cfg, gold_failed=gold_failed)
    uncounted: dict[str, int] = {}
    for r in rows:
        if not r["counted"]:
            uncounted[r["exclusion_reason"] or "?"] = uncounted.get(r["exclusion_reason"] or "?", 0) + 1
    before, after = _board(res.clean + res.flagged, args.bootstrap), _board(res.clean, args.bootstrap)
    report = {"db": args.db or os.environ.get("S2S_ARENA_DB_URL"), "stored": len(rows),
              "not_counted": dict(sorted(uncounted.items())), **res.to_dict(), "board_before": before,
              "board_after": after}
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for r in res.flagged:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    _print(report)
    if args.out:
        print(f"excluded votes with their reasons: {args.out}")
    return 0


def _board(rows: list[dict], bootstrap: int) -> list[dict]:
    from s2s_arena.outcomes import Outcomes
    from s2s_arena.ratings import leaderboard

    if not rows:
        return []
    board = leaderboard(Outcomes.from_records(rows, where="vote store"), bootstrap=bootstrap, seed=0)
    return [{"rank": r["rank"], "system": r["system"], "rating": round(float(r["rating"]), 1), "votes": r["n"]}
            for r in board]


def _print(rep: dict) -> None:
    out = sys.stdout.write
    nc = ", ".join(f"{k} {v}" for k, v in rep["not_counted"].items()) or "none"
    out(f"votes stored: {rep['stored']} · counted: {rep['n_counted']} · not counted: {rep['stored'] - rep['n_counted']} ({nc})\n")
    reasons = ", ".join(f"{k} {v}" for k, v in rep["reasons"].items()) or "none"
    out(f"risk sweep: {rep['n_flagged']} counted votes excluded ({reasons}); {rep['n_clean']} kept for the board\n")
    if rep["findings"]:
        out("\nfindings (who, rule, votes):\n")
        for f in rep["findings"]:
            who = f.get("voter") or f.get("address") or ", ".join(f.get("voters", []))
            extra = ""
            if "system" in f:
                extra = f" · {f['wins']}/{f['decisive']} decisive votes for {f['system']} (others: {f['others_rate']:.0%})"
            elif f.get("rule"):
                extra = f" · {f['rule']}"
            out(f"  {who}: {f['reason']} · {f['votes']} votes{extra}\n")
    for title, board in (("board with every counted vote", rep["board_before"]), ("board after the sweep", rep["board_after"])):
        out(f"\n{title}:\n")
        if not board:
            out("  (no votes)\n")
        for r in board:
            out(f"  {r['rank']:>3}  {r['system']:<28} {r['rating']:>8.1f}  {r['votes']:>5} votes\n")
