"""The Hugging Face Hub: what S2S-Arena publishes there and how (datasets, responses, votes, results).

Every upload is planned first: a plan lists each file with its path in the repository and its size,
so ``--dry-run`` shows exactly what would be sent and tests run offline; :func:`upload` then sends that
plan in one commit. What is not already a dataset folder (responses, votes, a leaderboard) is staged
first into a local folder that is itself a loadable dataset (``datasets.load_dataset(folder)``), so
what would be published can be read back before anything leaves the machine.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .errors import ConfigError, DependencyError, MissingError
from .schema import SchemaError

# A Hub repository id: "name" or "namespace/name" (letters, digits, - _ .), as huggingface_hub validates.
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
REPO_TYPES = ("dataset", "space", "model")
# Files a folder holds for the machine that made it, never for the Hub.
_SKIP_NAMES = {".DS_Store", "__pycache__", ".cache", ".git", ".huggingface"}


def looks_like_hub_id(text: str) -> bool:
    """True for "user/name" or "name"; False for what is clearly a local path (./x, /x, ~/x, a/b/c)."""
    text = str(text)
    return bool(_REPO_ID.match(text)) and ".." not in text and not text.endswith((".git", "."))


def check_repo_id(repo_id: str, where: str = "--repo") -> str:
    if not repo_id or "/" not in repo_id or not looks_like_hub_id(repo_id):
        raise ConfigError(f"{where} {repo_id!r}: expected a Hub repository id USER/NAME (letters, digits, - _ .)")
    return repo_id


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


# --- plans -----------------------------------------------------------------------------------------------
@dataclass
class PlannedFile:
    path_in_repo: str
    local: Path
    size: int


@dataclass
class UploadPlan:
    """What one ``publish`` would send: the repository, its type, and every file with its size."""

    what: str
    repo_id: str
    repo_type: str
    folder: Path
    files: list[PlannedFile] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def url(self) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/", "model": ""}[self.repo_type]
        return f"https://huggingface.co/{prefix}{self.repo_id}"

    def lines(self) -> list[str]:
        out = [f"{self.what}: {len(self.files)} files, {_size(self.total_bytes)} -> {self.repo_type} "
               f"{self.repo_id} ({self.url})"]
        out += [f"  {f.path_in_repo}  ({_size(f.size)})" for f in self.files]
        return out


def plan_folder(folder: str | os.PathLike, repo_id: str, repo_type: str, what: str,
                rename: Mapping[str, str] | None = None) -> UploadPlan:
    """Every file under ``folder`` (hidden files, caches and temporary files left out), sorted."""
    if repo_type not in REPO_TYPES:
        raise ConfigError(f"repo type {repo_type!r}: expected one of {', '.join(REPO_TYPES)}")
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingError(f"{folder}: no such folder")
    rename = dict(rename or {})
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(p in _SKIP_NAMES or p.startswith(".") for p in rel.parts):
            continue
        if path.suffix in (".tmp", ".lock", ".pyc"):
            continue
        files.append(PlannedFile(rename.get(rel.as_posix(), rel.as_posix()), path, path.stat().st_size))
    if not files:
        raise SchemaError(str(folder), None, "nothing to upload (the folder holds no files)")
    return UploadPlan(what, check_repo_id(repo_id), repo_type, folder, files)


def _card_header(card: Path) -> dict[str, Any]:
    import yaml

    text = card.read_text(encoding="utf-8")
    m = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not m:
        raise SchemaError(str(card), None, "no YAML header (--- ... ---) in the card")
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as e:
        raise SchemaError(str(card), None, f"the YAML header is not valid YAML ({e})") from None
    return meta if isinstance(meta, dict) else {}


def plan_dataset(folder: str | os.PathLike, repo_id: str) -> UploadPlan:
    """A benchmark folder written by ``s2s-arena build``: its card must declare configs over its Parquet
    files, which is what makes ``load_dataset("<user>/<name>", CONFIG, split=LEVEL)`` work on the Hub."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingError(f"{folder}: no such folder")
    card = folder / "README.md"
    if not card.is_file():
        raise SchemaError(str(folder), None, "not a dataset folder (no README.md card); build one with "
                                              "`s2s-arena build --out DIR`")
    meta = _card_header(card)
    if not meta.get("configs"):
        raise SchemaError(str(card), "configs", "the card declares no configs; the Hub would not know its splits")
    if not any(folder.rglob("*.parquet")):
        raise SchemaError(str(folder), None, "no Parquet files; build the dataset first")
    return plan_folder(folder, repo_id, "dataset", "benchmark dataset")


