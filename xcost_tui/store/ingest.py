"""Run directories → DuckDB rows, idempotently.

For each run directory the rows of every table are first *staged* in Arrow, without touching
the database: ``spec.json``, ``status.json`` and ``events.jsonl`` are small and read here in
Python, and mapped to rows by ``rows.py`` (pure functions, typed rows); ``predictions.jsonl``
and ``samples.jsonl`` can be large and go through DuckDB's own JSON reader in an in-memory
database (``read_ndjson(..., ignore_errors=true)``). Then the database is opened read-write for
one batch, and each run is written in ONE short transaction: delete that run's rows, insert the
staged ones. Ingesting twice, or again after a crash in the middle, gives the same rows. A
malformed line (a crash's half-written last line, or a live run's line being written) is
skipped with a warning. At the end of a batch the derived tables are refreshed: the
leaderboard, the verdict tables (``verdict_tables.py``) and, when the forecast files changed,
the forecasts table (``forecasts.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..accuracy import average_accuracy
from ..errors import RunDirError
from ..rundir import JsonlLine, JsonlReader, RunDir, RunFold, RunStatus, StoreLayout, parse_event, read_status
from ..rundir.forecast import files_signature
from ..rundir.records import PREDICTION_COLUMNS, SAMPLE_COLUMNS, TRANSLATION_COLUMNS, duckdb_columns
from . import db, forecasts, labels, schema, verdict_tables, workers
from .rows import (
    RunRecords,
    curve_rows,
    data_source_rows,
    eval_rows,
    event_columns,
    mt_quality_rows,
    outcome,
    phase_rows,
    run_row,
)

_GLOB_CHARS = re.compile(r"[*?\[\]{}]")


@dataclasses.dataclass
class StagedRun:
    """One run's rows, read from its directory and ready to write."""

    run_id: str
    run_dir: Path
    status: str
    tables: dict[str, pa.Table]
    warnings: list[str]
    seconds: float = 0.0
    avg_accuracy: float | None = None
    n_langs: int = 0

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables.values())

    def summary(self) -> str:
        """One line for the ingest command."""
        avg = (
            f", avg accuracy {self.avg_accuracy:.4f} over {self.n_langs} languages"
            if self.avg_accuracy is not None
            else ""
        )
        n = {name: self.tables[name].num_rows for name in schema.RUN_TABLES}
        return (
            f"{self.run_id}: {self.status}, {n['phases']} phases, {n['evals']} evals{avg}, "
            f"{n['data_sources']} data sources; "
            f"{n['predictions']:,} predictions, {n['samples']:,} samples, {n['events']:,} events "
            f"({self.seconds:.2f} s)"
        )


@dataclasses.dataclass
class IngestReport:
    ingested: list[StagedRun] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)  # run ids skipped by only_changed
    pruned: list[str] = dataclasses.field(default_factory=list)  # run ids whose directory is gone
    missing: list[Path] = dataclasses.field(default_factory=list)  # named paths that are not run directories
    skipped: list[Path] = dataclasses.field(default_factory=list)  # run directories that could not be read
    warnings: list[str] = dataclasses.field(default_factory=list)
    rebuilt: bool = False  # the store was created, or rebuilt from another schema version
    forecasts: int | None = None  # rows of the forecasts table when it was rebuilt from the forecast files
    seconds: float = 0.0


class UnreadableRun(Exception):
    """A run directory that cannot be read as a run: skipped and reported, the rest goes on."""


# ---- finding run directories ------------------------------------------------------------------


def is_run_dir(path: Path) -> bool:
    return RunDir(path).exists()


def find_run_dirs(store_root: Path | str) -> list[Path]:
    """Every run directory under ``<store_root>/runs``, sorted by name."""
    return [d.path for d in StoreLayout(Path(store_root)).run_dirs()]


