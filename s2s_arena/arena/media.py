"""Anonymous clips: every battle serves its own encoding of each response, under a random token.

A response is decoded once, loudness-normalised (volume gives no system away) and kept as 16-bit PCM.
What reaches the browser is rendered per battle from that PCM:

* **both responses of a battle have the same length**, padded with silence to the longer one plus a
  random extra (0-250 ms), and each starts after its own random lead (0-100 ms): the size of a clip
  says nothing about which side holds which system, and the same pair never has the same size twice;
* **a fresh dither** (triangular, +-1 LSB, about -90 dBFS: inaudible) over the whole clip, drawn from
  the operating system's randomness for every battle: no two battles ever serve the same bytes, so a
  table of hashes learned from earlier battles matches nothing;
* a bare 16-bit PCM WAV (RIFF, ``fmt``, ``data``; no tags, no encoder string) at ``/clip/<token>``,
  where the token is random and means nothing outside this process. The token is only ever a
  dictionary key: no part of a URL is turned into a file path, so path traversal has nothing to
  traverse.

Rendering is deterministic from a per-clip seed, so Range requests of one clip see consistent bytes;
rendered clips are kept in a small LRU, and a battle holds only its seeds (not its bytes), so ten
thousand open battles cost kilobytes.
"""

from __future__ import annotations

import re
import secrets
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from s2s_arena.audio import SAMPLE_RATE, load_audio, normalize_loudness, to_pcm16

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
CLIP_MIME = "audio/wav"
WAV_HEADER_BYTES = 44
LEAD_MAX_S = 0.10  # random silence before the speech
EXTRA_MAX_S = 0.25  # random silence after the longer response of a battle


def new_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits, URL-safe, 24 characters


def decode_pcm(source: Any, *, where: str) -> np.ndarray:
    """Decode anything ``load_audio`` reads, normalise loudness; 16-bit PCM samples at 24 kHz."""
    x = load_audio(source, sr=SAMPLE_RATE, where=where)
    x = normalize_loudness(np.asarray(x, dtype=np.float32), SAMPLE_RATE)
    return np.ascontiguousarray(to_pcm16(x))


@dataclass
class Pcm:
    """One decoded, loudness-normalised response (or instruction): the source of every rendering."""

    samples: np.ndarray  # int16, mono, SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


class PcmCache:
    """Decoded clips by a private key (e.g. ``system/sample``), bounded in memory (LRU)."""

    def __init__(self, max_items: int = 256):
        self.max_items = max_items
        self._items: OrderedDict[str, Pcm] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any], *, where: str) -> Pcm:
        with self._lock:
            pcm = self._items.get(key)
            if pcm is not None:
                self._items.move_to_end(key)
                return pcm
        pcm = Pcm(decode_pcm(load(), where=where))  # outside the lock: decoding takes a while
        with self._lock:
            self._items[key] = pcm
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return pcm


@dataclass
class Clip:
    """One clip as one battle serves it: the PCM it comes from and how it is rendered (not the bytes)."""

    pcm: Pcm
    lead: int  # samples of silence before the speech
    total: int  # samples in the rendered clip
    seed: int  # dither seed (fresh randomness per battle)

    @property
    def duration_s(self) -> float:
        """Length of the speech (what a listener must hear), not of the padded clip."""
        return self.pcm.duration_s

    @property
    def size(self) -> int:
        return WAV_HEADER_BYTES + 2 * self.total

    @property
    def speech_span(self) -> tuple[int, int]:
        """Byte range (inclusive) of the speech in the rendered file."""
        start = WAV_HEADER_BYTES + 2 * self.lead
        return start, start + 2 * len(self.pcm.samples) - 1

    def render(self) -> bytes:
        n = len(self.pcm.samples)
        x = np.zeros(self.total, dtype=np.int32)
        x[self.lead:self.lead + n] = self.pcm.samples
        rng = np.random.default_rng(self.seed)
        # Triangular dither (sum of two uniform +-0.5 LSB draws, rounded): -1, 0 or +1 LSB.
        x += rng.integers(0, 2, self.total, dtype=np.int32) - rng.integers(0, 2, self.total, dtype=np.int32)
        np.clip(x, -32768, 32767, out=x)
        return wav_bytes(x.astype("<i2"), SAMPLE_RATE)


def wav_bytes(pcm16: np.ndarray, sr: int) -> bytes:
    """A bare mono 16-bit PCM WAV: RIFF header, ``fmt `` and ``data`` chunks, nothing else."""
    data = pcm16.tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1, sr,
                         sr * 2, 2, 16, b"data", len(data))
    return header + data


def plan_battle_clips(pcms: dict[str, Pcm], *, equal_length: tuple[str, ...] = ("a", "b")) -> dict[str, Clip]:
    """One fresh rendering plan per side. The sides in ``equal_length`` get one common length."""
    rnd = secrets.SystemRandom()
    lead_max = int(LEAD_MAX_S * SAMPLE_RATE)
    common = [len(pcms[s].samples) for s in equal_length if s in pcms]
    common_total = (max(common) + lead_max + rnd.randint(0, int(EXTRA_MAX_S * SAMPLE_RATE))) if common else 0
    out = {}
    for side, pcm in pcms.items():
        total = common_total if side in equal_length else \
            len(pcm.samples) + lead_max + rnd.randint(0, int(EXTRA_MAX_S * SAMPLE_RATE))
        out[side] = Clip(pcm, lead=rnd.randint(0, lead_max), total=total, seed=secrets.randbits(64))
    return out


class RenderCache:
    """Rendered clips by clip token (LRU): a player's Range requests read one rendering, not many."""

    def __init__(self, max_items: int = 64):
        self.max_items = max_items
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, clip: Clip) -> bytes:
        with self._lock:
            data = self._items.get(token)
            if data is not None:
                self._items.move_to_end(token)
                return data
        data = clip.render()
        with self._lock:
            self._items[token] = data
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return data


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range, or None for the whole file.

    Raises ValueError for a range that cannot be satisfied (answered with 416)."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes=(\d{1,15})?-(\d{1,15})?\s*", header)
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