def metric_folder() -> Path:
    """The evaluate module's folder in a source checkout (it is not installed with the package)."""
    here = Path(__file__).resolve().parent.parent / "s2s_arena_metric"
    if not (here / "s2s_arena_metric.py").is_file():
        raise MissingError("the metric folder s2s_arena_metric/ is not here (it ships with the source "
                           "repository, not the wheel); run this from a checkout")
    return here


def plan_metric(repo_id: str, folder: str | os.PathLike | None = None) -> UploadPlan:
    """The metric as a Space: evaluate loads ``<name>.py`` from the repository ``<user>/<name>``, so the
    script is published under the repository's name (app.py keeps it from shadowing the package)."""
    folder = Path(folder) if folder else metric_folder()
    name = check_repo_id(repo_id).split("/", 1)[1]
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise ConfigError(f"--repo {repo_id!r}: evaluate imports the script as a module, so the Space's name must "
                          "be a Python identifier (letters, digits, _), e.g. USER/s2s_arena")
    plan = plan_folder(folder, repo_id, "space", "evaluate metric (Space)",
                       rename={"s2s_arena_metric.py": f"{name}.py"})
    plan.files = [f for f in plan.files if f.path_in_repo in (f"{name}.py", "README.md", "requirements.txt", "app.py")]
    return plan


def upload(plan: UploadPlan, *, token: str | None = None, private: bool = False,
           message: str | None = None) -> str:
    """Create the repository if needed and send every planned file in one commit; the repository URL."""
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
    except ImportError as e:  # pragma: no cover - a core dependency
        raise DependencyError(f"huggingface_hub is needed to publish ({e})") from None
    api = HfApi(token=token)
    kwargs = {"space_sdk": "gradio"} if plan.repo_type == "space" else {}
    api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private, exist_ok=True, **kwargs)
    ops = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in plan.files]
    api.create_commit(plan.repo_id, repo_type=plan.repo_type, operations=ops,
                      commit_message=message or f"s2s-arena publish: {plan.what}")
    return plan.url


# --- staging: responses ----------------------------------------------------------------------------------
def _fresh(staging: str | os.PathLike) -> Path:
    staging = Path(staging)
    if staging.exists() and any(staging.iterdir()):
        if not (staging / ".s2s_arena_staging").is_file():
            raise ConfigError(f"{staging}: exists and is not a staging folder written by s2s-arena; give an empty or new folder")
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / ".s2s_arena_staging").write_text("staged for upload by s2s-arena publish\n", encoding="utf-8")
    return staging


def _write_card(staging: Path, header: Mapping[str, Any], body: str) -> Path:
    import yaml

    text = "---\n" + yaml.safe_dump(dict(header), sort_keys=False, allow_unicode=True) + "---\n\n" + body.strip() + "\n"
    path = staging / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def stage_responses(resp_dir: str | os.PathLike, staging: str | os.PathLike, *,
                    systems: Sequence[str] | None = None, rows_per_shard: int = 500) -> Path:
    """A responses folder as the Hub dataset the Space and ``s2s-arena judge --responses`` read: columns
    ``sample_id``, ``system``, ``audio`` (the files' own bytes, not re-encoded), ``text``; split ``train``;
    a ``systems`` config with each system.json. Returns the staging folder."""
    import datasets

    from .responses import load_responses

    resp_dir = Path(resp_dir)
    if not resp_dir.is_dir():
        raise MissingError(f"{resp_dir}: no such responses folder (RESP/<system>/<sample_id>.wav)")
    found = load_responses(resp_dir, systems=list(systems) if systems else None)
    if not found:
        raise SchemaError(str(resp_dir), None, "no system folders (expected RESP/<system>/<sample_id>.wav)")
    staging = _fresh(staging)
    (staging / "data").mkdir()
    features = datasets.Features({"sample_id": datasets.Value("string"), "system": datasets.Value("string"),
                                  "audio": datasets.Audio(), "text": datasets.Value("string")})

    def rows() -> Iterable[dict[str, Any]]:
        for name in sorted(found):
            for sid, resp in sorted(found[name].responses.items()):
                path = Path(resp.audio_path)
                yield {"sample_id": sid, "system": name, "text": resp.text or "",
                       "audio": {"bytes": path.read_bytes(), "path": f"{name}/{path.name}"}}

    # Written shard by shard, so memory holds at most rows_per_shard responses' bytes at a time.
    batch: list[dict[str, Any]] = []
    n = shard = 0
    for row in rows():
        batch.append(row)
        n += 1
        if len(batch) >= rows_per_shard:
            datasets.Dataset.from_list(batch, features=features).to_parquet(str(staging / "data" / f"train-{shard:05d}.parquet"))
            batch, shard = [], shard + 1
    if batch:
        datasets.Dataset.from_list(batch, features=features).to_parquet(str(staging / "data" / f"train-{shard:05d}.parquet"))
    infos = [found[name].info.to_dict() for name in sorted(found)]
    sys_features = sorted({k for info in infos for k in info})
    datasets.Dataset.from_list([{k: ("" if info.get(k) is None else str(info.get(k))) for k in sys_features}
                                for info in infos]).to_parquet(str(staging / "data" / "systems.parquet"))
    counts = {name: len(found[name].responses) for name in sorted(found)}
    header = {
        "configs": [
            {"config_name": "default", "default": True, "data_files": [{"split": "train", "path": "data/train-*.parquet"}]},
            {"config_name": "systems", "data_files": [{"split": "train", "path": "data/systems.parquet"}]},
        ],
        "tags": ["s2s-arena", "speech-to-speech", "audio"],
    }
    table = "\n".join(f"| {name} | {counts[name]} |" for name in counts)
    body = f"""
# S2S-Arena responses

Spoken responses of {len(counts)} speech-to-speech systems to the S2S-Arena benchmark, {n} in all: one row
per (system, sample) with the response audio as the system produced it. The voting Space and
`s2s-arena judge` read this dataset directly (`--responses <this repo id>`); the `systems` config holds
each system's `system.json` (organisation, kind, architecture, backbone).

```python
from datasets import load_dataset
responses = load_dataset("<this repo id>", split="train")      # sample_id, system, audio, text
systems = load_dataset("<this repo id>", "systems", split="train")
```

| system | responses |
|---|---|
{table}

Published with `s2s-arena publish responses`.
"""
    _write_card(staging, header, body)
    return staging


