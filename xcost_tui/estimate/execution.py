"""The forecast's execution: which runs reuse another run's target phase, and what each run and
each warm worker pays outside the phases (startup.py's arithmetic applied to the forecast's
records, ``rundir/forecast.py``). Torch-free.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..rundir.forecast import CostSummary, ExecutionForecast, PhaseForecast, RunForecast, time_limit
from .startup import Rates, RunNeeds, run_cost, worker_cost

OLD_WAY = "one process per run, no shared target phases"


@dataclass(frozen=True)
class TargetGroup:
    """Runs that train the same target phase (``plan.shared_target_groups``): the producer trains
    ``phases``; each consumer reuses them and the intermediate phases before them."""

    producer: str
    consumers: tuple[str, ...]
    phases: tuple[str, ...]  # target:<task>, eval:en


def shared_copy(run: RunForecast, group: TargetGroup) -> RunForecast:
    """``run`` as a consumer of ``group``: its intermediate phases and the group's phases shared
    from the producer (no own cost, as a reused intermediate phase), the rest its own."""
    out = copy.deepcopy(run)
    phases = []
    for p in out.phases:
        if p.kind == "intermediate" or p.phase in group.phases:
            phases.append(
                PhaseForecast(
                    phase=p.phase,
                    kind=p.kind,
                    ordinal=p.ordinal,
                    lengths_source=p.lengths_source,
                    counts_source=p.counts_source,
                    shared_from=group.producer,
                    notes=[f"reused: counted in {group.producer} (its post-target model)"],
                )
            )
        else:
            phases.append(p)
    out.phases = phases
    out.target_from = group.producer
    out.depends_on = group.producer
    return out


def share_targets(runs: Sequence[RunForecast], groups: Iterable[TargetGroup]) -> tuple[list[RunForecast], int]:
    """The runs with every consumer's shared phases marked (copies; ``runs`` is left as it is), and
    how many phases they reuse that they trained before."""
    by_id = {r.run_id: r for r in runs}
    replaced: dict[str, RunForecast] = {}
    newly_shared = 0
    for g in groups:
        if g.producer not in by_id:  # not forecast (not counted): its consumers keep their own phases
            continue
        for rid in g.consumers:
            if rid in by_id:
                new = shared_copy(by_id[rid], g)
                newly_shared += sum(1 for a, b in zip(by_id[rid].phases, new.phases) if b.shared and not a.shared)
                replaced[rid] = new
    return [replaced.get(r.run_id, r) for r in runs], newly_shared


def apply_execution(
    runs: Sequence[RunForecast],
    needs: dict[str, RunNeeds],
    rates: Rates,
    *,
    process_per_run: bool,
    workers: int,
    workers_reason: str,
    safety: float,
    shared_phases: int = 0,
) -> ExecutionForecast:
    """Sets each run's own cost outside its phases (``process_s``, ``restore_s``, ``checkpoint_s``,
    ``startup_s``) and its suggested time limit (its phases, a process start-up of its own and its
    checkpoint: enough whether it runs in a worker or alone); returns the execution's record."""
    producers = {r.target_from for r in runs if r.target_from}
    used: list[RunNeeds] = []
    for r in runs:
        base = needs[r.run_id]
        n = RunNeeds(
            base.run_id,
            base.model_key,
            base.weights_bytes,
            base.process_s,
            base.restores,
            reads_checkpoint=r.target_from is not None,
            writes_checkpoint=r.run_id in producers,
        )
        used.append(n)
        cost = run_cost(n, rates, process_per_run)
        r.process_s, r.restore_s, r.checkpoint_s = cost.process_s, cost.restore_s, cost.checkpoint_s
        r.startup_s = cost.total_s
        r.suggested_time_s = time_limit((r.total("wall_s") or 0.0) + n.process_s + cost.checkpoint_s, safety)
    ex = ExecutionForecast(
        process_per_run=process_per_run,
        workers_reason=workers_reason,
        shared_targets=bool(producers),
        shared_target_runs=sum(1 for r in runs if r.target_from),
        shared_target_phases=shared_phases,
        host_to_device_bytes_per_s=rates.host_to_device,
        disk_bytes_per_s=rates.disk_read,
        run_overhead_s=None if process_per_run else rates.run_overhead_s,
        checkpoint_reads=sum(1 for n in used if n.reads_checkpoint),
        checkpoint_writes=sum(1 for n in used if n.writes_checkpoint),
        distinct_models=len({n.model_key for n in used}),
    )
    if process_per_run:
        ex.process_starts = ex.model_loads = len(used)
    else:
        wc = worker_cost(used, workers, rates)
        ex.workers, ex.worker_start_s, ex.further_loads_s = wc.workers, wc.start_s, wc.further_loads_s
        ex.process_starts, ex.model_loads = wc.workers, wc.model_loads
        ex.restores = sum(1 for n in used if n.restores)
    return ex


def phases_hours(runs: Iterable[RunForecast]) -> float:
    """Device-hours in the runs' own phases (a shared phase counted once, for its producer)."""
    return sum(p.device_hours or 0.0 for r in runs for p in r.phases if not p.shared)


def cost_summary(label: str, runs: Sequence[RunForecast], ex: ExecutionForecast) -> CostSummary:
    startup_s = sum(r.startup_s for r in runs) + ex.workers_s
    return CostSummary(
        label, phases_hours(runs), startup_s / 3600.0, ex.process_starts, ex.model_loads, ex.shared_target_runs
    )


def compare(
    runs: Sequence[RunForecast],
    groups: Sequence[TargetGroup],
    needs: dict[str, RunNeeds],
    rates: Rates,
    safety: float,
    *,
    process_per_run: bool,
) -> list[CostSummary]:
    """The plan costed the old way (first) and, for a forecast with warm workers, one process per
    run with shared target phases (what the workers alone save); ``runs`` are the forecast's runs
    before target sharing, left as they are."""
    old = [copy.deepcopy(r) for r in runs]
    out = [cost_summary(OLD_WAY, old, apply_execution(old, needs, rates, **_ppr(safety)))]
    if not process_per_run and groups:
        shared, n = share_targets([copy.deepcopy(r) for r in runs], groups)
        ex = apply_execution(shared, needs, rates, **_ppr(safety), shared_phases=n)
        out.append(cost_summary("one process per run, shared target phases", shared, ex))
    return out


def _ppr(safety: float) -> dict:
    return {"process_per_run": True, "workers": 0, "workers_reason": "one process per run", "safety": safety}
