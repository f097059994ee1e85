"""Hugging Face Spaces entry point (``app_file: app.py``). The arena lives in the ``s2s_arena`` package:
``s2s-arena space --out DIR`` puts it next to this file (Spaces install requirements.txt before the
rest of the folder is copied in, so a wheel path there could not work), or it is installed."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

try:
    from s2s_arena.arena.web import main
except ModuleNotFoundError as e:
    if e.name != "s2s_arena":
        raise
    sys.exit("S2S-Arena: the s2s_arena package is missing; push the folder that `s2s-arena space --out DIR` "
             "assembles (it carries the package), not the repository's space/ folder alone")

if __name__ == "__main__":
    main(HERE)
