"""Helpers shared by the Space's tests."""

from __future__ import annotations

import socket
import struct


def wav_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (id, payload) chunks of a RIFF/WAVE file; raises AssertionError on a malformed file."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF/WAVE file"
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.append((cid, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    assert pos == len(data), f"trailing bytes after the last chunk ({len(data) - pos})"
    return chunks


def wav_metadata(data: bytes) -> bytes:
    """Everything a served clip says besides its samples: the RIFF header and every non-``data``
    chunk (a name could only hide there: the samples are speech). Also checks the clip is a bare PCM
    WAV: exactly one ``fmt `` and one ``data`` chunk, no LIST/INFO tags."""
    chunks = wav_chunks(data)
    assert [cid for cid, _ in chunks] == [b"fmt ", b"data"], [cid for cid, _ in chunks]
    return data[:12] + b"".join(cid + body for cid, body in chunks if cid != b"data")


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
