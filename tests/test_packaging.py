"""Packaging as a user meets it: the sdist and wheel (built like a release, from the sdist), their
contents and metadata, `twine check`, absolute README links, `python -m s2s_arena`, file modes; and,
in fresh virtual environments (slow), the light core install running the metric from a Hub-like copy of
its folder with only the folder's requirements, and the `[space]` extra with the metric's widget app.

Fresh environments install from PyPI through a wheelhouse kept in ~/.cache/s2s_arena/test-wheelhouse
(S2S_ARENA_WHEELHOUSE), so packages are downloaded once per machine, not once per run.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
METRIC_DIR = REPO / "s2s_arena_metric"
WHEELHOUSE = Path(os.environ.get("S2S_ARENA_WHEELHOUSE", Path.home() / ".cache" / "s2s_arena" / "test-wheelhouse"))
CORE_BUDGET_MB = 800
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONDONTWRITEBYTECODE": "1"}


def sh(*cmd, env=None, cwd=None, timeout=1800) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """sdist + wheel built as a release is (the wheel from the unpacked sdist: no stale build/ files)."""
    out = tmp_path_factory.mktemp("dist")
    # From the files git would ship, not the working tree: a stale *.egg-info/SOURCES.txt there can list
    # files that a fresh clone's build leaves out (a subpackage without __init__.py once went missing so).
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    sh(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src, timeout=600)
    return out


def _wheel(dist: Path) -> Path:
    return next(dist.glob("s2s_arena-*.whl"))


def test_wheel_holds_the_core_and_the_builder_only(dist):
    names = zipfile.ZipFile(_wheel(dist)).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"s2s_arena", "s2s_arena_dataset", next(t for t in tops if t.endswith(".dist-info"))}, tops
    for needed in ("s2s_arena/__main__.py", "s2s_arena/cli.py", "s2s_arena/hub.py", "s2s_arena/arena/web.py",
                   "s2s_arena/judging/feature_rules.yaml", "s2s_arena/systems/prompts.yaml"):
        assert needed in names, needed
    assert any(n.startswith("s2s_arena/judging/prompts/") for n in names)
    assert sum(n.startswith("s2s_arena_dataset/tasks/") and n.endswith(".yaml") for n in names) > 10
    assert not [n for n in names if n.startswith(("space/", "tests/", "s2s_arena_metric/")) or "__pycache__" in n]
    # every module and data file of the two packages is in the wheel
    shipped = [str(p.relative_to(REPO)) for top in ("s2s_arena", "s2s_arena_dataset") for p in (REPO / top).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".yaml")]
    assert not sorted(set(shipped) - set(names)), sorted(set(shipped) - set(names))[:10]
    dist_info = next(t for t in tops if t.endswith(".dist-info"))
    assert f"{dist_info}/licenses/LICENSE" in names


def test_metadata_core_is_light_and_extras_are_declared(dist):
    with zipfile.ZipFile(_wheel(dist)) as z:
        info = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(z.read(info))
        entry = z.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "s2s-arena = s2s_arena.cli:main" in entry
    assert set(meta.get_all("Provides-Extra")) >= {"build", "asr", "space", "ray", "hf", "postgres", "all", "test"}
    requires = meta.get_all("Requires-Dist")
    core = [r.split(";")[0].strip() for r in requires if "extra ==" not in r]
    core_names = {re.split(r"[<>=\[ ;!~]", r, maxsplit=1)[0].lower().replace("_", "-") for r in core}
    for heavy in ("torch", "torchcodec", "transformers", "gradio", "ray", "sqlalchemy", "psycopg", "opensmile",
                  "faster-whisper"):
        assert heavy not in core_names, heavy
    assert {"datasets", "evaluate", "soundfile", "praat-parselmouth"} <= core_names
    # no upper bounds unless pyproject.toml gives the measured reason next to them
    assert not [r for r in core if "<" in r], core
    assert meta["License-Expression"] == "Apache-2.0"


def test_twine_check_passes(dist):
    proc = sh(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_readme_links_are_absolute():
    """PyPI shows README.md as the project page, where relative links and images are dead."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)[^)]*\)", text) + re.findall(r'src="([^"]+)"', text)
    relative = [t for t in targets if not t.startswith(("http://", "https://", "#", "mailto:"))]
    assert targets and not relative, relative


