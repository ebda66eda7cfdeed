"""Contention: the evidence (other processes' CPU time on the job's CPUs, other processes on its
GPUs), the flag and its thresholds, the phase figures, the sampler's per-sample evidence, the
store's columns and filters, and the mark wherever a phase's time or energy is shown."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support.fake_nvml import make_fake_nvml
from support.store_fixtures import make_run_dir

from xcost_tui import present
from xcost_tui.measure import nvml
from xcost_tui.measure.contention import (
    CpuSnapshot,
    CpuWindow,
    allowance_cores,
    apply_thread_share,
    judge,
    share_threads,
    tree_seconds,
)
from xcost_tui.measure.timer import PhaseMeter, SampleWatch
from xcost_tui.rundir import JsonlWriter, Sample
from xcost_tui.rundir.records import GpuReading

BURN = "import time\nt = time.time() + {s}\nwhile time.time() < t: pass\n"


@pytest.fixture(autouse=True)
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


def window(other_cores: float, cpus: int = 2, wall: float = 2.0, own: float = 1.0) -> CpuWindow:
    return CpuWindow(wall, own + other_cores * wall, own, cpus)


# ---- the flag (pure) ---------------------------------------------------------------------------------


def test_thresholds_of_a_job_alone_with_every_cpu():
    assert allowance_cores(2, 2) == 0.5 and allowance_cores(8, None) == 2.0
    assert judge(window(0.4), 2, None, gpus_watched=False).contended is False
    v = judge(window(0.6), 2, None, gpus_watched=False)
    assert v.contended is True and v.reasons == [
        "cpu: other processes used 0.60 of the job's 2 CPU(s) on average (more than 0.50, its share 2 thread(s))"
    ]


def test_thresholds_of_a_job_with_its_share_of_the_cpus():
    """One of two runs sharing 2 CPUs with 1 thread each: the other run's core is its share, not contention."""
    assert allowance_cores(2, 1) == 1.25
    assert judge(window(1.0), 1, None, gpus_watched=False).contended is False
    assert judge(window(1.3), 1, None, gpus_watched=False).contended is True


def test_another_process_on_the_jobs_gpu_flags_the_phase():
    v = judge(window(0.0), 2, [4242], gpus_watched=True)
    assert v.contended is True and v.reasons == ["gpu: 1 other process(es) on the job's GPUs (pid 4242)"]
    assert judge(window(0.0), 2, [], gpus_watched=True).contended is False
    unknown = judge(window(0.0), 2, None, gpus_watched=True)
    assert unknown.contended is None and "NVML could not list" in unknown.reason
    assert judge(window(1.9), 2, None, gpus_watched=True).contended is True, "the CPU evidence is enough"


def test_a_phase_too_short_to_tell():
    v = judge(CpuWindow(0.05, 0.1, 0.0, 2), 2, None, gpus_watched=False)
    assert v.contended is None and "too short" in v.reason
    assert judge(None, 2, None, gpus_watched=False).contended is None


def test_window_arithmetic():
    w = CpuWindow.between(CpuSnapshot(10.0, 100.0, 5.0, 2), CpuSnapshot(12.0, 103.0, 6.0, 2))
    assert (w.wall_s, w.busy_s, w.own_s, w.other_s, w.other_cores) == (2.0, 3.0, 1.0, 2.0, 1.0)
    assert CpuWindow(1.0, 0.5, 0.7, 2).other_s == 0.0, "the two counters tick apart: never below zero"


# ---- the evidence, measured --------------------------------------------------------------------------


