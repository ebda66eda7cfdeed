"""Helpers to run ``xcost-tui run`` in a subprocess and read what it left in the run directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xcost_tui.rundir import read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS

# Small enough for seconds on 2 CPU cores; large enough that every code path runs.
QUICK = [
    "--max-train-examples",
    "48",
    "--max-eval-examples",
    "24",
    "--max-steps",
    "3",
    "--batch-size",
    "8",
    "--grad-accum",
    "1",
    "--max-seq-len",
    "64",
]


def run_cli(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "xcost_tui", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def run_job(out: Path, data_dir: Path, *extra: str, quick: bool = True) -> subprocess.CompletedProcess:
    args = ["run", "--model", "tiny-xlmr", "--data-dir", str(data_dir), "--out", str(out), *extra]
    if quick:
        args += QUICK
    return run_cli(args)


def events(run_dir: Path) -> list[dict]:
    return read_jsonl(run_dir / EVENTS)


def phase_ends(run_dir: Path) -> dict[str, dict]:
    return {e["phase"]: e for e in events(run_dir) if e["type"] == "phase_end"}


def eval_results(run_dir: Path) -> dict[str, dict]:
    return {e["lang"]: e for e in events(run_dir) if e["type"] == "eval_result"}


def status(run_dir: Path) -> str | None:
    return getattr(read_status(run_dir), "status", None)
