"""The one error base. Every failure caused by the user's input or environment (a malformed file, bad
audio, a missing model, a wrong option) raises a subclass of :class:`ArenaError` whose message already
names the file or field and what was expected; the CLI prints exactly those as one line. Anything else
is a bug and keeps its traceback."""

from __future__ import annotations


class ArenaError(Exception):
    """A user-facing failure: one line naming where and what was expected."""


class UsageError(ArenaError, ValueError):
    """A wrong command-line argument or option (the CLI's commands raise it; library code does not)."""


class DependencyError(ArenaError, RuntimeError):
    """An optional component (a model, a package, a binary) is missing or cannot be loaded."""


class ConfigError(ArenaError, ValueError):
    """A wrong specification handed to the library: an unknown judge, engine, condition, prompt ..."""


class MissingError(ArenaError, FileNotFoundError):
    """A file or folder the user named does not exist."""
