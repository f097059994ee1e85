"""Assemble a Space folder that runs on Hugging Face Spaces as it is, and check its card.

The folder holds ``app.py`` and ``README.md`` from the repository's ``space/``, the ``s2s_arena``
package unpacked from the project wheel (Spaces install ``requirements.txt`` before the rest of the
repository is copied into the image, so a wheel path in it cannot resolve; the package beside
``app.py`` always can), and a ``requirements.txt`` written from that wheel's own metadata: its core
dependencies plus the ``space`` and ``postgres`` extras, nothing but names from PyPI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

from s2s_arena.errors import ConfigError, MissingError

SPACE_FILES = ("app.py", "README.md")
EXTRAS = ("space", "postgres")
HUB_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
SHORT_DESCRIPTION_MAX = 60  # the Hub refuses a longer short_description


def repo_space_dir() -> Path:
    d = Path(__file__).resolve().parents[2] / "space"
    if not (d / "app.py").is_file():
        raise MissingError(f"{d}: no space/ folder here; run `s2s-arena space` from an S2S-Arena source checkout")
    return d


def build_wheel(out_dir: Path) -> Path:
    """The project wheel, built from the source checkout (no dependencies fetched)."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(root), "-w", str(out_dir)], capture_output=True, text=True)
    wheels = sorted(out_dir.glob("s2s_arena-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ConfigError(f"could not build the project wheel: {proc.stderr.strip()[-400:]}")
    return wheels[-1]


def requirements_from_wheel(wheel: Path) -> list[str]:
    """Requires-Dist of the wheel: unconditional ones plus the ``space`` and ``postgres`` extras."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        msg = Parser().parsestr(z.read(meta).decode("utf-8"))
    out: list[str] = []
    for req in msg.get_all("Requires-Dist") or []:
        spec, _, marker = req.partition(";")
        m = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if marker.strip() and not m:
            spec = req  # a platform marker: keep it as it is
        elif m and m.group(1) not in EXTRAS:
            continue
        spec = spec.strip()
        if spec and spec not in out and not spec.startswith("s2s-arena"):
            out.append(spec)
    return out


def check_card(readme: str) -> list[str]:
    """Problems with a Space card's YAML header that the Hub would refuse or mis-read (empty: fine)."""
    import yaml

    m = re.match(r"^---\n(.*?)\n---\n", readme, re.S)
    if not m:
        return ["README.md: no YAML header between --- lines"]
    try:
        card = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as e:
        return [f"README.md: YAML header does not parse: {e}"]
    problems = []
    for key in ("title", "sdk", "sdk_version", "app_file", "short_description"):
        if not card.get(key):
            problems.append(f"README.md: {key} missing")
    if card.get("sdk") not in (None, "gradio"):
        problems.append(f"README.md: sdk {card.get('sdk')!r}: this Space is a gradio Space")
    sd = str(card.get("short_description") or "")
    if len(sd) > SHORT_DESCRIPTION_MAX:
        problems.append(f"README.md: short_description is {len(sd)} characters; the Hub allows {SHORT_DESCRIPTION_MAX}")
    for key in ("colorFrom", "colorTo"):
        if key in card and card[key] not in HUB_COLORS:
            problems.append(f"README.md: {key} {card[key]!r}: expected one of {', '.join(sorted(HUB_COLORS))}")
    emoji = str(card.get("emoji") or "")
    if emoji and (len(emoji) > 2 or emoji.isascii()):
        problems.append(f"README.md: emoji {emoji!r}: expected one emoji")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", str(card.get("sdk_version") or "0.0")):
        problems.append(f"README.md: sdk_version {card.get('sdk_version')!r}: expected a version like 6.31.0")
    tags = card.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and re.fullmatch(r"[a-z0-9-]{1,100}", t) for t in tags):
        problems.append("README.md: tags: expected a list of lower-case words with dashes")
    if card.get("hf_oauth") is not True:
        problems.append("README.md: hf_oauth: true is needed for Sign in with Hugging Face (counted votes)")
    return problems


def assemble(out: str | Path, *, wheel: str | Path | None = None, force: bool = False) -> Path:
    """Write the Space folder ``out``; returns it. ``wheel``: a built project wheel (else built now)."""
    out = Path(out)
    src = repo_space_dir()
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"{out}: folder exists and is not empty (use --force to replace it)")
        shutil.rmtree(out)
    problems = check_card((src / "README.md").read_text(encoding="utf-8"))
    if problems:
        raise ConfigError("; ".join(problems))
    with tempfile.TemporaryDirectory(prefix="s2s_arena_wheel_") as tmp:
        whl = Path(wheel) if wheel else build_wheel(Path(tmp))
        if not whl.is_file():
            raise MissingError(f"{whl}: no such wheel")
        out.mkdir(parents=True, exist_ok=True)
        for name in SPACE_FILES:
            shutil.copy2(src / name, out / name)
        with zipfile.ZipFile(whl) as z:
            members = [n for n in z.namelist() if n.startswith("s2s_arena/") and "__pycache__" not in n]
            if not any(n == "s2s_arena/arena/web.py" for n in members):
                raise ConfigError(f"{whl}: not an S2S-Arena wheel with the arena (s2s_arena/arena/web.py missing)")
            z.extractall(out, members)
        reqs = requirements_from_wheel(whl)
    (out / "requirements.txt").write_text(
        "# Written by `s2s-arena space` from the s2s-arena wheel's metadata (core + space + postgres extras).\n"
        "# The s2s_arena package itself is the folder beside app.py.\n" + "\n".join(reqs) + "\n", encoding="utf-8")
    return out
