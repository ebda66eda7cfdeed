"""The forecast outside the phases (issue 18): process start-ups, warm workers' loads, per-run
restores, shared target phases and their checkpoints, and the saving against the old way. The
arithmetic against hand-computed values; the flagship's acceptance (start-up at most 10% of the
forecast and at most 3.2 device-hours on an H100 SXM) from its real count."""

from __future__ import annotations

import dataclasses
import json

import pytest

from xcost_tui.estimate.execution import OLD_WAY, TargetGroup, apply_execution, compare, share_targets
from xcost_tui.estimate.profiles import HOST_LINK, get_profile, host_to_device_bytes_per_s, profile_names
from xcost_tui.estimate.startup import Rates, RunNeeds, checkpoint_s, load_s, restore_s, run_cost, worker_cost
from xcost_tui.measure.mfu import PEAKS
from xcost_tui.plan import load_plan
from xcost_tui.rundir.forecast import CostSummary, PhaseForecast, PlanForecast, RunForecast

GB = 1_000_000_000
RATES = Rates(host_to_device=20 * GB, disk_read=2 * GB, disk_write=1 * GB, run_overhead_s=3.0)


# ---- the arithmetic -------------------------------------------------------------------------------


def test_load_restore_and_checkpoint_seconds():
    n = RunNeeds("r", "m", 4 * GB, process_s=60.0)
    assert load_s(4 * GB, RATES) == 2.0  # 4 GB at 2 GB/s
    assert restore_s(n, RATES) == pytest.approx(0.2 + 3.0)  # 4 GB at 20 GB/s, + the per-run overhead
    assert restore_s(dataclasses.replace(n, restores=False), RATES) == 3.0  # ICL: the model stays on the device
    assert restore_s(n, dataclasses.replace(RATES, host_to_device=None)) == 3.0  # a CPU: no copy
    assert checkpoint_s(n, RATES) == 0.0
    assert checkpoint_s(dataclasses.replace(n, reads_checkpoint=True), RATES) == 2.0  # read at 2 GB/s
    both = dataclasses.replace(n, reads_checkpoint=True, writes_checkpoint=True)
    assert checkpoint_s(both, RATES) == 2.0 + 4.0  # written at 1 GB/s


def test_a_run_pays_a_process_start_up_or_a_restore():
    n = RunNeeds("r", "m", 4 * GB, process_s=60.0, reads_checkpoint=True)
    alone = run_cost(n, RATES, process_per_run=True)
    assert (alone.process_s, alone.restore_s, alone.checkpoint_s) == (60.0, 0.0, 2.0)
    warm = run_cost(n, RATES, process_per_run=False)
    assert (warm.process_s, warm.restore_s, warm.checkpoint_s) == (0.0, pytest.approx(3.2), 2.0)
    assert warm.total_s == pytest.approx(5.2)


def test_each_worker_starts_once_and_loads_each_distinct_model_once():
    runs = [
        RunNeeds("a", "small", 2 * GB, process_s=50.0),
        RunNeeds("b", "small", 2 * GB, process_s=60.0),
        RunNeeds("c", "big", 8 * GB, process_s=55.0),
    ]
    wc = worker_cost(runs, 2, RATES)
    # each worker: the longest start-up (60 s, holding the smaller model's load) + the big model's 4 s
    assert (wc.workers, wc.start_s, wc.further_loads_s, wc.distinct_models, wc.model_loads) == (2, 60.0, 4.0, 2, 4)
    assert wc.total_s == 2 * (60.0 + 4.0)
    assert worker_cost(runs, 10, RATES).workers == 3  # a worker with no run to take never starts
    assert worker_cost([], 2, RATES).total_s == 0.0


