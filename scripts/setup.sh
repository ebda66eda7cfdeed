#!/usr/bin/env bash
# Sets up ./.venv with xcost-tui and its test tools. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
# torch first, pinned to the CPU build that lies on this machine's disk; the project itself
# only asks for a range, so a CUDA build on a GPU workstation satisfies it too.
log=$(mktemp)
pipi() { python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }; }
pipi torch==2.13.0
pipi -e ".[dev]"
rm -f "$log"
python -c "import xcost_tui, torch, transformers, duckdb, textual" || { echo "setup: the install did not complete" >&2; exit 1; }
# tmux drives the real-terminal test of the app; install it when missing and we may.
if ! command -v tmux >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) || echo "setup: could not install tmux; the tmux test will be skipped" >&2
fi
