"""Views and the query API: leaderboard, amortisation, Pareto, run detail, example queries."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import pytest
from support.store_fixtures import make_run_dir, make_standard_store

from xcost_tui import XCOPA_LANGS
from xcost_tui.errors import StoreError
from xcost_tui.store import db, query
from xcost_tui.store.ingest import ingest

QUERIES = Path(__file__).resolve().parents[2] / "store" / "queries"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("q")
    make_standard_store(root)
    ingest(root)
    return root


def by_id(table) -> dict[str, dict]:
    return {r["run_id"]: r for r in table.to_pylist()}


def test_leaderboard_columns(store):
    cols = query.leaderboard_columns(store)
    for c in (
        "run_id",
        "name",
        "model",
        "method",
        "intermediate",
        "k",
        "seed",
        "status",
        "avg_accuracy",
        "en_accuracy",
        "transfer_gap",
        "train_device_hours",
        "train_flops",
        "train_energy_j",
        "peak_train_mem_bytes",
        "latency_p50_s",
        "peak_infer_mem_bytes",
        "own_train_device_hours",
        "own_train_flops",
        "intermediate_device_hours",
        "config_id",
    ):
        assert c in cols
    assert [c for c in cols if c.startswith("acc_")] == [f"acc_{lang}" for lang in XCOPA_LANGS]


def test_leaderboard_orders_by_accuracy_nulls_last(store):
    t = query.leaderboard(store)
    ids = t.column("run_id").to_pylist()
    assert ids[:4] == ["fewshot-s0", "inter-s0", "inter-s0-reuse", "direct-s0"]
    assert set(ids[4:]) == {"direct-failed", "direct-running"}  # no target-language accuracy
    r = by_id(t)["direct-s0"]
    assert r["avg_accuracy"] == pytest.approx(sum(0.5 + 0.01 * i for i in range(11)) / 11)
    assert r["en_accuracy"] == pytest.approx(0.7)
    assert r["transfer_gap"] == pytest.approx(0.7 - r["avg_accuracy"])
    assert r["acc_zh"] == pytest.approx(0.6) and r["n_langs"] == 11
    few = by_id(t)["fewshot-s0"]
    assert few["acc_et"] is None and few["acc_it"] == pytest.approx(0.7) and few["n_langs"] == 2
    asc = query.leaderboard(store, descending=False).column("run_id").to_pylist()
    assert asc[:4] == ["direct-s0", "inter-s0-reuse", "inter-s0", "fewshot-s0"] and set(asc[4:]) == set(ids[4:])


def test_leaderboard_orders_by_language_and_cost(store):
    by_et = query.leaderboard(store, order_by="acc_et").column("run_id").to_pylist()
    assert by_et[:3] == ["inter-s0", "inter-s0-reuse", "direct-s0"]  # few-shot did not evaluate et: last
    by_cost = (
        query.leaderboard(store, order_by="train_device_hours", descending=False, filters={"status": "succeeded"})
        .column("run_id")
        .to_pylist()
    )
    # the full pipeline: the reuser's cost includes the SIQA phase it reused (0.06 + 0.02 > 0.07)
    assert by_cost == ["direct-s0", "fewshot-s0", "inter-s0", "inter-s0-reuse"]
    own = query.leaderboard(
        store,
        order_by="own_train_device_hours",
        descending=False,
        filters={"status": ["succeeded"]},
        columns=["run_id", "own_train_device_hours"],
    )
    assert own.column_names == ["run_id", "own_train_device_hours"]
    assert own.column("run_id").to_pylist() == ["direct-s0", "fewshot-s0", "inter-s0-reuse", "inter-s0"]


def test_filters_text_paging_and_count(store):
    t = query.leaderboard(store, filters={"method": ["direct"]})
    assert set(t.column("run_id").to_pylist()) == {"direct-s0", "direct-failed", "direct-running"}
    assert query.count_runs(store, {"method": ["direct"]}) == 3
    assert query.count_runs(store, {"intermediate": [None]}) == 4  # NULL matches None
    assert query.count_runs(store, {"method": []}) == 6  # an empty choice constrains nothing
    assert query.count_runs(store, text="SIQA reuse") == 1
    assert query.count_runs(store, None, "running") == 1
    page = query.leaderboard(store, limit=2, offset=1).column("run_id").to_pylist()
    assert page == ["inter-s0", "inter-s0-reuse"]
    assert query.distinct_values(store, "method") == ["direct", "few-shot", "intermediate"]


def test_column_names_are_checked(store):
    with pytest.raises(StoreError, match="no column 'avg_acuracy'.*did you mean 'avg_accuracy'"):
        query.leaderboard(store, order_by="avg_acuracy")
    with pytest.raises(StoreError, match="no column"):
        query.leaderboard(store, order_by="avg_accuracy; DROP TABLE runs")
    with pytest.raises(StoreError, match="no column"):
        query.count_runs(store, {"1=1 OR method": "x"})
    with pytest.raises(StoreError, match="no cost axis"):
        query.pareto(store, x="wall")


def test_full_pipeline_own_and_intermediate_costs(store):
    t = by_id(query.leaderboard(store))
    prod, reuse = t["inter-s0"], t["inter-s0-reuse"]
    # producer paid 0.06 (siqa) + 0.01 (copa); the reuser paid 0.02 (copa) and reused siqa
    assert prod["train_device_hours"] == pytest.approx(0.07) and prod["own_train_device_hours"] == pytest.approx(0.07)
    # the reuser's full pipeline counts the SIQA phase where it was incurred: SIQA+COPA is not as cheap as COPA
    assert reuse["train_device_hours"] == pytest.approx(0.06 + 0.02)
    assert reuse["own_train_device_hours"] == pytest.approx(0.02)
    assert prod["intermediate_device_hours"] == reuse["intermediate_device_hours"] == pytest.approx(0.06)
    assert reuse["train_flops"] == pytest.approx((0.06 + 0.02) * 1e15)
    assert reuse["own_train_flops"] == pytest.approx(0.02 * 1e15)
    assert prod["reused_by_runs"] == 1 and reuse["reused_phases"] == 1 and reuse["reused_from_run"] == "inter-s0"
    # energy: the producer's SIQA phase (50 J) is part of the reuser's full pipeline
    assert prod["train_energy_j"] == 100.0 and reuse["train_energy_j"] == 50.0 + 60.0
    assert reuse["own_train_energy_j"] == 60.0 and reuse["intermediate_energy_j"] == 50.0
    d = t["direct-s0"]
    assert d["own_train_device_hours"] == pytest.approx(d["train_device_hours"]) == pytest.approx(0.01)
    assert d["intermediate_device_hours"] == 0
    # energy unmeasured in any training phase → NULL, never a partial sum
    assert t["fewshot-s0"]["train_energy_j"] is None
    assert t["fewshot-s0"]["train_device_hours"] == pytest.approx(0.012)
    assert d["latency_p50_s"] == 0.01 and d["peak_infer_mem_bytes"] == 500_000_000
    assert d["peak_train_mem_bytes"] == 2_000_000_000


def test_full_pipeline_falls_back_on_the_reusers_record(tmp_path):
    """The producing run is not in the store: the reuser's copy of the original cost is used."""
    make_run_dir(
        tmp_path,
        run_id="reuser",
        method="intermediate",
        intermediate=["rte"],
        langs=["it"],
        reused_from="absent-run",
        reused_costs={"intermediate:rte": 0.5},
        device_hours={"target:copa": 0.1},
    )
    ingest(tmp_path)
    r = by_id(query.leaderboard(tmp_path))["reuser"]
    assert r["train_device_hours"] == pytest.approx(0.5 + 0.1)
    assert r["own_train_device_hours"] == pytest.approx(0.1)
    assert r["intermediate_device_hours"] == pytest.approx(0.5)