def test_host_links_of_the_profiles():
    assert set(HOST_LINK) == {label for _, label, _ in PEAKS}
    assert host_to_device_bytes_per_s("H100 SXM") == pytest.approx(63e9 * 0.4)  # PCIe 5.0 x16, 40%
    assert host_to_device_bytes_per_s("A100") == pytest.approx(31.5e9 * 0.4)
    assert host_to_device_bytes_per_s("V100 SXM2") == pytest.approx(15.75e9 * 0.4)
    assert host_to_device_bytes_per_s("GH200") == pytest.approx(450e9 * 0.4)  # NVLink-C2C
    assert host_to_device_bytes_per_s(None) is None and host_to_device_bytes_per_s("a CPU") is None
    for name in profile_names():
        assert get_profile(name).host_to_device > 0


# ---- the records: sharing, the execution, the saving ----------------------------------------------


def _run(rid: str, method: str, **dh: float) -> RunForecast:
    phases = []
    for i, (name, hours) in enumerate(dh.items()):
        phase = name.replace("__", ":").replace("_", "-")
        phases.append(PhaseForecast(phase, phase.split(":")[0], i, wall_s=hours * 3600, device_hours=hours))
    return RunForecast(rid, rid, method, "m", 0, phases, startup_s=60.0, process_s=60.0)


def _plan():
    """A direct run (the producer) and two few-shot runs that reuse its target phase and eval:en."""
    runs = [
        _run("d", "direct", target__copa=0.1, eval__en=0.01, eval__it=0.02),
        _run("f1", "few-shot", target__copa=0.1, eval__en=0.01, few_shot__it=0.05, eval__it=0.02),
        _run("f2", "few-shot", target__copa=0.1, eval__en=0.01, few_shot__it=0.05, eval__it=0.02),
    ]
    groups = [TargetGroup("d", ("f1", "f2"), ("target:copa", "eval:en"))]
    needs = {r.run_id: RunNeeds(r.run_id, "m", 2 * GB, 60.0) for r in runs}
    return runs, groups, needs


