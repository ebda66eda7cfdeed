"""Target (issue 18): one finished run added to a 1,000-run store refreshes the verdict in < 2 s,
and to a 10,000-run store in < 5 s; measured against the full refresh in the same run.

    python benchmarks/bench_verdict_refresh.py --runs 1000 [--repeats 3] [--store DIR] [--check]
    python benchmarks/bench_verdict_refresh.py --runs 10000 --repeats 1

The store (built once and reused: ``--store``, default ``<tmp>/xcost-bench-verdict-<runs>``) is
generated straight through SQL, like make_store.py, in the shape of a study: per (model,
learning rate) recipe a direct configuration of 5 seeds (the recipe's default baseline),
3 intermediate tasks of 4 seeds, few-shot k = 4 and 16 and siqa→few-shot k = 16 of 3 seeds × 3
shot draws; beside them in-context configurations (2 causal LMs × k = 0, 4, 8, 3 shot draws
each) whose baseline is the direct configuration with most runs on the same items. Every run
evaluates English COPA (100 items) and the 11 XCOPA languages (500 test items each), with
per-item predictions. Configurations repeat over further learning rates until ``--runs``.

Each repeat times, in this process:

- ``full``: ``verdict_tables.refresh(con, force=True)``, every configuration and comparison;
- ``incremental few-shot``: one finished run (a new seed of a few-shot configuration) added
  to the store, then ``refresh(con)``: that configuration and its comparison;
- ``incremental direct``: one more finished run, a new seed of a direct configuration (the worst
  case: it is the baseline of its recipe's 6 configurations, and by its number of runs it becomes
  the in-context configurations' baseline too).

Wall seconds, CPU seconds of this process (DuckDB's threads included) and the ratio full /
incremental are printed; a figure measured while other processes used the CPUs says so beside it
(benchmarks/_quiet.py), and is no result. ``--check`` also verifies that the incremental tables
equal a full refresh's (one more full refresh). The added runs are removed when the store is reused.

Memory: the full refresh loads ``FULL_CHUNK`` configurations at a time with their baseline
(store/verdict_tables.py ``_full``); when it loaded every prediction at once, 10,000 runs × 500
items (56 M predictions) needed more than the 23 GiB of the build machine. The incremental
refresh loads only the configurations it recomputes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _quiet import Contention  # noqa: E402

from xcost_tui import XCOPA_LANGS, configuration  # noqa: E402
from xcost_tui.store import db, schema, verdict_tables  # noqa: E402
from xcost_tui.store.ingest import refresh_leaderboard  # noqa: E402

LANGS_SQL = "[" + ", ".join(f"'{lang}'" for lang in XCOPA_LANGS) + "]"
MODELS = ("FacebookAI/xlm-roberta-base", "FacebookAI/xlm-roberta-large")
ICL_MODELS = ("facebook/xglm-564M", "facebook/xglm-1.7B")
ADDED = "added-"  # the run ids this benchmark adds


def _base(model: str, lr: float) -> dict:
    return {
        "model": model,
        "target": "copa",
        "hparams": {"learning_rate": lr},
        "eval_split": "test",
        "xcopa_question": "copa",
        "max_eval_examples": None,
        "tiny_model_dims": None,
        "langs": list(XCOPA_LANGS),
        "eval_english": True,
    }


def recipe_configurations(model: str, lr: float) -> list[tuple[dict, int, int]]:
    """(spec without seeds, seeds, shot draws) of one recipe: 44 runs."""
    base = _base(model, lr)
    out = [({**base, "method": "direct", "intermediate": []}, 5, 0)]
    out += [({**base, "method": "intermediate", "intermediate": [t]}, 4, 0) for t in ("siqa", "arc_challenge", "rte")]
    out += [({**base, "method": "few-shot", "intermediate": [], "few_shot_k": k}, 3, 3) for k in (4, 16)]
    out.append(({**base, "method": "few-shot", "intermediate": ["siqa"], "few_shot_k": 16}, 3, 3))
    return out


def icl_configurations() -> list[tuple[dict, int, int]]:
    """In-context configurations: 2 models × k = 0, 4, 8, 3 shot draws each (18 runs)."""
    return [
        ({**_base(m, 3e-5), "hparams": {}, "method": "icl", "intermediate": [], "few_shot_k": k}, 1, 3)
        for m in ICL_MODELS
        for k in (0, 4, 8)
    ]


def study_runs(n_runs: int) -> list[dict]:
    """``n_runs`` runs: the in-context configurations, then recipes over more and more learning rates."""
    configs = icl_configurations()
    i = 0
    while sum(s * max(d, 1) for _, s, d in configs) < n_runs:
        model = MODELS[i % len(MODELS)]
        configs += recipe_configurations(model, round(1e-5 * (1 + i // len(MODELS)) * 1.1, 9))
        i += 1
    runs = []
    for c, (spec, seeds, draws) in enumerate(configs):
        for seed in range(seeds):
            for draw in range(max(draws, 1)):
                full = {**spec, "seed": seed, "shot_seed": draw if draws else None}
                runs.append(_run(full, c, f"run-{len(runs):06d}"))
    return runs[:n_runs]


def _run(spec: dict, c: int, run_id: str) -> dict:
    level = 0.55 + 0.08 * spec["model"].endswith("large") + 0.01 * (c % 7) + (0.02 if spec["intermediate"] else 0)
    return {
        "run_id": run_id,
        "c": c,
        "seed": spec["seed"],
        "shot_seed": spec["shot_seed"],
        "method": spec["method"],
        "model": spec["model"],
        "intermediate": spec["intermediate"],
        "k": spec.get("few_shot_k"),
        "spec": json.dumps(spec),
        "config_id": configuration.configuration_id(spec),
        "config_label": configuration.label(spec),
        "config_family": configuration.family(spec),
        "level": level,
    }


def insert_runs(con, runs: list[dict], n_items: int, en_items: int = 100) -> None:
    """The rows the verdict reads (runs, evals, predictions) of ``runs``, as an ingest writes them."""
    import pyarrow as pa

    con.register("gen_arrow", pa.Table.from_pylist(runs))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE gen AS SELECT * FROM gen_arrow")
    finally:
        con.unregister("gen_arrow")
    con.execute(f"""
        INSERT INTO runs BY NAME
        SELECT run_id, '/nonexistent/runs/' || run_id AS run_dir, config_label || ' s' || seed AS name, method, model,
               seed, intermediate, 'sequential' AS intermediate_mode, k, shot_seed, {LANGS_SQL} AS langs,
               'copa' AS target, 'test' AS eval_split, 'succeeded' AS status, 'sig-' || run_id AS source_sig,
               to_timestamp(1.7e9)::TIMESTAMP AS started, to_timestamp(1.7e9 + 500)::TIMESTAMP AS ended,
               500.0 AS duration_s, 'cuda' AS device_type, 1 AS device_count, spec::JSON AS spec, config_id,
               config_family, config_label
        FROM gen""")
    con.execute(f"""
        INSERT INTO predictions BY NAME
        SELECT g.run_id, 'eval:' || l.lang AS phase, CASE WHEN l.lang = 'en' THEN 'copa' ELSE 'xcopa' END AS task,
               l.lang, CASE WHEN l.lang = 'en' THEN 'val' ELSE 'test' END AS split, x.idx, (x.idx % 2) AS label,
               (hash(g.run_id, l.lang, x.idx) % 10000) / 10000.0
                 < g.level + ((hash(g.c, g.seed, 'seed') % 1000) / 1000.0 - 0.5) * 0.05
                 + ((hash(l.lang, x.idx, 'item') % 1000) / 1000.0 - 0.5) * 0.4
                 + CASE WHEN l.lang = 'en' THEN 0.1 ELSE 0 END AS correct,
               CASE WHEN correct THEN label ELSE 1 - label END AS pred
        FROM gen g, (SELECT unnest(['en', {LANGS_SQL[1:]}) AS lang) l,
             LATERAL (SELECT range AS idx FROM range(CASE WHEN l.lang = 'en' THEN {en_items} ELSE {n_items} END)) x""")
    con.execute("""
        INSERT INTO evals BY NAME
        SELECT p.run_id, p.phase, any_value(p.task) AS task, p.lang, any_value(p.split) AS split,
               avg(p.correct::INT) AS accuracy, count(*) AS n, sum(p.correct::INT) AS correct, 1.7e9 AS t
        FROM predictions p SEMI JOIN gen g ON g.run_id = p.run_id GROUP BY ALL""")
    con.execute("DROP TABLE gen")


def build(store_root: Path, n_runs: int, n_items: int) -> tuple[list[dict], float]:
    """The store (reused when its shape matches; the runs a previous benchmark added removed)."""
    runs = study_runs(n_runs)
    shape = json.dumps({"runs": n_runs, "items": n_items, "schema": schema.SCHEMA_VERSION, "v": 1})
    t0 = time.perf_counter()
    if db.db_path(store_root).exists():
        with db.connect_rw(store_root) as con:
            found = con.execute("SELECT value FROM meta WHERE key = 'bench_shape'").fetchall()
            if found and found[0][0] == shape:
                for table in schema.RUN_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE starts_with(run_id, '{ADDED}')")
                return runs, 0.0
    path = db.db_path(store_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    with db.connect_rw(store_root) as con:
        con.execute("SET enable_progress_bar = false")
        db.create_schema(con)
        for i in range(0, len(runs), 2000):  # bounded memory
            insert_runs(con, runs[i : i + 2000], n_items)
        refresh_leaderboard(con)
        con.execute("INSERT INTO meta VALUES ('bench_shape', ?)", [shape])
        con.execute("CHECKPOINT")
    return runs, time.perf_counter() - t0


def _new_seed(runs: list[dict], method: str, repeat: int, which: str) -> dict:
    """A finished run of a new seed of the first configuration of ``method``."""
    first = next(r for r in runs if r["method"] == method)
    spec = {**json.loads(first["spec"]), "seed": 100 + repeat, "shot_seed": first["shot_seed"]}
    return _run(spec, first["c"], f"{ADDED}{which}-{repeat}")


def _timed(fn) -> tuple[float, float, Contention, object]:
    with Contention() as c:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w1, c1 = time.perf_counter(), time.process_time()
    return w1 - w0, c1 - c0, c, out


def _tables(con) -> dict[str, list]:
    def norm(v):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        return tuple(norm(x) for x in v) if isinstance(v, list) else v

    return {
        t: sorted((tuple(norm(v) for v in row) for row in con.execute(f"SELECT * FROM {t}").fetchall()), key=repr)
        for t in ("verdict_accuracy", "verdict_comparison")
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--items", type=int, default=500, help="XCOPA test items per language (500: the real test set)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--store", type=Path, default=None, help="store root, built once and reused")
    ap.add_argument("--check", action="store_true", help="verify the incremental tables against a full refresh")
    args = ap.parse_args(argv)
    store = args.store or Path(tempfile.gettempdir()) / f"xcost-bench-verdict-{args.runs}-{args.items}"
    runs, built_s = build(store, args.runs, args.items)
    n_configs = len({r["config_id"] for r in runs})
    print(
        f"store {store}: {len(runs)} runs, {n_configs} configurations, {args.items} items per XCOPA language"
        + (f" (built in {built_s:.1f} s)" if built_s else " (reused)")
    )
    results: dict[str, list[tuple[float, float]]] = {"full": [], "few-shot": [], "direct": []}
    contention: list[Contention] = []
    identical: list[bool] = []
    with db.connect_rw(store) as con:
        for repeat in range(args.repeats):
            w, cpu, c, _ = _timed(lambda: verdict_tables.refresh(con, force=True))
            results["full"].append((w, cpu))
            contention.append(c)
            print(f"repeat {repeat + 1}: full refresh {w:.2f} s wall, {cpu:.2f} CPU-s  {c.verdict()}")
            for which, method in (("few-shot", "few-shot"), ("direct", "direct")):
                insert_runs(con, [_new_seed(runs, method, repeat, which)], args.items)
                w, cpu, c, _ = _timed(lambda: verdict_tables.refresh(con))
                ((done,),) = con.execute("SELECT value FROM meta WHERE key = 'verdict_recomputed'").fetchall()
                results[which].append((w, cpu))
                contention.append(c)
                print(f"  + one {which} run: incremental {w:.3f} s wall, {cpu:.3f} CPU-s ({done})  {c.verdict()}")
            if args.check:
                got = _tables(con)
                verdict_tables.refresh(con, force=True)
                identical.append(got == _tables(con))
                print(f"  incremental tables equal a full refresh's: {identical[-1]}")
    quiet = all(c.quiet for c in contention)
    worst = max(contention, key=lambda c: c.other_cores)
    full = statistics.median(w for w, _ in results["full"])
    full_cpu = statistics.median(c for _, c in results["full"])
    print(f"\n{len(runs)} runs, median of {args.repeats}:")
    print(f"  full refresh         {full:8.2f} s wall  {full_cpu:8.2f} CPU-s")
    for which in ("few-shot", "direct"):
        inc = statistics.median(w for w, _ in results[which])
        cpu = statistics.median(c for _, c in results[which])
        ratio = statistics.median(f / i for (f, _), (i, _) in zip(results["full"], results[which]))
        line = f"  incremental ({which:8}) {inc:8.3f} s wall  {cpu:8.3f} CPU-s  full / incremental {ratio:6.1f}x"
        print(line if quiet else worst.label(line))
    print(f"machine: {worst.verdict()}" if not quiet else f"machine: {contention[0].verdict()} in every measurement")
    if identical and not all(identical):
        print("ERROR: the incremental tables differ from a full refresh's")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