def _pareto_store(root: Path, points: dict[str, tuple[float, float]], statuses: dict[str, str] | None = None) -> None:
    for run_id, (dh, acc) in points.items():
        make_run_dir(
            root,
            run_id=run_id,
            langs=["it"],
            accuracies={"it": acc},
            device_hours=dh,
            n_eval=1000,
            status=(statuses or {}).get(run_id, "succeeded"),
            stop_after="eval:it",
            n_samples=0,
        )
    ingest(root)


def test_pareto_by_hand(tmp_path):
    points = {
        "cheap": (1.0, 0.50),  # frontier: the cheapest
        "dominated": (2.0, 0.50),  # same accuracy, more cost
        "mid": (2.0, 0.60),  # frontier
        "mid-twin": (2.0, 0.60),  # identical to mid: neither strictly beats the other
        "worse": (3.0, 0.55),  # dominated by mid
        "best": (4.0, 0.70),  # frontier
        "pricey": (5.0, 0.70),  # same accuracy as best, more cost
        "failed": (0.5, 0.90),  # would dominate everything, but failed runs are not candidates
    }
    _pareto_store(tmp_path, points, {"failed": "failed"})
    frontier = query.pareto(tmp_path)
    assert frontier.column("run_id").to_pylist() == ["cheap", "mid", "mid-twin", "best"]
    assert frontier.column("train_device_hours").to_pylist() == [1.0, 2.0, 2.0, 4.0]
    every = by_id(query.cost_vs_accuracy(tmp_path, "train_device_hours"))
    assert set(every) == set(points)
    assert {k for k, r in every.items() if r["on_frontier"]} == {"cheap", "mid", "mid-twin", "best"}
    # brute force, independently
    ok = {k: v for k, v in points.items() if k != "failed"}
    brute = {
        a
        for a, (xa, ya) in ok.items()
        if not any(xb <= xa and yb >= ya and (xb < xa or yb > ya) for b, (xb, yb) in ok.items())
    }
    assert brute == {"cheap", "mid", "mid-twin", "best"}
    with duckdb.connect(str(db.db_path(tmp_path)), read_only=True) as con:
        assert sorted(r[0] for r in con.sql("SELECT run_id FROM pareto").fetchall()) == sorted(brute)
    # another axis: flops default to device-hours × 1e15, the same order
    assert query.pareto(tmp_path, x="train_flops").column("run_id").to_pylist() == ["cheap", "mid", "mid-twin", "best"]
    # an axis nobody measured: no frontier, every run still listed
    energy = query.cost_vs_accuracy(tmp_path, "train_energy_j")
    assert energy.num_rows == len(points) and not any(energy.column("on_frontier").to_pylist())


