"""Target (issue 9): the Compare screen's Verdict panel and configuration view for a store of
10,000 runs (200 configurations x 50 seeds, with predictions) in < 1 s after the store opens.

    python benchmarks/bench_verdict_panel.py [--configs 200] [--seeds 50] [--items 500] [--repeat 5]

The store is generated straight through SQL (like make_store.py): runs with their configuration
ids and specs, phases, evals, per-item predictions (``--items`` per XCOPA language, 100 for
English), learning-curve points; then the ingest's own refreshes (the materialised leaderboard
and ``store.verdict_tables.refresh``, the bootstrap of every configuration and comparison), whose
time is printed too. The panel is then timed two ways, both through the app's own data path:

- ``load``: ``tui.screens.compare.load_compare`` (what the screen's worker runs: the verdict
  API's read of the materialised tables, the reasons of unmeasured axes), in a fresh process
  per repeat so imports and the first connection count;
- ``app``: the real app, headless at 160x48, once the Runs screen shows its first page and the
  app has imported Compare's modules in the background (what it does after that first page),
  from the keys that open Compare's Verdict panel to the panel painted, then to the
  configuration grid painted (a fresh process per repeat).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _quiet import Contention  # noqa: E402

# 10 method variants x 2 models x lr variants = the configurations; seeds within each
VARIANTS = [  # (method, intermediate task or NULL, k or NULL, family, label head)
    ("direct", None, None, "direct", "direct"),
    ("intermediate", "siqa", None, "intermediate", "siqa→copa"),
    ("intermediate", "arc_challenge", None, "intermediate", "arc_challenge→copa"),
    ("intermediate", "rte", None, "intermediate", "rte→copa"),
    ("few-shot", None, 4, "few-shot", "few-shot k=4"),
    ("few-shot", None, 16, "few-shot", "few-shot k=16"),
    ("few-shot", None, 64, "few-shot", "few-shot k=64"),
    ("few-shot", "siqa", 16, "intermediate+few-shot", "siqa→few-shot k=16"),
    ("few-shot", "arc_challenge", 16, "intermediate+few-shot", "arc_challenge→few-shot k=16"),
    ("few-shot", "rte", 16, "intermediate+few-shot", "rte→few-shot k=16"),
]
MODELS = ["xlm-roberta-base", "xlm-roberta-large"]


def _sql_list(values) -> str:
    return "[" + ", ".join("NULL" if v is None else (f"'{v}'" if isinstance(v, str) else str(v)) for v in values) + "]"


def make_store(
    store_root: Path, n_configs: int, n_seeds: int, n_items: int, curve_points: int = 10
) -> dict[str, float]:
    """Writes the store; returns the seconds of each step ('tables', 'leaderboard', 'verdict')."""
    from xcost_tui import XCOPA_LANGS
    from xcost_tui.store import db
    from xcost_tui.store.ingest import refresh_leaderboard, refresh_verdict

    langs = _sql_list(XCOPA_LANGS)
    path = db.db_path(store_root)
    store_root.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    n_variants, n_models = len(VARIANTS), len(MODELS)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with db.connect_rw(store_root) as con:
        con.execute("SET enable_progress_bar = false")
        db.create_schema(con)
        con.execute(f"""
            CREATE TEMP TABLE cfg AS
            SELECT c, v, m, lr_i,
                   {_sql_list([v[0] for v in VARIANTS])}[v + 1] AS method,
                   {_sql_list([v[1] for v in VARIANTS])}[v + 1] AS task,
                   {_sql_list([v[2] for v in VARIANTS])}[v + 1] AS k,
                   {_sql_list([v[3] for v in VARIANTS])}[v + 1] AS family,
                   {_sql_list([v[4] for v in VARIANTS])}[v + 1] AS head,
                   {_sql_list(MODELS)}[m + 1] AS model,
                   [1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3][lr_i % 10 + 1] * (1 + lr_i // 10) AS lr,
                   m + 1.0 AS size,
                   -- the accuracy a configuration's runs centre on
                   0.52 + 0.04 * m + CASE v WHEN 0 THEN 0 WHEN 1 THEN 0.03 WHEN 2 THEN 0.01 WHEN 3 THEN -0.005
                                          WHEN 4 THEN 0.005 WHEN 5 THEN 0.015 WHEN 6 THEN 0.03 ELSE 0.04 END
                     - 0.002 * lr_i AS centre
            FROM (SELECT i AS c, i % {n_variants} AS v, (i // {n_variants}) % {n_models} AS m,
                         i // ({n_variants} * {n_models}) AS lr_i FROM range({n_configs}) r(i))""")
        con.execute("""
            CREATE TEMP TABLE cfg2 AS
            SELECT *, md5(concat_ws('|', method, task, k, model, lr))[:10] AS config_id,
                   head || ' · ' || model || ' lr=' || lr AS label,
                   json_object('method', method, 'model', model, 'seed', 0,
                               'intermediate', CASE WHEN task IS NULL THEN [] ELSE [task] END, 'few_shot_k', k,
                               'target', 'copa', 'eval_split', 'test', 'xcopa_question', 'copa',
                               'max_eval_examples', NULL, 'tiny_model_dims', json_object(),
                               'hparams', json_object('lr', lr)) AS spec
            FROM cfg""")
        con.execute(f"""
            CREATE TEMP TABLE gen AS
            SELECT row_number() OVER (ORDER BY c, s) - 1 AS i, c.*, s AS seed,
                   'run-' || lpad((c * {n_seeds} + s)::VARCHAR, 6, '0') AS run_id,
                   CASE WHEN hash(c, s, 'fail') % 100 = 0 THEN 'failed' ELSE 'succeeded' END AS status,
                   c.centre + ((hash(c, s) % 1000) / 1000.0 - 0.5) * 0.03 AS run_acc
            FROM cfg2 c, range({n_seeds}) r(s)""")
        con.execute(f"""
            INSERT INTO runs BY NAME
            SELECT run_id, '/nonexistent/runs/' || run_id AS run_dir, NULL AS name, method, model, seed,
                   CASE WHEN task IS NULL THEN [] ELSE [task] END AS intermediate, 'sequential' AS intermediate_mode,
                   k, CASE WHEN k IS NOT NULL THEN seed END AS shot_seed, {langs} AS langs, 'copa' AS target,
                   'test' AS eval_split, 'copa' AS xcopa_question, status,
                   CASE WHEN status = 'failed' THEN 'RuntimeError: CUDA out of memory' END AS error,
                   to_timestamp(1.7e9 + i * 600)::TIMESTAMP AS started,
                   to_timestamp(1.7e9 + i * 600 + 500)::TIMESTAMP AS ended, 500.0 AS duration_s,
                   'cuda' AS device_type, 'NVIDIA H100 80GB HBM3' AS device_name, 1 AS device_count, 'bf16' AS precision,
                   16 AS phases_done, 0 AS n_warnings, spec, config_id, family AS config_family,
                   label AS config_label, 'sig-' || run_id AS source_sig
            FROM gen""")
        con.execute(f"""
            CREATE TEMP TABLE tmpl AS
            SELECT * FROM (VALUES ('intermediate', NULL, 0), ('target', NULL, 1), ('eval', 'en', 2),
                                  ('inference-bench', NULL, 40)) t(kind, lang, ord)
            UNION ALL SELECT 'few-shot', l, 3 + 2 * (row_number() OVER ())::INT FROM unnest({langs}) u(l)
            UNION ALL SELECT 'eval', l, 4 + 2 * (row_number() OVER ())::INT FROM unnest({langs}) u(l)""")
        con.execute(f"""
            INSERT INTO phases BY NAME
            SELECT g.run_id,
                   CASE t.kind WHEN 'intermediate' THEN 'intermediate:' || g.task WHEN 'target' THEN 'target:copa'
                               WHEN 'few-shot' THEN 'few-shot:' || t.lang WHEN 'eval' THEN 'eval:' || t.lang
                               ELSE 'inference-bench' END AS phase,
                   t.kind, t.ord AS ordinal, t.lang, true AS completed,
                   g.size * CASE t.kind WHEN 'intermediate' THEN 0.5 WHEN 'target' THEN 0.05 WHEN 'few-shot' THEN 0.002
                                        ELSE 0.001 END * (1 + (hash(g.i, t.ord) % 100) / 500.0) AS device_hours,
                   device_hours * 3600 AS wall_s, device_hours * 1.3e17 AS flops_analytic,
                   NULL AS energy_j, 'NVML energy counter not readable here' AS energy_j_reason,
                   (g.size * 8e9)::BIGINT AS peak_mem_bytes,
                   CASE WHEN t.kind = 'eval' THEN CASE WHEN t.lang = 'en' THEN 100 ELSE {n_items} END END AS examples,
                   CASE WHEN t.kind = 'inference-bench' THEN 0.004 * g.size END AS latency_p50_s,
                   CASE WHEN t.kind = 'inference-bench' THEN 0.006 * g.size END AS latency_p95_s,
                   1.7e9 + g.i * 600 + t.ord * 10 AS t_end
            FROM gen g JOIN tmpl t
              ON (t.kind NOT IN ('intermediate', 'few-shot')) OR (t.kind = 'intermediate' AND g.task IS NOT NULL)
              OR (t.kind = 'few-shot' AND g.k IS NOT NULL)
            WHERE g.status = 'succeeded' OR t.ord < 8""")
        con.execute(f"""
            INSERT INTO predictions BY NAME
            SELECT g.run_id, 'eval:' || l AS phase, CASE WHEN l = 'en' THEN 'copa' ELSE 'xcopa' END AS task, l AS lang,
                   CASE WHEN l = 'en' THEN 'val' ELSE 'test' END AS split, idx, idx % 2 AS label,
                   CASE WHEN correct THEN idx % 2 ELSE 1 - idx % 2 END AS pred, correct
            FROM (SELECT g.run_id, l, idx,
                         (hash(g.run_id, l, idx) % 10000) / 10000.0
                           < g.run_acc + CASE WHEN l = 'en' THEN 0.15 ELSE 0 END
                             + ((hash(g.c, l) % 100) / 100.0 - 0.5) * 0.04 AS correct
                  FROM gen g, unnest(['en', {langs[1:]}) u(l),
                       range(CASE WHEN l = 'en' THEN 100 ELSE {n_items} END) r(idx)
                  WHERE g.status = 'succeeded') g""")
        con.execute("""
            INSERT INTO evals BY NAME
            SELECT run_id, phase, any_value(task) AS task, lang, any_value(split) AS split,
                   avg(correct::INT) AS accuracy, count(*) AS n, sum(correct::INT) AS correct,
                   1.7e9 AS t
            FROM predictions GROUP BY run_id, phase, lang""")
        con.execute(f"""
            INSERT INTO curves BY NAME
            SELECT g.run_id, 'target:copa' AS phase, p AS point, p * 100 AS step, {curve_points} * 100 AS total_steps,
                   l AS lang, 'validation' AS split,
                   0.5 + (g.run_acc + CASE WHEN l = 'en' THEN 0.15 ELSE 0 END - 0.5)
                       * (1 - exp(-3.0 * p / {curve_points})) / (1 - exp(-3.0)) AS accuracy,
                   100 AS n,
                   g.size * (CASE WHEN g.task IS NOT NULL THEN 0.5 ELSE 0 END + 0.05 * p / {curve_points}) AS cum_train_device_hours,
                   cum_train_device_hours * 1.3e17 AS cum_train_flops, NULL AS cum_train_energy_j,
                   2.0 AS eval_wall_s, 1e12 AS eval_flops
            FROM gen g, range(1, {curve_points} + 1) r(p), unnest(['en', {langs[1:]}) u(l)
            WHERE g.status = 'succeeded'""")
        con.execute("CHECKPOINT")
        times["tables"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        refresh_leaderboard(con)
        times["leaderboard"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        refresh_verdict(con)
        times["verdict"] = time.perf_counter() - t2
        con.execute("CHECKPOINT")
    return times


LOAD_CHILD = r"""
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
from xcost_tui.tui.screens.compare import CompareSettings, load_compare
data = load_compare(sys.argv[1], CompareSettings())
t1, c1 = time.perf_counter(), time.process_time()
print("LOADED", t1 - t0, c1 - c0, len(data.verdict.configurations), len(data.verdict.sentences()), flush=True)
"""

APP_CHILD = r"""
import sys, time
from xcost_tui.tui.app import XcostApp

async def main():
    app = XcostApp(sys.argv[1], attach=False)
    async with app.run_test(size=(160, 48)) as pilot:
        while app.runs_version < 1 or not app.compare_warm:  # the store is open, its first page shown
            await pilot.pause(0.01)
        t0, c0 = time.perf_counter(), time.process_time()
        await pilot.press("4", "v")  # Compare, its Verdict panel
        screen = app.screen
        while not (screen.loads >= 1 and screen.painted_verdict >= 1 and not screen.computing):
            await pilot.pause(0.005)
        await pilot.pause()  # painted
        t_verdict, c_verdict = time.perf_counter() - t0, time.process_time() - c0
        await pilot.press("g")  # the configuration grid
        await pilot.pause()
        t_grid, c_grid = time.perf_counter() - t0, time.process_time() - c0
        assert screen.painted_grid >= 1 and screen.view == "languages"
        print("APP", t_verdict, t_grid, c_verdict, c_grid, len(screen.data.verdict.configurations), flush=True)

import asyncio
asyncio.run(main())
"""


def _child(code: str, store: Path, marker: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code, str(store)], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(marker)), None)
    if line is None:
        raise SystemExit(f"the child did not report:\n{out.stdout}\n{out.stderr}")
    return line.split()[1:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=str(REPO / "bench-out" / "store-verdict"))
    ap.add_argument("--configs", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument(
        "--items",
        type=int,
        default=100,
        help="predictions per XCOPA language and run (XCOPA has 500; the panel reads the "
        "materialised verdict either way, the ingest's refresh grows with it)",
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="keep an existing store of that path")
    args = ap.parse_args()
    store = Path(args.store)
    if not (args.reuse and (store / "xcost.duckdb").exists()):
        with Contention() as c:
            times = make_store(store, args.configs, args.seeds, args.items)
        print(f"store: {args.configs} configurations x {args.seeds} seeds, {args.items} items per language")
        print(
            c.label(
                f"  tables through SQL {times['tables']:.1f} s, leaderboard refresh {times['leaderboard']:.2f} s, "
                f"ingest's verdict refresh (bootstrap of every configuration and comparison) "
                f"{times['verdict']:.1f} s"
            )
        )
    import duckdb

    con = duckdb.connect(str(store / "xcost.duckdb"), read_only=True)
    n_runs, n_preds = con.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM predictions)").fetchone()
    con.close()
    print(f"  {n_runs:,} runs, {n_preds:,} predictions")
    _child(LOAD_CHILD, store, "LOADED")  # warm-up: the file cache
    loads, verdicts, grids, cpu_loads, cpu_verdicts, cpu_grids = [], [], [], [], [], []
    with Contention() as c:
        for _ in range(args.repeat):
            seconds, cpu, n_configs, n_sentences = _child(LOAD_CHILD, store, "LOADED")
            loads.append(float(seconds))
            cpu_loads.append(float(cpu))
        for _ in range(args.repeat):
            t_verdict, t_grid, c_verdict, c_grid, _n = _child(APP_CHILD, store, "APP")
            verdicts.append(float(t_verdict))
            grids.append(float(t_grid))
            cpu_verdicts.append(float(c_verdict))
            cpu_grids.append(float(c_grid))
    print(
        f"load_compare (fresh process, imports and connection included): {int(n_configs)} configurations, "
        f"{int(n_sentences)} sentences"
    )
    print(
        c.label(f"  median {statistics.median(loads):.3f} s (min {min(loads):.3f}, max {max(loads):.3f}; target < 1 s)")
    )
    print(f"  CPU time of the process (every thread): median {statistics.median(cpu_loads):.3f} s")
    print("app, key 4 to the Verdict panel painted; then g to the configuration grid painted:")
    print(
        c.label(
            f"  verdict panel median {statistics.median(verdicts):.3f} s (max {max(verdicts):.3f}); "
            f"grid median {statistics.median(grids):.3f} s (max {max(grids):.3f}); target < 1 s"
        )
    )
    print(
        f"  CPU time of the app process (every thread): verdict panel median {statistics.median(cpu_verdicts):.3f} s, "
        f"grid median {statistics.median(cpu_grids):.3f} s (what a quiet machine's wall time cannot much exceed)"
    )
    print(c.verdict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
