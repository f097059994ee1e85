"""Anonymous clips: every response is re-encoded and served under a random per-battle token.

What reaches the browser is a fresh 16-bit PCM WAV made from the decoded samples (loudness
normalised, so volume gives no system away; no metadata chunks, so no tags or encoder strings), at a
URL ``/clip/<token>`` where the token is random and means nothing outside this process. The token is
only ever a dictionary key: no part of a URL is turned into a file path, so path traversal has
nothing to traverse.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from s2s_arena.audio import SAMPLE_RATE, encode, load_audio, normalize_loudness

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
CLIP_MIME = "audio/wav"


def new_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits, URL-safe, 24 characters


def reencode(source: Any, *, where: str) -> tuple[bytes, float]:
    """Decode anything ``load_audio`` reads, normalise loudness, and encode a bare WAV; returns
    (bytes, duration in seconds)."""
    x = load_audio(source, sr=SAMPLE_RATE, where=where)
    x = normalize_loudness(np.asarray(x, dtype=np.float32), SAMPLE_RATE)
    return encode(x, SAMPLE_RATE, "wav"), float(len(x)) / SAMPLE_RATE


@dataclass
class Clip:
    data: bytes
    duration_s: float


class ClipCache:
    """Re-encoded clips by a private key (e.g. ``system/sample``), bounded in memory (LRU)."""

    def __init__(self, max_items: int = 256):
        self.max_items = max_items
        self._items: OrderedDict[str, Clip] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any], *, where: str) -> Clip:
        with self._lock:
            clip = self._items.get(key)
            if clip is not None:
                self._items.move_to_end(key)
                return clip
        data, duration = reencode(load(), where=where)  # outside the lock: encoding takes a while
        clip = Clip(data, duration)
        with self._lock:
            self._items[key] = clip
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return clip


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range, or None for the whole file.

    Raises ValueError for a range that cannot be satisfied (answered with 416)."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        raise ValueError(f"unsupported range {header!r}")
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:  # suffix range: the last N bytes
        n = int(m.group(2))
        start, end = max(0, size - n), size - 1
    end = min(end, size - 1)
    if start >= size or start > end:
        raise ValueError(f"range {header!r} outside 0-{size - 1}")
    return start, end


def clip_headers(size: int, span: tuple[int, int] | None) -> dict[str, str]:
    """Headers for a clip response: nothing but type, length and range (no file name, no cache)."""
    h = {"Content-Type": CLIP_MIME, "Accept-Ranges": "bytes", "Cache-Control": "no-store",
         "X-Content-Type-Options": "nosniff"}
    if span is None:
        h["Content-Length"] = str(size)
    else:
        h["Content-Length"] = str(span[1] - span[0] + 1)
        h["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    return h
