#!/usr/bin/env bash
# Sets up ./.venv with xcost-tui and its test tools. Safe to run again (it only adds what is missing).
#
# torch: a torch already installed in .venv (or, with XCOST_SYSTEM_SITE_PACKAGES=1, in the Python
# that makes .venv) is kept when it is in the project's range (pyproject.toml: torch>=2.6,<3), so a
# CUDA build installed first stays; setup refuses one out of the range rather than replace it.
# Without a torch, it installs torch==2.13.0 (the CPU build lying on the build machine's disk; from
# PyPI elsewhere). scripts/torch_requirement.py makes that decision. Variables:
#   XCOST_TORCH='ARGS'            pip arguments that install torch, installed whatever is there, e.g.
#                                 XCOST_TORCH='torch==2.7.1 --index-url https://download.pytorch.org/whl/cu126'
#   XCOST_SYSTEM_SITE_PACKAGES=1  make .venv with --system-site-packages (a torch of that Python is kept)
#   XCOST_SETUP_PIP=1             install with pip instead of uv
#   XCOST_SETUP_DRY_RUN=1         make .venv if missing, say what would be installed, install nothing
#   PYTHON=python3.11             the Python that makes .venv
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_DEFAULT="torch==2.13.0"
DRY=${XCOST_SETUP_DRY_RUN:-}
if [ ! -x .venv/bin/python ]; then
  venv_args=()
  [ "${XCOST_SYSTEM_SITE_PACKAGES:-}" = 1 ] && venv_args+=(--system-site-packages)
  "$PY" -m venv ${venv_args[@]+"${venv_args[@]}"} .venv
elif [ "${XCOST_SYSTEM_SITE_PACKAGES:-}" = 1 ] && ! grep -qi '^include-system-site-packages *= *true' .venv/pyvenv.cfg; then
  echo "setup: .venv exists without --system-site-packages, so XCOST_SYSTEM_SITE_PACKAGES=1 changes nothing: remove .venv to make it again" >&2
fi
. .venv/bin/activate
# a venv made without pip (`uv venv`, --without-pip): the torch decision and the install need it
if ! python -m pip --version >/dev/null 2>&1; then
  python -m ensurepip --upgrade >/dev/null 2>&1 || { echo "setup: .venv has no pip and ensurepip could not add it: remove .venv and run setup again" >&2; exit 1; }
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The torch decision: a first line keep, keep-outside or install, then pip's arguments for torch.
decision=$(python scripts/torch_requirement.py decide --default "$TORCH_DEFAULT") || exit 1
torch_action= torch_args=()
while IFS= read -r line; do
  if [ -z "$torch_action" ]; then torch_action=$line; else torch_args+=("$line"); fi
done <<<"$decision"
use_pip=${XCOST_SETUP_PIP:-}
# uv does not count packages outside the environment as installed (astral-sh/uv#2101): it would
# install a second torch into .venv beside the kept one. pip sees them.
[ "$torch_action" = keep-outside ] && use_pip=1
[ "$DRY" = 1 ] && echo "setup: dry run (XCOST_SETUP_DRY_RUN=1): nothing is installed" >&2

# step CMD...: runs CMD with its output in $log (shown by the caller when it fails); a dry run prints it.
step() {
  if [ "$DRY" = 1 ]; then printf 'setup: would run:'; printf ' %q' "$@"; printf '\n'; return 0; fi
  "$@" >"$log" 2>&1
}
pipi() { step python -m pip install -q --disable-pip-version-check "$@" || { cat "$log" >&2; exit 1; }; }
# The torch now installed, in range, pinned while the project installs so that no resolver swaps
# it for another build (pip and uv keep an installed version that satisfies a pin).
torch_pin() {
  if [ "$DRY" = 1 ] && [ "$torch_action" = install ]; then echo "torch==<the version installed above>"; return 0; fi
  echo "torch==$(python scripts/torch_requirement.py check)"
}
# uv resolves and installs the same versions as pip about ten times faster (15 s instead of 2.5 min
# on the CI machine, most of CI's set-up). uv does not read pip's configuration, so the indexes,
# find-links and constraints pip is configured with (a local wheel store, a mirror) are handed
# over; without uv, or when it fails, pip does the same work.
# pip's precedence: its environment variables, then the site, user and global files (`pip config get`
# alone reads the user file only: the global file's constraint was not handed over)
pip_setting() {
  python -m pip config get ":env:.$1" 2>/dev/null && return 0
  local variant
  for variant in --site --user --global; do python -m pip config "$variant" get "global.$1" 2>/dev/null && return 0; done
  true
}
uv_install() {
  step python -m pip install -q --disable-pip-version-check uv || return 1
  local index=() rest=() v own_index=
  v=$(pip_setting index-url); [ -n "$v" ] && index=(--index-url "$v")
  for v in $(pip_setting extra-index-url); do rest+=(--extra-index-url "$v"); done
  for v in $(pip_setting find-links); do rest+=(--find-links "$v"); done
  v=$(pip_setting constraint); [ -n "$v" ] && [ -f "$v" ] && rest+=(--constraint "$v")
  # pip takes the best version from any index; uv's default stops at the first index that has the name
  # --compile-bytecode: pip writes .pyc files at install, uv does not by default; where
  # PYTHONDONTWRITEBYTECODE is set (this CI machine) every process would compile torch and
  # transformers from source again (import 3.1 s instead of 1.8 s, the test suite 50% slower)
  local uvpi=(python -m uv pip install -q --compile-bytecode --python "$(command -v python)" --index-strategy unsafe-best-match)
  if [ "$torch_action" = install ]; then
    # XCOST_TORCH's own index (PyTorch's CUDA wheels) takes the place of pip's: uv accepts one --index-url
    for v in "${torch_args[@]}"; do case $v in -i | -i?* | --index-url | --index-url=*) own_index=1 ;; esac; done
    if [ -n "$own_index" ]; then
      step "${uvpi[@]}" ${rest[@]+"${rest[@]}"} "${torch_args[@]}" || return 1
    else
      step "${uvpi[@]}" ${index[@]+"${index[@]}"} ${rest[@]+"${rest[@]}"} "${torch_args[@]}" || return 1
    fi
  fi
  local pin
  pin=$(torch_pin) || exit 1
  step "${uvpi[@]}" ${index[@]+"${index[@]}"} ${rest[@]+"${rest[@]}"} -e ".[dev]" "$pin"
}
if [ "$use_pip" = 1 ] || ! uv_install; then
  [ "$use_pip" = 1 ] || echo "setup: uv could not install; using pip (slower)" >&2
  [ "$torch_action" = install ] && pipi "${torch_args[@]}"
  pin=$(torch_pin) || exit 1
  pipi -e ".[dev]" "$pin"
fi
[ "$DRY" = 1 ] && exit 0
# The project is installed editable: its own modules are compiled here for the same reason.
python -m compileall -q -j 0 xcost_tui >/dev/null || true
python -c "import xcost_tui, torch, transformers, duckdb, textual" || { echo "setup: the install did not complete" >&2; exit 1; }
# tmux drives the real-terminal test of the app; install it when missing and we may.
if ! command -v tmux >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) || echo "setup: could not install tmux; the tmux test will be skipped" >&2
fi
