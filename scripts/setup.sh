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
# uv resolves and installs the same versions as pip about ten times faster (15 s instead of 2.5 min
# on the CI machine, most of CI's set-up). uv does not read pip's configuration, so the indexes,
# find-links and constraints pip is configured with (a local wheel store, a mirror) are handed
# over; without uv, or when it fails, pip does the same work.
pip_setting() { python -m pip config get "global.$1" 2>/dev/null || python -m pip config get ":env:.$1" 2>/dev/null || true; }
uv_install() {
  python -m pip install -q --disable-pip-version-check uv >"$log" 2>&1 || return 1
  local args=() v
  v=$(pip_setting index-url); [ -n "$v" ] && args+=(--index-url "$v")
  for v in $(pip_setting extra-index-url); do args+=(--extra-index-url "$v"); done
  for v in $(pip_setting find-links); do args+=(--find-links "$v"); done
  v=$(pip_setting constraint); [ -n "$v" ] && [ -f "$v" ] && args+=(--constraint "$v")
  # pip takes the best version from any index; uv's default stops at the first index that has the name
  # --compile-bytecode: pip writes .pyc files at install, uv does not by default; where
  # PYTHONDONTWRITEBYTECODE is set (this CI machine) every process would compile torch and
  # transformers from source again (import 3.1 s instead of 1.8 s, the test suite 50% slower)
  python -m uv pip install -q --compile-bytecode --python "$(command -v python)" --index-strategy unsafe-best-match \
    ${args[@]+"${args[@]}"} torch==2.13.0 -e ".[dev]" >"$log" 2>&1
}
if [ "${XCOST_SETUP_PIP:-}" = 1 ] || ! uv_install; then
  [ "${XCOST_SETUP_PIP:-}" = 1 ] || echo "setup: uv could not install; using pip (slower)" >&2
  pipi torch==2.13.0
  pipi -e ".[dev]"
fi
rm -f "$log"
# The project is installed editable: its own modules are compiled here for the same reason.
python -m compileall -q -j 0 xcost_tui >/dev/null || true
python -c "import xcost_tui, torch, transformers, duckdb, textual" || { echo "setup: the install did not complete" >&2; exit 1; }
# tmux drives the real-terminal test of the app; install it when missing and we may.
if ! command -v tmux >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) || echo "setup: could not install tmux; the tmux test will be skipped" >&2
fi
