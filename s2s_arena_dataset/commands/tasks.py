"""`s2s-arena tasks`: list the task catalogue (tasks, domains, levels, seeds per level)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "list the task catalogue: task, domain, levels and seeds per level (table, JSON or Markdown)"
_LEVELS = ("L0", "L1", "L2", "L3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                        help="output format (default: table); json includes every seed")
    parser.add_argument("--domain", help="only tasks of this domain, e.g. entertainment")
    parser.add_argument("--level", choices=_LEVELS, help="only tasks that have this level, and only its seeds")
    parser.add_argument("--v1", action="store_true", help="only the 21 tasks of S2S-Arena v1")
    parser.add_argument("--tasks-dir", metavar="DIR",
                        help="a folder of task YAML files to list instead of the built-in catalogue")
    parser.add_argument("--data", metavar="DIR",
                        help="a dataset folder written by `s2s-arena build`: add its sample counts per task and level")


def run(args: argparse.Namespace) -> int:
    from s2s_arena_dataset.catalogue import load_catalogue

    catalogue = load_catalogue(args.tasks_dir)
    catalogue = catalogue.select(domain=args.domain, level=args.level, v1=True if args.v1 else None)
    samples = sample_counts(Path(args.data)) if args.data else None
    if args.format == "json":
        out = catalogue.to_dict(seeds=True)
        if samples is not None:
            out["data"] = str(args.data)
            for t in out["tasks"]:
                t["n_samples"] = {lv: samples.get(t["id"], {}).get(lv, 0) for lv in t["levels"]}
            out["n_samples"] = sum(sum(t["n_samples"].values()) for t in out["tasks"])
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif args.format == "markdown":
        sys.stdout.write(_markdown(catalogue, samples))
    else:
        sys.stdout.write(_table(catalogue, samples))
    return 0


def sample_counts(data_dir: Path) -> dict[str, dict[str, int]]:
    """task -> level -> rows in a built dataset (``data/<task>/<level>-*.parquet``), from Parquet metadata only."""
    import pyarrow.parquet as pq

    from s2s_arena.cli import CommandError

    if not data_dir.is_dir():
        raise CommandError(f"{data_dir}: no such dataset folder")
    shards = sorted(data_dir.glob("data/*/L[0-3]-*.parquet"))
    if not shards:
        raise CommandError(f"{data_dir}: not a built dataset (no data/<task>/<level>-*.parquet); "
                           f"make one with `s2s-arena build --out {data_dir}`")
    counts: dict[str, dict[str, int]] = {}
    for shard in shards:
        try:
            rows = pq.ParquetFile(shard).metadata.num_rows
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise CommandError(f"{shard}: unreadable Parquet shard ({e})") from None
        level = shard.name.split("-", 1)[0]
        task_counts = counts.setdefault(shard.parent.name, {})
        task_counts[level] = task_counts.get(level, 0) + rows
    return counts


def _header(samples) -> list[str]:
    extra = [f"samples {lv}" for lv in _LEVELS] + ["samples"] if samples is not None else []
    return [*_HEADER[:-1], *extra, _HEADER[-1]]


def _rows(catalogue, samples=None) -> list[list[str]]:
    rows = []
    for r in catalogue.summary():
        counts = [str(r["n_seeds"][lv]) if r["n_seeds"][lv] else "-" for lv in _LEVELS]
        extra = []
        if samples is not None:
            have = {lv: n for lv, n in samples.get(r["task"], {}).items() if lv in r["levels"]}
            extra = [str(have[lv]) if have.get(lv) else "-" for lv in _LEVELS] + [str(sum(have.values()))]
        rows.append([r["task"], r["domain"], ",".join(r["levels"]), *counts, str(r["total"]), *extra,
                     "yes" if r["v1"] else ""])
    return rows


def _totals(catalogue, samples=None) -> str:
    text = _seed_totals(catalogue)
    if samples is not None:
        per_level = {lv: sum(samples.get(t.id, {}).get(lv, 0) for t in catalogue.tasks if lv in t.levels)
                     for lv in _LEVELS}
        text += (f"\n{_n(sum(per_level.values()), 'sample')} in the dataset "
                 f"({', '.join(f'{lv} {n}' for lv, n in per_level.items())})")
    return text


def _seed_totals(catalogue) -> str:
    per_level = catalogue.seeds_per_level()
    n_seeds = sum(per_level.values())
    levels = ", ".join(f"{lv} {n}" for lv, n in per_level.items())
    return (f"{_n(len(catalogue.tasks), 'task')} in {_n(len(catalogue.domains()), 'domain')}, "
            f"{_n(n_seeds, 'seed')} ({levels}), {_n(len(catalogue.languages()), 'language')}; "
            f"{_n(sum(t.v1 for t in catalogue.tasks), 'v1 task')}")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


_HEADER = ["task", "domain", "levels", *_LEVELS, "seeds", "v1"]


def _table(catalogue, samples=None) -> str:
    header = _header(samples)
    rows = _rows(catalogue, samples)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    numeric = set(range(3, len(header) - 1))

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows), "", _totals(catalogue, samples)]
    return "\n".join(out) + "\n"


def _markdown(catalogue, samples=None) -> str:
    header = _header(samples)
    align = ["---:" if 3 <= i < len(header) - 1 else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in _rows(catalogue, samples)]
    out += ["", _totals(catalogue, samples).replace("\n", "; ") + "."]
    return "\n".join(out) + "\n"
