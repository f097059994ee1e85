"""Subcommands of `s2s-arena` that belong to the core (see s2s_arena/cli.py for the registry)."""
