"""Run directories → DuckDB rows, idempotently.

For each run directory the rows of every table are first *staged* in Arrow, without touching
the database: ``spec.json``, ``status.json`` and ``events.jsonl`` are small and parsed here in
Python; ``predictions.jsonl`` and ``samples.jsonl`` can be large and go through DuckDB's own
JSON reader in an in-memory database (``read_ndjson(..., ignore_errors=true)``). Then the
database is opened read-write for one batch, and each run is written in ONE short
transaction: delete that run's rows, insert the staged ones. Ingesting twice, or again after a
crash in the middle, gives the same rows. A malformed line (a crash's half-written last line,
or a live run's line being written) is skipped with a warning.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import XCOPA_LANGS
from .. import runfiles
from . import db, schema

# DuckDB type → Arrow type for the staged tables built in Python.
_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR[]": pa.list_(pa.string()),
    "DOUBLE[]": pa.list_(pa.float64()),
}
ARROW_SCHEMAS = {name: pa.schema([(c, _ARROW_TYPES[t]) for c, t in cols]) for name, cols in schema.TABLES.items()}

_GPU_STRUCT = ("STRUCT(index BIGINT, name VARCHAR, mem_used_bytes BIGINT, mem_total_bytes BIGINT, "
               "util_percent DOUBLE, power_w DOUBLE, temp_c DOUBLE, proc_mem_bytes BIGINT)")
_SAMPLE_COLUMNS = ("{'t': 'DOUBLE', 'phase': 'VARCHAR', 'cpu_percent': 'DOUBLE', 'rss_bytes': 'BIGINT', "
                   f"'gpus': '{_GPU_STRUCT}[]'}}")
_PREDICTION_COLUMNS = ("{'phase': 'VARCHAR', 'task': 'VARCHAR', 'lang': 'VARCHAR', 'split': 'VARCHAR', "
                       "'idx': 'BIGINT', 'pred': 'BIGINT', 'label': 'BIGINT', 'scores': 'DOUBLE[]', 'correct': 'BOOLEAN'}")
_RUN_FILES = (runfiles.SPEC, runfiles.STATUS, runfiles.EVENTS, runfiles.PREDICTIONS, runfiles.SAMPLES)


@dataclasses.dataclass
class StagedRun:
    """One run's rows, read from its directory and ready to write."""

    run_id: str
    run_dir: Path
    status: str
    tables: dict[str, pa.Table]
    warnings: list[str]
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables.values())

    def summary(self) -> str:
        """One line for the ingest command."""
        evals = self.tables["evals"].to_pylist()
        accs = [e["accuracy"] for e in evals if e["lang"] in XCOPA_LANGS and e["accuracy"] is not None]
        avg = f", avg accuracy {sum(accs) / len(accs):.4f} over {len(accs)} languages" if accs else ""
        n = {name: self.tables[name].num_rows for name in schema.RUN_TABLES}
        return (f"{self.run_id}: {self.status}, {n['phases']} phases, {n['evals']} evals{avg}; "
                f"{n['predictions']:,} predictions, {n['samples']:,} samples, {n['events']:,} events "
                f"({self.seconds:.2f} s)")


@dataclasses.dataclass
class IngestReport:
    ingested: list[StagedRun] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)  # run ids skipped by only_changed
    pruned: list[str] = dataclasses.field(default_factory=list)  # run ids whose directory is gone
    missing: list[Path] = dataclasses.field(default_factory=list)  # named paths that are not run directories
    warnings: list[str] = dataclasses.field(default_factory=list)
    rebuilt: bool = False  # the store was created, or rebuilt from another schema version
    seconds: float = 0.0


# ---- finding run directories ------------------------------------------------------------------

def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in (runfiles.SPEC, runfiles.STATUS, runfiles.EVENTS))


def find_run_dirs(store_root: Path | str) -> list[Path]:
    """Every run directory under ``<store_root>/runs``, sorted by name."""
    root = db.runs_dir(store_root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if is_run_dir(p)), key=lambda p: p.name)


