"""Fake run directories, written exactly as docs/run-directory.md says a job writes them.

``make_run_dir`` is shared by the store tests and the TUI tests: no torch, no training, and
every number is a parameter so tests can check sums, shares and frontiers by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from xcost_tui import XCOPA_LANGS
from xcost_tui.rundir import (
    Cost,
    CurvePoint,
    EvalResult,
    EventWriter,
    GpuReading,
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
    RunWarning,
    Sample,
    read_jsonl,
    update_status,
)
from xcost_tui.rundir.events import CollapseCheck
from xcost_tui.spec import RunSpec

T0 = 1_700_000_000.0
TRAINING_KINDS = ("intermediate", "target", "few-shot")
FLOPS_PER_DEVICE_HOUR = 1e15  # the default flops of a phase: its device-hours × this


def _cost(value, unit, source, reason=None, **extra) -> Cost:
    if value is None:
        return Cost.missing(unit, reason or "not measured on this machine", **extra)
    return Cost.measured(value, unit, source, **extra)


def _pick(value: float | dict | None, phase: str, default: float | None) -> float | None:
    if isinstance(value, dict):
        return value.get(phase, default)
    return default if value is None else value


def make_run_dir(
    root: Path | str,
    *,
    method: str = "direct",
    model: str = "tiny-xlmr",
    seed: int = 0,
    langs: Iterable[str] = XCOPA_LANGS,
    accuracies: dict[str, float] | None = None,
    status: str = "succeeded",
    device_hours: float | dict[str, float] = 0.01,
    flops: float | dict[str, float] | None = None,
    energy: float | dict[str, float] | None = None,
    peak_mem_bytes: int = 2_000_000_000,
    k: int | None = None,
    intermediate: Iterable[str] = (),
    reused_from: str | dict | None = None,
    reused_costs: dict[str, float] | None = None,
    with_predictions: bool = True,
    n_eval: int = 100,
    n_samples: int = 20,
    n_gpus: int = 0,
    latency_p50_s: float = 0.01,
    peak_infer_mem_bytes: int = 500_000_000,  # the inference phase's increase over its start
    infer_mem_start_bytes: int = 0,  # the memory at its start: the absolute peak is the sum
    lifetime_peak_mem_bytes: int | None = None,  # the job's lifetime peak (default: peak_mem_bytes + 100 MB)
    collapsed: bool | None = None,  # a collapse_check event after eval:en with this verdict (None: none)
    stop_after: str | None = None,
    truncate: Iterable[str] = (),
    run_id: str | None = None,
    name: str | None = None,
    eval_english: bool = True,
    device_type: str = "cpu",
    t0: float = T0,
    contended: dict[str, bool | None] | None = None,
    curve_points: int = 0,
    shot_seed: int | None = None,
    correct_items: dict[str, list[bool]] | None = None,
    spec_edit: Callable[[RunSpec], None] | None = None,
) -> Path:
    """Writes ``<root>/runs/<run_id>/`` and returns its path.

    - ``accuracies``: lang → accuracy ('en' for English COPA); languages not given get 0.5.
      Each evaluated language has ``n_eval`` predictions, ``round(acc × n_eval)`` of them correct.
    - ``device_hours``, ``flops``, ``energy``: a number applies to EVERY training phase
      (intermediate/target/few-shot), a dict maps phase name → value. ``flops`` defaults to
      device-hours × 1e15; ``energy=None`` writes energy as unmeasured (null with a reason).
      Evaluation phases cost device_hours/100 each (not training).
    - ``reused_from``: a producer run id (or ``{"run_id", "run_dir"}``): the intermediate phases
      are written as reused, with null costs, as the job does; ``reused_costs`` fills
      ``info.original_costs`` (phase name → device-hours).
    - ``contended``: phase name → the phase's contention flag (True, False, None: could not tell),
      written as the job's PhaseMeter writes it; phases not named carry no contention figures.
    - ``status``: succeeded | failed | cancelled | running. A failed/cancelled run stops after
      ``stop_after`` (default "target:copa") and writes run_end; a running one stops after
      ``stop_after`` (default the first target-language eval) with no run_end.
    - ``curve_points``: learning-curve points (``curve_point`` events) during the target phase: the
      held-out accuracy of each language (and 'en') rises linearly from 0.5 to its ``accuracies``
      value, against the pipeline's cumulative training device-hours (FLOPs = × 1e15).
    - ``shot_seed``: the shot draw of a few-shot or icl run.
    - ``correct_items``: lang → the exact 0/1 correctness of each item (overrides ``accuracies`` there).
    - ``truncate``: file names (events.jsonl, predictions.jsonl, samples.jsonl) whose last line
      is cut in half, as a crash (or a live writer) leaves it.
    """
    langs = list(langs)
    intermediate = list(intermediate)
    accuracies = dict(accuracies or {})
    spec = RunSpec(
        method=method,
        model=model,
        seed=seed,
        intermediate=intermediate,
        few_shot_k=k,
        langs=langs,
        eval_english=eval_english,
        name=name,
        shot_seed=shot_seed,
    )
    if spec_edit is not None:  # a field make_run_dir has no argument for (a learning rate, translations)
        spec_edit(spec)
    if reused_from is not None:
        producer = reused_from if isinstance(reused_from, dict) else {"run_id": reused_from, "run_dir": None}
        spec.init_from = f"{producer.get('run_dir') or producer['run_id']}/checkpoints/intermediate"
    else:
        producer = None
    if run_id is None:
        digest = hashlib.sha256(
            json.dumps([spec.identity(), status, stop_after, t0], sort_keys=True, default=str).encode()
        ).hexdigest()[:10]
        run_id = f"{method}-{model}-s{seed}-{digest}"
    run_dir = Path(root) / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    files = RunDir(run_dir)
    files.spec.write_text(json.dumps(spec.to_dict(), indent=1), encoding="utf-8")

    # The phases as the job runs them: the spec's own plan (intermediate phases are planned even
    # for a reusing run, which the job records as reused).
    plan = [(p.name, p.kind.value, p.lang) for p in spec.phase_plan()]
    if status == RunStatus.SUCCEEDED:
        stop = None
    elif stop_after is not None:
        stop = stop_after
    elif status == RunStatus.RUNNING:
        stop = next((p for p, kind, lang in plan if kind == "eval" and lang != "en"), plan[-1][0])
    else:
        stop = "target:copa"

    t = t0
    events = EventWriter(files.events)
    preds = JsonlWriter(files.predictions) if with_predictions else None

    def emit(event) -> None:
        events.emit(dataclasses.replace(event, t=t))

    env = {
        "python": "3.11.7",
        "torch": "2.5.1",
        "transformers": "4.46.0",
        "cuda": None if device_type == "cpu" else "12.4",
        "cudnn": None,
        "host": "testhost",
        "platform": "Linux",
        "device_type": device_type,
        "device_name": "cpu" if device_type == "cpu" else "NVIDIA H100 80GB HBM3",
        "device_count": 1,
        "precision": "fp32" if device_type == "cpu" else "bf16",
        "cpu_threads": 2,
        "git_commit": "abc1234",
        "xcost_tui": "0.1.0",
    }
    update_status(
        run_dir, RunStatus.RUNNING, job=ProcessRef(999_999, 1.0, "testhost"), started=t, phase=None, error=None
    )
    emit(RunStart(run_id, spec.to_dict(), env, [p for p, _, _ in plan]))
    phase_times: list[tuple[str, float, float]] = []
    failed_phase = None
    lifetime = lifetime_peak_mem_bytes if lifetime_peak_mem_bytes is not None else peak_mem_bytes + 100_000_000
    for phase, kind, lang in plan:
        t += 1.0
        emit(PhaseStart(phase, kind, 10 if kind in TRAINING_KINDS else None))
        start = t
        training = kind in TRAINING_KINDS
        reused = producer is not None and kind == "intermediate"
        if (
            status in (RunStatus.FAILED, RunStatus.CANCELLED)
            and failed_phase is None
            and stop is not None
            and phase_times
            and phase_times[-1][0] == stop
        ):
            failed_phase = phase
            emit(RunWarning("loss is NaN", phase))
            break
        if training:
            emit(
                Progress(
                    phase,
                    5,
                    10,
                    epoch=0.5,
                    loss=0.69,
                    lr=1e-5,
                    examples_per_s=100.0,
                    tokens_per_s=5000.0,
                    mem_bytes=1000,
                    peak_mem_bytes=peak_mem_bytes,
                    mem_source="procfs",
                )
            )
        if kind == "target" and curve_points:
            before = sum(
                (reused_costs or {}).get(p, _pick(device_hours, p, 0.01) or 0.0)
                for p, k2, _ in plan
                if k2 == "intermediate"
            )
            own = _pick(device_hours, phase, 0.01) or 0.01
            for i in range(1, curve_points + 1):
                frac = i / curve_points
                accs = {lang: 0.5 + (accuracies.get(lang, 0.5) - 0.5) * frac for lang in ["en", *langs]}
                emit(
                    CurvePoint(
                        phase,
                        i,
                        10 * i,
                        10 * curve_points,
                        "validation",
                        accs,
                        {lang: 50 for lang in accs},
                        before + own * frac,
                        (before + own * frac) * FLOPS_PER_DEVICE_HOUR,
                        None,
                        0.5,
                        1e9,
                    )
                )
        dh = _pick(device_hours, phase, 0.01) if training else (_pick(device_hours, "target:copa", 0.01) or 0.01) / 100
        wall = dh * 3600.0
        t += wall
        fl = _pick(flops, phase, dh * FLOPS_PER_DEVICE_HOUR) if training else dh * FLOPS_PER_DEVICE_HOUR
        en = _pick(energy, phase, None) if training else (None if energy is None else 1.0)
        costs = {
            "wall_s": _cost(wall, "s", "wall_clock"),
            "cpu_s": _cost(wall * 1.5, "s", "process_time"),
            "device_hours": _cost(dh, "h", "wall_clock", device_type=device_type),
            "devices": _cost(1, "count", "counted"),
            "examples": _cost(400, "count", "counted"),
            "steps": _cost(50 if training else 7, "count", "counted"),
            "tokens_nonpad": _cost(30_000, "count", "counted"),
            "tokens_padded": _cost(40_000, "count", "counted"),
            "padding_efficiency": _cost(0.75, "ratio", "counted"),
            "flops_analytic": _cost(fl, "FLOP", "analytic"),
            "flops_measured": _cost(fl * 1.02, "FLOP", "flop_counter", sampled_steps=3),
            "peak_mem_bytes": _cost(peak_mem_bytes, "B", "procfs" if device_type == "cpu" else "torch.cuda"),
            "lifetime_peak_mem_bytes": _cost(lifetime, "B", "procfs" if device_type == "cpu" else "torch.cuda"),
            "energy_j": _cost(en, "J", "rapl", reason="RAPL is not readable here (permission denied)", flag=None),
            "examples_per_s": _cost(400 / wall, "examples/s", "wall_clock"),
            "tokens_per_s": _cost(30_000 / wall, "tokens/s", "wall_clock"),
            "mfu": _cost(None, "ratio", None, reason="peak FLOP/s of this CPU is unknown"),
        }
        if contended is not None and phase in contended:
            flag = contended[phase]
            costs["other_cpu_s"] = _cost(wall * (1.5 if flag else 0.05), "s", "psutil", cpus=2)
            costs["contended"] = (
                Cost.missing("flag", "the phase was too short to tell", "psutil")
                if flag is None
                else _cost(
                    int(flag),
                    "flag",
                    "psutil",
                    threads=2,
                    cpus=2,
                    reasons=(
                        ["cpu: other processes used 1.50 of the job's 2 CPU(s) on average (more than 0.50)"]
                        if flag
                        else []
                    ),
                )
            )
        info: dict[str, Any] = {"steps": 50, "epochs": 1.0, "precision": env["precision"]}
        reused_rec = None
        if reused:
            reason = f"reused: counted in {producer['run_id']}"
            original = {k: v.to_dict() for k, v in costs.items()}
            if reused_costs and phase in reused_costs:
                original["device_hours"] = _cost(reused_costs[phase], "h", "wall_clock").to_dict()
            costs = {n: Cost.missing(c.unit, reason) for n, c in costs.items()}
            info = {"reused": True, "original_costs": original}
            reused_rec = ReusedFrom(producer["run_id"], producer.get("run_dir"), phase)
            t = start + 0.5
        if kind == "few-shot":
            info.update(k=k, few_shot_indices=list(range(k or 0)))
        if kind == "inference-bench":
            costs = {
                "wall_s": _cost(wall, "s", "wall_clock"),
                "cpu_s": _cost(wall, "s", "process_time"),
                "device_hours": _cost(dh, "h", "wall_clock"),
                "devices": _cost(1, "count", "counted"),
                "latency_p50_s": _cost(latency_p50_s, "s", "wall_clock"),
                "latency_p95_s": _cost(latency_p50_s * 1.5, "s", "wall_clock"),
                "latency_mean_s": _cost(latency_p50_s * 1.1, "s", "wall_clock"),
                "latency_n": _cost(50, "count", "counted"),
                "throughput_examples_per_s": _cost(1 / latency_p50_s * 8, "examples/s", "wall_clock", batch_size=64),
                "peak_mem_bytes": _cost(infer_mem_start_bytes + peak_infer_mem_bytes, "B", "procfs"),
                "peak_mem_increase_bytes": _cost(
                    peak_infer_mem_bytes, "B", "procfs", start_bytes=infer_mem_start_bytes
                ),
                "lifetime_peak_mem_bytes": _cost(lifetime, "B", "procfs"),
            }
        tasks = (
            []
            if kind == "inference-bench"
            else (
                [phase.split(":", 1)[1]]
                if kind == "intermediate"
                else ["copa"]
                if kind in ("target",) or lang == "en"
                else ["xcopa"]
            )
        )
        emit(PhaseEnd(phase, kind, tasks, lang, reused_rec, costs, info))
        if kind == "eval":
            acc = accuracies.get(lang, 0.5)
            exact = (correct_items or {}).get(lang)
            correct = sum(map(bool, exact)) if exact is not None else round(acc * n_eval)
            task, split = ("copa", "val") if lang == "en" else ("xcopa", "test")
            if preds is not None:
                for i in range(n_eval):
                    label = i % 2
                    right = bool(exact[i]) if exact is not None else i < correct
                    pred = label if right else 1 - label
                    preds.write(
                        Prediction(
                            phase,
                            task,
                            lang,
                            split,
                            i,
                            pred,
                            label,
                            [0.1 * i, -0.1 * i] if pred == 0 else [-0.1 * i, 0.1 * i],
                            pred == label,
                        ).to_dict()
                    )
            emit(EvalResult(phase, task, lang, split, correct / n_eval, n_eval, correct))
            if lang == "en" and collapsed is not None:
                emit(
                    CollapseCheck(
                        "target:copa",
                        phase,
                        1,
                        seed,
                        collapsed,
                        correct / n_eval,
                        n_eval,
                        correct,
                        0.5 if collapsed else 0.001,
                        0,
                        0.5,
                        0.05,
                        0.9,
                        ["accuracy within chance"] if collapsed else [],
                        False,
                    )
                )
        phase_times.append((phase, start, t))
        if stop is not None and phase == stop and status == RunStatus.RUNNING:
            break
    status = RunStatus(status)
    if status != RunStatus.RUNNING:
        t += 1.0
        if status == RunStatus.SUCCEEDED:
            emit(RunEnd(status.value))
            update_status(run_dir, status, ended=t, phase=None)
        else:
            error = "cancelled by signal" if status == RunStatus.CANCELLED else "RuntimeError: loss is NaN"
            emit(RunEnd(status.value, error, failed_phase))
            update_status(run_dir, status, ended=t, phase=failed_phase, error=error)
    else:
        update_status(run_dir, RunStatus.RUNNING, phase=phase_times[-1][0])
    events.close()
    if preds is not None:
        preds.close()

    with JsonlWriter(files.samples) as samples:
        span = max(t - t0, 1.0)
        for i in range(n_samples):
            ts = t0 + span * i / max(n_samples, 1)
            phase = next((p for p, a, b in phase_times if a <= ts <= b), None)
            gpus = [
                GpuReading(
                    g,
                    "NVIDIA H100 80GB HBM3",
                    None,
                    10_000_000_000 + i,
                    85_899_345_920,
                    90.0,
                    500.0 + g,
                    60.0,
                    9_000_000_000,
                )
                for g in range(n_gpus)
            ]
            samples.write(Sample(ts, phase, 100.0, 1_000_000_000 + i, gpus).to_dict())
    for fname in truncate:
        path = run_dir / fname
        data = path.read_bytes()
        last = data.rstrip(b"\n").rfind(b"\n")
        cut = data[: last + 1] + data[last + 1 :][: max(1, (len(data) - last - 1) // 2)]
        path.write_bytes(cut)
    return run_dir


def make_standard_store(root: Path | str) -> dict[str, Path]:
    """A small store covering every shape: direct, intermediate (producer + reuser), few-shot, failed, running."""
    root = Path(root)
    langs = list(XCOPA_LANGS)
    acc = {lang: 0.5 + 0.01 * i for i, lang in enumerate(langs)}
    runs = {
        "direct": make_run_dir(
            root,
            run_id="direct-s0",
            method="direct",
            seed=0,
            langs=langs,
            accuracies={**acc, "en": 0.7},
            device_hours=0.01,
            energy=100.0,
            n_gpus=1,
        ),
        "producer": make_run_dir(
            root,
            run_id="inter-s0",
            method="intermediate",
            intermediate=["siqa"],
            seed=0,
            langs=langs,
            accuracies={**{lang: a + 0.05 for lang, a in acc.items()}, "en": 0.8},
            device_hours={"intermediate:siqa": 0.06, "target:copa": 0.01},
            energy=50.0,
        ),
        "reuser": make_run_dir(
            root,
            run_id="inter-s0-reuse",
            method="intermediate",
            intermediate=["siqa"],
            seed=0,
            langs=langs,
            accuracies={**{lang: a + 0.04 for lang, a in acc.items()}, "en": 0.79},
            device_hours={"target:copa": 0.02},
            reused_from="inter-s0",
            energy=60.0,
        ),
        "fewshot": make_run_dir(
            root,
            run_id="fewshot-s0",
            method="few-shot",
            k=16,
            seed=0,
            langs=["it", "zh"],
            accuracies={"it": 0.7, "zh": 0.6, "en": 0.7},
            device_hours={"target:copa": 0.01, "few-shot:it": 0.001, "few-shot:zh": 0.001},
        ),
        "failed": make_run_dir(root, run_id="direct-failed", method="direct", seed=1, langs=langs, status="failed"),
        "running": make_run_dir(
            root,
            run_id="direct-running",
            method="direct",
            seed=2,
            langs=langs,
            status="running",
            truncate=["events.jsonl"],
        ),
    }
    return runs


def read_jsonl_lines(path: Path) -> list[dict]:
    return read_jsonl(path)