# --- votes -----------------------------------------------------------------------------------------------
# Published vote columns: the Vote record plus what was shown. The session id is pseudonymised (a hash)
# so votes of one voter stay linkable for agreement studies without the id the Space's cookie holds;
# anything else the store keeps about a client (battle tokens, addresses) is not published.
VOTE_EXPORT_COLUMNS = ("vote_id", "session", "shown_at", "voted_at", "sample_id", "level", "domain", "task",
                       "system_a", "system_b", "p_pair", "winner", "failure", "listened_a", "listened_b",
                       "counted", "exclusion_reason", "app_version")


def _pseudonym(session: Any) -> str:
    return hashlib.sha256(str(session).encode("utf-8")).hexdigest()[:16] if session not in (None, "") else ""


def read_votes(source: str | os.PathLike) -> list[dict[str, Any]]:
    """Votes from a vote store (a SQLite file, or a database URL) or a votes file (JSONL, JSON, CSV)."""
    from .outcomes import read_rows

    src = str(source)
    if "://" in src:
        try:
            from .arena.store import VoteStore
        except ImportError as e:
            raise DependencyError(f"reading votes from {src.split('://')[0]}:// needs the space extra "
                                  f"(pip install 's2s-arena[space]'; PostgreSQL also [postgres]): {e}") from None
        store = VoteStore(src)
        try:
            rows = store.votes()
        finally:
            store.close()
    else:
        rows = read_rows(src)
    if not rows:
        raise SchemaError(src, None, "no votes")
    for i, row in enumerate(rows[:1]):
        if "winner" not in row or "system_a" not in row:
            raise SchemaError(f"{src}: record {i}", "winner", "not a vote (expected winner, system_a, system_b)")
    return rows


def export_votes(source: str | os.PathLike, *, counted_only: bool = False, pseudonymise: bool = True) -> list[dict[str, Any]]:
    """Votes in the published column order, ready to write."""
    out = []
    for row in read_votes(source):
        if counted_only and not _truthy(row.get("counted", True)):
            continue
        rec = {k: row.get(k) for k in VOTE_EXPORT_COLUMNS}
        rec["counted"] = _truthy(rec["counted"]) if rec["counted"] is not None else True
        if pseudonymise:
            rec["session"] = _pseudonym(rec["session"])
        out.append(rec)
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "t")
    return bool(value)


