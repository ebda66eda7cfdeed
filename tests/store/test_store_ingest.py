"""Ingest: run directories → rows, idempotently; malformed lines; schema versions."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from support.store_fixtures import make_run_dir, make_standard_store

from xcost_tui import XCOPA_LANGS
from xcost_tui.errors import StoreError
from xcost_tui.rundir import JsonlWriter, RunStatus, update_status
from xcost_tui.store import db, schema
from xcost_tui.store import ingest as ingest_mod
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest, stage_run

TABLES = schema.RUN_TABLES + (schema.LEADERBOARD_TABLE,)


def dump(store, tables=TABLES) -> dict[str, list]:
    """Every row of every table, in a canonical order."""
    with connect_ro(store) as con:
        return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}


@pytest.fixture(scope="module")
def std(tmp_path_factory):
    root = tmp_path_factory.mktemp("std")
    runs = make_standard_store(root)
    report = ingest(root)
    return root, runs, report


def rows(store, sql, params=None):
    with connect_ro(store) as con:
        return con.execute(sql, params or []).fetchall()


def test_tables_hold_every_run(std):
    root, runs, report = std
    assert {s.run_id for s in report.ingested} == {p.name for p in runs.values()}
    assert report.rebuilt  # a new store
    counts = dict(rows(root, "SELECT run_id, count(*) FROM evals GROUP BY run_id"))
    assert counts["direct-s0"] == 12 and counts["fewshot-s0"] == 3
    assert "direct-failed" not in counts  # failed before any evaluation
    runs_rows = {
        r[0]: r
        for r in rows(
            root,
            "SELECT run_id, status, error, failed_phase, current_phase, method, k, "
            "intermediate, torch_version, transformers_version, cuda_version, device_type FROM runs",
        )
    }
    assert runs_rows["direct-failed"][1:4] == ("failed", "RuntimeError: loss is NaN", "eval:en")
    assert runs_rows["direct-running"][1] == "running" and runs_rows["direct-running"][4]
    assert runs_rows["fewshot-s0"][5:7] == ("few-shot", 16)
    assert runs_rows["inter-s0"][7] == ["siqa"] and runs_rows["direct-s0"][7] == []
    assert runs_rows["direct-s0"][8:12] == ("2.5.1", "4.46.0", None, "cpu")
    # spec column is the RunSpec dict
    spec = json.loads(rows(root, "SELECT spec FROM runs WHERE run_id = 'fewshot-s0'")[0][0])
    assert spec["few_shot_k"] == 16 and spec["langs"] == ["it", "zh"]


def test_phases_costs_and_sources(std):
    root, _, _ = std
    got = rows(
        root,
        """SELECT phase, kind, ordinal, completed, device_hours, flops_analytic, flops_measured,
                               flops_sampled_steps, energy_j, energy_j_reason, mfu, mfu_reason, flops_analytic_source,
                               tasks, reused_from_run, reused_from_phase
                        FROM phases WHERE run_id = 'inter-s0-reuse' ORDER BY ordinal""",
    )
    first = got[0]
    assert first[:4] == ("intermediate:siqa", "intermediate", 1, True)
    assert first[4] is None and first[9] == "reused: counted in inter-s0"
    assert first[14:] == ("inter-s0", "intermediate:siqa")
    target = got[1]
    assert target[0] == "target:copa" and target[4] == pytest.approx(0.02)
    assert target[5] == pytest.approx(0.02 * 1e15) and target[6] == pytest.approx(0.02 * 1e15 * 1.02)
    assert target[7] == 3 and target[8] == 60.0 and target[10] is None and "unknown" in target[11]
    assert target[12] == "analytic" and target[13] == ["copa"]
    bench = rows(
        root,
        "SELECT latency_p50_s, latency_n, throughput_examples_per_s, peak_mem_bytes FROM phases "
        "WHERE run_id = 'direct-s0' AND kind = 'inference-bench'",
    )
    assert bench == [(0.01, 50, pytest.approx(800.0), 500_000_000)]
    # the failed run: the phase it died in started but never completed
    failed = rows(root, "SELECT phase, completed FROM phases WHERE run_id = 'direct-failed' ORDER BY ordinal")
    assert failed == [("target:copa", True), ("eval:en", False)]


def test_predictions_agree_with_evals(std):
    """A second, independent way to the same accuracy: recomputed from the stored predictions."""
    root, _, _ = std
    got = rows(
        root,
        """SELECT e.run_id, e.lang, e.accuracy, avg(p.correct::INT), count(*), e.n
                        FROM evals e JOIN predictions p USING (run_id, phase)
                        GROUP BY ALL""",
    )
    assert got
    for run_id, lang, acc, recomputed, count, n in got:
        assert recomputed == pytest.approx(acc), (run_id, lang)
        assert count == n
    scores = rows(root, "SELECT scores FROM predictions WHERE run_id = 'direct-s0' AND lang = 'it' AND idx = 3")[0][0]
    assert scores == [pytest.approx(-0.3), pytest.approx(0.3)]


def test_samples_one_row_per_gpu(std):
    root, _, _ = std
    direct = rows(
        root,
        "SELECT count(*), count(gpu_index), min(gpu_name), max(gpu_power_w) FROM samples WHERE run_id = 'direct-s0'",
    )
    assert direct == [(20, 20, "NVIDIA H100 80GB HBM3", 500.0)]
    cpu = rows(root, "SELECT count(*), count(gpu_index), min(rss_bytes) FROM samples WHERE run_id = 'inter-s0'")
    assert cpu == [(20, 0, 1_000_000_000)]


def test_events_in_order(std):
    root, runs, _ = std
    got = rows(root, "SELECT seq, type, phase, json->>'type' FROM events WHERE run_id = 'direct-s0' ORDER BY seq")
    assert [r[0] for r in got] == list(range(len(got)))
    assert got[0][1] == "run_start" and got[-1][1] == "run_end"
    assert all(r[1] == r[3] for r in got)
    lines = [ln for ln in (runs["direct"] / "events.jsonl").read_text().splitlines() if ln]
    assert len(got) == len(lines)


def test_truncated_last_line_is_skipped_with_a_warning(std):
    root, runs, report = std
    warnings = [w for w in report.warnings if "direct-running" in w]
    assert len(warnings) == 1
    assert "events.jsonl: skipped 1 malformed line" in warnings[0] and "half-written" in warnings[0]
    n_lines = len((runs["running"] / "events.jsonl").read_text().splitlines())
    assert rows(root, "SELECT count(*) FROM events WHERE run_id = 'direct-running'")[0][0] == n_lines - 1


def test_truncated_bulk_files_warn(tmp_path):
    run = make_run_dir(
        tmp_path,
        run_id="crashed",
        status="failed",
        stop_after="eval:it",
        langs=["it", "zh"],
        n_gpus=2,
        truncate=["predictions.jsonl", "samples.jsonl"],
    )
    staged = stage_run(run)
    text = "\n".join(staged.warnings)
    assert "predictions.jsonl: skipped 1 malformed line, the last one half-written" in text
    assert "samples.jsonl: skipped 1 malformed line" in text
    assert staged.tables["samples"].num_rows == 19 * 2  # 20 lines, the last cut; 2 GPUs each
    assert staged.tables["predictions"].num_rows == 2 * 100 - 1  # en + it, the last line cut


def test_ingest_twice_gives_identical_rows(tmp_path):
    make_standard_store(tmp_path)
    ingest(tmp_path)
    first = dump(tmp_path)
    ingest(tmp_path)
    assert dump(tmp_path) == first
    ingest(tmp_path, [tmp_path / "runs" / "direct-s0", tmp_path / "runs" / "inter-s0"])
    assert dump(tmp_path) == first
    db.db_path(tmp_path).unlink()
    ingest(tmp_path)
    assert dump(tmp_path) == first


def test_a_crash_mid_write_leaves_the_old_rows(tmp_path, monkeypatch):
    make_run_dir(tmp_path, run_id="r1", langs=["it"], n_samples=50)
    ingest(tmp_path)
    before = dump(tmp_path)
    # the run grows, and the write of its new rows dies half-way through
    with JsonlWriter(tmp_path / "runs" / "r1" / "samples.jsonl") as w:
        w.write({"t": 1.0, "phase": None, "cpu_percent": 1.0, "rss_bytes": 1, "gpus": []})
    calls = {"n": 0}

    class Boom(RuntimeError):
        pass

    def flaky_write(con, staged):
        con.execute("BEGIN TRANSACTION")
        try:
            for name in schema.RUN_TABLES:
                con.execute(f"DELETE FROM {name} WHERE run_id = ?", [staged.run_id])
            calls["n"] += 1
            raise Boom("power cut")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    monkeypatch.setattr(ingest_mod, "write_run", flaky_write)
    with pytest.raises(Boom):
        ingest(tmp_path)
    assert calls["n"] == 1
    assert dump(tmp_path) == before  # rolled back: no half-deleted run
    monkeypatch.undo()
    ingest(tmp_path)
    assert rows(tmp_path, "SELECT count(*) FROM samples")[0][0] == 51


def test_live_run_ingested_repeatedly(tmp_path):
    run = make_run_dir(tmp_path, run_id="live", status="running", langs=["it", "zh"], truncate=["events.jsonl"])
    ingest(tmp_path, [run])
    assert rows(tmp_path, "SELECT status, ended FROM runs")[0] == ("running", None)
    # the job goes on: finishes the half-written line and the run
    events = run / "events.jsonl"
    data = events.read_bytes()
    events.write_bytes(data[: data.rfind(b"\n") + 1])
    with JsonlWriter(events) as w:
        w.write(
            {
                "t": 2e9,
                "type": "eval_result",
                "phase": "eval:it",
                "task": "xcopa",
                "lang": "it",
                "split": "test",
                "accuracy": 0.75,
                "n": 100,
                "correct": 75,
            }
        )
        w.write(
            {"t": 2e9 + 1, "type": "run_end", "status": "succeeded", "error": None, "phase": None, "traceback": None}
        )
    update_status(run, RunStatus.SUCCEEDED, ended=2e9 + 1)
    report = ingest(tmp_path, [run])
    assert not report.warnings
    assert rows(tmp_path, "SELECT status, ended IS NOT NULL FROM runs") == [("succeeded", True)]
    assert rows(tmp_path, "SELECT lang, accuracy FROM evals WHERE lang <> 'en'") == [("it", 0.75)]
    assert rows(tmp_path, "SELECT count(*) FROM runs")[0][0] == 1


def test_only_changed_skips_unchanged_runs(tmp_path):
    make_run_dir(tmp_path, run_id="a", langs=["it"])
    make_run_dir(tmp_path, run_id="b", langs=["it"])
    ingest(tmp_path)
    report = ingest(tmp_path, only_changed=True)
    assert sorted(report.unchanged) == ["a", "b"] and not report.ingested
    with JsonlWriter(tmp_path / "runs" / "b" / "events.jsonl") as w:
        w.write({"t": 3e9, "type": "warning", "message": "hello", "phase": None})
    report = ingest(tmp_path, only_changed=True)
    assert report.unchanged == ["a"] and [s.run_id for s in report.ingested] == ["b"]
    assert rows(tmp_path, "SELECT n_warnings FROM runs WHERE run_id = 'b'")[0][0] == 1


def test_full_ingest_prunes_runs_whose_directory_is_gone(tmp_path):
    make_run_dir(tmp_path, run_id="keep", langs=["it"])
    gone = make_run_dir(tmp_path, run_id="gone", langs=["it"])
    ingest(tmp_path)
    shutil.rmtree(gone)
    ingest(tmp_path, [tmp_path / "runs" / "keep"])  # naming runs never prunes
    assert rows(tmp_path, "SELECT count(*) FROM runs")[0][0] == 2
    report = ingest(tmp_path)
    assert report.pruned == ["gone"]
    for t in TABLES:
        assert rows(tmp_path, f"SELECT count(*) FROM {t} WHERE run_id = 'gone'")[0][0] == 0


def test_run_dir_outside_the_store(tmp_path):
    elsewhere = make_run_dir(tmp_path / "elsewhere", run_id="ext", langs=["it"])
    store = tmp_path / "store"
    make_run_dir(store, run_id="inside", langs=["it"])
    report = ingest(store, [elsewhere])  # a new store also picks up everything under store/runs
    assert {s.run_id for s in report.ingested} == {"ext", "inside"}
    assert rows(store, "SELECT run_dir FROM runs WHERE run_id = 'ext'")[0][0] == str(elsewhere.resolve())
    assert ingest(store).pruned == []  # its directory still exists


def test_not_a_run_dir_is_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    report = ingest(tmp_path, [tmp_path / "empty", tmp_path / "nope"])
    assert len(report.missing) == 2 and "not a run directory" in report.warnings[0]


def test_missing_database_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match=r"no results database at .*xcost.duckdb: run a plan, or `xcost-tui ingest"):
        with connect_ro(tmp_path):
            pass


def test_other_schema_version_is_refused_then_rebuilt(tmp_path):
    make_run_dir(tmp_path, run_id="r", langs=["it"])
    ingest(tmp_path)
    expected = dump(tmp_path)
    con = duckdb.connect(str(db.db_path(tmp_path)))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.execute("DROP VIEW leaderboard")  # an old store's shape differs
    con.close()
    with pytest.raises(StoreError) as err:
        with connect_ro(tmp_path):
            pass
    msg = str(err.value)
    assert "has schema version 0, this xcost-tui expects" in msg and "run `xcost-tui ingest` to rebuild it" in msg
    report = ingest(tmp_path, [])
    assert report.rebuilt and [s.run_id for s in report.ingested] == ["r"]
    assert dump(tmp_path) == expected


def test_accuracy_languages_cover_xcopa():
    assert len(XCOPA_LANGS) == 11
    cols = [c for c, _ in schema.TABLES["phases"]]
    for name in ("flops_analytic", "flops_measured", "peak_mem_bytes", "energy_j", "mfu"):
        assert f"{name}_source" in cols and f"{name}_reason" in cols


def test_a_damaged_run_dir_is_ingested_with_warnings(tmp_path):
    bad = tmp_path / "runs" / "damaged"
    bad.mkdir(parents=True)
    (bad / "spec.json").write_text("{not json")
    (bad / "events.jsonl").write_text("garbage\n[1, 2]\n")
    (bad / "predictions.jsonl").write_text('{"idx": "x"}\n')
    make_run_dir(tmp_path, run_id="fine", langs=["it"])
    report = ingest(tmp_path)
    assert sorted(s.run_id for s in report.ingested) == ["damaged", "fine"]
    text = "\n".join(report.warnings)
    assert "spec.json: not valid JSON" in text and "events.jsonl: skipped 2 malformed lines (line 1, 2)" in text
    assert "predictions.jsonl: skipped 1 malformed line" in text
    assert rows(tmp_path, "SELECT status, method FROM runs WHERE run_id = 'damaged'") == [("unknown", None)]


def test_a_malformed_status_and_a_glob_named_run_dir_leave_the_others_alone(tmp_path):
    """A status.json that is valid JSON but not an object, of a run without a run_end (how it
    ended is unknown), is skipped and reported (with a run_end it is ingested from its events:
    tests/faults/test_write_faults.py); a run directory literally named ``*`` gets its own rows
    only (DuckDB's readers expand globs)."""
    root = tmp_path
    a = make_run_dir(root, run_id="direct-a", n_eval=10)
    b = make_run_dir(root, run_id="direct-b", seed=1, n_eval=10)
    star = make_run_dir(root, run_id="*", seed=2, n_eval=10)
    bad = make_run_dir(root, run_id="direct-bad", seed=3, n_eval=10, status="running")
    (bad / "status.json").write_text("[1,2]")
    (star / "predictions.jsonl").write_text((star / "predictions.jsonl").read_text().splitlines(True)[0])
    report = ingest(root)
    assert report.skipped == [bad]
    assert any("direct-bad" in w and "expected a JSON object" in w for w in report.warnings)
    assert {s.run_id for s in report.ingested} == {"direct-a", "direct-b", "*"}
    counts = dict(rows(root, "SELECT run_id, count(*) FROM predictions GROUP BY run_id"))
    from support.store_fixtures import read_jsonl_lines

    assert counts["*"] == 1, "the * run's rows are its own only"
    for run_dir in (a, b):
        assert counts[run_dir.name] == len(read_jsonl_lines(run_dir / "predictions.jsonl"))
    samples = dict(rows(root, "SELECT run_id, count(DISTINCT t) FROM samples GROUP BY run_id"))
    for run_dir in (a, b, star):
        assert samples[run_dir.name] == len(read_jsonl_lines(run_dir / "samples.jsonl"))
    assert "direct-bad" not in {r[0] for r in rows(root, "SELECT run_id FROM runs")}


def test_inference_memory_is_the_increase_and_the_run_keeps_its_lifetime_peak(tmp_path):
    """The leaderboard's inference memory is what the inference phase added over its start; the
    absolute peak is its own column; the run's lifetime peak (start-up included) is a run column."""
    root = tmp_path / "store"
    make_run_dir(
        root,
        run_id="r",
        langs=["it"],
        peak_mem_bytes=900,
        peak_infer_mem_bytes=100,
        infer_mem_start_bytes=800,
        lifetime_peak_mem_bytes=1500,
    )
    ingest(root)
    got = rows(
        root, "SELECT run_id, peak_infer_mem_bytes, peak_infer_mem_abs_bytes, peak_mem_lifetime_bytes FROM leaderboard"
    )
    assert got == [("r", 100, 900, 1500)]
    assert rows(root, "SELECT peak_mem_lifetime_bytes, peak_mem_lifetime_source FROM runs WHERE run_id = 'r'") == [
        (1500, "procfs")
    ]
    bench = rows(
        root,
        "SELECT peak_mem_bytes, peak_mem_increase_bytes, peak_mem_increase_bytes_source FROM phases "
        "WHERE run_id = 'r' AND kind = 'inference-bench'",
    )
    assert bench == [(900, 100, "procfs")]