def test_lang_accuracy_and_grid(store):
    long = query.lang_accuracy(store, ["fewshot-s0"])
    assert {(r["lang"], r["accuracy"]) for r in long.to_pylist()} == {("en", 0.7), ("it", 0.7), ("zh", 0.6)}
    assert query.lang_accuracy(store).num_rows == 12 * 3 + 3 + 1  # + the running run's English eval
    grid = by_method = {r["method"]: r for r in query.method_lang_grid(store).to_pylist()}
    assert set(grid) == {"direct", "intermediate", "few-shot"}
    assert by_method["direct"]["n_runs"] == 1  # failed and running runs are left out
    assert by_method["intermediate"]["acc_et"] == pytest.approx((0.55 + 0.54) / 2)
    assert by_method["few-shot"]["acc_et"] is None
    two = query.method_lang_grid(store, group_by=("model", "method"), statuses=None)
    assert two.column_names[:3] == ["model", "method", "n_runs"]
    assert sum(two.column("n_runs").to_pylist()) == 6


def test_run_detail(store):
    d = query.run_detail(store, "inter-s0-reuse")
    assert d["run"]["method"] == "intermediate" and d["run"]["spec"]["intermediate"] == ["siqa"]
    assert [p["phase"] for p in d["phases"]][:2] == ["intermediate:siqa", "target:copa"]
    assert d["phases"][0]["info"]["reused"] is True
    assert d["phases"][1]["costs"]["device_hours"]["value"] == pytest.approx(0.02)
    assert d["evals"][0]["lang"] == "en" and len(d["evals"]) == 12
    assert d["leaderboard"]["train_device_hours"] == pytest.approx(0.08)  # the reused SIQA phase included
    with pytest.raises(StoreError, match="no run 'nope'"):
        query.run_detail(store, "nope")


