"""How fast does ingest read a run with a million resource samples?

    python benchmarks/bench_ingest.py                  # 1,000,000 sample lines, one GPU each
    python benchmarks/bench_ingest.py --samples 200000 --gpus 0

Writes a run directory (spec, status, a few events, predictions for 11 languages and
``--samples`` lines of samples.jsonl, generated with DuckDB's COPY so the set-up is quick)
under a fresh store, then times:
  - first:  ``ingest(store, [run_dir])`` into a new store (creates the schema)
  - again:  the same ingest again (deletes the run's rows and re-inserts them)
  - stage:  reading the run directory into Arrow alone (no database)
Target: 1,000,000 sample rows in under 3 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
from _quiet import Contention  # noqa: E402

from xcost_tui import XCOPA_LANGS  # noqa: E402
from xcost_tui.rundir import JsonlWriter, RunStatus, update_status, write_json_atomic  # noqa: E402
from xcost_tui.rundir.layout import EVENTS, PREDICTIONS, SAMPLES, SPEC  # noqa: E402
from xcost_tui.spec import RunSpec  # noqa: E402
from xcost_tui.store import db  # noqa: E402
from xcost_tui.store.ingest import ingest, stage_run  # noqa: E402

TARGET_S = 3.0


def make_run(run_dir: Path, n_samples: int, n_gpus: int) -> None:
    run_dir.mkdir(parents=True)
    spec = RunSpec(method="direct", model="xlm-roberta-base")
    write_json_atomic(run_dir / SPEC, spec.to_dict())
    t0 = 1.7e9
    with JsonlWriter(run_dir / EVENTS) as ev:
        ev.write(
            {
                "t": t0,
                "type": "run_start",
                "run_id": run_dir.name,
                "spec": spec.to_dict(),
                "env": {"device_type": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "device_count": 1},
                "phases_planned": ["target:copa"],
            }
        )
        ev.write({"t": t0 + 1, "type": "phase_start", "phase": "target:copa", "kind": "target", "total_steps": 100})
        ev.write(
            {
                "t": t0 + n_samples * 0.1,
                "type": "phase_end",
                "phase": "target:copa",
                "kind": "target",
                "tasks": ["copa"],
                "lang": None,
                "reused_from": None,
                "info": {},
                "costs": {
                    "device_hours": {
                        "value": n_samples * 0.1 / 3600,
                        "unit": "h",
                        "source": "wall_clock",
                        "reason": None,
                    }
                },
            }
        )
        for i, lang in enumerate(XCOPA_LANGS):
            ev.write(
                {
                    "t": t0 + n_samples * 0.1 + i,
                    "type": "eval_result",
                    "phase": f"eval:{lang}",
                    "task": "xcopa",
                    "lang": lang,
                    "split": "test",
                    "accuracy": 0.6,
                    "n": 500,
                    "correct": 300,
                }
            )
        ev.write(
            {
                "t": t0 + n_samples * 0.1 + 20,
                "type": "run_end",
                "status": "succeeded",
                "error": None,
                "phase": None,
                "traceback": None,
            }
        )
    update_status(run_dir, RunStatus.SUCCEEDED, started=t0, ended=t0 + n_samples * 0.1 + 20)
    langs = "[" + ", ".join(f"'{lang}'" for lang in XCOPA_LANGS) + "]"
    gpus = (
        (
            f"[{{'index': g, 'name': 'NVIDIA H100 80GB HBM3', 'mem_used_bytes': (40e9 + i)::BIGINT, "
            f"'mem_total_bytes': 85899345920, 'util_percent': 97.0, 'power_w': 612.5, 'temp_c': 61.0, "
            f"'proc_mem_bytes': (39e9 + i)::BIGINT}} FOR g IN range({n_gpus})]"
        )
        if n_gpus
        else "[]"
    )
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT {t0} + i * 0.1 AS t, 'target:copa' AS phase, 99.5 AS cpu_percent,
                          (3e9 + i)::BIGINT AS rss_bytes, {gpus} AS gpus FROM range({n_samples}) r(i))
                    TO '{run_dir / SAMPLES}' (FORMAT json)""")
    con.execute(f"""COPY (SELECT 'eval:' || l AS phase, 'xcopa' AS task, l AS lang, 'test' AS split, i AS idx,
                          i % 2 AS pred, (i // 2) % 2 AS label, [0.1 * i, -0.1 * i] AS scores, i % 2 = (i // 2) % 2 AS correct
                          FROM unnest({langs}) u(l), range(500) r(i))
                    TO '{run_dir / PREDICTIONS}' (FORMAT json)""")
    con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1_000_000, help="sample lines to write")
    ap.add_argument("--gpus", type=int, default=1, help="GPUs per sample line (rows = samples x max(gpus, 1))")
    ap.add_argument("--out", default="bench-out/ingest", help="scratch folder (replaced)")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    run_dir = out / "runs" / "bench-run"
    t0 = time.perf_counter()
    make_run(run_dir, args.samples, args.gpus)
    size = (run_dir / SAMPLES).stat().st_size
    print(
        f"wrote {run_dir} in {time.perf_counter() - t0:.1f} s: samples.jsonl {size / 1e6:.0f} MB, "
        f"{args.samples:,} lines × {args.gpus} GPU(s)"
    )

    with Contention() as c:
        t0 = time.perf_counter()
        report = ingest(out, [run_dir])
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        ingest(out, [run_dir])
        again = time.perf_counter() - t0
        t0 = time.perf_counter()
        staged = stage_run(run_dir)
        stage = time.perf_counter() - t0

    con = duckdb.connect(str(db.db_path(out)), read_only=True)
    rows = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    preds = con.execute("SELECT count(*) FROM predictions").fetchall()[0][0]
    con.close()
    assert rows == staged.tables["samples"].num_rows == args.samples * max(args.gpus, 1), rows
    print(f"{report.ingested[0].summary()}")
    for name, s in (
        ("first ingest (new store)", first),
        ("ingest again (replace)", again),
        ("stage only (no db)", stage),
    ):
        print(c.label(f"  {name:<26} {s:6.2f} s   {rows / s:12,.0f} sample rows/s"))
    print(f"samples rows {rows:,}, prediction rows {preds:,}")
    ok = first < TARGET_S and again < TARGET_S
    print(c.label(f"target ({args.samples:,} lines in < {TARGET_S:.0f} s): {'met' if ok else 'MISSED'}"))
    print(c.verdict())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