def source_signature(run_dir: Path) -> str:
    """Size and modification time of the files a run's rows come from: unchanged signature, unchanged rows."""
    parts = []
    for name in _RUN_FILES:
        try:
            st = (run_dir / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except FileNotFoundError:
            parts.append(f"{name}:-")
    return "|".join(parts)


# ---- staging one run --------------------------------------------------------------------------

def _ts(t: Any) -> datetime | None:
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
        return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _int(v: Any) -> int | None:
    f = _num(v)
    return int(round(f)) if f is not None and abs(f) < 9.2e18 else None


def _str(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)


def _strs(v: Any) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    return None


def _json(obj: Any) -> str | None:
    return None if obj is None else runfiles.dumps(obj)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _malformed_warning(path: Path, count: int, status: str) -> str:
    tail = "" if _ends_with_newline(path) else (
        ", the last one half-written" + (" (the run is still writing it)" if status == runfiles.RUNNING else " (a crash?)"))
    return f"{path}: skipped {count} malformed line{'s' if count != 1 else ''}{tail}"


def _read_events(path: Path, status_hint: str | None) -> tuple[list[tuple[int, dict, str]], list[str]]:
    """(line number, object, JSON text) per event; malformed lines are skipped with a warning."""
    if not path.exists():
        return [], []
    data = path.read_bytes()
    lines = data.split(b"\n")
    events: list[tuple[int, dict, str]] = []
    bad: list[int] = []
    for lineno, raw in enumerate(lines, 1):
        raw = raw.strip()
        if not raw:
            continue
        nonstandard = []
        try:
            obj = json.loads(raw.decode("utf-8"), parse_constant=lambda c: nonstandard.append(c))
        except (UnicodeDecodeError, json.JSONDecodeError):
            bad.append(lineno)
            continue
        if not isinstance(obj, dict):
            bad.append(lineno)
            continue
        text = runfiles.dumps(obj) if nonstandard else raw.decode("utf-8")  # DuckDB's JSON has no NaN
        events.append((lineno, obj, text))
    warnings = []
    if bad:
        last_line = max((i for i, raw in enumerate(lines, 1) if raw.strip()), default=0)
        tail = ""
        if bad[-1] == last_line and not data.endswith(b"\n"):
            tail = ", the last one half-written" + (
                " (the run is still writing it)" if status_hint == runfiles.RUNNING else " (a crash?)")
        where = ", ".join(str(n) for n in bad[:5]) + (", ..." if len(bad) > 5 else "")
        warnings.append(f"{path}: skipped {len(bad)} malformed line{'s' if len(bad) != 1 else ''} (line {where}){tail}")
    return events, warnings


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_bulk(mem: duckdb.DuckDBPyConnection, sql: str, key: str) -> tuple[pa.Table, int]:
    """Runs a staging query; rows whose ``key`` is NULL are lines DuckDB could not parse."""
    table = mem.sql(sql).to_arrow_table()
    bad = table.column(key).null_count
    if bad:
        table = table.filter(pc.is_valid(table.column(key)))
    return table, bad


def _cast(table: pa.Table, name: str) -> pa.Table:
    return table.select(ARROW_SCHEMAS[name].names).cast(ARROW_SCHEMAS[name])


def _stage_predictions(mem, run_id: str, path: Path, status: str, warnings: list[str]) -> pa.Table:
    if not path.exists() or path.stat().st_size == 0:
        return ARROW_SCHEMAS["predictions"].empty_table()
    sql = f"""
        SELECT {_sql_str(run_id)} AS run_id, phase, task, lang, split, idx, pred, label, scores,
               coalesce(correct, pred = label) AS correct
        FROM read_ndjson({_sql_str(str(path))}, columns = {_PREDICTION_COLUMNS}, ignore_errors = true)"""
    table, bad = _read_bulk(mem, sql, "idx")
    if bad:
        warnings.append(_malformed_warning(path, bad, status))
    return _cast(table, "predictions")


def _stage_samples(mem, run_id: str, path: Path, status: str, warnings: list[str]) -> pa.Table:
    if not path.exists() or path.stat().st_size == 0:
        return ARROW_SCHEMAS["samples"].empty_table()
    # One row per GPU per sample; a sample without GPUs keeps one row with NULL GPU columns.
    sql = f"""
        SELECT run_id, t, phase, cpu_percent, rss_bytes,
               g.index AS gpu_index, g.name AS gpu_name, g.mem_used_bytes AS gpu_mem_used_bytes,
               g.mem_total_bytes AS gpu_mem_total_bytes, g.util_percent AS gpu_util_percent,
               g.power_w AS gpu_power_w, g.temp_c AS gpu_temp_c, g.proc_mem_bytes AS gpu_proc_mem_bytes
        FROM (SELECT {_sql_str(run_id)} AS run_id, t, phase, cpu_percent, rss_bytes,
                     unnest(CASE WHEN len(gpus) > 0 THEN gpus ELSE [NULL::{_GPU_STRUCT}] END) AS g
              FROM read_ndjson({_sql_str(str(path))}, columns = {_SAMPLE_COLUMNS}, ignore_errors = true))"""
    table, bad = _read_bulk(mem, sql, "t")
    if bad:
        warnings.append(_malformed_warning(path, bad, status))
    return _cast(table, "samples")


def _cost_columns(costs: dict) -> dict[str, Any]:
    row: dict[str, Any] = {}
    costs = costs if isinstance(costs, dict) else {}
    for name, typ in schema.COST_FIGURES:
        c = costs.get(name)
        value = c.get("value") if isinstance(c, dict) else c
        row[name] = _int(value) if typ == "BIGINT" else _num(value)
    for name in schema.SOURCED_FIGURES:
        c = costs.get(name)
        row[f"{name}_source"] = _str(c.get("source")) if isinstance(c, dict) else None
        row[f"{name}_reason"] = _str(c.get("reason")) if isinstance(c, dict) else None
    fm = costs.get("flops_measured")
    row["flops_sampled_steps"] = _int(fm.get("sampled_steps")) if isinstance(fm, dict) else None
    en = costs.get("energy_j")
    row["energy_flag"] = _str(en.get("flag")) if isinstance(en, dict) else None
    return row


def _blank_phase(run_id: str, phase: str, ordinal: int) -> dict[str, Any]:
    row = {c: None for c, _ in schema.TABLES["phases"]}
    row.update(run_id=run_id, phase=phase, ordinal=ordinal, completed=False)
    return row


def stage_run(run_dir: Path | str, mem: duckdb.DuckDBPyConnection | None = None) -> StagedRun:
    """Reads one run directory into Arrow tables (no database involved)."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    run_id = run_dir.name
    warnings: list[str] = []
    own_mem = mem is None
    if own_mem:
        mem = duckdb.connect(":memory:")
    try:
        status_rec = runfiles.read_status(run_dir) or {}
        if (run_dir / runfiles.STATUS).exists() and not status_rec:
            warnings.append(f"{run_dir / runfiles.STATUS}: not valid JSON; status taken from the events")
        events, ev_warnings = _read_events(run_dir / runfiles.EVENTS, status_rec.get("status"))
        warnings += ev_warnings

        spec: dict = {}
        try:
            spec = runfiles.read_spec(run_dir)
        except FileNotFoundError:
            pass
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            warnings.append(f"{run_dir / runfiles.SPEC}: not valid JSON ({exc}); spec taken from the run_start event")
        run_start = next((o for _, o, _ in events if o.get("type") == "run_start"), None)
        run_end = next((o for _, o, _ in reversed(events) if o.get("type") == "run_end"), None)
        if not isinstance(spec, dict) or not spec:
            spec = (run_start or {}).get("spec") or {}
            if not isinstance(spec, dict) or not spec:
                spec = {}
                warnings.append(f"{run_dir}: no spec.json and no run_start event; the run's settings are unknown")
        env = (run_start or {}).get("env") or {}
        env = env if isinstance(env, dict) else {}

        # status: run_end is written before status.json is replaced, so it wins when present
        if run_end is not None and run_end.get("status"):
            status = str(run_end["status"])
        else:
            status = str(status_rec.get("status") or ("running" if events else "unknown"))
        error = (run_end or {}).get("error") or status_rec.get("error")
        failed_phase = None
        if status in (runfiles.FAILED, runfiles.CANCELLED):
            failed_phase = (run_end or {}).get("phase") or status_rec.get("phase")

        # phases, evals, events
        phases: dict[str, dict] = {}
        evals: list[dict] = []
        ev_cols: dict[str, list] = {"run_id": [], "seq": [], "t": [], "type": [], "phase": [], "json": []}
        n_warn = 0
        current = None
        for seq, (lineno, obj, text) in enumerate(events):
            typ = _str(obj.get("type"))
            t = _num(obj.get("t"))
            phase = _str(obj.get("phase"))
            ev_cols["run_id"].append(run_id)
            ev_cols["seq"].append(seq)
            ev_cols["t"].append(t)
            ev_cols["type"].append(typ)
            ev_cols["phase"].append(phase)
            ev_cols["json"].append(text)
            if typ == "phase_start" and phase:
                row = phases.get(phase) or _blank_phase(run_id, phase, len(phases) + 1)
                row.update(kind=_str(obj.get("kind")), t_start=t)
                phases[phase] = row
                current = phase
            elif typ == "phase_end" and phase:
                row = phases.get(phase) or _blank_phase(run_id, phase, len(phases) + 1)
                reused = obj.get("reused_from") if isinstance(obj.get("reused_from"), dict) else {}
                costs = obj.get("costs") if isinstance(obj.get("costs"), dict) else {}
                row.update(
                    kind=_str(obj.get("kind")) or row["kind"], tasks=_strs(obj.get("tasks")), lang=_str(obj.get("lang")),
                    completed=True, t_end=t,
                    reused_from_run=_str(reused.get("run_id")), reused_from_phase=_str(reused.get("phase")),
                    reused_from_dir=_str(reused.get("run_dir")),
                    costs=_json(costs), info=_json(obj.get("info")), **_cost_columns(costs),
                )
                phases[phase] = row
                if current == phase:
                    current = None
            elif typ == "eval_result":
                evals.append({"run_id": run_id, "phase": phase, "task": _str(obj.get("task")),
                              "lang": _str(obj.get("lang")), "split": _str(obj.get("split")),
                              "accuracy": _num(obj.get("accuracy")), "n": _int(obj.get("n")),
                              "correct": _int(obj.get("correct")), "t": t})
            elif typ == "warning":
                n_warn += 1

        first_t = next((_num(o.get("t")) for _, o, _ in events if _num(o.get("t")) is not None), None)
        last_t = next((_num(o.get("t")) for _, o, _ in reversed(events) if _num(o.get("t")) is not None), None)
        started = _num(status_rec.get("started")) or _num((run_start or {}).get("t")) or first_t
        ended = _num(status_rec.get("ended")) or _num((run_end or {}).get("t")) if status != runfiles.RUNNING else None
        updated = max(x for x in (_num(status_rec.get("updated")), last_t, ended, started, 0.0) if x is not None) or None
        intermediate = _strs(spec.get("intermediate"))
        planned = (run_start or {}).get("phases_planned")
        runs_row = {
            "run_id": run_id,
            "run_dir": str(run_dir.resolve()),
            "name": _str(spec.get("name")),
            "method": _str(spec.get("method")),
            "model": _str(spec.get("model")),
            "seed": _int(spec.get("seed")),
            "intermediate": intermediate if intermediate is not None else ([] if spec else None),
            "intermediate_mode": _str(spec.get("intermediate_mode")),
            "k": _int(spec.get("few_shot_k")),
            "langs": _strs(spec.get("langs")),
            "target": _str(spec.get("target")),
            "eval_split": _str(spec.get("eval_split")),
            "init_from": _str(spec.get("init_from")),
            "status": status,
            "error": _str(error),
            "failed_phase": _str(failed_phase),
            "current_phase": _str(status_rec.get("phase") or current) if status == runfiles.RUNNING else None,
            "pid": _int(status_rec.get("pid")),
            "started": _ts(started),
            "updated": _ts(updated),
            "ended": _ts(ended),
            "duration_s": ((ended or updated) - started) if started and (ended or updated) else None,
            "device_type": _str(env.get("device_type")),
            "device_name": _str(env.get("device_name")),
            "device_count": _int(env.get("device_count")),
            "precision": _str(env.get("precision")),
            "python_version": _str(env.get("python")),
            "torch_version": _str(env.get("torch")),
            "transformers_version": _str(env.get("transformers")),
            "cuda_version": _str(env.get("cuda")),
            "host": _str(env.get("host")),
            "git_commit": _str(env.get("git_commit")),
            "xcost_tui_version": _str(env.get("xcost_tui")),
            "phases_planned": _strs(planned),
            "phases_done": sum(1 for p in phases.values() if p["completed"]),
            "n_warnings": n_warn,
            "spec": _json(spec) if spec else None,
            "env": _json(env) if env else None,
            "source_sig": source_signature(run_dir),
        }
        tables = {
            "runs": pa.Table.from_pylist([runs_row], schema=ARROW_SCHEMAS["runs"]),
            "phases": pa.Table.from_pylist(list(phases.values()), schema=ARROW_SCHEMAS["phases"]),
            "evals": pa.Table.from_pylist(evals, schema=ARROW_SCHEMAS["evals"]),
            "events": pa.table(ev_cols, schema=ARROW_SCHEMAS["events"]),
            "predictions": _stage_predictions(mem, run_id, run_dir / runfiles.PREDICTIONS, status, warnings),
            "samples": _stage_samples(mem, run_id, run_dir / runfiles.SAMPLES, status, warnings),
        }
    finally:
        if own_mem:
            mem.close()
    return StagedRun(run_id, run_dir, status, tables, warnings, time.perf_counter() - start)


# ---- writing ----------------------------------------------------------------------------------

def write_run(con: duckdb.DuckDBPyConnection, staged: StagedRun) -> None:
    """Replace one run's rows in one transaction: after it, the store holds exactly the staged rows."""
    con.execute("BEGIN TRANSACTION")
    try:
        for name in schema.RUN_TABLES:
            con.execute(f"DELETE FROM {name} WHERE run_id = ?", [staged.run_id])
        for name in schema.RUN_TABLES:
            table = staged.tables[name]
            if table.num_rows:
                con.register("_xcost_stage", table)
                try:
                    con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _xcost_stage")
                finally:
                    con.unregister("_xcost_stage")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def delete_runs(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str]) -> None:
    ids = list(run_ids)
    if not ids:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        for name in schema.RUN_TABLES:
            con.execute(f"DELETE FROM {name} WHERE list_contains(?, run_id)", [ids])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def refresh_leaderboard(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for stmt in schema.refresh_leaderboard_sql():
            con.execute(stmt)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# ---- the ingest -------------------------------------------------------------------------------

def _known_runs(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """run_id → (run_dir, source_sig) of what the store holds; {} for a store without a usable runs table."""
    try:
        rows = con.execute("SELECT run_id, run_dir, source_sig FROM runs").fetchall()
    except duckdb.Error:
        return {}
    return {r[0]: (r[1], r[2]) for r in rows}


def ingest(
    store_root: Path | str,
    run_dirs: Iterable[Path | str] | None = None,
    *,
    prune: bool | None = None,
    only_changed: bool = False,
    timeout: float | None = None,
    batch_rows: int = 2_000_000,
    batch_runs: int = 256,
    on_run: Callable[[StagedRun], None] | None = None,
) -> IngestReport:
    """Reads run directories into the store.

    ``run_dirs=None`` means every run directory under ``<store_root>/runs``, and then (unless
    ``prune=False``) the rows of runs whose directory no longer exists are deleted, so the
    store matches the run directories. A store that is new, or from another schema version, is
    (re)built from every run directory it can find. ``only_changed`` skips runs whose files
    have the same sizes and modification times as when they were last ingested (live refresh).
    ``on_run`` is called after each run is written.
    """
    t0 = time.perf_counter()
    store_root = Path(store_root)
    report = IngestReport()
    scan_all = run_dirs is None
    prune = scan_all if prune is None else prune

    # 1. Schema check, and what the store already holds (a short read-write visit).
    with db.connect_rw(store_root, timeout=timeout) as con:
        previous = _known_runs(con)
        report.rebuilt = db.ensure_schema(con)
        known = {} if report.rebuilt else previous

    # 2. Which directories.
    wanted: list[Path] = []
    if scan_all or report.rebuilt:
        wanted += find_run_dirs(store_root)
    if report.rebuilt:  # runs ingested from elsewhere before the rebuild
        wanted += [Path(d) for d, _ in previous.values() if d and is_run_dir(Path(d))]
    for d in run_dirs or []:
        d = Path(d)
        if is_run_dir(d):
            wanted.append(d)
        else:
            report.missing.append(d)
            report.warnings.append(f"{d}: not a run directory (no spec.json, status.json or events.jsonl); skipped")
    by_id: dict[str, Path] = {}
    for d in wanted:
        prior = by_id.get(d.name)
        if prior is not None and prior.resolve() != d.resolve():
            report.warnings.append(f"two run directories named {d.name}: {prior} and {d}; the store keeps {d}")
        by_id[d.name] = d

    stale = []
    if prune:
        stale = [rid for rid, (d, _) in known.items() if rid not in by_id and not (d and is_run_dir(Path(d)))]
    todo = []
    for rid, d in by_id.items():
        if only_changed and rid in known and known[rid][1] == source_signature(d) \
                and known[rid][0] == str(d.resolve()):
            report.unchanged.append(rid)
        else:
            todo.append(d)

    # 3. Stage (no lock held) and write in batches (lock held only while writing).
    mem = duckdb.connect(":memory:")
    try:
        batch: list[StagedRun] = []
        rows = 0

        def flush(final: bool) -> None:
            nonlocal batch, rows
            if not batch and not (final and stale):
                return
            with db.connect_rw(store_root, timeout=timeout) as con:
                if db.ensure_schema(con):  # another process changed the schema meanwhile
                    report.rebuilt = True
                if final and stale:
                    delete_runs(con, stale)
                    report.pruned += stale
                for staged in batch:
                    write_run(con, staged)
                refresh_leaderboard(con)
            for staged in batch:
                report.ingested.append(staged)
                report.warnings += staged.warnings
                if on_run is not None:
                    on_run(staged)
            batch, rows = [], 0

        for d in todo:
            try:
                staged = stage_run(d, mem)
            except (OSError, duckdb.Error, ValueError, TypeError) as exc:  # one unreadable run never stops the rest
                report.warnings.append(f"{d}: could not read the run directory ({type(exc).__name__}: {exc}); skipped")
                continue
            batch.append(staged)
            rows += staged.rows
            if rows >= batch_rows or len(batch) >= batch_runs:
                flush(False)
        flush(True)
    finally:
        mem.close()
    report.seconds = time.perf_counter() - t0
    return report


# The name the runner and the headless mode call it by.
ingest_runs = ingest
