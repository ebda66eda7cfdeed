"""Generate a large synthetic store fast, straight through SQL (no run directories).

    python benchmarks/make_store.py --store bench-out/store10k --runs 10000
    python benchmarks/make_store.py --store bench-out/verdict10k --verdict   (200 configurations x 50 seeds,
                                                                            with predictions; make_verdict_store)

Shapes follow what real runs write: a third of the runs are direct, a third intermediate
(half of those reuse another run's intermediate phase), a third few-shot; 2% failed; every
run evaluates English COPA and the 11 XCOPA languages; ~1 GPU sample per run-second is
NOT generated (samples are benchmarked by bench_ingest.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xcost_tui import XCOPA_LANGS  # noqa: E402
from xcost_tui.store import db, schema  # noqa: E402
from xcost_tui.store.ingest import refresh_leaderboard  # noqa: E402

LANGS_SQL = "[" + ", ".join(f"'{lang}'" for lang in XCOPA_LANGS) + "]"


def make_store(store_root: Path, n_runs: int) -> float:
    path = db.db_path(store_root)
    store_root.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with db.connect_rw(store_root) as con:
        db.create_schema(con)
        con.execute(f"""
            CREATE TEMP TABLE gen AS
            SELECT i,
                   'run-' || lpad(i::VARCHAR, 6, '0') AS run_id,
                   ['direct', 'intermediate', 'few-shot'][i % 3 + 1] AS method,
                   ['xlm-roberta-base', 'xlm-roberta-large'][(i // 3) % 2 + 1] AS model,
                   (i // 6) % 5 AS seed,
                   CASE WHEN i % 3 = 1 THEN [['siqa', 'arc_challenge', 'rte'][(i // 30) % 3 + 1]] ELSE [] END AS intermediate,
                   CASE WHEN i % 3 = 2 THEN [4, 16, 64][(i // 30) % 3 + 1] END AS k,
                   CASE WHEN hash(i, 'fail') % 50 = 0 THEN 'failed' ELSE 'succeeded' END AS status,
                   -- half of the intermediate runs reuse the intermediate phase of run i - 3
                   CASE WHEN i % 3 = 1 AND (i // 3) % 2 = 1 AND i >= 3 THEN 'run-' || lpad((i - 3)::VARCHAR, 6, '0') END AS reused_from,
                   CASE WHEN (i // 3) % 2 = 1 THEN 3.0 ELSE 1.0 END AS size
            FROM range({n_runs}) r(i)""")
        con.execute(f"""
            INSERT INTO runs BY NAME
            SELECT run_id, '/nonexistent/runs/' || run_id AS run_dir, NULL AS name, method, model, seed, intermediate,
                   'sequential' AS intermediate_mode, k, {LANGS_SQL} AS langs, 'copa' AS target, 'test' AS eval_split,
                   status, CASE WHEN status = 'failed' THEN 'RuntimeError: CUDA out of memory' END AS error,
                   CASE WHEN status = 'failed' THEN 'eval:it' END AS failed_phase,
                   to_timestamp(1.7e9 + i * 600)::TIMESTAMP AS started, to_timestamp(1.7e9 + i * 600 + 500)::TIMESTAMP AS ended,
                   500.0 AS duration_s, 'cuda' AS device_type, 'NVIDIA H100 80GB HBM3' AS device_name, 1 AS device_count,
                   'bf16' AS precision, '2.5.1' AS torch_version, '4.46.0' AS transformers_version, '12.4' AS cuda_version,
                   'abc1234' AS git_commit, 16 AS phases_done, 0 AS n_warnings
            FROM gen""")
        # phases: intermediate, target, few-shot per language, eval en + per language, inference-bench
        con.execute(f"""
            CREATE TEMP TABLE tmpl AS
            SELECT * FROM (VALUES
                ('intermediate', NULL, 0), ('target', NULL, 1), ('eval', 'en', 2), ('inference-bench', NULL, 40))
                t(kind, lang, ord)
            UNION ALL SELECT 'few-shot', l, 3 + 2 * (row_number() OVER ())::INT FROM unnest({LANGS_SQL}) u(l)
            UNION ALL SELECT 'eval', l, 4 + 2 * (row_number() OVER ())::INT FROM unnest({LANGS_SQL}) u(l)""")
        con.execute("""
            INSERT INTO phases BY NAME
            SELECT g.run_id,
                   CASE t.kind WHEN 'intermediate' THEN 'intermediate:' || g.intermediate[1]
                               WHEN 'target' THEN 'target:copa' WHEN 'few-shot' THEN 'few-shot:' || t.lang
                               WHEN 'eval' THEN 'eval:' || t.lang ELSE 'inference-bench' END AS phase,
                   t.kind, t.ord AS ordinal, t.lang, true AS completed,
                   CASE WHEN t.kind = 'intermediate' THEN g.reused_from END AS reused_from_run,
                   CASE WHEN t.kind = 'intermediate' AND g.reused_from IS NOT NULL THEN 'intermediate:' || g.intermediate[1] END AS reused_from_phase,
                   CASE WHEN t.kind = 'intermediate' AND g.reused_from IS NOT NULL THEN NULL
                        ELSE g.size * CASE t.kind WHEN 'intermediate' THEN 0.5 WHEN 'target' THEN 0.05
                                                  WHEN 'few-shot' THEN 0.002 ELSE 0.001 END * (1 + (hash(g.i, t.ord) % 100) / 500.0) END AS device_hours,
                   device_hours * 3600 AS wall_s,
                   device_hours * 1.3e17 AS flops_analytic,
                   CASE WHEN device_hours IS NOT NULL THEN device_hours * 2.5e6 END AS energy_j,
                   CASE WHEN device_hours IS NOT NULL THEN (g.size * 8e9)::BIGINT END AS peak_mem_bytes,
                   CASE WHEN t.kind = 'inference-bench' THEN 0.004 * g.size END AS latency_p50_s,
                   CASE WHEN t.kind = 'inference-bench' THEN 0.006 * g.size END AS latency_p95_s,
                   1.7e9 + g.i * 600 + t.ord * 10 AS t_end
            FROM gen g JOIN tmpl t
              ON (t.kind NOT IN ('intermediate', 'few-shot'))
              OR (t.kind = 'intermediate' AND g.method = 'intermediate')
              OR (t.kind = 'few-shot' AND g.method = 'few-shot')""")
        con.execute(f"""
            INSERT INTO evals BY NAME
            SELECT g.run_id, 'eval:' || l AS phase, CASE WHEN l = 'en' THEN 'copa' ELSE 'xcopa' END AS task, l AS lang,
                   CASE WHEN l = 'en' THEN 'val' ELSE 'test' END AS split,
                   round(0.5 + 0.1 * g.size / 3 + CASE g.method WHEN 'intermediate' THEN 0.05 WHEN 'few-shot' THEN 0.03 ELSE 0 END
                         + (hash(g.i, l) % 1000) / 10000.0 + CASE WHEN l = 'en' THEN 0.1 ELSE 0 END, 3) AS accuracy,
                   500 AS n, round(accuracy * 500)::BIGINT AS correct, 1.7e9 + g.i * 600 AS t
            FROM gen g, unnest(['en', {LANGS_SQL[1:]}) u(l)
            WHERE g.status = 'succeeded' OR l IN ('en', 'et', 'ht')""")
        refresh_leaderboard(con)
        con.execute("CHECKPOINT")
    return time.perf_counter() - t0


# ---- a store for the verdict: configurations x seeds, with predictions and learning curves ----------

VERDICT_MODELS = ("FacebookAI/xlm-roberta-base", "FacebookAI/xlm-roberta-large")
VERDICT_LRS = (1e-5, 2e-5, 3e-5, 5e-5)
VERDICT_TASKS = (
    "siqa",
    "arc_challenge",
    "rte",
    "cosmosqa",
    "hellaswag",
    "commonsenseqa",
    "piqa",
    "boolq",
    "mnli",
    "qnli",
    "anli",
    "swag",
)


def verdict_configurations(n_configs: int = 200) -> list[dict]:
    """``n_configs`` run specs (seed 0), in groups of 25 that share a model and a learning rate:
    1 direct (the group's default baseline), 12 intermediate tasks, 12 few-shot (k = 4, 16, 64;
    on direct or after siqa, arc_challenge, rte)."""
    specs = []
    for model in VERDICT_MODELS:
        for lr in VERDICT_LRS:
            hp = {"learning_rate": lr}
            base = {
                "model": model,
                "target": "copa",
                "hparams": hp,
                "eval_split": "test",
                "xcopa_question": "copa",
                "max_eval_examples": None,
                "tiny_model_dims": None,
                "langs": list(XCOPA_LANGS),
                "eval_english": True,
                "seed": 0,
            }
            specs.append({**base, "method": "direct", "intermediate": []})
            specs += [{**base, "method": "intermediate", "intermediate": [t]} for t in VERDICT_TASKS]
            specs += [
                {**base, "method": "few-shot", "intermediate": inter, "few_shot_k": k, "shot_seed": 0}
                for k in (4, 16, 64)
                for inter in ([], ["siqa"], ["arc_challenge"], ["rte"])
            ]
    while len(specs) < n_configs:  # more than 200: further learning rates of the same shapes
        extra = [
            dict(s, hparams={"learning_rate": s["hparams"]["learning_rate"] * 1.5 ** (len(specs) // 200 + 1)})
            for s in specs[:200]
        ]
        specs += extra
    return specs[:n_configs]


def make_verdict_store(
    store_root: Path,
    n_configs: int = 200,
    n_seeds: int = 50,
    n_items: int = 500,
    en_items: int = 100,
    curve_points: int = 10,
    verdict: bool = True,
) -> dict[str, float]:
    """A store of ``n_configs`` x ``n_seeds`` succeeded runs (default 10,000) with what the verdict
    reads: predictions (``n_items`` per XCOPA language, ``en_items`` English), evals computed from
    them, training / eval / inference-bench phases with costs, learning-curve points; then the
    leaderboard and (``verdict``) the verdict tables, as an ingest leaves them. Accuracy: a
    configuration's level, plus a per-seed offset (±2.5 points), plus a per-item difficulty shared
    by every run (±20 points), so paired comparisons are realistic. Returns seconds per step."""
    import json

    import pyarrow as pa

    from xcost_tui import configuration

    path = db.db_path(store_root)
    store_root.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    specs = verdict_configurations(n_configs)
    cfg = pa.Table.from_pylist(
        [
            {
                "c": i,
                "config_id": configuration.configuration_id(s),
                "config_label": configuration.label(s),
                "config_family": configuration.family(s),
                "method": s["method"],
                "model": s["model"],
                "intermediate": s["intermediate"],
                "k": s.get("few_shot_k"),
                "spec": json.dumps(s),
                "size": 3.0 if s["model"].endswith("large") else 1.0,
                "level": 0.55
                + 0.08 * (s["model"].endswith("large"))
                + 0.01 * (i % 7)
                + (0.02 if s["intermediate"] else 0),
            }
            for i, s in enumerate(specs)
        ]
    )
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    with db.connect_rw(store_root) as con:
        db.create_schema(con)
        con.register("cfg_arrow", cfg)
        con.execute("CREATE TEMP TABLE cfg AS SELECT * FROM cfg_arrow")
        con.unregister("cfg_arrow")
        con.execute(f"""
            CREATE TEMP TABLE gen AS
            SELECT c.*, s.seed, c.c * {n_seeds} + s.seed AS i,
                   'run-' || c.config_id || '-s' || s.seed AS run_id,
                   ((hash(c.c, s.seed, 'seed') % 1000) / 1000.0 - 0.5) * 0.05 AS seed_offset
            FROM cfg c, range({n_seeds}) s(seed)""")
        con.execute(f"""
            INSERT INTO runs BY NAME
            SELECT run_id, '/nonexistent/runs/' || run_id AS run_dir, config_label || ' s' || seed AS name, method,
                   model, seed, intermediate, 'sequential' AS intermediate_mode, k,
                   CASE WHEN k IS NOT NULL THEN 0 END AS shot_seed, {LANGS_SQL} AS langs, 'copa' AS target,
                   'test' AS eval_split, 'succeeded' AS status, false AS collapsed, 1 AS target_attempts,
                   to_timestamp(1.7e9 + i * 600)::TIMESTAMP AS started,
                   to_timestamp(1.7e9 + i * 600 + 500)::TIMESTAMP AS ended, 500.0 AS duration_s,
                   'cuda' AS device_type, 'NVIDIA H100 80GB HBM3' AS device_name, 1 AS device_count,
                   'bf16' AS precision, '3.11.7' AS python_version, '2.5.1' AS torch_version,
                   '4.46.0' AS transformers_version, '3.1.0' AS datasets_version, '0.20.3' AS tokenizers_version,
                   '12.4' AS cuda_version, 'abc1234' AS git_commit, '0.1.0' AS xcost_tui_version, 'bench' AS host,
                   16 AS phases_done, 0 AS n_warnings, spec::JSON AS spec, config_id, config_family, config_label
            FROM gen""")
        con.execute(f"""
            CREATE TEMP TABLE tmpl AS
            SELECT * FROM (VALUES ('intermediate', NULL, 0), ('target', NULL, 1), ('eval', 'en', 2),
                                  ('inference-bench', NULL, 40)) t(kind, lang, ord)
            UNION ALL SELECT 'few-shot', l, 3 + 2 * (row_number() OVER ())::INT FROM unnest({LANGS_SQL}) u(l)
            UNION ALL SELECT 'eval', l, 4 + 2 * (row_number() OVER ())::INT FROM unnest({LANGS_SQL}) u(l)""")
        con.execute(f"""
            INSERT INTO phases BY NAME
            SELECT g.run_id,
                   CASE t.kind WHEN 'intermediate' THEN 'intermediate:' || g.intermediate[1]
                               WHEN 'target' THEN 'target:copa' WHEN 'few-shot' THEN 'few-shot:' || t.lang
                               WHEN 'eval' THEN 'eval:' || t.lang ELSE 'inference-bench' END AS phase,
                   t.kind, t.ord AS ordinal, t.lang, true AS completed,
                   g.size * CASE t.kind WHEN 'intermediate' THEN 0.5 WHEN 'target' THEN 0.05
                                        WHEN 'few-shot' THEN 0.002 ELSE 0.001 END
                     * (1 + (hash(g.i, t.ord) % 100) / 500.0) AS device_hours,
                   device_hours * 3600 AS wall_s,
                   CASE WHEN t.kind = 'eval' THEN CASE WHEN t.lang = 'en' THEN {en_items} ELSE {n_items} END
                        WHEN t.kind = 'inference-bench' THEN 50 ELSE 400 END AS examples,
                   -- analytic FLOPs are exact: an evaluation costs the same per item for one model size
                   CASE WHEN t.kind IN ('eval', 'inference-bench') THEN g.size * 2.9e11 * examples
                        ELSE device_hours * 1.3e17 END AS flops_analytic,
                   device_hours * 2.5e6 AS energy_j, (g.size * 8e9)::BIGINT AS peak_mem_bytes,
                   CASE WHEN t.kind = 'inference-bench' THEN 0.004 * g.size END AS latency_p50_s,
                   CASE WHEN t.kind = 'inference-bench' THEN 0.006 * g.size END AS latency_p95_s,
                   1.7e9 + g.i * 600 + t.ord * 10 AS t_start, 1.7e9 + g.i * 600 + t.ord * 10 + 5 AS t_end
            FROM gen g JOIN tmpl t
              ON (t.kind NOT IN ('intermediate', 'few-shot'))
              OR (t.kind = 'intermediate' AND len(g.intermediate) > 0)
              OR (t.kind = 'few-shot' AND g.k IS NOT NULL)""")
        seconds["runs_phases"] = time.perf_counter() - t0
        t = time.perf_counter()
        con.execute(f"""
            INSERT INTO predictions BY NAME
            SELECT g.run_id, 'eval:' || l.lang AS phase, CASE WHEN l.lang = 'en' THEN 'copa' ELSE 'xcopa' END AS task,
                   l.lang, CASE WHEN l.lang = 'en' THEN 'val' ELSE 'test' END AS split, x.idx,
                   (x.idx % 2) AS label,
                   (hash(g.i, l.lang, x.idx) % 10000) / 10000.0
                     < g.level + g.seed_offset + ((hash(l.lang, x.idx, 'item') % 1000) / 1000.0 - 0.5) * 0.4
                     + CASE WHEN l.lang = 'en' THEN 0.1 ELSE 0 END AS correct,
                   CASE WHEN correct THEN label ELSE 1 - label END AS pred
            FROM gen g, (SELECT unnest(['en', {LANGS_SQL[1:]}) AS lang) l,
                 LATERAL (SELECT range AS idx FROM range(CASE WHEN l.lang = 'en' THEN {en_items} ELSE {n_items} END)) x""")
        con.execute("""
            INSERT INTO evals BY NAME
            SELECT run_id, phase, task, lang, split, avg(correct::INT) AS accuracy, count(*) AS n,
                   sum(correct::INT) AS correct, 1.7e9 AS t
            FROM predictions GROUP BY ALL""")
        seconds["predictions"] = time.perf_counter() - t
        t = time.perf_counter()
        if curve_points:
            con.execute(f"""
                INSERT INTO curves BY NAME
                SELECT g.run_id, 'target:copa' AS phase, p.point, p.point * 10 AS step, {curve_points} * 10 AS total_steps,
                       l.lang, 'validation' AS split,
                       0.5 + (g.level + g.seed_offset - 0.5) * (1 - exp(-3.0 * p.point / {curve_points}))
                         + ((hash(g.i, l.lang, p.point) % 100) / 100.0 - 0.5) * 0.02 AS accuracy,
                       100 AS n,
                       g.size * (CASE WHEN len(g.intermediate) > 0 THEN 0.5 ELSE 0 END
                                 + 0.05 * p.point / {curve_points}) AS cum_train_device_hours,
                       cum_train_device_hours * 1.3e17 AS cum_train_flops, cum_train_device_hours * 2.5e6 AS cum_train_energy_j,
                       0.5 AS eval_wall_s, 1e12 AS eval_flops
                FROM gen g, range(1, {curve_points} + 1) p(point), (SELECT unnest(['en', {LANGS_SQL[1:]}) AS lang) l""")
        seconds["curves"] = time.perf_counter() - t
        t = time.perf_counter()
        refresh_leaderboard(con)
        seconds["leaderboard"] = time.perf_counter() - t
        if verdict:
            t = time.perf_counter()
            refresh_verdict_in_batches(con)
            seconds["verdict"] = time.perf_counter() - t
        con.execute("CHECKPOINT")
    seconds["total"] = time.perf_counter() - t0
    return seconds


def refresh_verdict_in_batches(con, per_batch: int = 4) -> None:
    """The verdict tables ``store.verdict_tables.refresh`` writes, computed with its own functions a few
    configurations at a time (each batch: one baseline and ``per_batch`` configurations compared
    with it), so memory stays bounded: ``refresh`` loads every prediction of the store at once
    (about 3 GB per million runs x items ... see docs/benchmarks.md). The rows are the same: item
    weights are drawn per test-set size from a fixed seed, and each row's resampling seed is its
    index within its configuration or comparison."""
    import json

    from xcost_tui.stats.thresholds import DEFAULT_DELTA as DELTA
    from xcost_tui.store import verdict_tables

    specs = {
        str(cid): json.loads(spec)
        for cid, spec in con.execute(
            "SELECT config_id, any_value(spec) FROM runs WHERE status = 'succeeded' AND config_id IS NOT NULL "
            "GROUP BY config_id ORDER BY config_id"
        ).fetchall()
    }
    groups: dict[str, list[str]] = {}
    for cid, spec in specs.items():
        groups.setdefault(verdict_tables._baseline_key(spec), []).append(cid)
    acc: list[dict] = []
    cmp: list[dict] = []
    for ids in groups.values():
        directs = [c for c in ids if specs[c].get("method") == "direct"]
        others = [c for c in ids if c not in directs]
        done: set[str] = set()
        for i in range(0, max(len(others), 1), per_batch):
            configs = verdict_tables.load_configurations(con, config_ids=[*directs, *others[i : i + per_batch]])
            for cid, cfg in configs.items():
                if cid not in done:
                    acc += verdict_tables.accuracy_rows(cfg)
                    done.add(cid)
            cmp += verdict_tables._comparisons(configs, verdict_tables.default_baseline(configs).items(), DELTA)
    sig = con.execute(verdict_tables.SIGNATURE_SQL).fetchone()[0]
    with db.transaction(con):
        con.execute("DELETE FROM verdict_accuracy")
        con.execute("DELETE FROM verdict_comparison")
        verdict_tables._insert(con, "verdict_accuracy", acc)
        verdict_tables._insert(con, "verdict_comparison", cmp)
        con.execute("DELETE FROM meta WHERE key IN ('verdict_sig', 'verdict_seconds')")
        con.execute("INSERT INTO meta VALUES ('verdict_sig', ?)", [sig])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default="bench-out/store10k", help="store root to (re)create")
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument(
        "--verdict",
        action="store_true",
        help="a store for the verdict (make_verdict_store): --configs x --seeds runs with predictions",
    )
    ap.add_argument("--configs", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=50)
    args = ap.parse_args()
    if args.verdict:
        steps = make_verdict_store(Path(args.store), args.configs, args.seeds)
        print(f"made {db.db_path(args.store)}: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
        return 0
    seconds = make_store(Path(args.store), args.runs)
    import duckdb

    con = duckdb.connect(str(db.db_path(args.store)), read_only=True)
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("runs", "phases", "evals", "leaderboard")
    }
    con.close()
    print(
        f"made {db.db_path(args.store)} in {seconds:.2f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f" (schema version {schema.SCHEMA_VERSION})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
