"""Responses folders: ``RESP/<system>/<sample_id>.wav`` + ``system.json`` + ``manifest.jsonl``.

This is the one place that reads and writes them (DESIGN.md, "Responses"). Generation appends one
manifest row per finished sample, which is what lets an interrupted run resume; judges and the Space
read them back. A Hugging Face dataset with columns ``sample_id``, ``system``, ``audio`` is accepted
wherever a folder is (``load_responses`` converts it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .audio import SAMPLE_RATE, atomic_write_bytes, load_audio, save_audio
from .jsonl import append_jsonl, read_jsonl
from .schema import Response, SchemaError, SystemInfo

MANIFEST = "manifest.jsonl"
SYSTEM_JSON = "system.json"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")


def _check_sample_id(sample_id: str, where: str) -> str:
    # Sample ids become file names: refuse anything that could escape the folder.
    if not isinstance(sample_id, str) or not _SAFE_ID.match(sample_id):
        raise SchemaError(where, "sample_id", f"{sample_id!r} is not a safe id (letters, digits, '.', '_', '-')")
    return sample_id


def write_system_info(system_dir: str | os.PathLike, info: SystemInfo) -> Path:
    path = Path(system_dir) / SYSTEM_JSON
    atomic_write_bytes(path, (json.dumps(info.to_dict(), indent=2, ensure_ascii=False) + "\n").encode())
    return path


def read_system_info(system_dir: str | os.PathLike) -> SystemInfo:
    """``system.json`` of a system folder; a folder without one gets a SystemInfo named after it."""
    system_dir = Path(system_dir)
    path = system_dir / SYSTEM_JSON
    if not path.is_file():
        return SystemInfo(name=system_dir.name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SchemaError(str(path), None, f"not valid JSON ({e})") from None
    return SystemInfo.from_dict(data, where=str(path))


class ResponseWriter:
    """Appends one system's responses; ``done`` holds sample ids already finished (for resuming)."""

    def __init__(self, resp_dir: str | os.PathLike, info: SystemInfo):
        self.info = info
        self.dir = Path(resp_dir) / info.name
        self.dir.mkdir(parents=True, exist_ok=True)
        write_system_info(self.dir, info)
        self.manifest = self.dir / MANIFEST
        self.done: set[str] = set()
        self.failed: set[str] = set()
        for row in _read_manifest(self.manifest):
            (self.failed if row.get("error") else self.done).add(row["sample_id"])
        # A sample that failed before and succeeded later counts as done.
        self.failed -= self.done

    def write(
        self,
        sample_id: str,
        audio: np.ndarray | None,
        sr: int = SAMPLE_RATE,
        *,
        text: str = "",
        latency_first_audio_s: float | None = None,
        latency_total_s: float | None = None,
        error: str = "",
        meta: dict[str, Any] | None = None,
    ) -> Response:
        """Store one response (audio first, then its manifest row, so a row always has its file)."""
        where = f"{self.dir}/{sample_id}"
        _check_sample_id(sample_id, where)
        audio_path = ""
        if audio is not None and not error:
            path = save_audio(self.dir / f"{sample_id}.wav", np.asarray(audio, dtype=np.float32), sr)
            audio_path = path.name
        resp = Response(
            sample_id=sample_id, system=self.info.name, audio_path=audio_path, text=text,
            latency_first_audio_s=latency_first_audio_s, latency_total_s=latency_total_s, error=error,
            meta=dict(meta or {}),
        )
        append_jsonl(self.manifest, [resp.to_dict()])
        (self.failed if error else self.done).add(sample_id)
        if not error:
            self.failed.discard(sample_id)
        return resp


def _read_manifest(path: Path) -> Iterator[dict[str, Any]]:
    for i, row in read_jsonl(path):
        if not row.get("sample_id"):
            raise SchemaError(f"{path}:{i}", "sample_id", "missing")
        yield row


@dataclass
class SystemResponses:
    info: SystemInfo
    dir: Path | None
    responses: dict[str, Response]  # sample_id -> latest successful Response (absolute audio_path)
    errors: dict[str, str]  # sample_id -> error, for samples with no successful response

    def audio(self, sample_id: str) -> np.ndarray:
        resp = self.responses[sample_id]
        return load_audio(resp.audio_path, sr=SAMPLE_RATE, where=f"{self.info.name}/{sample_id}")