# ---- staging one run --------------------------------------------------------------------------


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _LiteralPath:
    """A path DuckDB reads literally: DuckDB's readers expand glob characters (a run directory
    named ``*`` would read every run's files), so such a path is read through a plain symlink."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> str:
        if not _GLOB_CHARS.search(str(self.path)):
            return str(self.path)
        self._tmp = tempfile.TemporaryDirectory(prefix="xcost-ingest-")
        link = Path(self._tmp.name) / self.path.name.translate(str.maketrans("*?[]{}", "______"))
        os.symlink(os.path.abspath(self.path), link)
        return str(link)

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _read_bulk(mem: duckdb.DuckDBPyConnection, sql: str, key: str, *more: str) -> tuple[pa.Table, int]:
    """Runs a staging query; rows whose ``key`` (or any of ``more``) is NULL are lines DuckDB could
    not parse, or records without what names them."""
    table = mem.sql(sql).to_arrow_table()
    valid = pc.is_valid(table.column(key))
    for name in more:
        valid = pc.and_(valid, pc.is_valid(table.column(name)))
    bad = len(table) - pc.sum(valid.cast("int64")).as_py() if len(table) else 0
    if bad:
        table = table.filter(valid)
    return table, bad


def _cast(table: pa.Table, name: str) -> pa.Table:
    arrow = schema.arrow_schema(name)
    return table.select(arrow.names).cast(arrow)


def _bulk_warning(path: Path, count: int, running: bool) -> str:
    tail = ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell():
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    tail = ", the last one half-written " + (
                        "(the run is still writing it)" if running else "(a crash?)"
                    )
    except OSError:
        pass
    return f"{path}: skipped {count} malformed line{'s' if count != 1 else ''}{tail}"


def _stage_predictions(
    mem: duckdb.DuckDBPyConnection, run_id: str, path: Path, running: bool, warnings: list[str]
) -> pa.Table:
    if not path.exists() or path.stat().st_size == 0:
        return schema.arrow_schema("predictions").empty_table()
    with _LiteralPath(path) as literal:
        sql = f"""
            SELECT {_sql_str(run_id)} AS run_id, phase, task, lang, split, idx, pred, label, scores,
                   coalesce(correct, pred = label) AS correct
            FROM read_ndjson({_sql_str(literal)}, columns = {duckdb_columns(PREDICTION_COLUMNS)}, ignore_errors = true)"""
        # (idx is text, so any id reads: a line is malformed when it names no item or no phase)
        table, bad = _read_bulk(mem, sql, "idx", "phase")
    if bad:
        warnings.append(_bulk_warning(path, bad, running))
    return _cast(table, "predictions")


def _stage_translations(
    mem: duckdb.DuckDBPyConnection, run_id: str, path: Path, running: bool, warnings: list[str]
) -> pa.Table:
    """translate-test's translations.jsonl: the English text of every item the classifier read."""
    if not path.exists() or path.stat().st_size == 0:
        return schema.arrow_schema("translations").empty_table()
    cols = ", ".join(TRANSLATION_COLUMNS)
    with _LiteralPath(path) as literal:
        sql = f"""
            SELECT {_sql_str(run_id)} AS run_id, {cols}
            FROM read_ndjson({_sql_str(literal)}, columns = {duckdb_columns(TRANSLATION_COLUMNS)}, ignore_errors = true)"""
        table, bad = _read_bulk(mem, sql, "idx")
    if bad:
        warnings.append(_bulk_warning(path, bad, running))
    return _cast(table, "translations")


def _stage_samples(
    mem: duckdb.DuckDBPyConnection, run_id: str, path: Path, running: bool, warnings: list[str]
) -> pa.Table:
    if not path.exists() or path.stat().st_size == 0:
        return schema.arrow_schema("samples").empty_table()
    gpu = SAMPLE_COLUMNS["gpus"][:-2]  # the STRUCT(...) of one GPU
    cols = ", ".join(
        f"g.{c} AS gpu_{c}"
        for c in (
            "index",
            "name",
            "uuid",
            "mem_used_bytes",
            "mem_total_bytes",
            "util_percent",
            "power_w",
            "temp_c",
            "proc_mem_bytes",
            "other_pids",
            "other_mem_bytes",
        )
    )
    # One row per GPU per sample; a sample without GPUs keeps one row with NULL GPU columns.
    with _LiteralPath(path) as literal:
        sql = f"""
            SELECT run_id, t, phase, cpu_percent, rss_bytes, {cols}, other_cpu_percent, cpus
            FROM (SELECT {_sql_str(run_id)} AS run_id, t, phase, cpu_percent, rss_bytes, other_cpu_percent, cpus,
                         unnest(CASE WHEN len(gpus) > 0 THEN gpus ELSE [NULL::{gpu}] END) AS g
                  FROM read_ndjson({_sql_str(literal)}, columns = {duckdb_columns(SAMPLE_COLUMNS)}, ignore_errors = true))"""
        table, bad = _read_bulk(mem, sql, "t")
    if bad:
        warnings.append(_bulk_warning(path, bad, running))
    return _cast(table, "samples")