def test_consumers_reuse_the_producers_target_phase_and_read_its_checkpoint():
    runs, groups, needs = _plan()
    shared, n = share_targets(runs, groups)
    assert n == 4 and not any(p.shared for p in runs[1].phases)  # copies: the given runs are left as they are
    f1 = {p.phase: p for p in shared[1].phases}
    assert f1["target:copa"].shared_from == "d" and f1["eval:en"].shared_from == "d"
    assert f1["target:copa"].device_hours is None and not f1["few-shot:it"].shared
    assert shared[1].target_from == "d" and shared[1].depends_on == "d" and shared[0].target_from is None

    ex = apply_execution(
        shared, needs, RATES, process_per_run=False, workers=1, workers_reason="test", safety=1.5, shared_phases=n
    )
    assert (ex.workers, ex.worker_start_s, ex.further_loads_s, ex.model_loads, ex.process_starts) == (1, 60, 0, 1, 1)
    assert (ex.checkpoint_reads, ex.checkpoint_writes, ex.shared_target_runs, ex.restores) == (2, 1, 2, 3)
    # producer: restore 0.1 + 3 s, writes 2 GB at 1 GB/s; consumers: restore 3.1 s + read 2 GB at 2 GB/s
    assert shared[0].startup_s == pytest.approx(3.1 + 2.0)
    assert shared[1].startup_s == pytest.approx(3.1 + 1.0)
    assert shared[1].process_s == 0.0
    # the time limit: its own phases, a process start-up and the checkpoint, x 1.5, whole minutes
    assert shared[1].suggested_time_s == pytest.approx(60 * ((0.07 * 3600 + 60 + 1) * 1.5 // 60 + 1))

    fc = PlanForecast("x", 0.0, "p", "p.toml", "profile", {}, None, {}, shared, execution=ex)
    fc.compared = compare(runs, groups, needs, RATES, 1.5, process_per_run=False)
    phases_h = 0.13 + 2 * 0.07
    startup_h = (60 + 3 * 3.1 + 2.0 + 2 * 1.0) / 3600
    assert fc.phases_device_hours() == pytest.approx(phases_h)
    assert fc.startup_device_hours() == pytest.approx(startup_h)
    old = fc.compared[0]
    assert old.label == OLD_WAY and old.phases_h == pytest.approx(0.13 + 2 * 0.18)
    assert old.startup_h == pytest.approx(3 * 60 / 3600) and old.process_starts == 3 and old.model_loads == 3
    hours, frac = fc.saving()
    assert hours == pytest.approx(old.total_h - (phases_h + startup_h))  # the saving is old minus new
    assert frac == pytest.approx(hours / old.total_h)
    assert fc.compared[1].label == "one process per run, shared target phases"
    assert fc.compared[1].startup_h == pytest.approx((3 * 60 + 2.0 + 2 * 1.0) / 3600)
    # the wall time: the worker starts, then the runs one after another
    assert fc.makespan_s() == pytest.approx(60 + sum(r.wall_s for r in shared))


def test_the_records_round_trip_and_older_files_read_as_one_process_per_run():
    runs, groups, needs = _plan()
    shared, n = share_targets(runs, groups)
    ex = apply_execution(shared, needs, RATES, process_per_run=False, workers=1, workers_reason="t", safety=1.5)
    fc = PlanForecast("x", 0.0, "p", "p.toml", "profile", {}, None, {}, shared, execution=ex)
    fc.compared = compare(runs, groups, needs, RATES, 1.5, process_per_run=False)
    d = json.loads(json.dumps(fc.to_dict()))
    back = PlanForecast.from_dict(d)
    assert back.execution == fc.execution and back.compared == fc.compared
    assert back.runs[1].target_from == "d" and back.runs[1].restore_s == fc.runs[1].restore_s
    assert d["totals"]["saving_device_hours"] == pytest.approx(fc.saving()[0])
    assert d["totals"]["device_hours"] == pytest.approx(fc.summary().total_h)

    for key in ("execution", "compared"):  # a file written before them
        d.pop(key)
    for r in d["runs"]:
        for key in ("process_s", "restore_s", "checkpoint_s", "target_from"):
            r.pop(key)
    old = PlanForecast.from_dict(d)
    assert old.execution.process_per_run and old.execution.workers_s == 0 and old.saving() is None
    assert old.summary().process_starts == 3
    assert old.startup_device_hours() == pytest.approx(sum(r.startup_s for r in fc.runs) / 3600)


def test_a_cost_summary_says_its_start_up_share():
    s = CostSummary("x", phases_h=3.0, startup_h=1.0)
    assert s.total_h == 4.0 and s.startup_share == 0.25
    assert CostSummary("empty", 0.0, 0.0).startup_share is None


# ---- the flagship ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_flagship_on_an_h100_start_up_at_most_a_tenth_and_at_most_3_2_device_hours(data_dir):
    """Issue 18's target, from the count of the real plan (no probe: projected onto the profile)."""
    from xcost_tui.estimate.run import estimate_plan

    plan = load_plan("xcopa-stilts", data_dir=str(data_dir))
    fc = estimate_plan(plan, profile=get_profile("H100-SXM"), slots=1)
    now = fc.summary()
    assert len(fc.runs) == len(plan.runs) == 147
    assert fc.execution.workers == 1 and fc.execution.model_loads == 1
    # every few-shot run reuses the target phase of the direct or SIQA run of its seed
    consumers = sum(len(g.consumers) for g in plan.shared_targets())
    assert fc.execution.shared_target_runs == consumers == sum(1 for s in plan.runs if s.method == "few-shot")
    assert now.startup_share is not None and now.startup_share <= 0.10, now
    assert now.total_h <= 3.2, now
    old = fc.compared[0]
    assert old.process_starts == old.model_loads == 147 and old.total_h > now.total_h
    hours, frac = fc.saving()
    assert hours == pytest.approx(old.total_h - now.total_h)
    # one process per run, for comparison: the same phases, a start-up per run
    ppr = estimate_plan(plan, profile=get_profile("H100-SXM"), slots=1, process_per_run=True)
    assert ppr.phases_device_hours() == pytest.approx(fc.phases_device_hours())
    assert ppr.execution.process_starts == 147 and ppr.summary().startup_share > 0.3