def load_system(system_dir: str | os.PathLike) -> SystemResponses:
    """One system folder. Without a manifest, every ``*.wav`` / ``*.flac`` / ``*.mp3`` is a response."""
    system_dir = Path(system_dir)
    if not system_dir.is_dir():
        raise SchemaError(str(system_dir), None, "not a folder of responses")
    info = read_system_info(system_dir)
    responses: dict[str, Response] = {}
    errors: dict[str, str] = {}
    manifest = system_dir / MANIFEST
    if manifest.is_file():
        for row in _read_manifest(manifest):
            resp = Response.from_dict(row, where=str(manifest))
            if resp.error or not resp.audio_path:
                if resp.sample_id not in responses:
                    errors[resp.sample_id] = resp.error or "no audio"
                continue
            path = (system_dir / resp.audio_path).resolve()
            if system_dir.resolve() not in path.parents:
                raise SchemaError(str(manifest), "audio_path", f"{resp.audio_path!r} points outside {system_dir}")
            if not path.is_file():
                raise SchemaError(str(manifest), "audio_path", f"{resp.audio_path!r}: file not found")
            resp.audio_path = str(path)
            responses[resp.sample_id] = resp
            errors.pop(resp.sample_id, None)
    else:
        for path in sorted(system_dir.iterdir()):
            if path.suffix.lower() in (".wav", ".flac", ".mp3", ".ogg") and not path.name.startswith("."):
                responses[path.stem] = Response(sample_id=path.stem, system=info.name, audio_path=str(path.resolve()))
    return SystemResponses(info=info, dir=system_dir, responses=responses, errors=errors)


def load_responses(source: str | os.PathLike | Any, systems: list[str] | None = None) -> dict[str, SystemResponses]:
    """Every system under a responses folder (or a Hub / in-memory dataset with sample_id, system, audio)."""
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        root = Path(source)
        out = {}
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if systems and d.name not in systems:
                continue
            out[d.name] = load_system(d)
        if systems:
            missing = sorted(set(systems) - set(out))
            if missing:
                raise SchemaError(str(root), "system", f"no responses folder for {', '.join(missing)}")
        return out
    return _responses_from_dataset(source, systems)


def _responses_from_dataset(source: Any, systems: list[str] | None) -> dict[str, SystemResponses]:
    """A dataset (Hub id or object) with columns sample_id, system, audio: materialised into a cache folder."""
    if isinstance(source, (str, os.PathLike)):
        from datasets import load_dataset

        from .benchmark import undecoded_audio
        from .errors import MissingError
        from .hub import looks_like_hub_id

        if not looks_like_hub_id(str(source)):
            raise MissingError(f"{source}: no such responses folder (RESP/<system>/<sample_id>.wav) and not a Hub dataset id")
        try:
            # Audio stays as the stored bytes (read with soundfile below): no torch/torchcodec needed.
            ds = undecoded_audio(load_dataset(str(source), split="train"))
        except (OSError, ValueError) as e:  # offline, no such repo, no train split ...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise MissingError(f"{source}: cannot read the responses dataset ({first})") from None
        cache = Path(os.environ.get("S2S_ARENA_CACHE", Path.home() / ".cache" / "s2s_arena")) / "responses" / re.sub(r"[^A-Za-z0-9._-]", "_", str(source))
    else:
        from .benchmark import undecoded_audio

        ds = undecoded_audio(source)
        cache = None
    for col in ("sample_id", "system", "audio"):
        if col not in ds.column_names:
            raise SchemaError(str(source) if cache else "responses dataset", col, "missing column; expected sample_id, system, audio")
    if cache is None:
        import tempfile

        cache = Path(tempfile.mkdtemp(prefix="s2s_arena_responses_"))
    writers: dict[str, ResponseWriter] = {}
    for row in ds:
        name = row["system"]
        if systems and name not in systems:
            continue
        if name not in writers:
            writers[name] = ResponseWriter(cache, SystemInfo(name=name))
        w = writers[name]
        if row["sample_id"] in w.done:
            continue
        x = load_audio(row["audio"], sr=SAMPLE_RATE, where=f"{source}: {name}/{row['sample_id']}")
        w.write(row["sample_id"], x, SAMPLE_RATE, text=row.get("text") or "")
    return {name: load_system(w.dir) for name, w in writers.items()}