def _orphan_burners(n: int, seconds: float, tmp_path: Path) -> list[int]:
    """n busy processes that are not in this process's tree (reparented to init): other work."""
    pids_file = tmp_path / "pids"
    code = (
        "import subprocess, sys\n"
        f"ps = [subprocess.Popen([sys.executable, '-c', {BURN.format(s=seconds)!r}]) for _ in range({n})]\n"
        f"open({str(pids_file)!r}, 'w').write(' '.join(str(p.pid) for p in ps))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return [int(p) for p in pids_file.read_text().split()]


def test_other_processes_on_the_jobs_cpus_flag_the_phase(tmp_path):
    cpus = len(os.sched_getaffinity(0))
    burners = _orphan_burners(cpus, 4.0, tmp_path)
    try:
        time.sleep(0.3)
        with PhaseMeter("cpu") as meter:
            time.sleep(1.5)
        costs = meter.costs()
    finally:
        for pid in burners:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
    other, flag = costs["other_cpu_s"], costs["contended"]
    assert other.source == "psutil" and other.extra["cpus"] == cpus
    assert other.value > 0.5 * cpus * 1.5 * 0.5, other  # the burners' CPU time, not the meter's own
    assert flag.value == 1 and flag.extra["reasons"][0].startswith("cpu: other processes used"), flag
    assert costs["other_gpu_processes"].value is None and costs["other_gpu_processes"].reason == "no GPU in this phase"
    json.dumps({k: c.to_dict() for k, c in costs.items()})


CPU_BURN = "import time\nwhile time.process_time() < 0.5: pass\n"  # half a second of CPU, however busy the machine


def test_the_jobs_own_children_are_not_other_work():
    before, _ = tree_seconds(psutil.Process())
    burn = subprocess.Popen([sys.executable, "-c", CPU_BURN])
    try:
        burn.wait(120)
        after, _ = tree_seconds(psutil.Process())  # reaped: its time is in our children_* now
    finally:
        burn.kill()
    assert after - before >= 0.45, "a child's CPU time counts as the job's own"


def test_gpu_evidence_from_nvml_at_both_ends(monkeypatch):
    other = os.getppid()  # a live process that is not in our tree
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(1, procs={os.getpid(): 2**30, other: 2**29}))
    meter = PhaseMeter("cuda", "cuda:0", [0])
    meter._contention_begin()
    time.sleep(0.2)
    meter._contention_end()
    costs = meter.contention_costs()
    gpu = costs["other_gpu_processes"]
    assert gpu.value == 1 and gpu.source == "nvml" and gpu.extra["pids"] == [other]
    assert costs["contended"].value == 1 and any(
        r.startswith("gpu: 1 other process") for r in costs["contended"].extra["reasons"]
    )


def test_the_samples_beside_the_job_add_gpu_evidence(tmp_path):
    path = tmp_path / "samples.jsonl"
    w = JsonlWriter(path)
    for t, others in ((10.0, [7]), (11.0, [8]), (12.5, []), (20.0, [9])):
        w.write(Sample(t, "target:copa", gpus=[GpuReading(0, other_pids=others)]).to_dict())
    w.write(Sample(12.0, "target:copa", gpus=[]).to_dict())
    w.close()
    watch = SampleWatch(path)
    assert watch.others_between(10.5, 13.0) == ({8}, 2, 0)
    assert watch.others_between(19.0, 21.0) == ({9}, 1, 0)


# ---- the CPU share, on the job's side -----------------------------------------------------------------


def test_the_job_takes_its_thread_share_from_the_runner_or_slurm():
    assert share_threads({"XCOST_CPU_THREADS": "3"}) == (3, "runner")
    assert share_threads({"SLURM_CPUS_PER_TASK": "8"}) == (8, "slurm")
    assert share_threads({"SLURM_JOB_CPUS_PER_NODE": "4(x2)"}) == (4, "slurm")
    assert share_threads({}) == (None, "default")
    env = {"XCOST_CPU_THREADS": "2", "MKL_NUM_THREADS": "1"}
    assert apply_thread_share(env) == 2
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2" and env["MKL_NUM_THREADS"] == "1"
    slurm = {"SLURM_CPUS_PER_TASK": "4", "OMP_NUM_THREADS": "16"}
    assert apply_thread_share(slurm) == 4 and slurm["OMP_NUM_THREADS"] == "4" and slurm["XCOST_CPU_THREADS"] == "4"
    nothing: dict[str, str] = {}
    assert apply_thread_share(nothing) is None and nothing == {}


