"""A stand-in for ``python -m xcost_tui.job RUN_DIR`` in runner tests: no torch, well under a second.

It keeps the job's side of the run-directory contract (docs/run-directory.md): status.json with
its pid at start, events (run_start, phase_start/progress/phase_end, eval_result,
checkpoint_saved, run_end), predictions, the final status, exit code 0 / 1 / 143.

What it does is chosen by words in the spec's ``name`` or in ``$FAKE_JOB_MODE``:

- ``raise``: raises in the first training phase (intermediate if any, else target) -> failed, exit 1
- ``hang``: stops in the target phase (a run that starts from a shared post-target model: its
  first few-shot phase) until SIGTERM -> cancelled, exit 143
- ``stubborn``: like hang but ignores SIGTERM (only SIGKILL ends it)
- ``die``: ``os._exit(3)`` in the target phase without writing an end
- ``slow``: each step takes 0.1 s instead of ``$FAKE_JOB_STEP_S`` (default 0.01)
- ``blocksamples``: samples.jsonl is a folder, so the sampler beside it cannot write it

It starts the sampler process beside itself, as the real job does (measure/sampler.py), so runs of
the fake job have samples.jsonl, and it writes ``fake_env.json`` (its environment and session)
for the tests to inspect.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from xcost_tui import XCOPA_LANGS  # noqa: E402
from xcost_tui.rundir import (  # noqa: E402
    CheckpointSaved,
    Cost,
    EvalResult,
    EventWriter,
    JsonlWriter,
    PhaseEnd,
    PhaseStart,
    Prediction,
    ProcessRef,
    Progress,
    ReusedFrom,
    RunDir,
    RunEnd,
    RunStart,
    RunStatus,
    read_jsonl,
    update_status,
)
from xcost_tui.rundir.cancel import read_cancel_request  # noqa: E402
from xcost_tui.spec import PhaseKind, RunSpec  # noqa: E402


class Cancelled(Exception):
    pass


CANCEL = {"flag": False}


def _on_term(signum, frame):
    CANCEL["flag"] = True


def _cost(value, unit, source, reason=None) -> Cost:
    return Cost.missing(unit, reason) if value is None else Cost.measured(value, unit, source)


def _accuracy(run_id: str, lang: str) -> float:
    h = int(hashlib.sha256(f"{run_id}/{lang}".encode()).hexdigest()[:8], 16)
    return round(0.5 + (h % 2000) / 10000, 4)  # 0.50 .. 0.70, stable per run and language


def main(argv: list[str]) -> int:
    from xcost_tui.measure.sampler import spawn_beside, stop_beside

    run_dir = Path(argv[1])
    update_status(
        run_dir, RunStatus.RUNNING, job=ProcessRef.current(), started=time.time(), ended=None, error=None, phase=None
    )
    if "blocksamples" in f"{RunDir(run_dir).read_spec().get('name')} {os.environ.get('FAKE_JOB_MODE', '')}":
        RunDir(run_dir).samples.mkdir(exist_ok=True)
    sampler = spawn_beside(run_dir)
    try:
        return _main(run_dir)
    finally:
        stop_beside(sampler)


def _main(run_dir: Path) -> int:
    files = RunDir(run_dir)
    data = files.read_spec()
    spec = RunSpec.from_dict(data, where=str(run_dir / "spec.json"))
    modes = set(re.findall(r"[a-z]+", f"{spec.name or ''} {os.environ.get('FAKE_JOB_MODE', '')}".lower()))
    step_s = 0.1 if "slow" in modes else float(os.environ.get("FAKE_JOB_STEP_S", "0.01"))
    steps = int(os.environ.get("FAKE_JOB_STEPS", "3"))
    for sig in (signal.SIGTERM, signal.SIGINT):  # the job's signals (job/main.py)
        signal.signal(sig, signal.SIG_IGN if "stubborn" in modes else _on_term)
    (run_dir / "fake_env.json").write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "sid": os.getsid(0),
                "pgid": os.getpgid(0),
                "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "CUDA_DEVICE_ORDER": os.environ.get("CUDA_DEVICE_ORDER"),
                "PYTHONUNBUFFERED": os.environ.get("PYTHONUNBUFFERED"),
                "stdin_isatty": os.isatty(0),
                "init_from": spec.init_from,
                "save_encoder": spec.save_encoder,
                "init_target_from": spec.init_target_from,
                "save_target": spec.save_target,
                "started": time.time(),
                "XCOST_CPU_THREADS": os.environ.get("XCOST_CPU_THREADS"),
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                "XCOST_RUNS_SHARING": os.environ.get("XCOST_RUNS_SHARING"),
                "SLURM_JOB_ID": os.environ.get("SLURM_JOB_ID"),
                "host": __import__("socket").gethostname(),
            }
        )
    )
    print(f"fake job {run_dir.name}: modes {sorted(modes)}", flush=True)
    events = EventWriter(files.events)
    preds = JsonlWriter(files.predictions)
    phase = None
    try:
        events.emit(
            RunStart(
                run_dir.name,
                spec.to_dict(),
                {
                    "python": sys.version.split()[0],
                    "device_type": "cpu",
                    "device_name": "fake",
                    "device_count": 1,
                    "precision": "fp32",
                    "xcost_tui": "fake",
                },
                spec.phases_planned,
            )
        )
        plan = spec.phase_plan()
        first_training = next(p.name for p in plan if p.kind in (PhaseKind.INTERMEDIATE, PhaseKind.TARGET))
        inter = [p for p in plan if p.kind == PhaseKind.INTERMEDIATE]
        # the phases a saved post-target model replaces: intermediate, target, eval:en
        upto = next(i for i, p in enumerate(plan) if p.kind == PhaseKind.TARGET) + 1
        upto += 1 if upto < len(plan) and plan[upto].lang == "en" else 0
        if spec.init_target_from:
            meta_path = Path(spec.init_target_from) / "phase.json"
            if not meta_path.is_file():
                raise RuntimeError(f"init_target_from {spec.init_target_from}: no phase.json")
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != json.loads(json.dumps(spec.target_key())):
                raise RuntimeError("init_target_from was trained with other settings")
            for rec in meta["phases"]:
                events.emit(PhaseStart(rec["phase"], rec["kind"], None))
                events.emit(PhaseEnd.from_dict({**rec, "t": 0.0}))
            plan = plan[upto:]
        elif spec.init_from:
            meta_path = Path(spec.init_from) / "phase.json"
            if not meta_path.is_file():
                raise RuntimeError(f"init_from {spec.init_from}: no phase.json")
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != json.loads(json.dumps(spec.intermediate_key())):
                raise RuntimeError("init_from was trained with other settings")
            for p in inter:
                events.emit(PhaseStart(p.name, p.kind.value, None))
                events.emit(
                    PhaseEnd(
                        p.name,
                        p.kind.value,
                        list(p.tasks),
                        None,
                        ReusedFrom(meta.get("run_id"), str(Path(spec.init_from).parents[1]), p.name),
                        {"wall_s": _cost(None, "s", None, f"reused: counted in {meta.get('run_id')}")},
                        {"reused": True},
                    )
                )
            plan = [p for p in plan if p not in inter]
        for planned in plan:
            phase, kind = planned.name, planned.kind.value
            training = kind in ("intermediate", "target", "few-shot")
            update_status(run_dir, RunStatus.RUNNING, phase=phase)
            events.emit(PhaseStart(phase, kind, steps if training else None))
            t0 = time.time()
            for step in range(1, steps + 1):
                time.sleep(step_s)
                if CANCEL["flag"]:
                    raise Cancelled()
                if training:
                    events.emit(
                        Progress(
                            phase,
                            step,
                            steps,
                            epoch=step / steps,
                            loss=1.0 / step,
                            lr=3e-5,
                            examples_per_s=100.0,
                            tokens_per_s=5000.0,
                            mem_bytes=1 << 20,
                            peak_mem_bytes=2 << 20,
                            mem_source="psutil",
                        )
                    )
                if phase == first_training and "raise" in modes:
                    raise RuntimeError(f"fake failure in {phase}")
                if phase.startswith("target:") and "die" in modes:
                    os._exit(3)
                # a run that starts from a shared post-target model hangs in its first own phase
                hangs_in = "few-shot:" if spec.init_target_from else "target:"
                if phase.startswith(hangs_in) and ({"hang", "stubborn"} & modes):
                    while True:
                        time.sleep(0.02)
                        if CANCEL["flag"]:
                            raise Cancelled()
            wall = time.time() - t0
            costs = {
                "wall_s": _cost(wall, "s", "wall_clock"),
                "device_hours": _cost(wall / 3600, "h", "wall_clock"),
                "devices": _cost(1, "count", "counted"),
                "flops_analytic": _cost(1e9 * steps if training else 1e8, "FLOP", "analytic"),
                "energy_j": _cost(None, "J", None, "no energy counter on this machine"),
                "peak_mem_bytes": _cost(2 << 20, "B", "psutil"),
            }
            if kind == "inference-bench":
                costs.update(latency_p50_s=_cost(0.01, "s", "wall_clock"), latency_p95_s=_cost(0.02, "s", "wall_clock"))
            lang = planned.lang
            if kind == "eval":
                acc = _accuracy(run_dir.name, lang)
                n = 10
                correct = round(acc * n)
                task, split = ("xcopa", "test") if lang in XCOPA_LANGS else ("copa", "validation")
                for idx in range(n):
                    pred = 1 if idx < correct else 0
                    preds.write(Prediction(phase, task, lang, split, idx, pred, 1, [0.0, 1.0], pred == 1).to_dict())
                events.emit(EvalResult(phase, task, lang, split, correct / n, n, correct))
            events.emit(
                PhaseEnd(
                    phase,
                    kind,
                    list(planned.tasks) if kind in ("intermediate", "target") else [],
                    lang,
                    None,
                    costs,
                    {"steps": steps if training else None},
                )
            )
            if kind == "intermediate" and planned == inter[-1] and spec.save_encoder:
                ckpt = files.intermediate_checkpoint
                ckpt.mkdir(parents=True, exist_ok=True)
                (ckpt / "phase.json").write_text(
                    json.dumps(
                        {
                            "key": spec.intermediate_key(),
                            "run_id": run_dir.name,
                            "run_dir": str(run_dir.resolve()),
                            "phases": [],
                        }
                    )
                )
                events.emit(CheckpointSaved(phase, "checkpoints/intermediate", spec.intermediate_key()))
            if planned == spec.phase_plan()[upto - 1] and spec.save_target:
                ckpt = files.target_checkpoint
                ckpt.mkdir(parents=True, exist_ok=True)
                done = [e for e in read_jsonl(files.events) if e["type"] == "phase_end"]
                reused = [
                    {
                        **e,
                        "costs": {
                            n: {**c, "value": None, "reason": f"reused: counted in {run_dir.name}"}
                            for n, c in e["costs"].items()
                        },
                        "reused_from": e.get("reused_from")
                        or {"run_id": run_dir.name, "run_dir": str(run_dir.resolve()), "phase": e["phase"]},
                        "info": {**e["info"], "reused": True, "original_costs": e["costs"]},
                    }
                    for e in done
                ]
                (ckpt / "phase.json").write_text(
                    json.dumps(
                        {
                            "kind": "target",
                            "key": spec.target_key(),
                            "run_id": run_dir.name,
                            "run_dir": str(run_dir.resolve()),
                            "phases": reused,
                        }
                    )
                )
                events.emit(CheckpointSaved(phase, "checkpoints/target", spec.target_key(), "target"))
    except Cancelled:
        request = read_cancel_request(run_dir)  # the reason its canceller gave, as the job records it
        reason = request.reason if request is not None and request.reason else "cancelled by signal"
        events.emit(RunEnd(RunStatus.CANCELLED.value, reason, phase))
        update_status(run_dir, RunStatus.CANCELLED, ended=time.time(), error=reason, phase=phase)
        return 143
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
        print(f"error: {error}", file=sys.stderr, flush=True)
        events.emit(RunEnd(RunStatus.FAILED.value, error, phase))
        update_status(run_dir, RunStatus.FAILED, ended=time.time(), error=error, phase=phase)
        return 1
    events.emit(RunEnd(RunStatus.SUCCEEDED.value))
    update_status(run_dir, RunStatus.SUCCEEDED, ended=time.time(), error=None, phase=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