def test_python_dash_m_runs_the_cli(tmp_path):
    proc = sh(sys.executable, "-m", "s2s_arena", "--version", cwd=tmp_path)
    assert proc.stdout.startswith("s2s-arena ")
    bad = subprocess.run([sys.executable, "-m", "s2s_arena", "leaderboard", "--votes", "missing.jsonl"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "missing.jsonl" in bad.stderr


def test_outputs_get_the_mode_open_would_give(tmp_path):
    """Atomic writes go through a temporary file (mkstemp: 0600); the result must be shareable like
    any file the user's umask allows (0644 under the usual 022)."""
    import numpy as np

    from s2s_arena.audio import atomic_write_bytes, save_audio
    from s2s_arena.jsonl import append_jsonl

    control = tmp_path / "control.txt"
    control.write_text("x")
    expected = control.stat().st_mode & 0o777
    written = [atomic_write_bytes(tmp_path / "a.json", b"{}"), save_audio(tmp_path / "a.wav", np.zeros(2400, np.float32)),
               save_audio(tmp_path / "a.flac", np.zeros(2400, np.float32))]
    append_jsonl(tmp_path / "log.jsonl", [{"a": 1}])
    written.append(tmp_path / "log.jsonl")
    assert {p.name: p.stat().st_mode & 0o777 for p in written} == {p.name: expected for p in written}
    umask = os.umask(0o022)
    os.umask(umask)  # (reading the umask means setting it: set it back)
    assert expected == 0o666 & ~umask


# --- fresh environments (slow: each installs from a wheelhouse) -------------------------------------------
def _fresh_venv(path: Path, dist: Path, *requirements: str) -> Path:
    """A new venv holding only ``requirements`` (the project resolved from ``dist``, the rest from PyPI
    through the wheelhouse). Returns its python."""
    sh(sys.executable, "-m", "venv", path)
    py = path / "bin" / "python"
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    sh(py, "-m", "pip", "download", "-q", "-d", WHEELHOUSE, "--find-links", dist, *requirements, env=env)
    sh(py, "-m", "pip", "install", "-q", "--no-index", "--find-links", WHEELHOUSE, "--find-links", dist,
       *requirements, env=env)
    return py


def _site_mb(py: Path) -> float:
    site = sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    return sum(f.stat().st_size for f in Path(site).rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def _hub_copy(dest: Path) -> Path:
    """The metric folder as the Space `<user>/s2s_arena` holds it: the script named after the repository."""
    dest.mkdir(parents=True)
    shutil.copy(METRIC_DIR / "s2s_arena_metric.py", dest / f"{dest.name}.py")
    for name in ("README.md", "requirements.txt", "app.py"):
        shutil.copy(METRIC_DIR / name, dest / name)
    return dest


def _speech(out: Path) -> tuple[Path, Path]:
    """A fast and a slow eSpeak NG rendering of one tongue twister (the main environment renders them)."""
    from s2s_arena.audio import save_audio
    from s2s_arena.synth import get_synthesizer

    synth = get_synthesizer("espeak")
    text = "Peter Piper picked a peck of pickled peppers."
    fast = synth.synthesize(text, attributes={"speaking_rate": "fast"})
    slow = synth.synthesize(text, attributes={"speaking_rate": "slow"})
    return save_audio(out / "fast.wav", fast.audio, fast.sr), save_audio(out / "slow.wav", slow.audio, slow.sr)


METRIC_SCRIPT = """
import json, sys
import evaluate
metric = evaluate.load(sys.argv[1], judge="feature", verdict_cache=False, bootstrap=100)
sample = {"id": "tt0", "level": "L2", "task": "tongue_twister_fast", "requirements": {"speaking_rate": "fast"},
          "instruction_text": "Say this tongue twister fast: Peter Piper picked a peck of pickled peppers."}
out = metric.compute(predictions=[sys.argv[2]], references=[sys.argv[3]], samples=[sample])
from s2s_arena.benchmark import load_benchmark
samples = load_benchmark(sys.argv[4], levels=["L2"], limit=2)
import importlib.util
print(json.dumps({"name": metric.name, "win_rate": out["win_rate"], "n_invalid": out["n_invalid"],
                  "samples": [s.id for s in samples], "rate": samples[0].audio["sampling_rate"],
                  "torch": importlib.util.find_spec("torch") is not None,
                  "torchcodec": importlib.util.find_spec("torchcodec") is not None}))
"""


@pytest.mark.slow
def test_core_install_is_light_and_runs_the_metric_from_a_hub_copy(dist, mini_dataset, tmp_path_factory):
    """`pip install -r requirements.txt` of the metric folder alone (the project wheel from a local path):
    no torch, within the size budget, and `evaluate.load` + `compute` with the feature judge work,
    as does the dataset reader on a built benchmark."""
    root = tmp_path_factory.mktemp("core")
    reqs = [line.split("#")[0].strip() for line in (METRIC_DIR / "requirements.txt").read_text().splitlines()]
    py = _fresh_venv(root / "venv", dist, *[r for r in reqs if r])
    size = _site_mb(py)
    assert size <= CORE_BUDGET_MB, f"core install is {size:.0f} MB (budget {CORE_BUDGET_MB} MB)"

    copy = _hub_copy(root / "s2s_arena")
    fast, slow = _speech(root)
    script = root / "run_metric.py"
    script.write_text(METRIC_SCRIPT)
    proc = sh(py, script, copy, fast, slow, mini_dataset, cwd=root, env={**os.environ, **OFFLINE})
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"name": "s2s_arena_metric", "win_rate": 1.0, "n_invalid": 0, "samples": result["samples"],
                      "rate": 24000, "torch": False, "torchcodec": False}, result
    assert len(result["samples"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_space_extra_serves_and_the_metric_widget_app_judges(dist, tmp_path_factory):
    """`pip install s2s-arena[space]` alone: the Space's code imports and `serve --help` runs (serving a
    battle is the Space's own fresh-install test); the metric's Gradio 6 app starts from a Hub-like copy
    (script named s2s_arena.py beside app.py) and judges a pair through its API."""
    root = tmp_path_factory.mktemp("space")
    py = _fresh_venv(root / "venv", dist, "s2s-arena[space]")
    bin_dir = py.parent
    sh(py, "-c", "import s2s_arena.arena.web, s2s_arena.arena.store, gradio")
    assert "--responses" in sh(bin_dir / "s2s-arena", "serve", "--help").stdout
    assert sh(py, "-c", "import importlib.util; print(importlib.util.find_spec('torch') is None)").stdout.strip() == "True"

    copy = _hub_copy(root / "s2s_arena")
    fast, slow = _speech(root)
    port = _free_port()
    env = {**os.environ, **OFFLINE, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    log = open(root / "app.log", "w")
    app = subprocess.Popen([str(py), "app.py"], cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client_script = root / "client.py"
        client_script.write_text(
            "import json, sys, time\n"
            "from gradio_client import Client, handle_file\n"
            "for _ in range(240):\n"
            "    try:\n"
            "        c = Client(sys.argv[1], verbose=False); break\n"
            "    except Exception:\n"
            "        time.sleep(0.5)\n"
            "r = c.predict(handle_file(sys.argv[2]), handle_file(sys.argv[3]), 'Say it fast', 'L2',\n"
            "              'tongue_twister_fast', json.dumps({'speaking_rate': 'fast'}), api_name='/judge')\n"
            "print(json.dumps(r))\n")
        proc = sh(py, client_script, f"http://127.0.0.1:{port}/", fast, slow, env=env, timeout=300)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["win_rate"] == 1.0 and result["judge"] == "feature" and result["n_invalid"] == 0, result
        assert app.poll() is None, (root / "app.log").read_text()[-2000:]
    finally:
        app.terminate()
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
        log.close()
