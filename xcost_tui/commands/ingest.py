"""``xcost-tui ingest [RUN_DIR ...]``: (re)build the DuckDB store from run directories.

The store room does the work (``store.ingest.ingest``, idempotent); this verb prints a line per
run ingested, the warnings and a summary. Exit 0, 1 when a named run directory is missing or the
disk is full ("no space left on <path>: free space and run `xcost-tui ingest ...` again"), 2 on
another error (a store that cannot be opened or written: read-only, locked, damaged).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import XcostError
from ..runner.gone import settle_gone
from ..store import db
from ..store.ingest import StagedRun, find_run_dirs, ingest, is_run_dir


def ingest_command(store_root: Path, run_dirs: list[Path]) -> int:
    """Ingest the named run directories, or (none named) rebuild the store from every run
    directory under <store>/runs. One line per run, then warnings and a summary. A run left
    running whose job process is gone (killed with its launcher) is recorded failed first, by the
    supervisor's rule (runner/gone.py)."""

    def on_run(staged: StagedRun) -> None:
        print(f"ingested {staged.summary()}", flush=True)
        for w in staged.warnings:
            print(f"  warning: {w}", file=sys.stderr, flush=True)

    for run_dir in run_dirs or find_run_dirs(store_root):
        if is_run_dir(run_dir) and settle_gone(run_dir) is not None:
            print(
                f"warning: {run_dir.name}: left running, its job process is gone; recorded as failed", file=sys.stderr
            )
    try:
        report = ingest(store_root, run_dirs or None, on_run=on_run)
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    for w in report.warnings:
        if not any(w in s.warnings for s in report.ingested):
            print(f"warning: {w}", file=sys.stderr)
    path = db.db_path(store_root)
    parts = [f"{len(report.ingested)} run{'s' if len(report.ingested) != 1 else ''} ingested"]
    if report.unchanged:
        parts.append(f"{len(report.unchanged)} unchanged")
    if report.pruned:
        parts.append(
            f"{len(report.pruned)} removed (run directory gone: {', '.join(report.pruned[:5])}"
            f"{', ...' if len(report.pruned) > 5 else ''})"
        )
    if report.rebuilt:
        parts.append("store (re)built from the run directories")
    if not report.ingested and not run_dirs:
        parts.append(f"no run directories under {db.runs_dir(store_root)}")
    print(f"{path}: {'; '.join(parts)} ({report.seconds:.2f} s)")
    return 1 if report.missing else 0
