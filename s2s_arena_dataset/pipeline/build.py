"""Orchestrate a build: plan jobs, render + QA them (resumably), then publish the folder atomically.

``OUT/.work/`` holds the work in progress: ``samples.jsonl`` (one row per finished job, accepted or
rejected, appended and flushed as it goes) and ``audio/<sample_id>.flac`` for accepted samples. A rerun
skips every job whose key (a hash of what would be rendered) is already there. Only when every job is
done are the Parquet shards, card, report and manifest written into a temporary folder and swapped
into place, so an interrupted or failed build leaves the previous dataset untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from s2s_arena.jsonl import append_jsonl, read_jsonl
from s2s_arena.schema import LEVELS, SchemaError

from .augment import as_voices, plan_variants, seed_variant

log = logging.getLogger(__name__)

# Sizing of a full build: enough variants per seed that the dataset clears 1,243 samples and every
# level clears 200 after QA and the intelligibility gate drop some (planned with ~20% headroom); with
# 744 seeds that is one variant per seed, which also keeps the gated build within its time budget.
TARGET_TOTAL = 1500
MIN_PLANNED_PER_LEVEL = 280
MAX_VARIANTS_PER_SEED = 8
WORK = ".work"
ROWS = "samples.jsonl"
PUBLISHED = ("data", "README.md", "manifest.json", "build_report.md", "build_report.json", "build_levels.png",
             "build_qa.png")


def variants_per_level(seeds_per_level: dict[str, int]) -> dict[str, int]:
    total = sum(seeds_per_level.values()) or 1
    out = {}
    for lv, n in seeds_per_level.items():
        if n:
            target = max(MIN_PLANNED_PER_LEVEL, math.ceil(TARGET_TOTAL * n / total))
            out[lv] = min(MAX_VARIANTS_PER_SEED, max(1, round(target / n) - 1))
    return out


def _job_key(job: dict[str, Any], config: dict[str, Any]) -> str:
    what = {k: v for k, v in job.items() if k not in ("job_key", "human_where")}
    render_cfg = {k: config.get(k) for k in ("seed", "synth", "synth_version", "asr_name", "paraphraser", "max_wer")}
    return hashlib.sha1(json.dumps([what, render_cfg], sort_keys=True, default=str).encode()).hexdigest()[:16]


def _round_robin(queues: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Interleave levels, and tasks within a level, so any prefix is spread over both."""
    per_level = {}
    for i, lv in enumerate(LEVELS):
        tq = deque(deque(q) for _, q in sorted(queues.get(lv, {}).items()) if q)
        tq.rotate(-(i * len(tq)) // len(LEVELS))  # levels start at different tasks: more tasks per prefix
        per_level[lv] = tq
    out: list[dict[str, Any]] = []
    while any(per_level.values()):
        for lv in LEVELS:
            tq = per_level.get(lv)
            if not tq:
                continue
            q = tq.popleft()
            out.append(q.popleft())
            if q:
                tq.append(q)
    return out


def plan_jobs(catalogue: Any, *, seed: int, synth: Any, levels: Sequence[str] | None = None,
              tasks: Sequence[str] | None = None, human_jobs: Sequence[dict[str, Any]] = (),
              paraphrase: bool = False) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every job of a build, in round-robin order, and the variants per seed chosen per level."""
    for lv in levels or ():
        if lv not in LEVELS:
            raise SchemaError("--levels", "level", f"unknown level {lv!r}; expected one of {', '.join(LEVELS)}")
    for t in tasks or ():
        catalogue.task(t)  # raises naming the unknown id
    all_seeds = catalogue.seeds()
    n_variants = variants_per_level({lv: sum(s.level == lv for s in all_seeds) for lv in LEVELS})
    chosen = [s for s in all_seeds if (not levels or s.level in levels) and (not tasks or s.task in tasks)]
    voices: dict[str, list] = {}
    queues: dict[str, dict[str, list[dict[str, Any]]]] = {}
    replaced = {j["replaces"]: j for j in human_jobs if j.get("replaces")}
    stage1: dict[tuple[str, str], list] = {}
    stage2: dict[tuple[str, str], list] = {}
    for s in chosen:
        if s.language not in voices:
            voices[s.language] = as_voices(synth.voices(s.language))
        sd = s.to_dict()
        sid = f"{s.id}-s"
        job = replaced.get(sid) or {"sample_id": sid, "seed": sd, "variant": seed_variant(
            s.input_cues, voices[s.language], seed, s.id, s.language).to_dict()}
        stage1.setdefault((s.level, s.task), []).append(job)
        for v in plan_variants(s.id, s.input_cues, voices[s.language], n_variants[s.level], seed, paraphrase,
                               s.language):
            stage2.setdefault((s.level, s.task), []).append(
                {"sample_id": f"{s.id}-{v.suffix}", "seed": sd, "variant": v.to_dict()})
    for (lv, task), jobs in stage1.items():
        # seeds first, then the variants ranked by index: a small --limit gets seeds of many tasks
        rest = sorted(stage2.get((lv, task), []), key=lambda j: (j["variant"]["index"], j["sample_id"]))
        queues.setdefault(lv, {})[task] = jobs + rest
    for j in human_jobs:
        if j.get("replaces"):
            continue
        s = j["seed"]
        if (levels and s["level"] not in levels) or (tasks and s["task"] not in tasks):
            continue
        queues.setdefault(s["level"], {}).setdefault(s["task"], []).insert(0, j)
    return _round_robin(queues), n_variants


# --- workers -----------------------------------------------------------------------------------------
_RENDERER = None


def _init_worker(config: dict[str, Any]) -> None:
    global _RENDERER
    from .render import Renderer

    _RENDERER = Renderer(config)


def _render(job: dict[str, Any]) -> dict[str, Any]:
    from s2s_arena.audio import AudioError

    try:
        return _RENDERER.render(job)  # type: ignore[union-attr]
    except (AudioError, SchemaError):
        if job.get("human_file"):
            raise  # a bad recording is the user's to fix, not a QA statistic
        return _error_row(job, sys.exc_info()[1])
    except Exception as e:  # one odd seed must not sink a long build: count it as rejected
        return _error_row(job, e)


def _error_row(job: dict[str, Any], e: BaseException | None) -> dict[str, Any]:
    s, v = job["seed"], job["variant"]
    return {"job_key": job["job_key"], "id": job["sample_id"], "level": s["level"], "domain": s["domain"],
            "task": s["task"], "language": s["language"], "instruction_text": s["instruction"],
            "input_cues": s["input_cues"], "requirements": s["requirements"],
            "evaluation_target": s["evaluation_target"], "reference_response": s["reference_response"],
            "seed_id": s["id"], "stage": v["stage"], "augmentation": {"condition": v.get("condition")},
            "source": "human" if job.get("human_file") else "tts", "audio_file": None,
            "qa": {"pass": False, "reasons": ["render_error"], "error": f"{type(e).__name__}: {e}", "checks": [],
                   "measured": {}}}


# --- the build ----------------------------------------------------------------------------------------
def preflight(synth_spec: str) -> None:
    """Missing system tools fail here, before anything is rendered or replaced."""
    from s2s_arena.errors import DependencyError

    if synth_spec in ("espeak", "espeak-ng", "espeak_ng", "auto", "mix") and not shutil.which("espeak-ng"):
        raise DependencyError("eSpeak NG is not installed (the 'espeak' synthesizer runs the `espeak-ng` program); "
                           "install the Debian package espeak-ng (apt-get install espeak-ng) or run `make setup`")
    if not shutil.which("ffmpeg"):
        raise DependencyError("FFmpeg is not installed (datasets decodes the audio through torchcodec, which needs "
                           "FFmpeg's libraries); install the Debian package ffmpeg or run `make setup`")


def _read_rows(path: Path) -> dict[str, dict[str, Any]]:
    # A job whose row was cut by a crash is simply redone.
    return {row["job_key"]: row for _, row in read_jsonl(path, skip_bad=True)}


def _versions(synth: Any) -> dict[str, str]:
    import numpy
    import pyarrow

    import s2s_arena

    return {"s2s_arena": getattr(s2s_arena, "__version__", "?"),
            "synthesizer": f"{getattr(synth, 'name', '?')} {getattr(synth, 'version', '?')}",
            "numpy": numpy.__version__, "pyarrow": pyarrow.__version__, "python": platform.python_version(),
            **{pkg: _pkg_version(pkg) for pkg in ("praat-parselmouth", "datasets")}}


def _pkg_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _swap_in(tmp: Path, out: Path) -> None:
    """Move the finished files into ``out``; on any failure put the previous ones back."""
    old = out / f".old-{os.getpid()}"
    old.mkdir(exist_ok=True)
    moved: list[str] = []
    try:
        for name in PUBLISHED:
            if (out / name).exists():
                os.replace(out / name, old / name)
            moved.append(name)
            if (tmp / name).exists():
                os.replace(tmp / name, out / name)
    except BaseException:
        for name in moved:
            if (old / name).exists():
                if (out / name).is_dir():
                    shutil.rmtree(out / name)
                os.replace(old / name, out / name)
        raise
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


def build_dataset(
    out: str | Path, *, limit: int | None = None, seed: int = 0, levels: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None, workers: int = 1, human: str | Path | None = None,
    asr: str | None = None, paraphraser: str | None = None, max_wer: float | None = None,
    catalogue: str | Path | None = None, synth: str = "auto", keep_work: bool = False,
    on_sample: Callable[[dict[str, Any]], None] | None = None, progress: bool = True,
) -> Path:
    """Build (or resume) the benchmark dataset folder ``out``; returns its path.

    ``limit``: at most that many samples, spread over levels and tasks. ``on_sample(row)`` is called
    after each finished job is appended (accepted or not). ``asr``: the intelligibility gate's
    recogniser (None: the bundled Whisper when installed; "none": no gate). ``synth``: "auto" mixes the
    Piper neural voice with eSpeak NG when Piper is installed. The work folder is removed after a
    successful build unless ``keep_work``.
    """
    from tqdm.auto import tqdm

    from s2s_arena.synth import get_synthesizer
    from s2s_arena_dataset.catalogue import load_catalogue

    from .card import dataset_card
    from .human import load_human
    from .report import build_report, write_report
    from .writer import write_shards

    t0 = time.time()
    if limit is not None and limit < 1:
        raise SchemaError("--limit", "limit", f"expected a positive number of samples, got {limit}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SchemaError(str(out), None, "exists and is not a folder; --out must be a (new or earlier build) folder")
    preflight(synth)
    cat = load_catalogue(catalogue)
    human_jobs = load_human(human, cat) if human else []
    synthesizer = get_synthesizer(synth)
    from .render import gate_asr_name

    gate = gate_asr_name(asr)  # resolved here, so the job keys name the recogniser really used
    config = {"seed": int(seed), "synth": synth, "synth_version": getattr(synthesizer, "version", "?"),
              "asr": asr or "auto" if gate else "none", "asr_name": gate,
              "paraphraser": paraphraser, "max_wer": max_wer, "work_dir": str(out / WORK),
              "asr_threads": 1 if workers > 1 else 0}
    jobs, n_variants = plan_jobs(cat, seed=seed, synth=synthesizer, levels=levels, tasks=tasks,
                                 human_jobs=human_jobs, paraphrase=bool(paraphraser))
    if limit is not None:
        jobs = jobs[:limit]
    if not jobs:
        raise SchemaError("--levels/--tasks", None, "no seeds match these filters; nothing to build")
    for j in jobs:
        j["job_key"] = _job_key(j, config)
    jobs_hash = hashlib.sha1("\n".join(j["job_key"] for j in jobs).encode()).hexdigest()[:16]

    work = out / WORK
    finished = _finished_build(out, jobs_hash)
    if finished is not None and not (work / ROWS).is_file():
        # The work folder went away with the last successful build; its published folder is this build.
        finished.update(rendered_this_run=0, resumed=len(jobs), wall_s=round(time.time() - t0, 1))
        from s2s_arena.audio import atomic_write_bytes

        atomic_write_bytes(out / "manifest.json", json.dumps(finished, indent=2, ensure_ascii=False).encode("utf-8"))
        log.info("%s: already built with these settings (%d samples kept); nothing to render", out, finished["kept"])
        return out
    (work / "audio").mkdir(parents=True, exist_ok=True)
    rows_path = work / ROWS
    done = _read_rows(rows_path)
    todo = [j for j in jobs if j["job_key"] not in done
            or (done[j["job_key"]]["qa"].get("pass") and not (work / done[j["job_key"]]["audio_file"]).is_file())]
    resumed = len(jobs) - len(todo)
    if resumed:
        log.info("resuming: %d of %d samples already rendered in %s", resumed, len(jobs), work)
    with tqdm(total=len(todo), desc="render + QA", unit="sample", disable=not progress, dynamic_ncols=True) as bar:
        def keep(row: dict[str, Any]) -> None:
            append_jsonl(rows_path, [row], fsync=False)
            done[row["job_key"]] = row
            bar.update(1)
            if on_sample is not None:
                on_sample(row)

        if workers > 1 and len(todo) > 1:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
                for row in pool.imap_unordered(_render, todo, chunksize=1):
                    keep(row)
        elif todo:
            _init_worker(config)
            for job in todo:
                keep(_render(job))

    rows = [done[j["job_key"]] for j in jobs]
    kept = [r for r in rows if r["qa"].get("pass")]
    if not kept:
        raise SchemaError(str(out), None, f"all {len(rows)} rendered samples failed QA; see {rows_path} for the reasons")
    tmp = out / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        counts = write_shards(kept, work, tmp)
        report = build_report(rows, kept)
        report["languages_planned"] = sorted({j["seed"]["language"] for j in jobs})
        write_report(report, rows, kept, tmp)
        manifest = {
            "what": "S2S-Arena benchmark dataset (s2s-arena build)",
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": int(seed),
            "args": {"limit": limit, "levels": list(levels) if levels else None, "tasks": list(tasks) if tasks else None,
                     "workers": workers, "human": str(human) if human else None, "asr": asr,
                     "paraphraser": paraphraser, "max_wer": max_wer, "synth": synth, "gate_asr": config["asr_name"],
                     "catalogue": str(catalogue) if catalogue else "package"},
            "versions": _versions(synthesizer),
            "catalogue": {"tasks": len(cat.tasks), "seeds": len(cat.seeds())},
            "variants_per_seed": n_variants,
            "jobs": len(jobs), "jobs_hash": jobs_hash, "rendered_this_run": len(todo), "resumed": resumed,
            "kept": len(kept), "rejected": len(rows) - len(kept),
            "counts_per_task_level": counts,
            "wall_s": round(time.time() - t0, 1),
        }
        task_info = [{"task": t.id, "name": t.name, "domain": t.domain, "v1": t.v1} for t in cat.tasks]
        (tmp / "README.md").write_text(dataset_card(counts, report, task_info, manifest), encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        _swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)  # everything it held is in the published shards now
    return out


def _finished_build(out: Path, jobs_hash: str) -> dict[str, Any] | None:
    """The manifest of a complete earlier build of exactly these jobs in ``out``, else None."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("jobs_hash") != jobs_hash or not (out / "README.md").is_file() or not (out / "data").is_dir():
        return None
    return manifest


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Publish a built folder as a Hub dataset repo (the work dir stays local); returns the repo URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
        raise SchemaError(str(folder), None, "not a built dataset folder (no README.md + data/); run `s2s-arena build` first")
    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                      ignore_patterns=[f"{WORK}/**", ".tmp-*/**", ".old-*/**"],
                      commit_message="s2s-arena build")
    return str(url)


def summary_lines(out: Path) -> Iterable[str]:
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    r = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    yield f"kept {m['kept']} samples ({m['rejected']} rejected by QA; {m['rendered_this_run']} rendered now, {m['resumed']} resumed)"
    yield "per level: " + ", ".join(f"{k} {v}" for k, v in r["counts"]["level"].items())
    yield f"tasks: {len(r['counts']['task'])}, domains: {len(r['counts']['domain'])}, languages: {', '.join(r['counts']['language'])}"
    yield f"dataset folder: {out}  (card {out / 'README.md'}, report {out / 'build_report.md'}, manifest {out / 'manifest.json'})"
