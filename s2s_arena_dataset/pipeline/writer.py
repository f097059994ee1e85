"""Write accepted samples as Parquet shards with embedded audio, one folder per task.

Layout (what the card's ``configs`` point at)::

    data/<task_id>/<level>-<subset>-00000-of-00001.parquet      subset: main | robustness

The ``main`` config lists ``data/*/<level>-main-*.parquet`` per split, ``robustness`` the other subset
and ``all`` ``data/*/<level>-*.parquet``, so no audio byte is stored twice.
Mapping columns are JSON text (``s2s_arena.schema.JSON_COLUMNS``); ``audio`` is a ``datasets``
``Audio(sampling_rate=24000)`` feature holding FLAC bytes, so ``load_dataset`` decodes it offline.

The shards are written with pyarrow, with the same schema and ``huggingface`` features metadata that
``datasets`` writes itself: the build then needs neither ``datasets`` nor torch (a third of its start-up
time), and readers see exactly what ``Dataset.to_parquet`` would have produced.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from s2s_arena.audio import SAMPLE_RATE
from s2s_arena.schema import DATASET_COLUMNS, JSON_COLUMNS, LEVELS, Sample, SchemaError

# The columns are the Sample contract's fields (schema.DATASET_COLUMNS), never a list of their own.
COLUMNS: tuple[str, ...] = DATASET_COLUMNS
MAX_ROWS_PER_SHARD = 500
SUBSETS = ("main", "robustness")


def features_dict() -> dict[str, Any]:
    """The ``datasets.Features`` of a shard, in the form ``Features.to_dict()`` gives."""
    return {c: ({"sampling_rate": SAMPLE_RATE, "_type": "Audio"} if c == "audio" else {"dtype": "string", "_type": "Value"})
            for c in COLUMNS}


def arrow_schema():
    import pyarrow as pa

    fields = [pa.field(c, pa.struct([("bytes", pa.binary()), ("path", pa.string())]) if c == "audio" else pa.string())
              for c in COLUMNS]
    meta = {"huggingface": json.dumps({"info": {"features": features_dict()}})}
    return pa.schema(fields, metadata=meta)


def to_record(row: dict[str, Any], audio_bytes: bytes) -> dict[str, Any]:
    """One dataset row, checked against the Sample contract at write time (a SchemaError names the
    sample and field): what is written is exactly what ``sample_from_row`` reads back."""
    try:
        sample = Sample.from_dict({c: row[c] for c in COLUMNS if c != "audio" and row.get(c) is not None})
    except SchemaError as e:
        raise SchemaError(f"writing sample {row.get('id', '?')!r}", e.field, e.detail) from None
    rec = {c: getattr(sample, c) for c in COLUMNS if c != "audio"}
    for c in JSON_COLUMNS:
        rec[c] = json.dumps(rec[c] or {}, ensure_ascii=False, sort_keys=True)
    rec["audio"] = {"bytes": audio_bytes, "path": row["id"] + Path(row["audio_file"]).suffix}
    return rec


def shard_layout(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """task -> level -> rows (sorted by id, so a rebuild writes identical shards)."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        out[r["task"]][r["level"]].append(r)
    return {t: {lv: sorted(rs, key=lambda r: r["id"]) for lv, rs in levels.items()} for t, levels in sorted(out.items())}


def subset(row: dict[str, Any]) -> str:
    return (row.get("augmentation") or {}).get("subset") or "main"


def write_shards(rows: list[dict[str, Any]], work_dir: Path, out_dir: Path) -> dict[str, dict[str, int]]:
    """Write every task/level/subset shard under ``out_dir/data``; return task -> level -> row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema()
    counts: dict[str, dict[str, int]] = {}
    for task, levels in shard_layout(rows).items():
        counts[task] = {}
        for level in LEVELS:
            rs = levels.get(level, [])
            if not rs:
                continue
            counts[task][level] = len(rs)
            for sub in SUBSETS:
                part = [r for r in rs if subset(r) == sub]
                chunks = [part[i : i + MAX_ROWS_PER_SHARD] for i in range(0, len(part), MAX_ROWS_PER_SHARD)]
                for i, chunk in enumerate(chunks):
                    recs = [to_record(r, (work_dir / r["audio_file"]).read_bytes()) for r in chunk]
                    table = pa.Table.from_pylist(recs, schema=schema)
                    path = out_dir / "data" / task / f"{level}-{sub}-{i:05d}-of-{len(chunks):05d}.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    pq.write_table(table, path)  # audio is FLAC already: parquet compression gains nothing there
    return counts
