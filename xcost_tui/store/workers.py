"""The store's ``workers`` table: one row per warm worker, rebuilt from the worker folders
(``<store>/workers/<id>/worker.jsonl``, rundir/worker.py) at every ingest (they are few and small).

A worker's start-up is paid once for all its runs: its row holds it (wall and CPU seconds), each
run's row names its worker (``runs.worker_id``), so the full pipeline's cost stays whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..rundir import StoreLayout
from ..rundir.fields import as_timestamp
from ..rundir.worker import read_worker_log
from . import db, schema


def worker_rows(store_root: Path) -> list[dict[str, Any]]:
    layout = StoreLayout(store_root)
    rows = []
    for wdir in layout.worker_dirs():
        log = read_worker_log(wdir.record)
        start, end = log.start, log.end
        rows.append(
            {
                "worker_id": wdir.worker_id,
                "pid": start.pid if start else None,
                "host": start.host if start else None,
                "slot": start.slot if start else None,
                "threads": start.threads if start else None,
                "created_at": as_timestamp(start.create_time) if start else None,
                "ready_at": as_timestamp(start.t) if start else None,
                "startup_wall_s": start.startup_wall_s if start else None,
                "startup_cpu_s": start.startup_cpu_s if start else None,
                "runs": len(log.runs),
                "cpu_s": log.cpu_s,
                "runs_cpu_s": sum(r.cpu_end_s - r.cpu_start_s for r in log.runs),
                "ended_at": as_timestamp(end.t) if end else None,
                "end_reason": end.reason if end else None,
                "path": layout.relative(wdir.path),
            }
        )
    return rows


def write_workers(con: duckdb.DuckDBPyConnection, store_root: Path) -> int:
    """Rebuilds the workers table in one transaction; returns its rows."""
    table = pa.Table.from_pylist(worker_rows(store_root), schema=schema.arrow_schema("workers"))
    with db.transaction(con):
        con.execute("DELETE FROM workers")
        if table.num_rows:
            con.register("_xcost_workers", table)
            try:
                con.execute("INSERT INTO workers BY NAME SELECT * FROM _xcost_workers")
            finally:
                con.unregister("_xcost_workers")
    n: int = table.num_rows  # pyarrow is untyped
    return n
