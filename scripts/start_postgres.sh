#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster on loopback and make sure the test role and database exist.
# The vote store's PostgreSQL tests connect to $S2S_ARENA_TEST_PG_URL (see Makefile).
set -euo pipefail
command -v pg_lsclusters >/dev/null 2>&1 || { echo "postgres: not installed; skipping"; exit 0; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
cluster=$(pg_lsclusters -h | head -n1)
[ -n "$cluster" ] || { echo "postgres: no cluster found"; exit 0; }
ver=$(echo "$cluster" | awk '{print $1}'); name=$(echo "$cluster" | awk '{print $2}')
if ! echo "$cluster" | grep -q online; then
  $SUDO pg_ctlcluster "$ver" "$name" start
fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
as_pg psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='s2s_arena'" | grep -q 1 \
  || as_pg psql -qc "CREATE ROLE s2s_arena LOGIN PASSWORD 's2s_arena'"
as_pg psql -qtAc "SELECT 1 FROM pg_database WHERE datname='s2s_arena_test'" | grep -q 1 \
  || as_pg psql -qc "CREATE DATABASE s2s_arena_test OWNER s2s_arena"
