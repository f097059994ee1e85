"""Argument conventions shared by every command, so one spelling works everywhere.

Lists: ``--levels L2,L3``, ``--levels L2 L3`` and ``--levels L2 --levels L3`` all mean [L2, L3].
``--systems`` is always a list of system names; a folder of responses is always ``--responses``.
"""

from __future__ import annotations

import argparse
from typing import Any, Sequence


class ListAction(argparse.Action):
    """Collects comma- and/or space-separated values (repeatable), checking choices after the split."""

    def __init__(self, option_strings, dest, choices=None, **kwargs):
        self.allowed = tuple(choices) if choices is not None else None
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        items: list[str] = list(getattr(namespace, self.dest, None) or []) if self._repeated(namespace) else []
        for value in values if isinstance(values, (list, tuple)) else [values]:
            items += [v.strip() for v in str(value).split(",") if v.strip()]
        if not items:
            parser.error(f"{option_string}: expected at least one value")
        if self.allowed is not None:
            bad = [v for v in items if v not in self.allowed]
            if bad:
                parser.error(f"{option_string}: unknown {', '.join(map(repr, bad))}; expected {', '.join(self.allowed)}")
        seen: dict[str, None] = dict.fromkeys(items)  # keep order, drop repeats
        setattr(namespace, self.dest, list(seen))
        setattr(namespace, f"_{self.dest}_seen", True)

    def _repeated(self, namespace) -> bool:
        return bool(getattr(namespace, f"_{self.dest}_seen", False))


def add_list_argument(p: argparse.ArgumentParser, *flags: str, choices: Sequence[str] | None = None,
                      default: Any = None, **kwargs: Any) -> argparse.Action:
    """``p.add_argument`` for a list option with the shared syntax (see the module docstring)."""
    return p.add_argument(*flags, nargs="+", action=ListAction, choices=choices, default=default, **kwargs)


def split_list(value: str) -> list[str]:
    """The same splitting for a value read elsewhere (an environment variable, a config file)."""
    return [v.strip() for v in str(value).split(",") if v.strip()]
