"""The store's forecasts: the ``forecasts`` table, rebuilt from the forecast files at ingest, and
the questions asked of it.

The files (``<store>/forecasts/<id>.json``, the source of truth like run directories) and their
record are ``rundir/forecast.py``; a forecast's rows are ``rows.forecast_rows``.

- ``write_forecasts``: the table, rebuilt in one transaction when the files changed.
- ``suggested_time_limit(spec)``: the SLURM ``--time`` (seconds) of the newest forecast of that
  run (forecast x safety factor, rounded up to minutes), or None when no forecast knows the run.
  For an executor whose plan sets no time limit: run ``xcost-tui plan estimate PLAN`` first.
- ``forecast_summary`` (the headless line) and ``phase_forecasts`` (the app's run detail) read the
  store's ``forecast_error`` view and ``forecasts`` table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from ..rundir import StoreLayout
from ..rundir.forecast import latest_run_forecasts, load_forecasts
from . import db, schema
from .rows import forecast_rows

if TYPE_CHECKING:
    from ..spec import RunSpec

STORE_ENV = "XCOST_STORE"
FORECASTS_SIG = "forecasts_sig"  # meta key: the forecast files the forecasts table was built from


# ---- the table ----------------------------------------------------------------------------------


def forecasts_sig(con: duckdb.DuckDBPyConnection) -> str | None:
    """The signature of the forecast files the table was last built from; None when never built."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", [FORECASTS_SIG]).fetchone()
    except duckdb.Error:
        return None
    if not row:
        return None
    value: str | None = row[0]
    return value


def write_forecasts(con: duckdb.DuckDBPyConnection, store_root: Path, signature: str, warnings: list[str]) -> int:
    """Rebuild the forecasts table from ``<store>/forecasts/*.json`` in one transaction; returns its rows."""
    layout = StoreLayout(store_root)
    rows = [
        row for path, fc in load_forecasts(store_root, warnings) for row in forecast_rows(fc, layout.relative(path))
    ]
    table = pa.Table.from_pylist(rows, schema=schema.arrow_schema("forecasts"))
    with db.transaction(con):
        con.execute("DELETE FROM forecasts")
        if table.num_rows:
            con.register("_xcost_stage", table)
            try:
                con.execute("INSERT INTO forecasts BY NAME SELECT * FROM _xcost_stage")
            finally:
                con.unregister("_xcost_stage")
        con.execute("DELETE FROM meta WHERE key = ?", [FORECASTS_SIG])
        con.execute("INSERT INTO meta VALUES (?, ?)", [FORECASTS_SIG, signature])
    n: int = table.num_rows  # pyarrow is untyped
    return n


# ---- questions ----------------------------------------------------------------------------------


def _store(store: str | os.PathLike[str] | None) -> Path:
    return Path(store if store is not None else os.environ.get(STORE_ENV, "store"))


def suggested_time_limit(spec: RunSpec, store: str | os.PathLike[str] | None = None) -> float | None:
    """The SLURM ``--time`` in seconds suggested for ``spec`` (a RunSpec): its newest forecast's wall
    time (phases and start-up) x the forecast's safety factor (default 1.5), rounded up to whole
    minutes and at least 5 minutes; None when no forecast of the store knows this run.

    ``store`` defaults to ``$XCOST_STORE``, else ./store. For the SLURM executor, when the plan sets
    no time limit; ``rundir.forecast.slurm_time(seconds)`` writes it as ``--time`` takes it."""
    found = latest_run_forecasts(_store(store), [spec.run_id()]).get(spec.run_id())
    if found is None:
        return None
    _, run = found
    return run.suggested_time_s


def forecast_summary(store: str | os.PathLike[str], run_ids: list[str]) -> str | None:
    """'forecast 1.9 h, measured 2.1 h, +11% (...)': device-hours of the phases that have both,
    from the store's forecast_error view; None when none of these runs has a forecast."""
    if not run_ids:
        return None
    with db.connect_ro(Path(store)) as con:
        row = con.execute(
            "SELECT sum(forecast_device_hours), sum(measured_device_hours), count(*), count(DISTINCT run_id), "
            "count(*) FILTER (WHERE assumed), any_value(mode), any_value(forecast_device), max(made_at) "
            "FROM forecast_error WHERE list_contains(?, run_id) AND forecast_device_hours IS NOT NULL "
            "AND measured_device_hours IS NOT NULL",
            [list(run_ids)],
        ).fetchone()
    if not row or not row[2]:
        return None
    fc_h, m_h, n, runs, assumed, mode, device, made = row
    diff = (m_h / fc_h - 1) if fc_h else None
    text = f"forecast {hours_text(fc_h)}, measured {hours_text(m_h)}"
    if diff is not None:
        text += f", {diff:+.0%}"
    text += (
        f" ({n} phases of {runs} run{'s' if runs != 1 else ''}; {mode} forecast on {device}"
        + (f", {assumed} phases on assumed lengths" if assumed else "")
        + ")"
    )
    return text


def hours_text(h: float | None) -> str:
    """Device time as the summary says it: '1.9 h' (two figures), or seconds under 0.1 h."""
    if h is None:
        return "–"
    if h >= 0.1:
        return f"{h:.2g} h" if h < 10 else f"{h:.0f} h"
    return f"{h * 3600:.2g} s" if h * 3600 < 10 else f"{h * 3600:.0f} s"


def phase_forecasts(store: str | os.PathLike[str], run_id: str) -> dict[str, dict[str, Any]]:
    """{phase: {forecast_device_hours, device_hours_error, ...}} of one run: the newest forecast of
    each phase, and its error where the phase was measured (the app's run detail)."""
    with db.connect_ro(Path(store)) as con:
        cur = con.execute(
            "WITH f AS (SELECT *, row_number() OVER (PARTITION BY phase ORDER BY made_at DESC) AS rn "
            "FROM forecasts WHERE run_id = ?) "
            "SELECT f.phase, f.device_hours, f.flops, f.peak_mem_bytes, f.fits, f.assumed, f.mode, "
            "e.device_hours_error, e.flops_error, e.peak_mem_error "
            "FROM f LEFT JOIN forecast_error e ON e.run_id = ? AND e.phase = f.phase WHERE f.rn = 1",
            [run_id, run_id],
        )
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    out = {}
    for r in rows:
        d = dict(zip(names, r))
        out[d["phase"]] = {
            "forecast_device_hours": d["device_hours"],
            "forecast_flops": d["flops"],
            "forecast_peak_mem_bytes": d["peak_mem_bytes"],
            "forecast_fits": d["fits"],
            "forecast_assumed": d["assumed"],
            "forecast_mode": d["mode"],
            "device_hours_error": d["device_hours_error"],
            "flops_error": d["flops_error"],
            "peak_mem_error": d["peak_mem_error"],
        }
    return out
