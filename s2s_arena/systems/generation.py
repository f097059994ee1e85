"""Run one system over benchmark samples into a responses folder, resumably, locally or on Ray.

The system is built inside each worker (``GenerateWorker``), so with ``engine="ray"`` every actor
loads its own model (on its own GPU) or opens its own API connection; the driver only writes. A
finished sample is one manifest row, written as soon as it arrives, so a rerun skips it; a sample
that failed is recorded with its error and retried by the next run.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio import atomic_write_bytes
from ..responses import ResponseWriter
from ..schema import Sample, SystemInfo
from . import REFERENCE_SYSTEMS, get_system

INFO_FIELDS = ("version", "organisation", "kind", "architecture", "backbone", "description")


class GenerateWorker:
    """Picklable worker for ``engine.map_batches``: sample dicts in, response rows out."""

    def __init__(self, spec: str, opts: dict[str, Any]):
        self.system = get_system(spec, **opts)
        self.system.load()

    def __call__(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        samples = [Sample.from_dict(item["sample"]) for item in batch]
        outputs = self.system.respond(samples)
        if len(outputs) != len(samples):
            raise RuntimeError(f"{self.system.info.name}: respond() returned {len(outputs)} outputs for {len(samples)} samples")
        rows = []
        for sample, out in zip(samples, outputs):
            rows.append({
                "sample_id": sample.id, "audio": out.audio, "sr": out.sr, "text": out.text or "",
                "latency_first_audio_s": out.latency_first_audio_s, "latency_total_s": out.latency_total_s,
                "error": out.error or "", "meta": out.meta,
            })
        return rows


@dataclass
class GenerateSummary:
    system_dir: Path
    total: int
    skipped: int
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def system_info_for(spec: str, opts: dict[str, Any], overrides: dict[str, Any] | None = None) -> SystemInfo:
    """The system.json a run writes: the adapter's own info with the user's metadata on top."""
    info = get_system(spec, **opts).info
    fields = {k: v for k, v in (overrides or {}).items() if k in INFO_FIELDS and v not in (None, "")}
    return dataclasses.replace(info, **fields)


def generate_responses(
    spec: str,
    samples: list[Sample],
    resp_dir: str | Path,
    *,
    opts: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
    engine: str = "local",
    batch_size: int = 4,
    concurrency: int = 1,
    num_gpus: float = 0.0,
    arguments: dict[str, Any] | None = None,
) -> GenerateSummary:
    """Write ``resp_dir/<name>/`` for ``spec`` over ``samples``; returns what was done this run."""
    from ..engine import map_batches

    opts = dict(opts or {})
    if spec in REFERENCE_SYSTEMS:
        return _render_reference(spec, samples, Path(resp_dir), int(opts.get("seed", 0)), engine, arguments or {})
    system_info = system_info_for(spec, opts, info)
    opts["name"] = system_info.name
    for key in INFO_FIELDS:
        opts[key] = getattr(system_info, key)
    writer = ResponseWriter(resp_dir, system_info)
    todo = [s for s in samples if s.id not in writer.done]
    summary = GenerateSummary(system_dir=writer.dir, total=len(samples), skipped=len(samples) - len(todo))
    start = time.perf_counter()
    items = [{"sample": s.to_dict()} for s in todo]
    rows = map_batches(
        items, GenerateWorkerFactory(spec, opts), engine=engine, batch_size=batch_size,
        concurrency=concurrency, num_gpus=num_gpus, desc=f"generate {system_info.name}",
    )
    try:
        for row in rows:
            writer.write(
                row["sample_id"], row["audio"], row["sr"], text=row["text"],
                latency_first_audio_s=row["latency_first_audio_s"], latency_total_s=row["latency_total_s"],
                error=row["error"], meta=row["meta"],
            )
            if row["error"]:
                summary.failed[row["sample_id"]] = row["error"]
            else:
                summary.written += 1
    finally:
        # Also after an interruption: the manifest then says how far the run got.
        summary.seconds = time.perf_counter() - start
        _write_run_manifest(writer, spec, summary, engine, arguments or {})
    return summary


def _render_reference(name: str, samples: list[Sample], resp_dir: Path, seed: int, engine: str,
                      arguments: dict[str, Any]) -> GenerateSummary:
    """Reference systems render over the whole sample list at once: ``off_topic`` answers with another
    sample's content, picked from all samples, so batching them would change what they say."""
    from .reference import render_reference_systems

    start = time.perf_counter()
    before = ResponseWriter(resp_dir, _reference_info(name, resp_dir))
    done_before = set(before.done)
    render_reference_systems(samples, resp_dir, systems=(name,), seed=seed)
    writer = ResponseWriter(resp_dir, _reference_info(name, resp_dir))
    ids = {s.id for s in samples}
    summary = GenerateSummary(system_dir=writer.dir, total=len(samples), skipped=len(done_before & ids),
                              written=len((writer.done - done_before) & ids))
    from ..responses import load_system

    summary.failed = {sid: err for sid, err in load_system(writer.dir).errors.items() if sid in ids}
    summary.seconds = time.perf_counter() - start
    _write_run_manifest(writer, name, summary, "local", {**arguments, "seed": seed})
    return summary


def _reference_info(name: str, resp_dir: Path) -> SystemInfo:
    from ..responses import read_system_info

    return read_system_info(resp_dir / name) if (resp_dir / name / "system.json").is_file() else SystemInfo(
        name=name, architecture="reference", organisation="S2S-Arena", spec=name)


@dataclass
class GenerateWorkerFactory:
    """A picklable ``worker_factory`` (Ray ships it to every actor)."""

    spec: str
    opts: dict[str, Any]

    def __call__(self) -> GenerateWorker:
        return GenerateWorker(self.spec, self.opts)


def _write_run_manifest(writer: ResponseWriter, spec: str, summary: GenerateSummary, engine: str, arguments: dict[str, Any]) -> Path:
    import numpy
    import transformers

    from .. import __version__

    manifest = {
        "what": "s2s-arena generate",
        "system": writer.info.to_dict(),
        "spec": spec,
        "engine": engine,
        "arguments": arguments,
        "samples": summary.total,
        "done": len(writer.done),
        "failed": sorted(writer.failed),
        "this_run": {"written": summary.written, "failed": len(summary.failed), "skipped": summary.skipped,
                     "seconds": round(summary.seconds, 3)},
        "versions": {"s2s_arena": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
                     "transformers": transformers.__version__},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = writer.dir / "manifest.json"
    atomic_write_bytes(path, (json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n").encode())
    return path