def test_run_samples_thinned(store):
    assert query.run_samples(store, "direct-s0").num_rows == 20
    thin = query.run_samples(store, "direct-s0", max_points=5)
    assert 1 <= thin.num_rows <= 5
    ts = thin.column("t").to_pylist()
    assert ts == sorted(ts)


def test_run_sql_is_read_only(store):
    assert query.run_sql(store, "SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 6}]
    table, total = query.run_sql_capped(store, "SELECT * FROM predictions", 10)
    assert (
        table.num_rows == 10 and total == query.run_sql(store, "SELECT count(*) FROM predictions").column(0)[0].as_py()
    )
    with pytest.raises(query.SqlError, match='Cannot execute statement of type "DROP"'):
        query.run_sql(store, "DROP TABLE runs")
    with pytest.raises(query.SqlError, match="read-only"):
        query.run_sql(store, "DELETE FROM runs")
    assert query.run_sql(store, "SELECT count(*) FROM runs").column(0)[0].as_py() == 6


def test_schema_info(store):
    info = query.schema_info(store)
    for name in ("runs", "phases", "evals", "predictions", "samples", "events", "meta"):
        assert info[name]["kind"] == "table"
    for name in ("leaderboard", "lang_accuracy", "pareto", "cost_vs_accuracy"):
        assert info[name]["kind"] == "view"
    assert info["runs"]["rows"] == 6
    assert info["meta"]["values"]["schema_version"] == str(db.schema.SCHEMA_VERSION)


@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.sql")), ids=lambda p: p.name)
def test_example_queries_run(store, path):
    with duckdb.connect(str(db.db_path(store)), read_only=True) as con:
        rel = con.sql(path.read_text())
        result = rel.fetchall()
    assert result, f"{path.name} returned no rows on the fixture store"
    for row in result:
        for v in row:
            assert not (isinstance(v, float) and math.isnan(v))


def test_example_queries_exist():
    names = {p.name for p in QUERIES.glob("*.sql")}
    assert {
        "leaderboard.sql",
        "per_language_accuracy.sql",
        "intermediate_vs_direct.sql",
        "pareto.sql",
        "paired_comparison.sql",
    } <= names


def test_schema_doc_names_every_column(store):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text()
    info = query.schema_info(store)
    missing = []
    for name in (
        "runs",
        "phases",
        "evals",
        "predictions",
        "samples",
        "events",
        "curves",
        "leaderboard",
        "lang_accuracy",
        "cost_vs_accuracy",
        "pareto",
        "configurations",
        "comparisons",
        "break_even",
        "learning_curves",
    ):
        assert f"### {name}" in doc
        for col, _ in info[name]["columns"]:
            # per-language columns are documented once, as acc_<lang>...
            generic = re.sub(rf"_({'|'.join(XCOPA_LANGS)})(?=_|$)", "_<lang>", col)
            if not col.endswith(("_source", "_reason")) and col not in doc and generic not in doc:
                missing.append(f"{name}.{col}")
    for table in ("verdict_accuracy", "verdict_comparison"):
        assert table in doc
        for col, _ in info[table]["columns"]:
            assert col in doc, f"{table}.{col}"
    assert not missing, f"docs/schema.md does not mention {missing}"
    assert f"schema, version {db.schema.SCHEMA_VERSION}" in doc