def read_records(
    run_dir: Path | str, store: StoreLayout | None = None, warnings: list[str] | None = None
) -> tuple[RunRecords, list[JsonlLine]]:
    """Reads what one run directory holds (status.json, events.jsonl folded, spec.json) and the
    complete lines of its events; problems go to ``warnings``. A status.json that is not a status
    is a warning when events.jsonl holds the run's run_end (``damaged_status``); without one,
    UnreadableRun."""
    files = RunDir(Path(run_dir))
    warnings = warnings if warnings is not None else []
    damaged: str | None = None
    try:
        status_rec = read_status(files.path)
    except RunDirError as exc:
        status_rec, damaged = None, str(exc)
    except OSError as exc:  # a folder named status.json, no permission
        status_rec, damaged = None, f"{files.status}: cannot be read ({exc.strerror or exc})"
    recorded_running = status_rec is not None and status_rec.status == RunStatus.RUNNING
    reader = JsonlReader(files.events)
    lines = reader.read_all_lines(final=not recorded_running)
    fold = RunFold()
    for line in lines:
        event = parse_event(line.obj)
        if event is not None:
            fold.apply(event)
    warnings += reader.problems(still_running=recorded_running)
    state = fold.state
    if damaged is not None:
        warnings.append(damaged_status(files.path, damaged, state.run_end.status if state.run_end else None))

    spec: dict[str, Any] = {}
    try:
        spec = files.read_spec()
    except FileNotFoundError:
        pass
    except ValueError as exc:
        warnings.append(f"{exc}; the spec is taken from the run_start event")
    if not spec:
        spec = dict(state.run_start.spec) if state.run_start else {}
        if not spec:
            warnings.append(f"{files.path}: no spec.json and no run_start event; the run's settings are unknown")

    layout = store or StoreLayout(files.path.parent.parent)
    rec = RunRecords(
        run_id=files.run_id,
        run_dir=layout.relative(files.path),
        spec=spec,
        status=status_rec,
        state=state,
        has_events=bool(lines),
        source_sig=files.signature(),
    )
    return rec, lines


def damaged_status(run_dir: Path, problem: str, run_end_status: str | None) -> str:
    """What ingest says of a status.json it cannot read. A run whose events.jsonl holds its run_end
    is ingested from it (the run_end wins over status.json anyway, status.final_status): the
    warning says how to write the file again. Without a run_end, how the run ended is unknown:
    UnreadableRun (skipped, with the same advice)."""
    path = RunDir(run_dir).status
    if run_end_status is None:
        raise UnreadableRun(
            f"{problem}; events.jsonl has no run_end either, so how the run ended is unknown. Fix or "
            f"delete {path} (a run of a plan is then run again), then `xcost-tui ingest`"
        )
    repair = f"echo {shlex.quote(json.dumps({'status': run_end_status}))} > {shlex.quote(str(path))}"
    return (
        f"{problem}; ingested from events.jsonl, whose run_end says {run_end_status}. Repair the file "
        f"(else a plan's next run starts this run afresh): {repair}"
    )


# The cost figures of a phase that can never be negative (every one a count, a duration, work or
# energy): a negative one is a broken measurement, and the verdict would turn it into a ratio of
# -100 or "always cheaper". Ingest refuses such a run rather than store it.
NON_NEGATIVE_COSTS: tuple[str, ...] = (
    "wall_s",
    "cpu_s",
    "device_hours",
    "devices",
    "examples",
    "steps",
    "tokens_nonpad",
    "tokens_padded",
    "flops_analytic",
    "flops_measured",
    "flops_analytic_nonpad",
    "energy_j",
    "peak_mem_bytes",
    "lifetime_peak_mem_bytes",
    "queries",
    "prompt_tokens",
    "continuation_tokens",
    "query_flops",
    "latency_p50_s",
    "latency_p95_s",
    "latency_mean_s",
)


def check_costs(run_dir: Path, rec: RunRecords) -> None:
    """Raises RunDirError naming the run directory, the phase and the figure when a completed
    phase records a negative cost (its own, or the original cost of a phase it reused)."""
    for phase in rec.state.phases.values():
        if not phase.completed:
            continue
        figures: list[tuple[str, Any]] = [(n, c.value) for n, c in phase.costs.items() if n in NON_NEGATIVE_COSTS]
        original = phase.info.get("original_costs")
        if isinstance(original, dict):
            figures += [
                (f"original_costs.{n}", c.get("value"))
                for n, c in original.items()
                if n in NON_NEGATIVE_COSTS and isinstance(c, dict)
            ]
        for name, value in figures:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise RunDirError(
                    f"{run_dir}: phase {phase.name} records a negative cost, {name} = {value!r}: a cost "
                    f"is never below 0, so the measurement is broken and the run is not ingested. Check "
                    f"the phase_end event of {phase.name} in {run_dir / 'events.jsonl'} (the clock, the "
                    f"energy counter or the FLOP count that produced it); fix or delete that run "
                    f"directory, or run it again, then `xcost-tui ingest`."
                )


