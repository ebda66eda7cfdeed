"""``xcost-tui run``: turn flags into a spec, write the run directory, run the job in its own process.

After the job ends the launcher makes its record whole: a job that died without writing a final
status (SIGKILL, out of memory) is recorded ``failed`` with the reason, and a run directory under
``<store>/runs`` is ingested so ``xcost-tui sql`` and the app see it at once (elsewhere, the
command that ingests it is printed).

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

from ..errors import SpecError
from ..rundir import EventWriter, ProcessRef, RunDir, RunEnd, RunStatus, update_status, write_json_atomic
from ..rundir.status import read_status_lenient
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
    if getattr(args, "shot_seed", None) is not None:
        spec["shot_seed"] = args.shot_seed
    if getattr(args, "collapse_retries", None) is not None:
        spec["collapse_retries"] = args.collapse_retries
    if getattr(args, "translations", None):
        spec["translations"] = args.translations
    if args.init_from:
        spec["init_from"] = args.init_from
    if args.max_eval_examples is not None:
        spec["max_eval_examples"] = args.max_eval_examples
    if args.no_measure:
        spec["measure"] = {"enabled": False}
    overrides = {
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "batch_size": args.batch_size,
        "micro_batch_size": getattr(args, "micro_batch_size", None),
        "grad_accum": args.grad_accum,
        "learning_rate": args.lr,
        "max_seq_len": args.max_seq_len,
        "max_examples": args.max_train_examples,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        for section in ("hparams", "intermediate_hparams", "few_shot_hparams"):
            spec[section] = dict(overrides)
        spec["few_shot_hparams"].pop("max_examples", None)
    for section, name in recipes_from_args(getattr(args, "recipe", None) or []).items():
        spec.setdefault(section, {})["recipe"] = name
    return spec


# --recipe PHASE=NAME: the phase names a user types, and the spec table each one sets.
RECIPE_PHASES = {"target": "hparams", "intermediate": "intermediate_hparams", "few-shot": "few_shot_hparams"}


def recipes_from_args(values: list[str]) -> dict[str, str]:
    """{spec table: recipe name} of the --recipe flags: ``NAME`` is the target phase's, ``PHASE=NAME``
    that phase's (target, intermediate, few-shot). A recipe name itself is checked with the spec
    (an unknown one is a SpecError naming the recipes there are)."""
    from ..suggest import did_you_mean

    out: dict[str, str] = {}
    for value in values:
        phase, sep, name = value.partition("=")
        if not sep:
            phase, name = "target", value
        phase = phase.strip().replace("_", "-")
        if phase not in RECIPE_PHASES:
            raise SpecError(
                f"--recipe {value}: unknown phase {phase!r}{did_you_mean(phase, RECIPE_PHASES)}; "
                f"phases: {', '.join(RECIPE_PHASES)} (e.g. --recipe intermediate=phang2020)"
            )
        if not name.strip():
            raise SpecError(f"--recipe {value}: no recipe name after {phase}=")
        out[RECIPE_PHASES[phase]] = name.strip()
    return out


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
        assert error is not None  # no spec: it did not validate
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
    """``python -m xcost_tui.job RUN_DIR``, or ``$XCOST_JOB_CMD RUN_DIR`` (tests), as the runner does."""
    from ..runner.procs import default_job_command

    return default_job_command(run_dir)


def _record_identity(run_dir: Path, identity: ProcessRef) -> None:
    """Adds the job's identity (pid, create time, host) to status.json without touching the status
    the job may have written: a later reader never takes a process that reused the pid for the job."""
    current = read_status_lenient(run_dir)
    update_status(run_dir, current.status if current else RunStatus.RUNNING, job=identity)


def exit_code(returncode: int) -> int:
    """The launcher's exit status for the job's: a death by signal N as the shell reports it, 128 + N
    (Python would turn -9 into 247)."""
    return 128 - returncode if returncode < 0 else returncode


def record_outcome(run_dir: Path, returncode: int, identity: ProcessRef, *, cancelled: bool = False) -> tuple[str, int]:
    """The run's final status and the launcher's exit code, once the job process has ended.

    The job writes its own final status; when it could not (SIGKILL, the OOM killer, a crash of the
    interpreter) status.json still says ``running``, which no later reader can tell from a live run:
    record ``failed`` (``cancelled`` after Ctrl-C) with the reason and the exit code instead.
    """
    from ..runner.procs import describe_exit

    current = read_status_lenient(run_dir)
    if current is not None and current.status.final:
        if current.job != identity:  # a concurrent write of the job dropped them
            update_status(run_dir, current.status, job=identity)
        return current.status.value, exit_code(returncode)
    how = describe_exit(returncode)
    final = RunStatus.CANCELLED if cancelled else RunStatus.FAILED
    error = f"cancelled ({how})" if cancelled else f"the job ended without a final status ({how})"
    update_status(run_dir, final, ended=time.time(), error=error, exit_code=returncode, job=identity)
    return final.value, exit_code(returncode) or 1


def _under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def ingest_or_hint(run_dir: Path, store: Path) -> None:
    """Ingests a run directory under <store>/runs into the store; for one elsewhere, says how.

    A store problem (locked, another schema version, a broken file) is one line: the run directory
    holds everything, so nothing is lost and the printed command retries.
    """
    retry = f"xcost-tui ingest --store {store} {run_dir}"
    if not _under(run_dir, store / "runs"):
        print(
            f"not in the store (the run directory is outside {store / 'runs'}); to see it in "
            f"`xcost-tui sql` and the app: {retry}",
            flush=True,
        )
        return
    try:
        from ..store.ingest import ingest

        ingest(store, [run_dir])
    except Exception as exc:  # noqa: BLE001 - the results are on disk; the store can be rebuilt
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"store: could not ingest {run_dir} ({message}); `{retry}` retries", flush=True)
        return
    print(f"ingested into {store}", flush=True)


def run_command(args: argparse.Namespace) -> int:
    run_dir, spec, error = prepare_run_dir(spec_from_args(args), args.out, args.store)
    if error is not None:
        print(f"xcost-tui: error: {error}", file=sys.stderr)
        print(f"(recorded as failed in {run_dir})", file=sys.stderr)
        return 2
    print(f"run directory: {run_dir}", flush=True)
    # A fresh "running" first: a final status left by an earlier run in the same --out folder must
    # not pass for this job's outcome if the job dies before writing its own.
    update_status(run_dir, RunStatus.RUNNING, started=time.time(), ended=None, error=None, phase=None, exit_code=None)
    cancelled = False
    # The job's output goes both to the terminal and to job.log, which the run directory keeps.
    with open(RunDir(run_dir).log, "ab") as log:
        proc = subprocess.Popen(
            job_command(run_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        # At once, while the job is still starting its interpreter: the job's own status writes
        # keep these fields (write_status merges).
        identity = ProcessRef.of(proc.pid)
        _record_identity(run_dir, identity)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
        except KeyboardInterrupt:
            cancelled = True
            proc.terminate()  # the job records "cancelled" and stops after its current batch
        code = proc.wait()
    status, code = record_outcome(run_dir, code, identity, cancelled=cancelled)
    print(f"status: {status} ({run_dir})", flush=True)
    ingest_or_hint(run_dir, Path(args.store))
    return code
