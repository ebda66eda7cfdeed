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
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import configuration
from ..accuracy import average_accuracy
from ..errors import RunDirError
from ..rundir import (
    Cost,
    JsonlReader,
    PhaseState,
    RunDir,
    RunFold,
    RunState,
    RunStatus,
    StatusRecord,
    StoreLayout,
    dumps,
    final_status,
    parse_event,
    read_status,
)
from ..rundir.records import PREDICTION_COLUMNS, SAMPLE_COLUMNS, TRANSLATION_COLUMNS, duckdb_columns
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
    "BIGINT[]": pa.list_(pa.int64()),
}
ARROW_SCHEMAS = {name: pa.schema([(c, _ARROW_TYPES[t]) for c, t in cols]) for name, cols in schema.TABLES.items()}
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


def _ts(t: Any) -> datetime | None:
    if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0:
        return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if v == v and abs(v) != float("inf") else None


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


def _section(spec: dict[str, Any], section: str, key: str, conv: Callable[[Any], Any]) -> Any:
    """A value of one of the spec's hyper-parameter tables, None when absent or not a table."""
    table = spec.get(section)
    return conv(table.get(key)) if isinstance(table, dict) else None


def _json(obj: Any) -> str | None:
    return None if obj is None else dumps(obj)


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


def _read_bulk(mem: duckdb.DuckDBPyConnection, sql: str, key: str) -> tuple[pa.Table, int]:
    """Runs a staging query; rows whose ``key`` is NULL are lines DuckDB could not parse."""
    table = mem.sql(sql).to_arrow_table()
    bad = table.column(key).null_count
    if bad:
        table = table.filter(pc.is_valid(table.column(key)))
    return table, bad


def _cast(table: pa.Table, name: str) -> pa.Table:
    return table.select(ARROW_SCHEMAS[name].names).cast(ARROW_SCHEMAS[name])


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
        return ARROW_SCHEMAS["predictions"].empty_table()
    with _LiteralPath(path) as literal:
        sql = f"""
            SELECT {_sql_str(run_id)} AS run_id, phase, task, lang, split, idx, pred, label, scores,
                   coalesce(correct, pred = label) AS correct
            FROM read_ndjson({_sql_str(literal)}, columns = {duckdb_columns(PREDICTION_COLUMNS)}, ignore_errors = true)"""
        table, bad = _read_bulk(mem, sql, "idx")
    if bad:
        warnings.append(_bulk_warning(path, bad, running))
    return _cast(table, "predictions")


def _stage_translations(
    mem: duckdb.DuckDBPyConnection, run_id: str, path: Path, running: bool, warnings: list[str]
) -> pa.Table:
    """translate-test's translations.jsonl: the English text of every item the classifier read."""
    if not path.exists() or path.stat().st_size == 0:
        return ARROW_SCHEMAS["translations"].empty_table()
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
        return ARROW_SCHEMAS["samples"].empty_table()
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


