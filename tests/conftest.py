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
