"""Time from process start to a usable first screen of the app, on a 10,000-run store.

    python benchmarks/bench_tui_startup.py [--runs 10000] [--repeat 5] [--store DIR]

Each repeat starts a fresh ``python`` process (so imports count) that runs the real app
headless at 120x40 and prints a marker when the Runs screen shows its first page (the table
filled from DuckDB and painted); the parent measures wall time from ``Popen`` to the marker.
Target: < 1.5 s. A plain DataTable holding all 10,000 rows takes ~1.75 s just to fill; the app
shows one page (100 rows) sorted and counted by DuckDB.
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

CHILD = r"""
import sys, time
from textual import on
from xcost_tui.tui.app import XcostApp
from xcost_tui.tui.screens.runs import RunsReady

class BenchApp(XcostApp):
    @on(RunsReady)
    def _bench_ready(self, msg):
        if msg.version == 1:
            # the page is in the table; wait for it to be painted, then report
            self.call_after_refresh(self._report)

    def _report(self):
        print("READY", time.time(), self.screen.total, flush=True)
        self.exit(0)

BenchApp(sys.argv[1], attach=False).run(headless=True, size=(120, 40))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=str(REPO / "bench-out" / "store10k"))
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    store = Path(args.store)
    if not (store / "xcost.duckdb").exists():
        from make_store import make_store

        make_store(store, args.runs)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    from _quiet import Contention

    times = []
    c = Contention().__enter__()
    for i in range(args.repeat + 1):
        t0 = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        out, err = proc.communicate(timeout=60)
        line = next((ln for ln in out.splitlines() if ln.startswith("READY")), None)
        if line is None:
            print(out, err, file=sys.stderr)
            return 1
        _, t_ready, total = line.split()
        elapsed = float(t_ready) - t0
        if i == 0:
            print(f"warm-up (file cache): {elapsed:.3f} s, {int(total):,} runs")
            continue
        times.append(elapsed)
        print(f"run {i}: {elapsed:.3f} s to the first page of {int(total):,} runs")
    c.__exit__(None, None, None)
    print(
        c.label(
            f"startup to first screen ({int(total):,}-run store): median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s (target < 1.5 s)"
        )
    )
    print(c.verdict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
