"""Generate a large synthetic store fast, straight through SQL (no run directories).

    python benchmarks/make_store.py --store bench-out/store10k --runs 10000

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default="bench-out/store10k", help="store root to (re)create")
    ap.add_argument("--runs", type=int, default=10_000)
    args = ap.parse_args()
    seconds = make_store(Path(args.store), args.runs)
    import duckdb

    con = duckdb.connect(str(db.db_path(args.store)), read_only=True)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("runs", "phases", "evals", "leaderboard")}
    con.close()
    print(f"made {db.db_path(args.store)} in {seconds:.2f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
          + f" (schema version {schema.SCHEMA_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
