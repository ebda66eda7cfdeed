"""Forecasts in the store: ``<store>/forecasts/<id>.json`` files (the source of truth, like run
directories), their rows for the ``forecasts`` table, and the readers built on them.

- ``save_forecast`` writes a forecast file; ``store.ingest`` reads every file into the table.
- ``suggested_time_limit(spec)``: the SLURM ``--time`` (seconds) of the newest forecast of that
  run (forecast x safety factor, rounded up to minutes), or None when no forecast knows the run.
  For an executor whose plan sets no time limit: run ``xcost-tui plan estimate PLAN`` first.
- ``forecast_summary`` (the headless line) and ``phase_forecasts`` (the app's run detail) read the
  store's ``forecast_error`` view and ``forecasts`` table.

Torch-free and DuckDB-free at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from ..rundir import StoreLayout
from ..rundir.jsonl import write_json_atomic
from .forecast import PlanForecast, phase_row

STORE_ENV = "XCOST_STORE"


def _store(store: str | os.PathLike | None) -> Path:
    return Path(store if store is not None else os.environ.get(STORE_ENV, "store"))


def save_forecast(store: str | os.PathLike, fc: PlanForecast) -> Path:
    """Writes ``<store>/forecasts/<forecast_id>.json`` (atomically) and returns its path."""
    folder = StoreLayout(Path(store)).forecasts
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fc.forecast_id}.json"
    write_json_atomic(path, fc.to_dict())
    return path


def forecast_files(store: str | os.PathLike) -> list[Path]:
    folder = StoreLayout(Path(store)).forecasts
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def files_signature(store: str | os.PathLike) -> str:
    """Names, sizes and times of the forecast files: unchanged signature, unchanged table."""
    parts = []
    for p in forecast_files(store):
        try:
            st = p.stat()
        except OSError:
            continue
        parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def read_forecast(path: Path) -> PlanForecast | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return PlanForecast.from_dict(data)
    except (TypeError, ValueError, KeyError):
        return None


def load_forecasts(store: str | os.PathLike, warnings: list[str] | None = None) -> list[tuple[Path, PlanForecast]]:
    """Every readable forecast of the store, oldest first; an unreadable file is skipped and named in ``warnings``."""
    out = []
    for path in forecast_files(store):
        fc = read_forecast(path)
        if fc is None:
            if warnings is not None:
                warnings.append(f"{path}: not a forecast (unreadable JSON or another shape); skipped")
            continue
        out.append((path, fc))
    out.sort(key=lambda pf: pf[1].made_at)
    return out


def _ts(t: float | None) -> datetime | None:
    if not isinstance(t, (int, float)) or t <= 0:
        return None
    return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)


def table_rows(
    fc: PlanForecast, path: Path | str | None, store: str | os.PathLike | None = None
) -> list[dict[str, Any]]:
    """The ``forecasts`` table's rows of one forecast: one per run and phase."""
    dev = fc.device or {}
    recorded = str(path) if path is not None else None
    if path is not None and store is not None:
        recorded = StoreLayout(Path(store)).relative(path)
    rows = []
    for run in fc.runs:
        for p in run.phases:
            row = {
                "forecast_id": fc.forecast_id,
                "made_at": _ts(fc.made_at),
                "plan": fc.plan,
                "plan_label": fc.plan_label,
                "mode": fc.mode,
                "device_type": dev.get("type"),
                "device_name": dev.get("name"),
                "device_family": dev.get("family"),
                "device_profile": dev.get("profile"),
                "precision": dev.get("precision"),
                "efficiency": fc.efficiency,
                "host": (fc.env or {}).get("host"),
                "env": json.dumps(fc.env, default=str),
                **phase_row(run, p),
                "notes": json.dumps(p.notes),
                "path": recorded,
            }
            rows.append(row)  # the store keeps the columns of its forecasts table (ingest.write_forecasts)
    return rows


# ---- readers --------------------------------------------------------------------------------------


def latest_run_forecasts(store: str | os.PathLike | None, run_ids: Iterable[str] | None = None):
    """{run id: (PlanForecast, RunForecast)} of the newest forecast of each run, from the files."""
    wanted = set(run_ids) if run_ids is not None else None
    out: dict[str, tuple] = {}
    for _, fc in load_forecasts(_store(store)):
        for run in fc.runs:
            if wanted is None or run.run_id in wanted:
                out[run.run_id] = (fc, run)  # oldest first: the newest wins
    return out


def suggested_time_limit(spec, store: str | os.PathLike | None = None) -> float | None:
    """The SLURM ``--time`` in seconds suggested for ``spec`` (a RunSpec): its newest forecast's wall
    time (phases and start-up) x the forecast's safety factor (default 1.5), rounded up to whole
    minutes and at least 5 minutes; None when no forecast of the store knows this run.

    ``store`` defaults to ``$XCOST_STORE``, else ./store. For the SLURM executor, when the plan sets
    no time limit; ``forecast.slurm_time(seconds)`` writes it as ``--time`` takes it."""
    found = latest_run_forecasts(store, [spec.run_id()]).get(spec.run_id())
    if found is None:
        return None
    _, run = found
    return run.suggested_time_s


def forecast_summary(store: str | os.PathLike, run_ids: list[str]) -> str | None:
    """'forecast 1.9 h, measured 2.1 h, +11% (...)': device-hours of the phases that have both,
    from the store's forecast_error view; None when none of these runs has a forecast."""
    from ..store.db import connect_ro

    if not run_ids:
        return None
    with connect_ro(cast("Path | str", store)) as con:  # it takes any path-like (it makes a Path of it)
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


def phase_forecasts(store: str | os.PathLike, run_id: str) -> dict[str, dict[str, Any]]:
    """{phase: {forecast_device_hours, device_hours_error, ...}} of one run: the newest forecast of
    each phase, and its error where the phase was measured (the app's run detail)."""
    from ..store.db import connect_ro

    with connect_ro(cast("Path | str", store)) as con:  # it takes any path-like (it makes a Path of it)
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
