"""Append-only JSONL logs: how every long job (build, generate, judge, calibrate) records finished work.

One row per finished item, appended and flushed to disk at once, is what makes a killed run resume
where it stopped. A kill can leave the last line half written; it is dropped before the next append
(otherwise the next row would be glued onto it) and ignored when reading. A bad line anywhere else
is corruption, not an interruption, and is reported with its file and line number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from .schema import SchemaError


def drop_torn_tail(path: str | os.PathLike) -> int:
    """Cut an unterminated last line (a row half-written when a run was killed); return the bytes cut."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return 0
        data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as f:
        f.truncate(keep)
    return len(data) - keep


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]], *, fsync: bool = True) -> None:
    """Append rows (one JSON object per line) and make them durable before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    drop_torn_tail(path)
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    if not text:
        return
    with path.open("a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike, *, skip_bad: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` for every complete row. A torn last line is ignored; another bad line
    raises SchemaError naming ``path:line`` (or is skipped when ``skip_bad``: the item is redone)."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        last = i == len(lines)
        if last and not line.endswith("\n"):
            return  # cut off by an interruption: that item is done again
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if skip_bad:
                continue
            raise SchemaError(f"{path}:{i}", None, f"not a valid JSON row ({e.msg})") from None
        if not isinstance(row, dict):
            if skip_bad:
                continue
            raise SchemaError(f"{path}:{i}", None, f"expected a JSON object, got {type(row).__name__}")
        yield i, row
