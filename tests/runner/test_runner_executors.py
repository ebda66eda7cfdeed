"""The executor abstraction on this machine: the CPU share of local jobs, the sampler process
beside each job (the supervisor only reads samples.jsonl), what the Live screen shows of a SLURM
run, and the GPU mapping the sampler takes from CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from test_runner import make_sched, spec, wait_for

from xcost_tui.measure.sampler import spawn_beside, stop_beside, visible_gpus
from xcost_tui.rundir import EventWriter, PhaseStart, RunStatus, read_jsonl, read_status
from xcost_tui.rundir.layout import SAMPLES
from xcost_tui.runner.executors import cpu_share, make_executor, share_env
from xcost_tui.runner.live import LiveRun
from xcost_tui.runner.local import LocalExecutor

CPUS = len(os.sched_getaffinity(0))


def test_cpu_share_is_the_machines_cpus_divided_among_the_runs_at_once():
    assert cpu_share(1, {}) == {"threads": CPUS, "cpus": CPUS, "runs": 1}
    assert cpu_share(2, {})["threads"] == max(1, CPUS // 2)
    assert cpu_share(64, {})["threads"] == 1, "at least one thread"
    assert cpu_share(2, {"XCOST_CPU_THREADS": "3"})["threads"] == 3, "the user's override"
    env = share_env({"threads": 1, "cpus": 2, "runs": 2})
    assert env["XCOST_CPU_THREADS"] == env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["XCOST_RUNS_SHARING"] == "2"
    assert isinstance(make_executor(None), LocalExecutor) and make_executor(None).remote is False


def test_parallel_local_runs_each_get_their_share_and_record_it(tmp_path):
    store = tmp_path / "store"
    sched = make_sched(store, max_parallel=2)
    runs = [spec("ok", seed=s) for s in (1, 2, 3)]
    sched.submit(runs)
    sched.start()
    try:
        assert sched.wait(60)
    finally:
        sched.shutdown()
    shares = {}
    for s in runs:
        run_dir = store / "runs" / s.run_id()
        env = json.loads((run_dir / "fake_env.json").read_text())
        share = read_status(run_dir).cpu_share
        assert env["XCOST_CPU_THREADS"] == env["OMP_NUM_THREADS"] == str(share["threads"])
        shares[s.run_id()] = share
    first = shares[runs[0].run_id()]
    assert first == {"threads": max(1, CPUS // 2), "cpus": CPUS, "runs": 2}, "two runs at once share the CPUs"
    assert sched.get(runs[0].run_id()).cpu_threads == first["threads"]
    notes = " | ".join(n.text for n in sched.drain_messages())
    if CPUS > 1:
        assert f"{first['threads']} of {CPUS} CPU threads (2 runs share them)" in notes
    alone = make_sched(tmp_path / "alone")
    one = spec("ok", seed=9)
    alone.submit([one])
    alone.start()
    try:
        assert alone.wait(30)
    finally:
        alone.shutdown()
    assert read_status(tmp_path / "alone" / "runs" / one.run_id()).cpu_share == {
        "threads": CPUS,
        "cpus": CPUS,
        "runs": 1,
    }


# ---- the sampler beside the job ----------------------------------------------------------------------


def test_the_sampler_process_follows_the_job_and_its_phase(tmp_path):
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    EventWriter(tmp_path / "events.jsonl").emit(PhaseStart("target:copa", "target", 10))
    sampler = spawn_beside(tmp_path, job.pid, hz=10)
    try:
        samples = wait_for(
            lambda: (
                [s for s in read_jsonl(tmp_path / SAMPLES) if s.get("cpu_percent") is not None]
                if (tmp_path / SAMPLES).exists()
                else None
            ),
            what="samples",
        )
        s = samples[-1]
        assert s["phase"] == "target:copa" and s["rss_bytes"] > 0 and s["cpus"] == CPUS
        assert s["other_cpu_percent"] is not None and s["gpus"] == []
        job.kill()
        job.wait()
        sampler.wait(20)  # the job is gone: so is its sampler
    finally:
        job.kill()
        stop_beside(sampler)
    assert sampler.returncode == 0


def test_a_scheduler_sees_a_new_sample_soon_after_it_is_written(tmp_path):
    """The sampler writes beside the job; the supervisor's live view reads the file (0.2 s poll here)."""
    sched = make_sched(tmp_path / "store", sample_hz=4)
    s = spec("hang", seed=5)
    sched.submit([s])
    sched.start()
    lags = []
    try:
        wait_for(lambda: (r := sched.get(s.run_id())) is not None and r.sample is not None, what="a first sample")
        seen = sched.get(s.run_id()).sample.t
        deadline = time.monotonic() + 20
        while len(lags) < 5 and time.monotonic() < deadline:
            sample = sched.get(s.run_id()).sample
            if sample.t != seen:
                lags.append(time.time() - sample.t)
                seen = sample.t
            time.sleep(0.02)
        sched.cancel(s.run_id())
        assert sched.wait(20)
    finally:
        sched.shutdown()
    assert len(lags) == 5, "new samples keep arriving in the live view"
    print(f"sample to live view: {', '.join(f'{x:.2f}' for x in lags)} s")


def test_the_sampler_maps_the_jobs_gpus_from_cuda_visible_devices():
    assert visible_gpus({}) == (None, None)
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == ((), None)
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == ((), None)
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,3"}) == ((1, 3), None)
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-0a1b,GPU-ffff"}) == (None, ("GPU-0a1b", "GPU-ffff"))


def test_uuid_targets_pick_their_devices(monkeypatch, tmp_path):
    from support.fake_nvml import make_fake_nvml

    from xcost_tui.measure import nvml
    from xcost_tui.measure.sampler import Sampler, SampleTarget

    nvml.reset()
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(3))
    try:
        target = SampleTarget("r", os.getpid(), tmp_path, None, None, ("GPU-00000002",))
        s = Sampler(lambda: [target])
        ((_, sample),) = s.sample_once()
        assert [g.index for g in sample.gpus] == [2] and sample.gpus[0].uuid.startswith("GPU-00000002")
    finally:
        nvml.reset()


# ---- the Live screen's view of a SLURM run ---------------------------------------------------------------


def test_live_rows_show_the_slurm_job_and_its_state(tmp_path):
    from xcost_tui.tui.screens.live import headline, row_cells

    pending = LiveRun(
        "r1",
        tmp_path,
        name="inter",
        status=RunStatus.RUNNING,
        executor="slurm",
        job_id="123",
        executor_state="PENDING",
        executor_reason="Dependency",
        depends_on="122",
    )
    running = LiveRun(
        "r2",
        tmp_path,
        name="direct",
        status=RunStatus.RUNNING,
        executor="slurm",
        job_id="124",
        executor_state="RUNNING",
        node="node07",
    )
    local = LiveRun("r3", tmp_path, name="local", status=RunStatus.RUNNING, pid=4242)
    cells, styles = row_cells(pending, job=True)
    assert cells[1] == "pending" and styles[1] == "cyan" and cells[-1] == "slurm 123 PENDING (Dependency)"
    assert row_cells(running, job=True)[0][-1] == "slurm 124 RUNNING on node07"
    assert row_cells(local, job=True)[0][-1] == "pid 4242"
    assert len(row_cells(local)[0]) == len(cells) - 1, "no job column without a SLURM run"
    assert "SLURM job 123 PENDING (Dependency) after job 122" in headline(pending, time.time())
    assert "SLURM job 124 RUNNING on node07" in headline(running, time.time())