def write_rows(rows: Sequence[Mapping[str, Any]], out: str | os.PathLike) -> Path:
    """Rows to a file whose suffix says the format: .jsonl, .json, .csv or .parquet (atomically)."""
    import csv
    import io

    from .audio import atomic_write_bytes

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".jsonl":
        data = "".join(json.dumps(dict(r), ensure_ascii=False, default=str) + "\n" for r in rows).encode("utf-8")
    elif suffix == ".json":
        data = (json.dumps([dict(r) for r in rows], ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8")
    elif suffix == ".csv":
        buf = io.StringIO()
        cols = list(rows[0].keys()) if rows else list(VOTE_EXPORT_COLUMNS)
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
        data = buf.getvalue().encode("utf-8")
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist([dict(r) for r in rows]), buf)
        data = buf.getvalue().to_pybytes()
    else:
        raise ConfigError(f"{out}: unknown format {suffix or '(no suffix)'}; use .jsonl, .json, .csv or .parquet")
    return atomic_write_bytes(out, data)


def stage_votes(source: str | os.PathLike, staging: str | os.PathLike, *, counted_only: bool = False) -> Path:
    """Votes as a Hub dataset (one Parquet file, split ``train``) with a card that says what the columns mean."""
    rows = export_votes(source, counted_only=counted_only)
    staging = _fresh(staging)
    write_rows(rows, staging / "data" / "votes.parquet")
    n_counted = sum(bool(r["counted"]) for r in rows)
    header = {"configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/votes.parquet"}]}],
              "tags": ["s2s-arena", "human-preferences", "speech-to-speech"]}
    body = f"""
# S2S-Arena votes

{len(rows)} human pairwise votes from the S2S-Arena voting Space ({n_counted} counted). One row per vote:
the two systems as shown (`system_a` left, `system_b` right), `winner` (a | b | tie | both_bad), the
probability `p_pair` with which the sampler picked the pair (for inverse-propensity weights), how much
of each response the voter heard (`listened_a`, `listened_b`), and whether the vote counts (`counted`,
`exclusion_reason`). `session` is a pseudonym (a hash of the voting session), never the session itself.

```python
from datasets import load_dataset
votes = load_dataset("<this repo id>", split="train")
```

Rate them with `s2s-arena leaderboard --votes votes.jsonl` (export with `s2s-arena votes export`).
Published with `s2s-arena publish votes`.
"""
    _write_card(staging, header, body)
    return staging


# --- results: leaderboard as model-index, eval results and a dataset -------------------------------------
RESULT_COLUMNS = ("rank", "system", "rating", "ci_low", "ci_high", "n", "wins", "ties", "losses", "win_rate",
                  "both_bad_rate", "preliminary")


def model_index_yaml(row: Mapping[str, Any], *, dataset_id: str, dataset_name: str = "S2S-Arena",
                     config: str = "all", split: str | None = None, source_url: str | None = None,
                     source_name: str = "S2S-Arena leaderboard", dimension: str = "overall") -> str:
    """The ``model-index`` block a system's model card carries (huggingface_hub's EvalResult format)."""
    from huggingface_hub import EvalResult, ModelCardData

    common = dict(task_type="speech-to-speech", task_name="Paralinguistic instruction following",
                  dataset_type=dataset_id, dataset_name=dataset_name, dataset_config=config,
                  dataset_split=split)
    if source_url:  # huggingface_hub accepts a source only with its URL
        common.update(source_name=source_name, source_url=source_url)
    lo, hi = row.get("ci_low"), row.get("ci_high")
    ci = f", 95% CI [{lo:.0f}, {hi:.0f}]" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else ""
    results = [EvalResult(metric_type="bradley_terry_rating", metric_name=f"Bradley-Terry rating ({dimension}{ci})",
                          metric_value=round(float(row["rating"]), 1), **common)]
    if row.get("win_rate") is not None:
        results.append(EvalResult(metric_type="win_rate", metric_name=f"Win rate ({dimension})",
                                  metric_value=round(float(row["win_rate"]), 4), **common))
    card = ModelCardData(model_name=str(row["system"]), eval_results=results)
    return card.to_yaml() + "\n"


def eval_results_yaml(row: Mapping[str, Any], *, dataset_id: str, task_id: str = "s2s_arena",
                      source_url: str | None = None, source_name: str = "S2S-Arena leaderboard",
                      date: str | None = None, notes: str | None = None) -> str:
    """One ``.eval_results/<benchmark>.yaml`` file of a model repository (the Hub's eval-results format)."""
    import yaml

    entry: dict[str, Any] = {"dataset": {"id": dataset_id, "task_id": task_id},
                             "value": round(float(row["rating"]), 1),
                             "date": date or _dt.date.today().isoformat()}
    if source_url:
        entry["source"] = {"url": source_url, "name": source_name}
    lo, hi = row.get("ci_low"), row.get("ci_high")
    parts = [f"Bradley-Terry rating, rank {row.get('rank')}"]
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        parts.append(f"95% CI [{lo:.0f}, {hi:.0f}]")
    parts.append(f"{row.get('n')} outcomes")
    if notes:
        parts.append(notes)
    entry["notes"] = "; ".join(parts)
    return yaml.safe_dump([entry], sort_keys=False, allow_unicode=True)