def stage_run(
    run_dir: Path | str, mem: duckdb.DuckDBPyConnection | None = None, store: StoreLayout | None = None
) -> StagedRun:
    """Reads one run directory into Arrow tables (no database involved). Paths are recorded
    relative to ``store``'s root when under it. Raises UnreadableRun for a directory that is not
    a readable run (its status.json is not a status), RunDirError for a run that records a negative
    cost (``check_costs``)."""
    start = time.perf_counter()
    files = RunDir(Path(run_dir))
    run_id = files.run_id
    warnings: list[str] = []
    own_mem = mem is None
    if mem is None:
        mem = duckdb.connect(":memory:")
    try:
        rec, lines = read_records(files.path, store, warnings)
        check_costs(files.path, rec)
        state = rec.state
        status = outcome(rec).status
        running = status == RunStatus.RUNNING
        tables = {
            "runs": _table("runs", [run_row(rec)]),
            "phases": _table("phases", phase_rows(rec)),
            "evals": _table("evals", eval_rows(rec)),
            "curves": _table("curves", curve_rows(rec)),
            "mt_quality": _table("mt_quality", mt_quality_rows(rec)),
            "data_sources": _table("data_sources", data_source_rows(rec)),
            "events": pa.table(event_columns(run_id, lines), schema=schema.arrow_schema("events")),
            "predictions": _stage_predictions(mem, run_id, files.predictions, running, warnings),
            "samples": _stage_samples(mem, run_id, files.samples, running, warnings),
            "translations": _stage_translations(mem, run_id, files.translations, running, warnings),
        }
    finally:
        if own_mem:
            mem.close()
    langs = [lang for lang in state.accuracy if lang != "en"]
    return StagedRun(
        run_id,
        files.path,
        status.value,
        tables,
        warnings,
        time.perf_counter() - start,
        average_accuracy(state.accuracy),
        len(langs),
    )


def _table(name: str, rows: Iterable[Any]) -> pa.Table:
    """Rows of one table (rows.py) as Arrow, with the table's schema."""
    return pa.Table.from_pylist(list(rows), schema=schema.arrow_schema(name))


# ---- writing ----------------------------------------------------------------------------------


def write_run(con: duckdb.DuckDBPyConnection, staged: StagedRun) -> None:
    """Replace one run's rows in one transaction: after it, the store holds exactly the staged rows."""
    with db.transaction(con):
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


def delete_runs(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str]) -> None:
    ids = list(run_ids)
    if not ids:
        return
    with db.transaction(con):
        for name in schema.RUN_TABLES:
            con.execute(f"DELETE FROM {name} WHERE list_contains(?, run_id)", [ids])


def refresh_leaderboard(con: duckdb.DuckDBPyConnection) -> None:
    """The configurations' distinguishing labels (labels.py), then the leaderboard built from them."""
    with db.transaction(con):
        labels.refresh_labels(con)
        for stmt in schema.refresh_leaderboard_sql():
            con.execute(stmt)


def refresh_verdict(con: duckdb.DuckDBPyConnection) -> bool:
    """The verdict's intervals and comparisons (verdict_tables.py), recomputed only when the set
    of succeeded runs changed, and then only for the configurations whose runs changed."""
    return verdict_tables.refresh(con)


def refresh_verdict_of(store_root: Path | str, *, timeout: float | None = None) -> bool:
    """``refresh_verdict`` in its own short read-write visit: for a caller that ingested with
    ``verdict=False`` and refreshes later (the supervisor's ingest thread defers it while a local
    job measures, docs/runner.md). A store of another schema version is left to the next ingest."""
    with db.connect_rw(store_root, timeout=timeout) as con:
        if db.read_schema_version(con) != schema.SCHEMA_VERSION:
            return False
        return refresh_verdict(con)


# ---- the ingest -------------------------------------------------------------------------------


