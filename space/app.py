"""Hugging Face Spaces entry point (``app_file: app.py``): the arena itself lives in the installed
``s2s_arena`` package (``s2s_arena.arena``), so this folder can be pushed to a Space as it is."""

from pathlib import Path

from s2s_arena.arena.web import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
