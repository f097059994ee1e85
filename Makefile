# Two commands do everything on a fresh machine (Debian, Python 3.11):
#   make demo   set up what is missing, then run the main job (`s2s-arena demo`)
#   make test   set up what is missing, then run the test suite (this is what CI runs)
.PHONY: setup demo test bench

VENV := .venv
PG_URL ?= postgresql+psycopg://s2s_arena:s2s_arena@127.0.0.1:5432/s2s_arena_test

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/s2s-arena demo $(ARGS)

test: setup
	S2S_ARENA_TEST_PG_URL=$(PG_URL) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done