# ---- the store and the front ends ---------------------------------------------------------------------


def sql(store: Path, text: str) -> list[dict]:
    import duckdb

    con = duckdb.connect(str(store / "xcost.duckdb"), read_only=True)
    try:
        return con.sql(text).to_arrow_table().to_pylist()
    finally:
        con.close()


@pytest.fixture
def store(tmp_path):
    from xcost_tui.store.ingest import ingest

    make_run_dir(tmp_path, run_id="busy", langs=["it"], contended={"target:copa": True, "eval:it": None})
    make_run_dir(tmp_path, run_id="quiet", langs=["it"], seed=1, contended={"target:copa": False})
    make_run_dir(tmp_path, run_id="old", langs=["it"], seed=2)  # from before contention was measured
    ingest(tmp_path)
    return tmp_path


def test_the_store_keeps_the_flag_and_its_evidence(store):
    from xcost_tui.store import query

    phases = {(p["run_id"], p["phase"]): p for p in sql(store, "SELECT * FROM phases")}
    busy = phases[("busy", "target:copa")]
    assert busy["contended"] is True and busy["contention"].startswith("cpu: other processes used 1.50")
    assert busy["other_cpu_s"] > 0
    assert phases[("busy", "eval:it")]["contended"] is None
    assert phases[("busy", "eval:it")]["contention"] == "the phase was too short to tell"
    assert phases[("quiet", "target:copa")]["contended"] is False
    assert phases[("old", "target:copa")]["contended"] is None
    board = {r["run_id"]: r for r in query.leaderboard(store).to_pylist()}
    assert (board["busy"]["contended"], board["busy"]["contended_phases"]) == (True, 1)
    assert (board["quiet"]["contended"], board["old"]["contended"]) == (False, False)
    kept = {r["run_id"] for r in query.leaderboard(store, filters={"contended": False}).to_pylist()}
    assert kept == {"quiet", "old"}
    uncontended = {(r["run_id"], r["phase"]) for r in sql(store, "SELECT run_id, phase FROM phases_uncontended")}
    assert ("busy", "target:copa") not in uncontended and ("busy", "eval:it") in uncontended


def test_the_headless_leaderboard_marks_contended_runs(store):
    from rich.console import Console

    from xcost_tui.headless import print_leaderboard

    out = io.StringIO()
    print_leaderboard(store, ["busy", "quiet"], Console(file=out, width=300, no_color=True))
    text = out.getvalue()
    busy = next(line for line in text.splitlines() if "busy" in line)
    quiet = next(line for line in text.splitlines() if "quiet" in line)
    assert present.CONTENDED_MARK in busy and present.CONTENDED_MARK not in quiet
    assert present.CONTENDED_LEGEND in text and "WHERE NOT contended" in text


def test_the_mark_goes_on_the_figures_contention_moves():
    cols = [present.column(k) for k in ("name", "train_device_hours", "train_energy_j", "train_flops")]
    cells = ["busy", "0.010", "–", "36T"]
    assert present.contended_cells(cols, cells, True) == ["busy", "0.010*", "–", "36T"]
    assert present.contended_cells(cols, cells, False) == cells
    assert present.contended_cells(cols, cells, None) == cells


def test_the_detail_screen_marks_the_phase_and_says_why(store):
    from xcost_tui.store import query
    from xcost_tui.tui.screens.detail import summary

    detail = query.run_detail(store, "busy")
    text = summary(detail).plain
    assert "* contended: 1 phase(s), e.g. target:copa: cpu: other processes used 1.50" in text
    row = next(p for p in detail["phases"] if p["phase"] == "target:copa")
    cells = present.contended_cells(present.PHASES, [c.cell(row.get(c.key)) for c in present.PHASES], row["contended"])
    wall = [c.key for c in present.PHASES].index("wall_s")
    assert cells[wall].endswith(present.CONTENDED_MARK)
    assert "contended" not in summary(query.run_detail(store, "quiet")).plain