def _cost_columns(costs: dict[str, Cost]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, typ in schema.COST_FIGURES:
        c = costs.get(name)
        value = c.value if c is not None else None
        row[name] = _int(value) if typ == "BIGINT" else _num(value)
    for name in schema.SOURCED_FIGURES:
        c = costs.get(name)
        row[f"{name}_source"] = c.source if c is not None else None
        row[f"{name}_reason"] = c.reason if c is not None else None
    fm = costs.get("flops_measured")
    row["flops_sampled_steps"] = _int(fm.extra.get("sampled_steps")) if fm is not None else None
    en = costs.get("energy_j")
    row["energy_flag"] = _str(en.extra.get("flag")) if en is not None else None
    flag = costs.get("contended")
    row["contended"] = None if flag is None or flag.value is None else bool(flag.value)
    if flag is not None:
        reasons = flag.extra.get("reasons")
        row["contention"] = "; ".join(map(str, reasons)) if flag.value and isinstance(reasons, list) else flag.reason
    return row


def _phase_row(run_id: str, p: PhaseState) -> dict[str, Any]:
    reused = p.reused_from
    row: dict[str, Any] = {c: None for c, _ in schema.TABLES["phases"]}
    row.update(
        run_id=run_id,
        phase=p.name,
        kind=p.kind or None,
        ordinal=p.ordinal,
        completed=p.completed,
        t_start=p.t_start,
        t_end=p.t_end,
    )
    if p.completed:
        row.update(
            tasks=list(p.tasks),
            lang=p.lang,
            reused_from_run=reused.run_id if reused else None,
            reused_from_phase=reused.phase if reused else None,
            reused_from_dir=reused.run_dir if reused else None,
            costs=_json({k: c.to_dict() for k, c in p.costs.items()}),
            info=_json(p.info),
            **_cost_columns(p.costs),
        )
    return row


def _lifetime_peak(state: RunState) -> dict[str, Any]:
    """The run's lifetime peak memory: the highest ``lifetime_peak_mem_bytes`` of its phases (each is
    the process's peak since it started, start-up included, up to that phase's end)."""
    best: Cost | None = None
    best_value: float | int | None = None  # best's value, which is a number whenever best is set
    for p in state.phases.values():
        c = p.costs.get("lifetime_peak_mem_bytes") if p.completed else None
        value = c.value if c is not None else None
        if (
            c is not None
            and value is not None
            and _int(value) is not None
            and (best_value is None or value > best_value)
        ):
            best, best_value = c, value
    return {
        "peak_mem_lifetime_bytes": _int(best.value) if best else None,
        "peak_mem_lifetime_source": best.source if best else None,
    }


def _executor_columns(rec: StatusRecord | None) -> dict[str, Any]:
    """Where the run executed (status.json): the executor, SLURM's job id, state, reason and
    accounting, the node, and the CPU share the runner gave it."""
    if rec is None:
        return {}
    info = rec.executor_info or {}
    share = rec.cpu_share or {}
    return {
        "executor": rec.executor or ("local" if rec.job is not None else None),
        "executor_job_id": rec.executor_job_id,
        "executor_state": rec.executor_state,
        "executor_reason": rec.executor_reason,
        "executor_elapsed_s": _num(info.get("elapsed_s")),
        "executor_gpus": _int(info.get("gpus")),
        "node": _str(info.get("node")) or (rec.job.host if rec.job is not None else None),
        "cpu_threads": _int(share.get("threads")),
        "runs_sharing": _int(share.get("runs")),
    }


def _data_source_rows(run_id: str, state: RunState) -> list[dict[str, Any]]:
    """One row per ``data_loaded`` event: every split the run read and where from."""
    cols = [c for c, _ in schema.TABLES["data_sources"] if c not in ("run_id", "seq", "t")]
    return [
        {"run_id": run_id, "seq": i, "t": ev.t or None, **{c: getattr(ev, c) for c in cols}}
        for i, ev in enumerate(state.data_sources)
    ]


def _curve_rows(run_id: str, state: Any) -> list[dict[str, Any]]:
    """One row per learning-curve point and held-out language."""
    return [
        {
            "run_id": run_id,
            "phase": c.phase,
            "point": c.point,
            "step": c.step,
            "total_steps": c.total_steps,
            "lang": lang,
            "split": c.split,
            "accuracy": acc,
            "n": c.n.get(lang),
            "cum_train_device_hours": c.cum_train_device_hours,
            "cum_train_flops": c.cum_train_flops,
            "cum_train_energy_j": c.cum_train_energy_j,
            "eval_wall_s": c.eval_wall_s,
            "eval_flops": c.eval_flops,
        }
        for c in state.curve
        for lang, acc in c.accuracy.items()
    ]


def stage_run(
    run_dir: Path | str, mem: duckdb.DuckDBPyConnection | None = None, store: StoreLayout | None = None
) -> StagedRun:
    """Reads one run directory into Arrow tables (no database involved). Paths are recorded
    relative to ``store``'s root when under it. Raises UnreadableRun for a directory that is not
    a readable run (its status.json is not a status)."""
    start = time.perf_counter()
    files = RunDir(Path(run_dir))
    run_id = files.run_id
    warnings: list[str] = []
    own_mem = mem is None
    if mem is None:
        mem = duckdb.connect(":memory:")
    try:
        try:
            status_rec = read_status(files.path)
        except RunDirError as exc:
            raise UnreadableRun(str(exc)) from None
        recorded_running = status_rec is not None and status_rec.status == RunStatus.RUNNING
        reader = JsonlReader(files.events)
        lines = reader.read_all_lines(final=not recorded_running)
        fold = RunFold()
        ev_cols: dict[str, list[Any]] = {"run_id": [], "seq": [], "t": [], "type": [], "phase": [], "json": []}
        for seq, line in enumerate(lines):
            event = parse_event(line.obj)
            if event is not None:
                fold.apply(event)
            ev_cols["run_id"].append(run_id)
            ev_cols["seq"].append(seq)
            ev_cols["t"].append(_num(line.obj.get("t")))
            ev_cols["type"].append(_str(line.obj.get("type")))
            ev_cols["phase"].append(_str(line.obj.get("phase")))
            # DuckDB's JSON has no NaN/Infinity (Python's json writes them): store such a line cleaned
            ev_cols["json"].append(dumps(line.obj) if ("NaN" in line.text or "Infinity" in line.text) else line.text)
        warnings += reader.problems(still_running=recorded_running)
        state = fold.state

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
        env = dict(state.run_start.env) if state.run_start else {}

        run_end = state.run_end
        status = final_status(status_rec, run_end.status if run_end else None, bool(lines))
        error = (run_end.error if run_end else None) or (status_rec.error if status_rec else None)
        if status_rec is not None and status_rec.ended_by_executor:  # SLURM ended it: its reason, not the job's
            error = status_rec.error or error
        failed_phase = None
        if status in (RunStatus.FAILED, RunStatus.CANCELLED):
            failed_phase = (run_end.phase if run_end else None) or (status_rec.phase if status_rec else None)

        evals = [
            {
                "run_id": run_id,
                "phase": e.phase,
                "task": e.task,
                "lang": e.lang,
                "split": e.split,
                "accuracy": e.accuracy,
                "n": e.n,
                "correct": e.correct,
                "t": e.t or None,
            }
            for e in state.evals
        ]
        started = (
            (status_rec.started if status_rec else None)
            or (state.run_start.t if state.run_start else None)
            or state.first_t
        )
        ended = None
        if status != RunStatus.RUNNING:
            ended = (status_rec.ended if status_rec else None) or (run_end.t if run_end else None)
        updated = max(
            [x for x in (status_rec.updated if status_rec else None, state.last_t, ended, started) if x is not None],
            default=None,
        )
        stop = ended or updated  # the duration's end
        intermediate = _strs(spec.get("intermediate"))
        layout = store or StoreLayout(files.path.parent.parent)
        runs_row = {
            "run_id": run_id,
            "run_dir": layout.relative(files.path),
            "name": _str(spec.get("name")),
            "method": _str(spec.get("method")),
            "model": _str(spec.get("model")),
            "seed": _int(spec.get("seed")),
            "intermediate": intermediate if intermediate is not None else ([] if spec else None),
            "intermediate_mode": _str(spec.get("intermediate_mode")),
            "k": _int(spec.get("few_shot_k")),
            "shot_seed": _int(spec.get("shot_seed")),
            "recipe": _section(spec, "hparams", "recipe", _str),
            "intermediate_recipe": _section(spec, "intermediate_hparams", "recipe", _str),
            "few_shot_recipe": _section(spec, "few_shot_hparams", "recipe", _str),
            "batch_size": _section(spec, "hparams", "batch_size", _int),
            "collapse_retries": _int(spec.get("collapse_retries")),
            "collapsed": state.collapsed,
            "target_attempts": state.target_attempts,
            **_lifetime_peak(state),
            "langs": _strs(spec.get("langs")),
            "target": _str(spec.get("target")),
            "eval_split": _str(spec.get("eval_split")),
            "init_from": _str(spec.get("init_from")),
            "status": status.value,
            "error": _str(error),
            "failed_phase": _str(failed_phase),
            "current_phase": state.latest_phase if status == RunStatus.RUNNING else None,
            "pid": status_rec.pid if status_rec else None,
            **_executor_columns(status_rec),
            "contended_phases": sum(
                1
                for p in state.phases.values()
                if p.completed and not p.reused_from and (c := p.costs.get("contended")) is not None and c.value
            ),
            "started": _ts(started),
            "updated": _ts(updated),
            "ended": _ts(ended),
            "duration_s": (stop - started) if started and stop else None,
            "device_type": _str(env.get("device_type")),
            "device_name": _str(env.get("device_name")),
            "device_count": _int(env.get("device_count")),
            "precision": _str(env.get("precision")),
            "python_version": _str(env.get("python")),
            "torch_version": _str(env.get("torch")),
            "transformers_version": _str(env.get("transformers")),
            "datasets_version": _str(env.get("datasets")),
            "tokenizers_version": _str(env.get("tokenizers")),
            "cuda_version": _str(env.get("cuda")),
            "host": _str(env.get("host")),
            "git_commit": _str(env.get("git_commit")),
            "xcost_tui_version": _str(env.get("xcost_tui")),
            "model_source": state.model.source if state.model else None,
            "model_revision": state.model.revision if state.model else None,
            "xcopa_question": _str(spec.get("xcopa_question")) if spec else None,
            "translations": _str(spec.get("translations")),
            "model_dtype": _str(spec.get("model_dtype")) if spec.get("method") in ("icl", "translate-test") else None,
            "data_sources": len(state.data_sources) if state.data_sources else None,
            "phases_planned": state.phases_planned if state.run_start else None,
            "phases_done": state.phases_done,
            "n_warnings": state.n_warnings,
            "spec": _json(spec) if spec else None,
            "env": _json(env) if env else None,
            "source_sig": files.signature(),
            "config_id": configuration.configuration_id(spec) if spec else None,
            "config_family": configuration.family(spec) if spec else None,
            "config_label": configuration.label(spec) if spec else None,
        }
        running = status == RunStatus.RUNNING
        tables = {
            "runs": pa.Table.from_pylist([runs_row], schema=ARROW_SCHEMAS["runs"]),
            "phases": pa.Table.from_pylist(
                [_phase_row(run_id, p) for p in state.phases.values()], schema=ARROW_SCHEMAS["phases"]
            ),
            "evals": pa.Table.from_pylist(evals, schema=ARROW_SCHEMAS["evals"]),
            "curves": pa.Table.from_pylist(_curve_rows(run_id, state), schema=ARROW_SCHEMAS["curves"]),
            "data_sources": pa.Table.from_pylist(
                _data_source_rows(run_id, state), schema=ARROW_SCHEMAS["data_sources"]
            ),
            "events": pa.table(ev_cols, schema=ARROW_SCHEMAS["events"]),
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


# ---- forecasts ----------------------------------------------------------------------------------

FORECASTS_SIG = "forecasts_sig"  # meta key: the forecast files the forecasts table was built from


def _forecasts_sig(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", [FORECASTS_SIG]).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def write_forecasts(con: duckdb.DuckDBPyConnection, store_root: Path, signature: str, warnings: list[str]) -> int:
    """Rebuild the forecasts table from ``<store>/forecasts/*.json`` in one transaction; returns its rows."""
    from ..estimate.stored import load_forecasts, table_rows

    rows = [row for path, fc in load_forecasts(store_root, warnings) for row in table_rows(fc, path, store_root)]
    table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMAS["forecasts"])
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


def delete_runs(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str]) -> None:
    ids = list(run_ids)
    if not ids:
        return
    with db.transaction(con):
        for name in schema.RUN_TABLES:
            con.execute(f"DELETE FROM {name} WHERE list_contains(?, run_id)", [ids])


def refresh_leaderboard(con: duckdb.DuckDBPyConnection) -> None:
    with db.transaction(con):
        for stmt in schema.refresh_leaderboard_sql():
            con.execute(stmt)


def refresh_verdict(con: duckdb.DuckDBPyConnection) -> bool:
    """The verdict's intervals and comparisons (xcost_tui/verdict/compute.py), recomputed only
    when the set of succeeded runs changed; numpy is imported here, not at start-up."""
    from ..verdict.compute import refresh

    return refresh(con)


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
) -> IngestReport:
    """Reads run directories into the store.

    ``run_dirs=None`` means every run directory under ``<store_root>/runs``, and then (unless
    ``prune=False``) the rows of runs whose directory no longer exists are deleted, so the
    store matches the run directories. A store that is new, or from another schema version, is
    (re)built from every run directory it can find. ``only_changed`` skips runs whose files
    have the same sizes and modification times as when they were last ingested (live refresh).
    ``on_run`` is called after each run is written. A run directory that cannot be read is
    skipped and reported (``report.skipped``); the others are ingested.
    """
    t0 = time.perf_counter()
    store_root = Path(store_root)
    layout = StoreLayout(store_root)
    report = IngestReport()
    scan_all = run_dirs is None
    prune = scan_all if prune is None else prune

    # 1. Schema check, and what the store already holds (a short read-write visit).
    from ..estimate.stored import files_signature

    with db.connect_rw(store_root, timeout=timeout) as con:
        previous = _known_runs(con, layout)
        report.rebuilt = db.ensure_schema(con)
        known = {} if report.rebuilt else previous
        forecasts_sig = files_signature(store_root)
        forecasts_due = report.rebuilt or forecasts_sig != (_forecasts_sig(con) or "")

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

        def flush(final: bool) -> None:
            nonlocal batch, rows
            if not batch and not (final and (stale or report.ingested or forecasts_due)):
                return
            with db.connect_rw(store_root, timeout=timeout) as con:
                if db.ensure_schema(con):  # another process changed the schema meanwhile
                    report.rebuilt = True
                if final and stale:
                    delete_runs(con, stale)
                    report.pruned += stale
                if final and (forecasts_due or report.rebuilt):
                    report.forecasts = write_forecasts(con, store_root, forecasts_sig, report.warnings)
                for staged in batch:
                    write_run(con, staged)
                refresh_leaderboard(con)
                if final:
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