def _known_runs(con: duckdb.DuckDBPyConnection, layout: StoreLayout) -> dict[str, tuple[Path | None, str]]:
    """run_id → (run directory, source_sig) of what the store holds; {} for a store without a usable runs table."""
    try:
        rows = con.execute("SELECT run_id, run_dir, source_sig FROM runs").fetchall()
    except duckdb.Error:
        return {}
    return {r[0]: (layout.resolve(r[1]), r[2]) for r in rows}


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
    verdict: bool = True,
) -> IngestReport:
    """Reads run directories into the store.

    ``run_dirs=None`` means every run directory under ``<store_root>/runs``, and then (unless
    ``prune=False``) the rows of runs whose directory no longer exists are deleted, so the
    store matches the run directories. A store that is new, or from another schema version, is
    (re)built from every run directory it can find. ``only_changed`` skips runs whose files
    have the same sizes and modification times as when they were last ingested (live refresh).
    ``on_run`` is called after each run is written. A run directory that cannot be read is
    skipped and reported (``report.skipped``); the others are ingested. ``verdict=False`` leaves
    the verdict tables to a later ``refresh_verdict_of`` (the rows and the leaderboard are written).
    """
    t0 = time.perf_counter()
    store_root = Path(store_root)
    layout = StoreLayout(store_root)
    report = IngestReport()
    scan_all = run_dirs is None
    prune = scan_all if prune is None else prune

    # 1. Schema check, and what the store already holds (a short read-write visit).
    with db.connect_rw(store_root, timeout=timeout) as con:
        previous = _known_runs(con, layout)
        report.rebuilt = db.ensure_schema(con)
        known = {} if report.rebuilt else previous
        forecasts_sig = files_signature(store_root)
        forecasts_due = report.rebuilt or forecasts_sig != (forecasts.forecasts_sig(con) or "")

    # 2. Which directories.
    wanted: list[Path] = []
    if scan_all or report.rebuilt:
        wanted += find_run_dirs(store_root)
    if report.rebuilt:  # runs ingested from elsewhere before the rebuild
        wanted += [d for d, _ in previous.values() if d is not None and is_run_dir(d)]
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
        stale = [rid for rid, (d, _) in known.items() if rid not in by_id and not (d is not None and is_run_dir(d))]
    todo = []
    for rid, d in by_id.items():
        prior_dir, prior_sig = known.get(rid, (None, None))
        if (
            only_changed
            and prior_sig == RunDir(d).signature()
            and prior_dir is not None
            and prior_dir.resolve() == d.resolve()
        ):
            report.unchanged.append(rid)
        else:
            todo.append(d)

    # 3. Stage (no lock held) and write in batches (lock held only while writing).
    mem = duckdb.connect(":memory:")
    try:
        batch: list[StagedRun] = []
        rows = 0
        refused: list[str] = []  # runs refused as data errors: rows an earlier ingest wrote are removed

        def flush(final: bool) -> None:
            nonlocal batch, rows
            if not batch and not (final and (stale or refused or report.ingested or forecasts_due)):
                return
            with db.connect_rw(store_root, timeout=timeout) as con:
                if db.ensure_schema(con):  # another process changed the schema meanwhile
                    report.rebuilt = True
                if final and stale:
                    delete_runs(con, stale)
                    report.pruned += stale
                if final and refused:
                    delete_runs(con, refused)
                if final and (forecasts_due or report.rebuilt):
                    report.forecasts = forecasts.write_forecasts(con, store_root, forecasts_sig, report.warnings)
                if final:
                    workers.write_workers(con, store_root)  # a few small files: rebuilt every time
                for staged in batch:
                    write_run(con, staged)
                refresh_leaderboard(con)
                if final and verdict:
                    refresh_verdict(con)
            for staged in batch:
                report.ingested.append(staged)
                report.warnings += staged.warnings
                if on_run is not None:
                    on_run(staged)
            batch, rows = [], 0

        for d in todo:
            try:
                staged = stage_run(d, mem, layout)
            except UnreadableRun as exc:
                report.skipped.append(d)
                report.warnings.append(f"{d}: skipped, not a readable run directory: {exc}")
                continue
            except RunDirError as exc:  # a data error of this run (a negative cost): refused, the rest goes on
                refused.append(RunDir(d).run_id)
                report.skipped.append(d)
                report.warnings.append(f"refused: {exc}")
                continue
            except (OSError, duckdb.Error, ValueError, TypeError) as exc:  # one unreadable run never stops the rest
                report.skipped.append(d)
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
