"""Forecasts in the store: the files, the forecasts table, the forecast_error view (forecast against
measurement per phase), suggested_time_limit, the headless summary line and the app's column."""

from __future__ import annotations

import json
import time

import pytest
from support.store_fixtures import make_run_dir

from xcost_tui.rundir import RunDir
from xcost_tui.rundir.forecast import (
    PhaseForecast,
    PlanForecast,
    RunForecast,
    save_forecast,
    schedule,
    slurm_time,
    time_limit,
)
from xcost_tui.spec import RunSpec
from xcost_tui.store.db import connect_ro
from xcost_tui.store.forecasts import forecast_summary, hours_text, phase_forecasts, suggested_time_limit
from xcost_tui.store.ingest import ingest


def _forecast(
    run_id: str,
    phases: dict[str, dict],
    *,
    made_at: float,
    device: str = "cpu",
    mode: str = "probe",
    family: str | None = None,
    fid: str | None = None,
    shared: dict | None = None,
) -> PlanForecast:
    pfs = []
    for i, (name, fig) in enumerate(phases.items()):
        kind = name.split(":")[0] if ":" in name else name
        pfs.append(
            PhaseForecast(
                phase=name,
                kind=kind,
                ordinal=i,
                wall_s=fig["dh"] * 3600,
                device_hours=fig["dh"],
                flops=fig.get("flops"),
                peak_mem_bytes=fig.get("mem"),
                lengths_source=fig.get("lengths", "measured"),
                counts_source="data",
                shared_from=(shared or {}).get(name),
                fits=fig.get("fits"),
            )
        )
    run = RunForecast(
        run_id=run_id, name="direct", method="direct", model="tiny-xlmr", seed=0, phases=pfs, startup_s=10.0
    )
    run.suggested_time_s = time_limit(run.wall_s)
    return PlanForecast(
        forecast_id=fid or f"f{made_at:.0f}",
        made_at=made_at,
        plan="p",
        plan_label="p.toml",
        mode=mode,
        device={"type": "cpu", "name": device, "family": family or device},
        efficiency=None,
        env={"host": "testhost"},
        runs=[run],
    )


@pytest.fixture
def store_with_run(tmp_path):
    store = tmp_path / "store"
    run = make_run_dir(store, langs=["it"], device_hours={"target:copa": 0.02}, peak_mem_bytes=1_000_000_000)
    return store, run.name


def test_forecast_error_compares_forecast_and_measurement_per_phase(store_with_run):
    store, rid = store_with_run
    # measured (store_fixtures): target:copa 0.02 h, 0.02e15 FLOPs, 1e9 B; eval phases 0.02/100 h
    save_forecast(
        store,
        _forecast(
            rid,
            {"target:copa": {"dh": 0.022, "flops": 0.02e15 * 1.01, "mem": 1.1e9}, "eval:it": {"dh": 0.0002 * 0.5}},
            made_at=1000,
        ),
    )
    ingest(store)
    with connect_ro(store) as con:
        rows = {
            r[0]: r
            for r in con.execute(
                "SELECT phase, forecast_device_hours, measured_device_hours, device_hours_error, flops_error, "
                "peak_mem_error, same_device FROM forecast_error WHERE run_id = ?",
                [rid],
            ).fetchall()
        }
    assert set(rows) == {"target:copa", "eval:it"}
    phase, f_dh, m_dh, e_dh, e_fl, e_mem, same = rows["target:copa"]
    assert f_dh == pytest.approx(0.022) and m_dh == pytest.approx(0.02)
    assert e_dh == pytest.approx(0.1)  # forecast / measured - 1
    assert e_fl == pytest.approx(0.01)
    assert e_mem == pytest.approx(0.1)
    assert same is True
    assert rows["eval:it"][3] == pytest.approx(-0.5)
    assert rows["eval:it"][4] is None  # no FLOPs in that forecast: no error, not zero