def _safe_name(system: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", system).strip("._") or "system"


def export_results(board: Sequence[Mapping[str, Any]], out: str | os.PathLike, *, dataset_id: str,
                   breakdowns: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                   dimension: str = "overall", source: str = "", source_url: str | None = None,
                   config: str = "all") -> list[Path]:
    """Write a leaderboard three ways into ``out``: ``model-index/<system>.yaml`` and
    ``eval_results/<system>.yaml`` (for each system's model card / repository) and ``results/`` (a
    dataset folder: ``leaderboard`` and per-breakdown configs, publishable with ``s2s-arena publish results``)."""
    check_repo_id(dataset_id, "--dataset-id")
    out = Path(out)
    if not board:
        raise SchemaError("leaderboard", None, "no systems to export")
    written: list[Path] = []
    from .audio import atomic_write_bytes

    for row in board:
        name = _safe_name(str(row["system"]))
        written.append(atomic_write_bytes(out / "model-index" / f"{name}.yaml", model_index_yaml(
            row, dataset_id=dataset_id, config=config, source_url=source_url, dimension=dimension).encode("utf-8")))
        written.append(atomic_write_bytes(out / "eval_results" / f"{name}.yaml", eval_results_yaml(
            row, dataset_id=dataset_id, source_url=source_url,
            notes=f"{dimension}; from {source}" if source else dimension).encode("utf-8")))
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "data").mkdir(exist_ok=True)
    table = [{c: r.get(c) for c in RESULT_COLUMNS} | {"dimension": dimension} for r in board]
    written.append(write_rows(table, results / "data" / "leaderboard.parquet"))
    configs = [{"config_name": "leaderboard", "default": True,
                "data_files": [{"split": "train", "path": "data/leaderboard.parquet"}]}]
    for by, rows in (breakdowns or {}).items():
        clean = [{k: (";".join(map(str, v)) if isinstance(v, list) else v) for k, v in r.items()} for r in rows]
        written.append(write_rows(clean, results / "data" / f"by_{by}.parquet"))
        configs.append({"config_name": f"by_{by}", "data_files": [{"split": "train", "path": f"data/by_{by}.parquet"}]})
    lines = "\n".join(f"| {r.get('rank')} | {r['system']} | {float(r['rating']):.0f} | "
                      f"[{float(r['ci_low']):.0f}, {float(r['ci_high']):.0f}] | {r.get('n')} |" for r in board)
    body = f"""
# S2S-Arena results

Bradley-Terry ratings (95% bootstrap CIs) of speech-to-speech systems on [S2S-Arena](https://huggingface.co/datasets/{dataset_id})
({dimension}{'; from ' + source if source else ''}). Configs: `leaderboard` (one row per system){''.join(', `by_' + b + '`' for b in (breakdowns or {}))}.

| rank | system | rating | 95% CI | n |
|---|---|---|---|---|
{lines}

Written by `s2s-arena leaderboard --export`; per-system `model-index` and `.eval_results` YAML sit beside
this folder for each system's model card.
"""
    written.append(_write_card(results, {"configs": configs, "tags": ["s2s-arena", "leaderboard"]}, body))
    return written


# --- model sources ---------------------------------------------------------------------------------------
def check_model_source(value: str, where: str) -> str:
    """A model given as a local folder or a Hub id, checked before transformers sees it, so a typo is one
    line naming the option (MissingError / ConfigError) rather than a traceback from deep in a loader."""
    value = str(value or "").strip()
    if not value:
        raise ConfigError(f"{where}: no model given; expected a local folder or a Hub id USER/NAME")
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{where}: {value} is a file; expected a model folder (config.json, weights) or a Hub id")
        return str(path)
    if value.startswith(("/", "./", "../", "~")) or value.count("/") > 1:
        raise MissingError(f"{where}: no such model folder {value}")
    if not looks_like_hub_id(value):
        raise ConfigError(f"{where}: {value!r} is neither a local folder nor a Hub id USER/NAME")
    return value


def model_load_error(where: str, error: BaseException) -> DependencyError:
    """A loader's OSError (not downloadable offline, no config.json, gated ...) as one line naming ``where``."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DependencyError(f"{where}: cannot load the model ({first})")
