"""Read the benchmark: a dataset folder written by `s2s-arena build`, or its copy on the Hub.

Every face (metric, Space, generation) reads benchmark samples through here, so the dataset layout
(configs, splits, JSON-text columns) is known in one place besides the writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .audio import SAMPLE_RATE, load_audio
from .schema import LEVELS, Sample, SchemaError, sample_from_row


def undecoded_audio(ds: Any) -> Any:
    """The same dataset with its Audio columns left as ``{"path", "bytes"}``.

    ``datasets`` 5 decodes Audio through torchcodec (torch + FFmpeg libraries); the core reads the
    embedded FLAC/WAV bytes with soundfile instead, so reading the benchmark needs no torch at all.
    """
    try:
        from datasets import Audio
    except ImportError:  # pragma: no cover - datasets is a core dependency
        return ds
    features = getattr(ds, "features", None) or {}
    for name, feature in list(features.items()):
        if isinstance(feature, Audio) and feature.decode:
            ds = ds.cast_column(name, Audio(sampling_rate=feature.sampling_rate, decode=False))
    return ds


def _available_splits(source: str, config: str | None) -> list[str]:
    from datasets import get_dataset_split_names

    try:
        return list(get_dataset_split_names(source, config))
    except Exception as e:  # datasets raises a zoo of types for a missing folder / config
        raise SchemaError(str(source), "config", f"cannot read config {config or '(default)'!r}: {e}") from None


def load_benchmark(
    source: str | Path | Any,
    config: str | None = None,
    levels: Iterable[str] | None = None,
    limit: int | None = None,
    decode_audio: bool = True,
) -> list[Sample]:
    """Benchmark samples from a dataset folder, a Hub dataset id, or an in-memory ``datasets`` object.

    ``audio`` of each sample becomes ``{"array": float32 mono 24 kHz, "sampling_rate": 24000}`` when
    ``decode_audio``; otherwise it keeps what the dataset holds. ``limit`` keeps the first N samples
    per level in a round-robin over levels, so small runs still cover every level. ``config`` None is the
    dataset's default config: ``main`` (everyday conditions, what leaderboards use) where the build has
    one, else ``all``.
    """
    levels = list(levels) if levels else list(LEVELS)
    for lv in levels:
        if lv not in LEVELS:
            raise SchemaError("levels", "level", f"unknown level {lv!r}; expected one of {', '.join(LEVELS)}")
    per_level: dict[str, list[Sample]] = {}
    if not isinstance(source, (str, Path)):  # a datasets Dataset or DatasetDict already in memory
        splits = source if hasattr(source, "keys") else {"all": source}
        for name, ds in splits.items():
            for row in undecoded_audio(ds):
                s = _to_sample(row, decode_audio)
                if s.level in levels:
                    per_level.setdefault(s.level, []).append(s)
    else:
        from datasets import load_dataset

        from .errors import MissingError
        from .hub import looks_like_hub_id

        src = str(source)
        if not Path(src).exists() and not looks_like_hub_id(src):
            raise MissingError(f"{src}: no such dataset folder (build one with `s2s-arena build --out DIR`) "
                               "and not a Hub dataset id (user/name)")
        if Path(src).exists() and not (Path(src) / "README.md").is_file():
            raise SchemaError(src, None, "not a dataset folder (no README.md dataset card); build one with `s2s-arena build --out DIR`")
        present = _available_splits(src, config)
        for lv in levels:
            if lv not in present:
                continue
            ds = undecoded_audio(load_dataset(src, config, split=lv))
            for row in ds:
                per_level.setdefault(lv, []).append(_to_sample(row, decode_audio))
    if limit is None:
        return [s for lv in levels for s in per_level.get(lv, [])]
    out: list[Sample] = []
    queues = [list(per_level.get(lv, [])) for lv in levels]
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


def _to_sample(row: dict[str, Any], decode_audio: bool) -> Sample:
    sample = sample_from_row(row)
    if decode_audio and sample.audio is not None:
        x = load_audio(sample.audio, sr=SAMPLE_RATE, where=f"sample {sample.id!r}: audio")
        sample.audio = {"array": x, "sampling_rate": SAMPLE_RATE}
    return sample


def instruction_audio(sample: Sample) -> np.ndarray | None:
    """The instruction waveform (24 kHz mono) of a sample, or None when it carries no audio."""
    if sample.audio is None:
        return None
    if isinstance(sample.audio, dict) and sample.audio.get("sampling_rate") == SAMPLE_RATE and "array" in sample.audio:
        return np.asarray(sample.audio["array"], dtype=np.float32)
    return load_audio(sample.audio, sr=SAMPLE_RATE, where=f"sample {sample.id!r}: audio")
