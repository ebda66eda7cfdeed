"""xcost-tui's command line as a user runs it, for end-to-end tests: a verb in a subprocess, SQL
through ``xcost-tui sql``, and a plan run headless and then reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.timeouts import E2E_COMMAND_TIMEOUT_S


def xcost(args: list[str], timeout: float, *, no_heavy_imports: bool = True) -> subprocess.CompletedProcess:
    """``python -m xcost_tui ARGS``; with ``no_heavy_imports`` the torch-free verbs assert they
    import no torch (``XCOST_ASSERT_NO_HEAVY_IMPORTS``)."""
    env = {**os.environ, "TERM": "dumb"}
    if no_heavy_imports:
        env["XCOST_ASSERT_NO_HEAVY_IMPORTS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "xcost_tui", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def sql_rows(store: Path, query: str) -> list[dict]:
    """The rows of ``xcost-tui sql --format json QUERY`` on ``store``."""
    proc = xcost(["sql", "--store", str(store), "--format", "json", query], 120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def run_and_report(
    plan: Path, data_dir: Path, n_runs: int, *, timeout: float = E2E_COMMAND_TIMEOUT_S, no_heavy_imports: bool = True
) -> tuple[Path, Path, str]:
    """Runs ``plan`` headless into ``<plan's folder>/store`` (every one of its ``n_runs`` must
    succeed), then writes its report to ``<plan's folder>/report``: (store, report folder, what
    the report printed)."""
    root = plan.parent
    store, out = root / "store", root / "report"
    headless = ["--headless", str(plan), "--data-dir", str(data_dir), "--store", str(store)]
    proc = xcost(headless, timeout, no_heavy_imports=no_heavy_imports)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{n_runs}/{n_runs} runs succeeded" in proc.stdout
    # the runs ran beside the rest of the suite: contended, and left out of costs unless brought in
    report = ["report", str(plan), "--store", str(store), "--out", str(out), "--include-contended"]
    proc = xcost(report, 600, no_heavy_imports=no_heavy_imports)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return store, out, proc.stdout
