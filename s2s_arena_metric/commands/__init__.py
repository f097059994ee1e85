"""Subcommands of `s2s-arena` that belong to this package (see s2s_arena/cli.py for the registry)."""
