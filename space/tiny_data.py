"""A tiny benchmark folder and responses folder made of synthetic tones, for tests and the load bench.

The Space only needs real files in the real layouts (a ``datasets`` folder with configs and level
splits; ``RESP/<system>/`` written by ``ResponseWriter``), not speech; tones of different pitch let a
test tell the clips apart. The full pipeline (``s2s-arena build`` + reference systems) makes the real
thing; this keeps the Space's tests independent of it and fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from s2s_arena.audio import SAMPLE_RATE, encode_wav
from s2s_arena.responses import ResponseWriter
from s2s_arena.schema import LEVELS, SystemInfo

SYSTEM_NAMES = ("zebrafinch-s2s", "lyrebird-voice", "nightjar-omni")


def tone(freq: float, duration_s: float, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(duration_s * sr)) / sr
    env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)  # 50 ms fades: no clicks
    x = 0.3 * np.sin(2 * np.pi * freq * t) * env + 0.01 * rng.standard_normal(t.shape)
    return x.astype(np.float32)


def write_dataset(out: str | Path, n_per_level: int = 2, duration_s: float = 1.0, seed: int = 0) -> Path:
    """A dataset folder readable by ``s2s_arena.benchmark.load_benchmark(out)`` (config ``all``)."""
    from datasets import Audio, Dataset, Features, Value

    out = Path(out)
    rng = np.random.default_rng(seed)
    feats = Features({
        "id": Value("string"), "level": Value("string"), "domain": Value("string"), "task": Value("string"),
        "language": Value("string"), "instruction_text": Value("string"), "evaluation_target": Value("string"),
        "requirements": Value("string"), "input_cues": Value("string"), "reference_response": Value("string"),
        "seed_id": Value("string"), "stage": Value("string"), "augmentation": Value("string"),
        "source": Value("string"), "qa": Value("string"), "audio": Audio(sampling_rate=SAMPLE_RATE),
    })
    card_splits = []
    for level in LEVELS:
        rows = []
        for i in range(n_per_level):
            sid = f"{level.lower()}-tone-{i:03d}"
            rows.append({
                "id": sid, "level": level, "domain": "daily", "task": "tone_check", "language": "en",
                "instruction_text": f"Please answer question {i} of level {level} clearly.",
                "evaluation_target": "Which response answers the question in a clear, natural voice?",
                "requirements": json.dumps({"speaking_rate": "normal"} if level in ("L2", "L3") else {}),
                "input_cues": json.dumps({"emotion": "happy"} if level in ("L1", "L3") else {}),
                "reference_response": "A clear answer.", "seed_id": sid, "stage": "seed",
                "augmentation": "{}", "source": "tts:espeak-ng", "qa": "{}",
                "audio": {"bytes": encode_wav(tone(220 + 40 * i, duration_s, rng)), "path": f"{sid}.wav"},
            })
        path = out / "data" / "all" / f"{level}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=feats).to_parquet(str(path))
        card_splits.append(f"  - split: {level}\n    path: data/all/{level}-*.parquet")
    (out / "README.md").write_text(
        "---\nconfigs:\n- config_name: all\n  default: true\n  data_files:\n" + "\n".join(card_splits)
        + "\n---\n\n# Tiny S2S-Arena tone set (tests only)\n", encoding="utf-8")
    return out


def write_responses(resp: str | Path, sample_ids: list[str], systems: tuple[str, ...] = SYSTEM_NAMES,
                    duration_s: float = 1.0, seed: int = 0) -> Path:
    """One response per (system, sample): a tone whose pitch identifies the system."""
    resp = Path(resp)
    rng = np.random.default_rng(seed)
    for k, name in enumerate(systems):
        w = ResponseWriter(resp, SystemInfo(name=name))
        for sid in sample_ids:
            if sid not in w.done:
                w.write(sid, tone(330 * (k + 1), duration_s, rng), SAMPLE_RATE, text="an answer")
    return resp


def write_arena(root: str | Path, n_per_level: int = 2, duration_s: float = 1.0, seed: int = 0) -> tuple[Path, Path]:
    """(dataset folder, responses folder) under ``root``."""
    root = Path(root)
    data = write_dataset(root / "data", n_per_level, duration_s, seed)
    ids = [f"{lv.lower()}-tone-{i:03d}" for lv in LEVELS for i in range(n_per_level)]
    return data, write_responses(root / "responses", ids, duration_s=duration_s, seed=seed)