def test_forecast_error_takes_the_newest_forecast_for_the_runs_device(store_with_run):
    store, rid = store_with_run
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 0.04}}, made_at=1000, fid="old"))
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 0.03}}, made_at=2000, fid="new"))
    # newer still, but for another device (a profile of a GPU family the run did not use)
    save_forecast(
        store,
        _forecast(
            rid,
            {"target:copa": {"dh": 0.001}},
            made_at=3000,
            fid="h100",
            device="H100 SXM",
            mode="profile",
            family="H100",
        ),
    )
    ingest(store)
    with connect_ro(store) as con:
        ((fid, f_dh),) = con.execute(
            "SELECT forecast_id, forecast_device_hours FROM forecast_error WHERE phase = 'target:copa'"
        ).fetchall()
        n = con.execute("SELECT count(*) FROM forecasts").fetchone()[0]
    assert fid == "new" and f_dh == pytest.approx(0.03)
    assert n == 3


def test_forecast_error_leaves_out_reused_and_shared_phases(tmp_path):
    store = tmp_path / "store"
    producer = make_run_dir(store, method="intermediate", intermediate=["rte"], langs=["it"])
    consumer = make_run_dir(
        store, method="intermediate", intermediate=["rte"], langs=["it"], seed=1, reused_from=producer.name
    )
    save_forecast(
        store,
        _forecast(
            consumer.name,
            {"intermediate:rte": {"dh": 0.01}, "target:copa": {"dh": 0.01}},
            made_at=1000,
            shared={"intermediate:rte": producer.name},
        ),
    )
    ingest(store)
    with connect_ro(store) as con:
        phases = [r[0] for r in con.execute("SELECT phase FROM forecast_error").fetchall()]
        shared = con.execute("SELECT shared, shared_from FROM forecasts WHERE phase = 'intermediate:rte'").fetchone()
    assert phases == ["target:copa"]
    assert shared == (True, producer.name)


def test_forecasts_are_rebuilt_from_their_files(store_with_run):
    """The files are the source of truth: a store deleted and re-ingested has the same forecasts."""
    store, rid = store_with_run
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 0.02}}, made_at=1000))
    ingest(store)
    with connect_ro(store) as con:
        before = con.execute("SELECT * EXCLUDE (path) FROM forecasts ORDER BY phase").fetchall()
    (store / "xcost.duckdb").unlink()
    ingest(store)
    ingest(store)  # idempotent: unchanged files, unchanged table
    with connect_ro(store) as con:
        after = con.execute("SELECT * EXCLUDE (path) FROM forecasts ORDER BY phase").fetchall()
    assert before == after and len(after) == 1


def test_a_forecast_file_changed_after_an_ingest_is_read_again(store_with_run):
    store, rid = store_with_run
    ingest(store)
    with connect_ro(store) as con:
        assert con.execute("SELECT count(*) FROM forecasts").fetchone()[0] == 0
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 0.02}}, made_at=1000))
    report = ingest(store, [])  # what plan estimate runs: no run directory, the forecast files only
    assert report.forecasts == 1
    (store / "forecasts" / "broken.json").write_text("{not json")
    report = ingest(store, [])
    assert report.forecasts == 1
    assert any("broken.json" in w for w in report.warnings)


def test_headless_summary_line(store_with_run):
    store, rid = store_with_run
    ingest(store)
    assert forecast_summary(store, [rid]) is None  # no forecast yet: no line
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 1.9}, "eval:it": {"dh": 0.0}}, made_at=1000))
    ingest(store)
    with connect_ro(store) as con:
        measured = con.execute(
            "SELECT sum(device_hours) FROM phases WHERE run_id = ? AND phase IN ('target:copa', 'eval:it')", [rid]
        ).fetchone()[0]
    line = forecast_summary(store, [rid])
    assert line.startswith(f"forecast 1.9 h, measured {hours_text(measured)}, ")
    assert f"{measured / 1.9 - 1:+.0%}" in line
    assert "2 phases of 1 run" in line
    assert forecast_summary(store, ["another-run"]) is None


