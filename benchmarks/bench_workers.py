"""Warm workers against a process per run (issue 18): where a worker's CPU time goes, and whether
the predictions are the same.

    python benchmarks/bench_workers.py [--plan demo-grid] [--out DIR] [--mode both|workers|processes]
    python benchmarks/bench_workers.py --account STORE     (only the CPU account of a store's workers)

Runs the plan headless (``--no-ingest``) into DIR/workers (warm workers, the default) and
DIR/processes (``--process-per-run``), then prints, per worker: its start-up CPU seconds, its
runs' measured phases' CPU seconds (phase_end ``cpu_s``), the share of the worker's CPU time they
make (``rundir.worker.account_worker``), and the untimed warm-up and model-load seconds of its runs;
for both modes the wall time of the whole plan (a ratio in the same run) and whether every run's
predictions are identical. Numbers taken while other work shares the machine are not reportable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _quiet import Contention  # noqa: E402

from xcost_tui.rundir import StoreLayout, read_jsonl  # noqa: E402
from xcost_tui.rundir.worker import account_worker  # noqa: E402


def run_plan(plan: str, store: Path, per_run: bool, data_dir: str | None) -> float:
    cmd = [sys.executable, "-m", "xcost_tui", "--headless", plan, "--store", str(store), "--no-ingest"]
    cmd += ["--skip-data-check"] + (["--process-per-run"] if per_run else [])
    if data_dir:
        cmd += ["--data-dir", data_dir]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"the plan failed in {store} (exit {proc.returncode})")
    return wall


def account(store: Path) -> None:
    layout = StoreLayout(store)
    workers = layout.worker_dirs()
    if not workers:
        print(f"{store}: no warm workers")
        return
    for wdir in workers:
        a = account_worker(wdir, layout.runs)
        share = f"{a.share:.1%}" if a.share is not None else "n/a"
        warm = sum(r.warmup_s for r in a.runs)
        load = sum(r.load_s or 0.0 for r in a.runs)
        runs_cpu = sum(r.cpu_s for r in a.runs)
        print(
            f"worker {a.worker_id}: {len(a.runs)} runs; CPU {a.cpu_s or 0:.1f} s = start-up "
            f"{a.startup_cpu_s or 0:.1f} + runs {runs_cpu:.1f} (phases {a.phase_cpu_s:.1f}) + teardown "
            f"{(a.cpu_s or 0) - (a.startup_cpu_s or 0) - runs_cpu:.1f}; phases' share {share}; "
            f"untimed warm-up {warm:.1f} s wall, model loads {load:.2f} s wall"
        )


def same_predictions(a: Path, b: Path) -> tuple[int, list[str]]:
    la, lb = StoreLayout(a), StoreLayout(b)
    differ = []
    runs = [d.run_id for d in la.run_dirs()]
    for run_id in runs:
        if read_jsonl(la.run_dir(run_id).predictions) != read_jsonl(lb.run_dir(run_id).predictions):
            differ.append(run_id)
    return len(runs), differ


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", default="demo-grid")
    ap.add_argument("--out", default="bench-workers")
    ap.add_argument("--mode", choices=["both", "workers", "processes"], default="both")
    ap.add_argument("--data-dir", default=os.environ.get("XCOST_DATA_DIR"))
    ap.add_argument("--account", metavar="STORE", help="only print the CPU account of STORE's workers")
    args = ap.parse_args()
    if args.account:
        account(Path(args.account))
        return 0
    out = Path(args.out)
    walls = {}
    quiet = []
    for mode in ("workers", "processes"):
        if args.mode in ("both", mode):
            with Contention() as c:  # the headless run and its jobs are this process's children
                walls[mode] = run_plan(args.plan, out / mode, mode == "processes", args.data_dir)
            quiet.append(c)
            print(c.label(f"{mode}: the plan in {walls[mode]:.1f} s wall"), f"({c.verdict()})")
    if "workers" in walls:
        account(out / "workers")
    if len(walls) == 2:
        ratio = f"wall, workers / processes: {walls['workers'] / walls['processes']:.2f}"
        loud = next((c for c in quiet if not c.quiet), quiet[0])
        print(loud.label(ratio))
        n, differ = same_predictions(out / "workers", out / "processes")
        print(f"predictions: {n - len(differ)} of {n} runs identical" + (f"; differ: {differ}" if differ else ""))
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
