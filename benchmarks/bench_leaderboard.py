"""How fast does the leaderboard answer over a big store?

    python benchmarks/bench_leaderboard.py            # makes bench-out/store10k (10,000 runs) first if missing
    python benchmarks/bench_leaderboard.py --store DIR --repeat 30

Times, each as the median of --repeat runs:
  - top100: ``SELECT * FROM leaderboard ORDER BY avg_accuracy DESC LIMIT 100`` on an open read-only connection
  - full:   ``SELECT * FROM leaderboard`` fetched whole into Arrow
  - api:    ``query.leaderboard(store, limit=100)``: connect read-only, check the schema, query, close
  - live:   the same top-100 over the un-materialised definition (``leaderboard_live``), for comparison
  - pareto: ``query.cost_vs_accuracy(store, "train_device_hours")`` (every run + on_frontier)
  - refresh: rebuilding the materialised leaderboard (what every ingest batch pays)
The target: top100 and full under 100 ms median on 10,000 runs × 11 languages.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
from _quiet import Contention  # noqa: E402

from xcost_tui.store import db, query  # noqa: E402
from xcost_tui.store.ingest import refresh_leaderboard  # noqa: E402

TARGET_MS = 100.0


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default="bench-out/store10k")
    ap.add_argument("--runs", type=int, default=10_000, help="runs to generate when the store is missing")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    store = Path(args.store)
    if not db.db_path(store).exists():
        from make_store import make_store

        print(f"making {db.db_path(store)} with {args.runs:,} runs ...", flush=True)
        make_store(store, args.runs)

    c = Contention().__enter__()
    con = duckdb.connect(str(db.db_path(store)), read_only=True)
    n = con.execute("SELECT count(*) FROM leaderboard").fetchall()[0][0]
    n_evals = con.execute("SELECT count(*) FROM evals").fetchall()[0][0]
    results = {
        "top100": timed(
            lambda: con.sql("SELECT * FROM leaderboard ORDER BY avg_accuracy DESC LIMIT 100").to_arrow_table(),
            args.repeat,
        ),
        "full": timed(lambda: con.sql("SELECT * FROM leaderboard").to_arrow_table(), args.repeat),
        "live": timed(
            lambda: con.sql("SELECT * FROM leaderboard_live ORDER BY avg_accuracy DESC LIMIT 100").to_arrow_table(),
            max(3, args.repeat // 4),
        ),
    }
    con.close()
    results["api"] = timed(lambda: query.leaderboard(store, limit=100), args.repeat)
    results["api_by_lang"] = timed(
        lambda: query.leaderboard(
            store, order_by="acc_sw", limit=100, filters={"method": ["intermediate", "few-shot"]}
        ),
        args.repeat,
    )
    results["pareto"] = timed(lambda: query.cost_vs_accuracy(store, "train_device_hours"), args.repeat)

    def refresh():
        with db.connect_rw(store) as rw:
            refresh_leaderboard(rw)

    results["refresh"] = timed(refresh, max(3, args.repeat // 4))
    c.__exit__(None, None, None)
    print(f"store {db.db_path(store)}: {n:,} runs, {n_evals:,} eval rows")
    for name, (median, worst) in results.items():
        print(c.label(f"  {name:<12} median {median:8.1f} ms   max {worst:8.1f} ms"))
    ok = results["top100"][0] < TARGET_MS and results["full"][0] < TARGET_MS
    print(c.label(f"target (top100 and full < {TARGET_MS:.0f} ms median): {'met' if ok else 'MISSED'}"))
    print(c.verdict())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
