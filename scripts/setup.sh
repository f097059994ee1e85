#!/usr/bin/env bash
# Set up whatever is missing on this machine for S2S-Arena: Debian packages, the virtual environment
# (.venv) with a CPU build of torch, and a PostgreSQL server on loopback for the vote store's tests.
# Safe to run again: every step checks first and does nothing when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg espeak-ng sox chromium postgresql fonts-dejavu-core)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv is re-synced only when pyproject.toml changed since the last install.
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: this is the CPU build on disk; a bare "torch" would pull a multi-GB CUDA build.
  # torchcodec with it: its native libraries are built against one torch release (0.13 <-> 2.13, the pair
  # verified here) and it does not declare that to pip, so an unpinned install could pick a newer one.
  .venv/bin/python -m pip install -q "torch==2.13.0" "torchcodec>=0.13,<0.14"
  # every extra (build, asr, space, ray, hf, postgres) plus the test tools
  .venv/bin/python -m pip install -q -e ".[all,test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

bash scripts/start_postgres.sh
echo "setup: ready (.venv, ffmpeg, espeak-ng, chromium, postgresql on 127.0.0.1)"
