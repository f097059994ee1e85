"""Shared pytest fixtures. Heavy fixtures (a built mini dataset) are session-scoped and cached."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No test may reach a hub: everything a test needs it builds itself.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def v1_labels_path() -> Path:
    """The real S2S-Arena v1 human labels (outside the repo); the test is skipped when absent."""
    path = REFERENCE_DIR / "s2s_arena_v1_human_labels.json"
    if not path.is_file():
        pytest.skip(f"reference data not present: {path}")
    return path


@pytest.fixture(scope="session")
def mini_dataset(tmp_path_factory) -> Path:
    """A small real build (every level present), shared by the tests that need a benchmark folder."""
    from s2s_arena_dataset.pipeline.build import build_dataset

    out = tmp_path_factory.mktemp("mini_dataset")
    return Path(build_dataset(out, limit=16, seed=0))


@pytest.fixture(scope="session")
def mini_samples(mini_dataset):
    from s2s_arena.benchmark import load_benchmark

    return load_benchmark(mini_dataset)


@pytest.fixture(scope="session")
def mini_responses(tmp_path_factory, mini_samples) -> Path:
    """The four reference systems rendered for the mini dataset (a responses folder)."""
    from s2s_arena.systems.reference import render_reference_systems

    out = tmp_path_factory.mktemp("mini_responses")
    render_reference_systems(mini_samples, out, seed=0)
    return out


# A fifth system for the Space's tests: the sampler then has ten pairs, and a system name that cannot
# occur by chance in a page or an instruction ("reference", "echo" are ordinary words) makes the
# anonymity checks unambiguous. Its responses are real speech from s2s_arena.synth: the reference
# answer, spoken fast and ignoring the requested paralinguistics.
FIFTH_SYSTEM = "kestrel-s2s-zq"


@pytest.fixture(scope="session")
def arena_responses(tmp_path_factory, mini_samples, mini_responses) -> Path:
    """The four reference systems of ``mini_responses`` plus :data:`FIFTH_SYSTEM` (a copy; the shared
    folder stays untouched)."""
    import shutil

    from s2s_arena.responses import ResponseWriter
    from s2s_arena.schema import SystemInfo
    from s2s_arena.synth import get_synthesizer

    out = tmp_path_factory.mktemp("arena_responses")
    shutil.copytree(mini_responses, out, dirs_exist_ok=True)
    writer = ResponseWriter(out, SystemInfo(name=FIFTH_SYSTEM, description="reference answer, fast, no cues"))
    synth = get_synthesizer("espeak")
    for i, s in enumerate(mini_samples):
        spoken = synth.synthesize(s.reference_response, language=s.language, rate=1.4, seed=i)
        writer.write(s.id, spoken.audio, spoken.sr, text=s.reference_response)
    return out


@pytest.fixture(scope="session")
def fifth_system() -> str:
    return FIFTH_SYSTEM


# Debian's Chromium, driven by Playwright (never `playwright install`); flags for a closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (the browser tests need it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
