"""``xcost-tui run``: turn flags into a spec, write the run directory, run the job in its own process.

No torch here: the job subprocess imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..rundir import EventWriter, RunDir, RunEnd, RunStatus, read_status, update_status, write_json_atomic
from ..errors import SpecError
from ..spec import RunSpec


def spec_from_args(args: argparse.Namespace) -> dict:
    if args.spec:
        try:
            return json.loads(Path(args.spec).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SpecError(f"--spec {args.spec}: cannot read a JSON spec ({exc})") from None
    spec: dict = {
        "method": args.method,
        "model": args.model,
        "seed": args.seed,
        "intermediate": [t.strip() for t in args.intermediate.split(",") if t.strip()],
        "intermediate_mode": args.intermediate_mode,
        "langs": [x.strip() for x in args.langs.split(",") if x.strip()],
        "data_dir": args.data_dir,
        "device": args.device,
        "save_encoder": args.save_encoder,
    }
    if args.shots is not None:
        spec["few_shot_k"] = args.shots
    if args.init_from:
        spec["init_from"] = args.init_from
    if args.max_eval_examples is not None:
        spec["max_eval_examples"] = args.max_eval_examples
    if args.no_measure:
        spec["measure"] = {"enabled": False}
    overrides = {
        "epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size,
        "grad_accum": args.grad_accum, "learning_rate": args.lr, "max_seq_len": args.max_seq_len,
        "max_examples": args.max_train_examples,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        for section in ("hparams", "intermediate_hparams", "few_shot_hparams"):
            spec[section] = dict(overrides)
        spec["few_shot_hparams"].pop("max_examples", None)
    return spec


def prepare_run_dir(spec_dict: dict, out: str | None, store: str) -> tuple[Path, RunSpec | None, SpecError | None]:
    """Validates the spec and writes the run directory; an invalid spec still gets a run
    directory (when --out names one) with a failed status, so nothing fails silently."""
    try:
        spec = RunSpec.from_dict(spec_dict, where="run spec")
        error = None
    except SpecError as exc:
        spec, error = None, exc
    if out:
        run_dir = Path(out)
    elif spec is not None:
        run_dir = Path(store) / "runs" / spec.run_id()
    else:
        raise error  # nowhere to record it: just report it
    run_dir.mkdir(parents=True, exist_ok=True)
    files = RunDir(run_dir)
    write_json_atomic(files.spec, spec.to_dict() if spec else spec_dict)
    if error is not None:
        with EventWriter(files.events) as ev:
            ev.emit(RunEnd(RunStatus.FAILED.value, str(error)))
        update_status(run_dir, RunStatus.FAILED, error=str(error), phase=None, ended=time.time())
    return run_dir, spec, error


def job_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "xcost_tui.job", str(run_dir)]


def run_command(args: argparse.Namespace) -> int:
    run_dir, spec, error = prepare_run_dir(spec_from_args(args), args.out, args.store)
    if error is not None:
        print(f"xcost-tui: error: {error}", file=sys.stderr)
        print(f"(recorded as failed in {run_dir})", file=sys.stderr)
        return 2
    print(f"run directory: {run_dir}", flush=True)
    # The job's output goes both to the terminal and to job.log, which the run directory keeps.
    with open(RunDir(run_dir).log, "ab") as log:
        proc = subprocess.Popen(job_command(run_dir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
        except KeyboardInterrupt:
            proc.terminate()  # the job records "cancelled" and stops after its current batch
        code = proc.wait()
    record = read_status(run_dir)
    status = record.status.value if record else "unknown"
    print(f"status: {status} ({run_dir})", flush=True)
    return code