def test_hours_text():
    assert hours_text(1.9) == "1.9 h"
    assert hours_text(2.1) == "2.1 h"
    assert hours_text(42.4) == "42 h"
    assert hours_text(0.001) == "3.6 s"
    assert hours_text(0.01) == "36 s"


def test_suggested_time_limit(tmp_path, monkeypatch):
    spec = RunSpec(method="direct", model="tiny-xlmr")
    rid = spec.run_id()
    store = tmp_path / "store"
    assert suggested_time_limit(spec, store) is None
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 1.0}}, made_at=1000))
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 2.0}}, made_at=2000))
    # newest: 2 h + 10 s start-up, x 1.5, up to the minute
    assert suggested_time_limit(spec, store) == 3 * 3600 + 60
    monkeypatch.setenv("XCOST_STORE", str(store))
    assert suggested_time_limit(spec) == 3 * 3600 + 60
    assert slurm_time(3 * 3600 + 60) == "03:01:00"
    assert slurm_time(2 * 86400 + 61) == "2-00:01:01"
    assert time_limit(1.0) == 300.0  # at least five minutes


def test_schedule_respects_slots_and_reuse():
    runs = [("a", 10.0, None), ("b", 10.0, None), ("c", 5.0, "a"), ("d", 1.0, None)]
    assert schedule(runs, 1) == 26.0
    # two slots: a, b in parallel (0-10); c waits for a (10-15); d on the first free slot (10-11)
    assert schedule(runs, 2) == 15.0
    assert schedule(runs, 8) == 15.0  # c can never start before a ends


def test_plan_totals_count_a_shared_phase_once(tmp_path):
    fc = _forecast("r1", {"intermediate:siqa": {"dh": 1.0}, "target:copa": {"dh": 0.5}}, made_at=1)
    consumer = _forecast(
        "r2",
        {"intermediate:siqa": {"dh": 1.0}, "target:copa": {"dh": 0.5}},
        made_at=1,
        shared={"intermediate:siqa": "r1"},
    ).runs[0]
    fc.runs.append(consumer)
    totals = fc.totals()
    assert totals["all"]["device_hours"] == pytest.approx(2.0)
    assert fc.totals("kind")["intermediate"]["phases"] == 1
    back = PlanForecast.from_dict(json.loads(json.dumps(fc.to_dict())))
    assert back.totals() == totals and back.runs[1].phases[0].shared_from == "r1"


def test_run_detail_reads_the_forecast_of_each_phase(store_with_run):
    store, rid = store_with_run
    save_forecast(store, _forecast(rid, {"target:copa": {"dh": 0.022}, "eval:it": {"dh": 0.0002}}, made_at=1000))
    ingest(store)
    got = phase_forecasts(store, rid)
    assert got["target:copa"]["forecast_device_hours"] == pytest.approx(0.022)
    assert got["target:copa"]["device_hours_error"] == pytest.approx(0.1)
    from xcost_tui import present

    col = next(c for c in present.PHASES if c.key == "device_hours_error")
    assert col.cell(got["target:copa"]["device_hours_error"]) == "+10%"
    assert col.cell(-0.034) == "-3.4%"


def test_saved_forecast_is_under_the_store(tmp_path):
    store = tmp_path / "store"
    path = save_forecast(store, _forecast("r", {"target:copa": {"dh": 1.0}}, made_at=time.time()))
    assert path.parent == store / "forecasts" and path.suffix == ".json"
    assert not RunDir(path.parent).exists()  # never taken for a run directory


def test_schema_doc_names_every_forecast_column(store_with_run):
    from pathlib import Path

    store, _ = store_with_run
    ingest(store)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text()
    with connect_ro(store) as con:
        for name in ("forecasts", "forecast_error"):
            assert f"### {name}" in doc
            cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
            missing = [c for c in cols if c not in doc]
            assert not missing, f"docs/schema.md does not mention {name}.{missing}"
