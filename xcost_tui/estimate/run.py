"""The supervisor's half of ``xcost-tui plan estimate``: count in a subprocess, probe in subprocesses,
then turn counts and probes into a forecast (``forecast.PlanForecast``).

1. ``python -m xcost_tui.estimate.worker count`` counts every run's phases: examples, steps,
   micro-batches, tokens and analytic FLOPs, with a histogram of micro-batch shapes (counting.py).
2. Without a device profile, runs are grouped by kind (the same settings but for the seed and the
   shots), and one ``worker probe`` process per kind measures its phases on the local device.
3. Each phase's time: a training phase is its probed fixed cost plus, per micro-batch of its
   histogram, the probed step time at that FLOP count (linear between the probed lengths), plus the
   optimiser's share per step; evaluation and the benchmark are their replays' times. With a
   profile: FLOPs / (peak x efficiency), at least a floor per layer (profiles.py).
4. Shared target phases (``plan.shared_targets``) and the cost outside the phases: warm workers or
   one process per run (execution.py, startup.py), and the old way for comparison.

No torch here (import-linter: the supervisor side): the workers are subprocesses.
"""

from __future__ import annotations

import collections
import json
import os
import platform
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

from .. import __version__
from ..errors import XcostError
from ..measure.heads import head_flops, head_outputs
from ..measure.mfu import match_gpu
from ..rundir.forecast import DEFAULT_SAFETY, PhaseForecast, PlanForecast, RunForecast, time_limit
from ..worker_pipe import WorkerPipe, WorkerTimeout
from . import assumptions
from .configs import ModelShape
from .execution import TargetGroup, apply_execution, compare, share_targets
from .memory import fits_analytic, job_choice, largest_fitting_micro, step_memory
from .profiles import (
    FORWARD_OVERHEAD_S_PER_LAYER,
    OPTIMIZER_BYTES_PER_PARAM,
    TRAIN_OVERHEAD_S_PER_LAYER,
    DeviceProfile,
    host_to_device_bytes_per_s,
)
from .protocol import MARK  # the pipe's mark, written once (protocol.py imports nothing heavy)
from .startup import (
    DISK_READ_BYTES_PER_S,
    RUN_OVERHEAD_S,
    STARTUP_ALLOWANCE_S,
    Rates,
    RunNeeds,
    weights_bytes,
)

COUNT_TIMEOUT_ENV = "XCOST_ESTIMATE_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 1800.0
TRAINING = ("intermediate", "target", "few-shot", "few-shot-trial")


class EstimateError(XcostError):
    """The estimate could not be made (a worker failed); the message says where and why."""


# ---- subprocesses ---------------------------------------------------------------------------------


def _worker(
    mode: str, request: dict, on_event: Callable[[dict], None], timeout_s: float, python: str | None = None
) -> list[dict]:
    """Runs ``python -m xcost_tui.estimate.worker MODE`` with ``request``; calls ``on_event`` for each
    of its events and returns them. EstimateError when it dies or runs past ``timeout_s``."""
    pipe = WorkerPipe("xcost_tui.estimate.worker", [mode], request, MARK, python)
    events: list[dict] = []
    done = False
    try:
        for event in pipe.events(timeout_s):
            if event.get("event") == "done":
                done = True
                break
            events.append(event)
            on_event(event)
    except WorkerTimeout:
        raise EstimateError(
            f"the estimate's {mode} worker ran longer than {timeout_s:g} s; ${COUNT_TIMEOUT_ENV} sets another limit"
        ) from None
    finally:
        pipe.kill(grace_s=2)
    if not done:
        raise EstimateError(pipe.stopped_message(f"the estimate's {mode} worker", 6))
    return events


