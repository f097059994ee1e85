"""`python -m s2s_arena`: the same command as `s2s-arena`."""

import sys

from s2s_arena.cli import main

if __name__ == "__main__":
    sys.exit(main())
