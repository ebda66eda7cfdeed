"""The store's rows against its tables: every key a row builder writes is a column of its table,
and every column of the table is written (a misspelt or forgotten key would otherwise become a
NULL column without a word), with the type the column holds."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from support.store_fixtures import make_run_dir, make_standard_store

from xcost_tui.rundir import DataLoaded, EventWriter, PhaseStart, RunDir
from xcost_tui.rundir.events import PhaseEnd
from xcost_tui.rundir.forecast import PhaseForecast, PlanForecast, RunForecast
from xcost_tui.rundir.records import MTScore
from xcost_tui.store import rows, schema, verdict_tables
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest, read_records

# Each typed row and the table it is a row of.
ROW_TYPES = {
    "runs": rows.RunRow,
    "evals": rows.EvalRow,
    "curves": rows.CurveRow,
    "mt_quality": rows.MTQualityRow,
    "data_sources": rows.DataSourceRow,
    "forecasts": rows.ForecastRow,
    "verdict_accuracy": rows.VerdictAccuracyRow,
    "verdict_comparison": rows.VerdictComparisonRow,
}
# SQL type -> the Python type a row holds for it (None aside).
PY_TYPES: dict[str, Any] = {
    "VARCHAR": str,
    "JSON": str,
    "BIGINT": int,
    "DOUBLE": float,
    "BOOLEAN": bool,
    "TIMESTAMP": datetime,
    "VARCHAR[]": list[str],
    "DOUBLE[]": list[float],
    "BIGINT[]": list[int],
}


def key_problems(table: str, keys: typing.Iterable[str]) -> list[str]:
    """What is wrong with a row's keys for ``table``: keys it does not have, columns left out."""
    columns, got = set(schema.columns(table)), set(keys)
    out = [f"{table}: {k!r} is not a column of the table" for k in sorted(got - columns)]
    out += [f"{table}: column {c!r} is not written" for c in sorted(columns - got)]
    return out


def _without_none(tp: Any) -> Any:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def test_key_problems_names_an_unknown_and_a_missing_key():
    """The check itself: a misspelt key is both an unknown key and a column left out."""
    row = dict.fromkeys(schema.columns("evals"))
    row["acuracy"] = row.pop("accuracy")
    assert key_problems("evals", row) == [
        "evals: 'acuracy' is not a column of the table",
        "evals: column 'accuracy' is not written",
    ]


@pytest.mark.parametrize("table", sorted(ROW_TYPES))
def test_every_typed_row_has_exactly_its_tables_columns(table):
    assert key_problems(table, get_type_hints(ROW_TYPES[table])) == []
    assert ROW_TYPES[table].__required_keys__ == frozenset(schema.columns(table))  # none may be left out


@pytest.mark.parametrize("table", sorted(ROW_TYPES))
def test_every_typed_row_holds_its_columns_types(table):
    hints = get_type_hints(ROW_TYPES[table])
    wrong = {
        column: (sql, hints[column])
        for column, sql in schema.TABLES[table]
        if column in hints and _without_none(hints[column]) != PY_TYPES[sql]
    }
    assert wrong == {}


def test_the_event_columns_are_the_events_table():
    hints = get_type_hints(rows.EventColumns)
    assert key_problems("events", hints) == []
    for column, sql in schema.TABLES["events"]:
        (item,) = get_args(hints[column])  # a list per column
        assert _without_none(item) == PY_TYPES[sql], column


# ---- rows built from run directories -----------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    """Runs that between them write every kind of row: a reused intermediate phase, contention,
    curves, data sources, a failed run, a running one."""
    root = tmp_path_factory.mktemp("rows")
    dirs = [
        make_run_dir(root, run_id="done", curve_points=3, contended={"target:copa": True, "eval:it": None}),
        make_run_dir(root, run_id="reuser", method="intermediate", intermediate=["siqa"], reused_from="done"),
        make_run_dir(root, run_id="failed", status="failed"),
        make_run_dir(root, run_id="running", status="running"),
    ]
    with EventWriter(RunDir(dirs[0]).events) as w:
        w.emit(DataLoaded("copa", "train", "en", "train", "hub", repo="r", rows=400, used=400))
        # translate-test's MT quality (a translate phase's info): a score and a missing one
        scores = [
            MTScore("it", "test", "copa", "published", 61.5, 30.2, 6, 18, "nrefs:1|chrf", "nrefs:1|bleu"),
            MTScore("qu", "test", "copa", "published", None, None, None, None, None, None, "none for Quechua"),
        ]
        w.emit(PhaseStart("translate:it", "translate"))
        w.emit(PhaseEnd("translate:it", "translate", info={"mt_quality": [m.to_dict() for m in scores]}))
    with EventWriter(RunDir(dirs[3]).events) as w:
        w.emit(PhaseStart("eval:zh", "eval", None))  # started, not ended
    return dirs


def test_rows_of_run_directories_have_exactly_their_tables_columns(run_dirs):
    problems: list[str] = []
    seen: dict[str, int] = {}
    for d in run_dirs:
        rec, lines = read_records(d)
        built: dict[str, list[Any]] = {
            "runs": [rows.run_row(rec)],
            "phases": rows.phase_rows(rec),
            "evals": rows.eval_rows(rec),
            "curves": rows.curve_rows(rec),
            "mt_quality": rows.mt_quality_rows(rec),
            "data_sources": rows.data_source_rows(rec),
            "events": [rows.event_columns(rec.run_id, lines)],
        }
        for table, table_rows in built.items():
            seen[table] = seen.get(table, 0) + len(table_rows)
            for row in table_rows:
                problems += key_problems(table, row)
    assert problems == []
    assert all(seen[t] for t in ("runs", "phases", "evals", "curves", "mt_quality", "data_sources", "events")), seen


def test_a_phase_row_has_every_column_before_and_after_it_completes(run_dirs):
    rec, _ = read_records(run_dirs[3])  # running: its last phase has not completed
    phases = rows.phase_rows(rec)
    assert {p["completed"] for p in phases} == {True, False}
    assert [key_problems("phases", p) for p in phases] == [[] for _ in phases]


def test_forecast_rows_have_exactly_the_tables_columns():
    phase = PhaseForecast("target:copa", "target", 1, wall_s=60.0, device_hours=60 / 3600, notes=["a note"])
    run = RunForecast("r1", "direct", "direct", "tiny-xlmr", 0, [phase], suggested_time_s=600.0)
    fc = PlanForecast("f1", 1.7e9, "p", "p.toml", "probe", {"type": "cpu", "name": "cpu"}, None, {}, [run])
    (row,) = rows.forecast_rows(fc, "forecasts/f1.json")
    assert key_problems("forecasts", row) == []


def test_verdict_rows_have_exactly_their_tables_columns(tmp_path):
    make_standard_store(tmp_path)
    ingest(tmp_path)
    with connect_ro(tmp_path) as con:
        configs = verdict_tables.load_configurations(con)
    acc = [r for cfg in configs.values() for r in verdict_tables.accuracy_rows(cfg)]
    cmp = [
        r
        for cid, base in verdict_tables.default_baseline(configs).items()
        for r in verdict_tables.comparison_rows(configs[cid], configs[base])
    ]
    assert acc and cmp
    assert [p for r in acc for p in key_problems("verdict_accuracy", r)] == []
    assert [p for r in cmp for p in key_problems("verdict_comparison", r)] == []