def _timeout() -> float:
    try:
        value = float(os.environ.get(COUNT_TIMEOUT_ENV, "") or DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


# ---- arithmetic shared by the probe and the profile ----------------------------------------------


def interpolate(points: list[tuple[float, float]], x: float) -> float:
    """Piecewise-linear y(x) through ``points`` (x sorted or not), extended by the end segments'
    slopes, never below a fifth of the smallest y (a step costs something)."""
    pts = sorted(points)
    if not pts:
        return 0.0
    floor = 0.2 * min(y for _, y in pts)
    if len(pts) == 1:
        return pts[0][1]
    if x <= pts[0][0]:
        (x0, y0), (x1, y1) = pts[0], pts[1]
    elif x >= pts[-1][0]:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
    else:
        i = next(j for j in range(1, len(pts)) if pts[j][0] >= x)
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
    y = y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return max(y, floor)


def probe_points(hist: list[list], max_points: int = 2) -> list[int]:
    """The lengths to probe a training phase at: its longest micro-batch (the worst case of memory)
    and, when its lengths spread, the length a quarter of its micro-batches stay under."""
    if not hist:
        return []
    lengths = sorted((int(L), float(c)) for _, _, _, L, c, *_ in hist)
    longest = lengths[-1][0]
    total = sum(c for _, c in lengths)
    acc, low = 0.0, longest
    for L, c in lengths:
        acc += c
        if acc >= 0.25 * total:
            low = L
            break
    if max_points < 2 or longest - low < max(4, 0.15 * longest):
        return [longest]
    return [low, longest]


def train_wall_probe(probe: dict, hist: list[list], steps: int, flop_samples: int, first: bool) -> float:
    """A training phase's wall time from its probe (probing.Prober.train_phase) and its histogram
    (rows: head, examples, sequences, length, count, FLOPs of one such micro-batch; the worker
    counts FLOPs with the job's own ``loops.forward_flops``)."""
    pts = probe["points"]
    k = max(1, int(probe.get("k") or 1))
    main = max(pts, key=lambda p: p["length"])
    t_opt = float(main.get("t_opt") or 0.0)
    curve = []
    for p in pts:
        t_micro = (p["t_step"] - t_opt) / k if k > 1 else p["t_step"]
        curve.append((float(p["flops"]), max(t_micro, 1e-7)))
    wall = float(main["fixed"]) + float(probe.get("choose_s") or 0.0)
    for _head, _n, _ns, _L, c, f in hist:
        wall += float(c) * interpolate(curve, float(f))
    wall += steps * t_opt
    wall += max(0, flop_samples - 1) * float(main.get("sample_extra") or 0.0)
    if first:
        wall += float(main.get("warmup") or 0.0)
    return wall


def profile_train_wall(hist: list[list], steps: int, shape: ModelShape, profile: DeviceProfile, params: int) -> float:
    """Per micro-batch FLOPs / (peak x efficiency) + a fixed cost per layer; per step AdamW at the bandwidth."""
    rate = profile.peak * profile.efficiency
    fixed = TRAIN_OVERHEAD_S_PER_LAYER * shape.layers
    micro = sum(float(c) * (float(f) / rate + fixed) for _h, _n, _ns, _L, c, f in hist)
    return micro + steps * params * OPTIMIZER_BYTES_PER_PARAM / profile.bandwidth


def profile_forward_wall(hist: list[list], shape: ModelShape, profile: DeviceProfile) -> float:
    rate = profile.peak * profile.efficiency
    fixed = FORWARD_OVERHEAD_S_PER_LAYER * shape.layers
    return sum(float(c) * (float(f) / rate + fixed) for _h, _n, _ns, _L, c, f in hist)


def forward_flops_of(shape: ModelShape, head: str, n_seqs: int, seq_len: int) -> float:
    """Forward FLOPs of one batch, the measure/flops.py formulas (as the worker counts them), for the
    benchmark's batches, which the count does not list."""
    h, i, L = shape.hidden, shape.intermediate, seq_len
    tokens = n_seqs * L
    per_layer = 2 * tokens * h * 4 * h + 4 * tokens * h * i + 4 * n_seqs * L * L * h
    return float(shape.layers * per_layer + head_flops(h, n_seqs, L, head))


def profile_bench_wall(entry: dict, head: str, shape: ModelShape, profile: DeviceProfile) -> float:
    """The benchmark's batch-1 passes (warm-up and timed) and its throughput batches (worker: bench.py)."""
    lengths = entry.get("lengths") or []
    if not lengths:
        return 0.0
    n = int(entry.get("warmup") or 0) + int(entry.get("n") or 0)
    rows = [
        [head, 1, c, L, 1, forward_flops_of(shape, head, c, L)]
        for c, L in (lengths[i % len(lengths)] for i in range(n))
    ]
    bs = int(entry.get("eval_batch_size") or 64)
    pool = [lengths[i % len(lengths)] for i in range(min(4 * bs, max(len(lengths), bs)))]
    pool.sort(key=lambda cl: cl[1], reverse=True)
    batches = [pool[i : i + bs] for i in range(0, len(pool), bs)]
    for b in batches + batches[:1]:  # the throughput batches and their warm-up pass
        ns, L = sum(c for c, _ in b), max(L for _, L in b)
        rows.append([head, len(b), ns, L, 1, forward_flops_of(shape, head, ns, L)])
    return profile_forward_wall(rows, shape, profile)


# ---- kinds of run (one probe each) ----------------------------------------------------------------


def template_key(spec, reused: list[str]) -> str:
    """Runs of one kind share a probe: the same settings but for the seeds, the number of shots and
    labels (their shapes and code paths are the same; their counts are their own)."""
    d = spec.identity()
    for key in ("seed", "shot_seed", "few_shot_k"):
        d.pop(key, None)
    d["device"] = spec.device
    d["reused"] = sorted(reused)
    return json.dumps(d, sort_keys=True, default=str)


# ---- the estimate ---------------------------------------------------------------------------------


def estimate_plan(
    plan,
    *,
    profile: DeviceProfile | None = None,
    slots: int | None = None,
    safety: float = DEFAULT_SAFETY,
    out: TextIO | None = None,
    sample: int | None = None,
    python: str | None = None,
    workers: int | None = None,
    workers_reason: str | None = None,
    process_per_run: bool = False,
) -> PlanForecast:
    """The forecast of ``plan`` (a loaded ``plan.Plan``): probed on this machine, or projected onto
    ``profile``. Progress lines go to ``out``.

    Executed by ``workers`` warm workers (default: ``slots``; ``workers_reason`` says why), or
    with ``process_per_run`` one process per run; target phases are shared as the runner shares
    them, and ``compared`` holds the old way (one process per run, none shared)."""
    say = (lambda s: print(s, file=out, flush=True)) if out is not None else (lambda s: None)
    t_start = time.monotonic()
    specs = {s.run_id(): s for s in plan.runs}
    reused: dict[str, list[str]] = {}
    depends: dict[str, str] = {}
    for group in plan.shared_intermediates():
        for rid in group.consumers:
            reused[rid] = list(group.phases)
            depends[rid] = group.producer
    device_type = "cuda" if profile is not None else None
    request = {
        "runs": [
            {"run_id": rid, "spec": s.to_dict(), "reused": reused.get(rid, []), "device_type": device_type}
            for rid, s in specs.items()
        ],
        "sample": sample,
        "hub_timeout_s": float(os.environ.get("XCOST_HUB_TIMEOUT_S", "") or 10),
    }
    say(f"estimate: counting {len(specs)} runs (data, tokenizers, batches) in a worker process")
    counted: dict[str, dict] = {}
    failures: dict[str, str] = {}
    hub: dict = {}
    worker_env: dict = {}

    def on_count(ev: dict) -> None:
        kind = ev.get("event")
        if kind == "env":
            worker_env.update(ev.get("env") or {})
        elif kind == "hub":
            hub.update(ev)
            if ev.get("needed") and not ev.get("reachable"):
                say(
                    f"  hub: not reachable ({ev.get('error')}); data sets and tokenizers not on this machine "
                    f"fall back to the registry's sizes and assumed lengths"
                )
        elif kind == "run":
            counted[ev["run_id"]] = ev
            say(f"  counted {ev['run_id']} ({ev.get('seconds', 0):.1f} s)")
        elif kind == "failed":
            failures[ev.get("run_id") or "?"] = ev.get("error") or "?"
            say(f"  could not count {ev.get('run_id')}: {ev.get('error')}")
        elif kind == "note":
            say(f"  {ev.get('text')}")

    _worker("count", request, on_count, _timeout(), python)
    if failures and not counted:
        raise EstimateError("no run could be counted: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))

    probes: dict[str, dict] = {}
    probe_log: list[dict] = []
    probe_failures: list[str] = []
    device: dict[str, Any]
    if profile is None:
        groups: dict[str, list[str]] = {}
        for rid in counted:
            groups.setdefault(template_key(specs[rid], reused.get(rid, [])), []).append(rid)
        device = {}
        for i, rids in enumerate(groups.values(), 1):
            rep = rids[0]
            req = probe_request(specs[rep], counted[rep], hub, label=specs[rep].name or rep)
            say(
                f"estimate: probe {i}/{len(groups)}: {specs[rep].name or rep} ({len(rids)} run{'s' if len(rids) > 1 else ''}) "
                f"on the local device"
            )
            result: dict = {}

            def on_probe(ev: dict, result=result) -> None:
                if ev.get("event") == "probe":
                    result.update(ev)
                elif ev.get("event") == "failed":
                    result["failed"] = ev.get("error")
                elif ev.get("event") == "note":
                    say(f"  {ev.get('text')}")

            try:
                _worker("probe", req, on_probe, _timeout(), python)
            except EstimateError as exc:
                result["failed"] = str(exc)
            if result.get("failed") or "phases" not in result:
                why = f"the probe of {specs[rep].name or rep} failed: {result.get('failed') or 'no result'}"
                say(f"  {why}")
                probe_failures.append(
                    f"{why}; its {len(rids)} run{'s' if len(rids) != 1 else ''} have counts but no "
                    f"time or memory (--device-profile projects them without a probe)"
                )
                continue
            for rid in rids:
                probes[rid] = {**result, "representative": rep}
            device = result.get("device") or device
            probe_log.append(
                {
                    "label": specs[rep].name or rep,
                    "runs": rids,
                    "seconds": result.get("seconds"),
                    "start_s": result.get("start_s"),
                    "phases": {k: v.get("probe_s") for k, v in result["phases"].items()},
                }
            )
        found = match_gpu(device.get("name")) if device.get("type") == "cuda" else None
        device.update(
            label=found[0] if found else device.get("name"),
            family=(found[0].split()[0] if found else device.get("name")),
        )
    else:
        device = {
            "type": "cuda",
            "name": profile.label,
            "precision": profile.precision,
            "count": 1,
            "label": profile.label,
            "family": profile.family,
            "memory_bytes": profile.memory_bytes,
            "power_w": profile.power_w,
            "profile": profile.name,
        }

    base_runs: list[RunForecast] = []
    notes: list[str] = list(probe_failures)
    for rid, spec in specs.items():
        if rid not in counted:
            notes.append(f"{spec.name or rid} ({rid}): not forecast: {failures.get(rid, 'not counted')}")
            continue
        base_runs.append(build_run(spec, counted[rid], probes.get(rid), profile, depends.get(rid), safety))
    needs = {r.run_id: run_needs(specs[r.run_id], counted[r.run_id], r.startup_s) for r in base_runs}
    target_groups = [TargetGroup(g.producer, tuple(g.consumers), tuple(g.phases)) for g in plan.shared_targets()]
    link = profile.host_to_device if profile is not None else host_to_device_bytes_per_s(device.get("label"))
    rates = Rates(link if device.get("type") == "cuda" else None)
    slots_n = max(1, slots or 1)
    n_workers = max(1, workers or slots_n)
    why = workers_reason or (
        f"--workers {workers}" if workers else f"one per parallel slot ({slots_n}: --slots, else the local GPUs)"
    )
    runs, n_shared = share_targets(base_runs, target_groups)
    execution = apply_execution(
        runs,
        needs,
        rates,
        process_per_run=process_per_run,
        workers=n_workers,
        workers_reason="one process per run" if process_per_run else why,
        safety=safety,
        shared_phases=n_shared,
    )
    compared = compare(base_runs, target_groups, needs, rates, safety, process_per_run=process_per_run)
    if any(r.assumed for r in runs):
        notes.append(
            "rows marked assumed use the registry's split sizes or an assumed length per task "
            "(xcost_tui/estimate/assumptions.py) where a data set or the tokenizer could not be reached; "
            + assumptions.online_hint(plan.label)
        )
    if profile is not None:
        notes.append(
            f"projected onto {profile.describe()}, not measured: per micro-batch FLOPs / (peak x efficiency) "
            f"+ {TRAIN_OVERHEAD_S_PER_LAYER * 1e3:.2g} ms per layer (training; "
            f"{FORWARD_OVERHEAD_S_PER_LAYER * 1e3:.2g} ms forward only), per optimiser step "
            f"{OPTIMIZER_BYTES_PER_PARAM} bytes per parameter at the memory bandwidth; a process start-up "
            f"{STARTUP_ALLOWANCE_S['default']:.0f} s ({STARTUP_ALLOWANCE_S['built-in']:.0f} s for "
            f"tiny-xlmr); energy at the board power ({profile.power_w:.0f} W), an upper bound; memory from "
            f"the analytic step model (xcost_tui/estimate/memory.py)"
        )
    notes.append(
        "outside the phases (xcost_tui/estimate/startup.py): "
        + (
            "one process per run, each with its start-up and model load"
            if process_per_run
            else f"{execution.workers} warm worker{'s' if execution.workers != 1 else ''}, each with one start-up "
            f"and one load per distinct model; per run its model restored from host RAM "
            + (
                f"at {rates.host_to_device / 1e9:.3g} GB/s (host link, assumed)"
                if rates.host_to_device
                else "(no device copy)"
            )
            + f" + {RUN_OVERHEAD_S:g} s"
        )
        + f"; post-target checkpoints read and written at {DISK_READ_BYTES_PER_S / 1e9:g} GB/s (assumed)"
    )
    notes.append(
        "not forecast: retries of a collapsed target phase (collapse_retries; each adds a target phase and "
        "eval:en, shared like them) and the learning curves' evaluations (curve:<phase>), early stops, other "
        "work sharing the device, thermal throttling"
    )
    env = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "xcost_tui": __version__,
        "platform": platform.platform(),
        **worker_env,
        "hub": {k: v for k, v in hub.items() if k != "event"},
    }
    fc = PlanForecast(
        forecast_id=f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}",
        made_at=time.time(),
        plan=plan.name,
        plan_label=plan.label,
        mode="profile" if profile else "probe",
        device=device,
        efficiency=profile.efficiency if profile else None,
        env=env,
        runs=runs,
        slots=slots_n if process_per_run else execution.workers,
        safety=safety,
        notes=notes,
        probes=probe_log,
        execution=execution,
        compared=compared,
    )
    fc.seconds = time.monotonic() - t_start
    return fc


