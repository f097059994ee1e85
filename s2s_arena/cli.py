"""The `s2s-arena` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, next to the code it drives, and exposes ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``. Those modules import only the standard
library at top level, so ``s2s-arena --help`` stays instant; heavy imports happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import ArenaError, UsageError

# name -> module. Order is the order shown in --help (the pipeline's order).
COMMANDS: dict[str, str] = {
    "demo": "s2s_arena.commands.demo",
    "tasks": "s2s_arena_dataset.commands.tasks",
    "build": "s2s_arena_dataset.commands.build",
    "generate": "s2s_arena.commands.generate",
    "judge": "s2s_arena.commands.judge",
    "calibrate": "s2s_arena.commands.calibrate",
    "leaderboard": "s2s_arena.commands.leaderboard",
    "agreement": "s2s_arena.commands.agreement",
    "serve": "s2s_arena.commands.serve",
    "publish": "s2s_arena.commands.publish",
    "votes": "s2s_arena.commands.votes",
    "space": "s2s_arena.commands.space",
}


# Commands raise CommandError for a wrong option; every ArenaError is printed as one line (exit 2).
CommandError = UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s2s-arena",
        description="S2S-Arena: benchmark paralinguistic instruction following in speech-to-speech models.",
    )
    parser.add_argument("--version", action="version", version=f"s2s-arena {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if not (e.name and module_name.startswith(e.name)):
                raise
            continue  # a face that is not installed: its command is simply absent
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other command-line tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted; finished work is kept and the next run resumes from it", file=sys.stderr)
        return 130
    except ArenaError as e:
        # Only our own errors (they name the file and field); anything else is a bug and keeps its traceback.
        if args.verbose:
            raise
        print(f"s2s-arena {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run the imported module's main, so that the error classes commands raise are the ones it catches
    # (under `python -m` this file is also loaded a second time as s2s_arena.cli).
    from s2s_arena.cli import main as _main

    sys.exit(_main())
