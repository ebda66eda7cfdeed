"""Target (issue 9): `xcost-tui report` on a store of 10,000 runs (200 configurations x 50 seeds,
with predictions) in < 15 s.

The store is made once through SQL (make_store.make_verdict_store: predictions, evals, phases,
learning curves, the leaderboard and the verdict tables) and kept in bench-out/ for later runs
(--rebuild makes it again; building takes minutes, the verdict tables most of it). Then the
whole command, `python -m xcost_tui report --store S --out DIR`, runs as a fresh process
(interpreter start, imports, matplotlib included) --repeats times, and one more time in this
process to say where the time goes.

    python benchmarks/bench_report.py                       10,000 runs
    python benchmarks/bench_report.py --configs 50 --seeds 4   a quick look
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _quiet import Contention  # noqa: E402
from make_store import make_verdict_store  # noqa: E402

TARGET_S = 15.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--store", default=None, help="store root (default: bench-out/report-<configs>x<seeds>)")
    ap.add_argument("--rebuild", action="store_true", help="make the store again even when it exists")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    store = Path(args.store or REPO / "bench-out" / f"report-{args.configs}x{args.seeds}")
    if args.rebuild or not (store / "xcost.duckdb").exists():
        print(f"making {store}: {args.configs} configurations x {args.seeds} seeds, with predictions ...", flush=True)
        steps = make_verdict_store(store, args.configs, args.seeds)
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()), flush=True)
    import duckdb

    con = duckdb.connect(str(store / "xcost.duckdb"), read_only=True)
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("runs", "predictions", "curves", "verdict_accuracy", "verdict_comparison")
    }
    con.close()
    print(f"store {store}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out_root = Path(tempfile.mkdtemp(prefix="xcost-bench-report-"))
    try:
        cmd = [sys.executable, "-m", "xcost_tui", "report", "--store", str(store)]
        subprocess.run([*cmd, "--out", str(out_root / "warm")], check=True, env=env, capture_output=True)  # warm-up
        times, cpu = [], []
        with Contention() as c:
            for i in range(args.repeats):
                t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
                proc = subprocess.run([*cmd, "--out", str(out_root / f"r{i}")], env=env, capture_output=True, text=True)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                times.append(time.perf_counter() - t0)
                cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return 1
        files = sorted(p.name for p in (out_root / "r0").iterdir())
        size = sum(p.stat().st_size for p in (out_root / "r0").iterdir())
        print(f"xcost-tui report, {counts['runs']:,} runs: {len(files)} files, {size / 1e6:.1f} MB")
        print(
            c.label(
                f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}; "
                f"target < {TARGET_S:g} s)"
            )
        )
        print(f"CPU time of the command (user + system, all its threads): median {statistics.median(cpu):.2f} s")
        print(c.verdict())

        from xcost_tui.report import write_report

        t0, c0 = time.perf_counter(), time.process_time()
        result = write_report(store, out_root / "inproc")
        total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            "in-process: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in result.seconds.items())
            + f" (total {total:.2f} s wall, {total_cpu:.2f} s CPU)"
        )
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