def run_needs(spec, counted: dict, process_s: float) -> RunNeeds:
    """What one run needs outside its phases: its model's weights (fp32 for an encoder; a causal
    LM or MT model in its ``model_dtype`` when set), and whether each run restores a fresh copy (an
    ICL model is not trained: it stays on the device)."""
    shape = ModelShape(**counted["model"])
    dtype = spec.model_dtype if (spec.model_dtype in ("bf16", "fp16") and not spec.trains) else "fp32"
    key = (
        spec.model if shape.source != "built-in" else f"{spec.model}:{json.dumps(spec.tiny_model_dims, sort_keys=True)}"
    )
    return RunNeeds(spec.run_id(), key, weights_bytes(shape.params(), dtype), process_s, restores=bool(spec.trains))


def probe_request(spec, counted: dict, hub: dict, label: str) -> dict:
    """What the probe of one kind of run measures: each planned phase, with the shapes to use."""
    phases = []
    for p in counted["phases"]:
        entry: dict[str, Any] = {
            "name": p["name"],
            "kind": p["kind"],
            "reused": p.get("reused", False),
            "lang": p.get("lang"),
        }
        if p["kind"] in TRAINING and not p.get("reused"):
            micro_key = next(iter(p["by_micro"]))  # the probe recomputes the job's choice itself
            bm = p["by_micro"][micro_key]
            weights: collections.Counter[str] = collections.Counter()  # head -> examples
            for head, _n, _ns, _L, c, _f in bm["hist"]:
                weights[head] += c
            tasks = [{**t, "weight": weights.get(t["head"], 0)} for t in p.get("tasks") or []]
            entry.update(
                section=p["section"],
                tasks=tasks,
                points=probe_points(bm["hist"]) or [8],
                flop_samples=bm.get("flop_samples", 1),
            )
        elif p["kind"] == "eval":
            entry.update(lengths=p.get("lengths") or [], head=p.get("head"), batch_size=p.get("batch_size"))
        elif p["kind"] == "inference-bench":
            entry.update(lengths=p.get("lengths") or [], head=p.get("head"))
        phases.append(entry)
    return {
        "spec": spec.to_dict(),
        "phases": phases,
        "label": label,
        "model_config": counted["model"]["config"],
        "offline": bool(hub.get("needed") and not hub.get("reachable")),
    }


