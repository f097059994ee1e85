"""`s2s-arena` subcommands that live with the Space."""
