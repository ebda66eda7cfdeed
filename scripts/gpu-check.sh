#!/usr/bin/env bash
# The GPU check of issue 17 (docs/gpu-validation.md): a thin wrapper that sets the environment and
# runs scripts/gpu_check.py from the repository root. --help says what it does and how to run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'EOF'
usage: scripts/gpu-check.sh [--dry-run] [--out DIR] [--budget-s SECONDS]

Measures, on one GPU and in under 8 minutes, what issue 17 asks of the job's cost figures:
  warmup         the first training step of a fresh process against steady state (one-time CUDA cost)
  mfu            MFU of bf16 training of XLM-R large at batch 16 and 32 (analytic FLOPs, data-sheet peak)
  flop_counting  a step under torch's FlopCounterMode against a plain one; counted / analytic FLOPs
  energy         NVML's energy counter against its power readings integrated over the same window
  memory         CUDA peak memory of a direct-shaped and a few-shot-shaped training phase
  icl_lmeval     the ICL scorer against lm-eval's loglikelihood on an XGLM-564M-shaped model
Models get random weights from the published configs: nothing is downloaded (offline, as on a
compute node). Writes DIR/gpu-check.json and DIR/gpu-validation.md (default DIR: gpu-check-out).
A failing section records its error and the others still run; --budget-s (default 420) skips
what is left once spent. Exit status 1 when any section gave no figures.

  --dry-run     tiny shapes (2 layers, hidden 64) on the CPU, every section, in seconds: what CI
                runs (tests/scripts/test_gpu_check.py); GPU-only figures are null with a reason
  --out DIR     where the two files go

Python: $PYTHON if set, else .venv/bin/python if present, else python3.
Environment set here: CUBLAS_WORKSPACE_CONFIG=:4096:8 (deterministic cuBLAS, as the job trains),
HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1, PYTHONUNBUFFERED=1, PYTHONPATH=<repo root>.

Examples:
  scripts/gpu-check.sh --dry-run --out /tmp/gpu-check       # on any machine
  scripts/gpu-check.sh --out "$OUT"                           # on a GPU (docs/gpu-validation.md)
EOF
}

for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
    esac
done

if [[ -n "${PYTHON:-}" ]]; then
    PY="$PYTHON"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then
    PY="$ROOT/.venv/bin/python"
else
    PY="python3"
fi

export CUBLAS_WORKSPACE_CONFIG=":4096:8" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" "$ROOT/scripts/gpu_check.py" "$@"