def _device_hours(wall: float | None, devices: int = 1) -> float | None:
    return None if wall is None else wall * devices / 3600.0


def build_run(
    spec, counted: dict, probe: dict | None, profile: DeviceProfile | None, depends_on: str | None, safety: float
) -> RunForecast:
    shape = ModelShape(**counted["model"])
    phases: list[PhaseForecast] = []
    first_train = True
    for i, p in enumerate(counted["phases"]):
        pf = PhaseForecast(
            phase=p["name"],
            kind=p["kind"],
            ordinal=i,
            lengths_source=p.get("lengths_source"),
            counts_source=p.get("counts_source"),
        )
        if p.get("reused"):
            pf.shared_from = depends_on or spec.init_from
            pf.notes.append(f"reused: counted in {pf.shared_from}")
            phases.append(pf)
            continue
        if p["kind"] in TRAINING:
            _train_forecast(pf, p, spec, shape, probe, profile, first_train)
            first_train = False
        elif p["kind"] == "eval":
            pf.examples, pf.steps = p["examples"], p["steps"]
            pf.tokens_nonpad, pf.tokens_padded, pf.flops = p["tokens_nonpad"], p["tokens_padded"], float(p["flops"])
            if profile is not None:
                pf.wall_s, pf.time_source = profile_forward_wall(p["hist"], shape, profile), "profile"
                pf.peak_mem_bytes, pf.peak_mem_source = _forward_memory(shape, p["hist"], "bf16"), "analytic"
            else:
                _replay(pf, probe, p)
        else:
            if profile is not None:
                pf.wall_s, pf.time_source = profile_bench_wall(p, p.get("head") or "mc", shape, profile), "profile"
                pf.peak_mem_bytes, pf.peak_mem_source = (
                    _forward_memory(shape, [[p.get("head"), 1, 2, 128, 1, 0]], "bf16"),
                    "analytic",
                )
            else:
                _replay(pf, probe, p)
        pf.device_hours = _device_hours(pf.wall_s)
        if pf.energy_j is None and pf.wall_s is not None and profile is not None:
            pf.energy_j = pf.wall_s * profile.power_w
        elif pf.energy_j is None and pf.energy_reason is None:
            pf.energy_reason = "energy not measurable on the probe's device (no NVML or RAPL counter)"
        phases.append(pf)
    if probe is not None:
        startup = float(probe.get("start_s") or 0.0)
    else:
        startup = STARTUP_ALLOWANCE_S["built-in" if shape.source == "built-in" else "default"]
    run = RunForecast(
        run_id=spec.run_id(),
        name=spec.name,
        method=spec.method,
        model=spec.model,
        seed=spec.seed,
        phases=phases,
        startup_s=startup,  # a process start-up of its own; execution.py replaces it with what it pays
        process_s=startup,
        depends_on=depends_on,
        notes=list(counted.get("notes") or []),
    )
    run.suggested_time_s = time_limit(run.wall_s, safety)
    return run


def _replay(pf: PhaseForecast, probe: dict | None, p: dict) -> None:
    """Evaluation and the benchmark: the replay's own figures (the runs of one kind read the same data)."""
    res = (probe or {}).get("phases", {}).get(p["name"]) or {}
    pf.wall_s, pf.time_source = res.get("wall_s"), "replay"
    pf.peak_mem_bytes = res.get("peak_mem_bytes")
    pf.peak_mem_source = _mem_source(probe)
    pf.energy_j = res.get("energy_j")


def _mem_source(probe: dict | None) -> str | None:
    dev = (probe or {}).get("device") or {}
    return "torch.cuda" if dev.get("type") == "cuda" else ("procfs" if dev else None)


def _forward_memory(shape: ModelShape, hist: list[list], precision: str) -> int:
    """Inference: fp32 weights and the largest batch's activations of one layer (nothing kept for a backward)."""
    biggest = max((int(ns) * int(L) for _h, _n, ns, L, *_ in hist), default=0)
    return int(shape.params() * 4 + 12 * biggest * shape.hidden * (2 if precision in ("bf16", "fp16") else 4))


def _train_forecast(
    pf: PhaseForecast, p: dict, spec, shape: ModelShape, probe: dict | None, profile: DeviceProfile | None, first: bool
) -> None:
    hp = getattr(spec, p["section"])
    by_micro = p["by_micro"]
    tasks = p.get("tasks") or []
    heads = {t["head"]: head_outputs(t["head"]) for t in tasks} or {"mc": 1}
    top = max((cl for t in tasks for cl in t.get("top", [])), key=lambda cl: cl[1], default=[1, hp.max_seq_len])
    choices = max((int(t.get("choices") or 1) for t in tasks), default=1)
    pf.examples, pf.steps, pf.tokens_nonpad = p["examples"], p["steps"], p["tokens_nonpad"]
    if profile is not None:
        precision = profile.precision
        fits = fits_analytic(shape, choices, int(top[1]), precision, profile.memory_bytes, heads)
        if p["micro_rule"] == "probed":
            micro = job_choice(hp.batch_size, fits)
        else:
            micro = int(next(iter(by_micro)))
        pf.micro_batch_size, pf.micro_batch_source = micro, p["micro_rule"]
        bm = by_micro.get(str(micro)) or by_micro[next(iter(by_micro))]
        pf.wall_s = profile_train_wall(bm["hist"], p["steps"], shape, profile, shape.params(heads))
        pf.time_source = "profile"
        mem = step_memory(shape, micro * choices, int(top[1]), precision, heads)
        pf.peak_mem_bytes, pf.peak_mem_source = mem.total, "analytic"
        pf.memory_total_bytes = profile.memory_bytes
        pf.max_micro_batch = largest_fitting_micro(hp.batch_size, fits)
    else:
        res = (probe or {}).get("phases", {}).get(p["name"])
        if res is None:
            pf.notes.append("not probed")
            return
        micro = int(res["micro"])
        pf.micro_batch_size, pf.micro_batch_source = micro, res.get("micro_source")
        bm = by_micro.get(str(micro))
        if bm is None:  # the probe chose a micro-batch the count did not consider (cannot happen: halving)
            bm = by_micro[min(by_micro, key=lambda k: abs(int(k) - micro))]
        pf.wall_s = train_wall_probe(res, bm["hist"], p["steps"], bm.get("flop_samples", 1), first)
        pf.time_source = "probe"
        pf.peak_mem_bytes, pf.peak_mem_source = res.get("peak_mem_bytes"), _mem_source(probe)
        pf.memory_total_bytes = res.get("memory_total_bytes")
        if res.get("energy_j_per_s") is not None and pf.wall_s is not None:
            pf.energy_j = res["energy_j_per_s"] * pf.wall_s
        if "max_micro" in res:
            pf.max_micro_batch = res["max_micro"]
        elif pf.peak_mem_bytes and pf.memory_total_bytes:
            # a CPU: the measured peak, plus the analytic activations of each further example
            per_example = step_memory(shape, choices, int(top[1]), "fp32", heads).activation_bytes
            budget = 0.9 * pf.memory_total_bytes
            peak = pf.peak_mem_bytes
            pf.max_micro_batch = largest_fitting_micro(
                hp.batch_size, lambda mm: peak + (mm - micro) * per_example <= budget
            )
    pf.micro_batches = bm["micro_batches"]
    pf.tokens_padded = bm["tokens_padded"]
    pf.flops = float(bm["flops"])
    if pf.max_micro_batch is None and pf.memory_total_bytes:
        pf.fits = False
        pf.notes.append(
            f"does not fit: one example of {int(top[1])} tokens x {choices} sequences needs more than the "
            f"device's {pf.memory_total_bytes / 2**30:.0f} GiB; set {p['section']}.max_seq_len lower or use "
            f"a device with more memory"
        )
    elif pf.max_micro_batch is not None:
        pf.fits = pf.micro_batch_size is not None and pf.micro_batch_size <= pf.max_micro_batch
        if not pf.fits:
            pf.notes.append(
                f"does not fit: micro-batches of {pf.micro_batch_size} need more than the device's "
                f"memory; set {p['section']}.micro_batch_size = {pf.max_micro_batch} (the largest that "
                f"fits)"
                + (" or leave it unset (the job then picks one on a GPU)" if pf.micro_batch_source == "set" else "")
            )
