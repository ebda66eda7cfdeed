"""Memory probes, the phase meter, the Cost record and the run's environment."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pytest

import xcost_tui.measure.memory as memory
from xcost_tui.measure.env import collect_env, git_commit
from xcost_tui.measure.memory import LIFETIME_NOTE, MemoryProbe, proc_status_kib
from xcost_tui.measure.timer import PhaseMeter, throughput
from xcost_tui.rundir.cost import Cost

MiB = 2**20


def allocate(mib: int) -> bytearray:
    block = bytearray(mib * MiB)
    block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    return block


# ---- MemoryProbe on a CPU ----------------------------------------------------------------------


def test_peak_rss_is_per_phase_and_sees_allocations():
    with MemoryProbe("cpu") as idle:
        pass
    with MemoryProbe("cpu") as busy:
        block = allocate(200)
        del block
    assert idle.cost().value > 0 and idle.cost().unit == "B"
    assert busy.cost().source == "procfs" and "note" not in busy.cost().extra
    assert busy.cost().value >= idle.cost().value + 150 * MiB
    # The watermark was reset: a phase after the allocation does not inherit its peak.
    with MemoryProbe("cpu") as after:
        pass
    assert after.cost().value < busy.cost().value - 150 * MiB


def test_current_reports_now_and_peak():
    with MemoryProbe("cpu") as probe:
        now0, peak0, source = probe.current()
        block = allocate(100)
        now1, peak1, _ = probe.current()
        del block
        now2, peak2, _ = probe.current()
    assert source == "procfs" and now0 > 0 and peak0 >= now0
    assert now1 >= now0 + 80 * MiB and peak1 >= now1
    assert now2 < now1 - 80 * MiB and peak2 >= peak1  # freed, but the peak stays


def test_nested_probes_keep_the_outer_peak():
    with MemoryProbe("cpu") as outer:
        block = allocate(200)
        del block
        with MemoryProbe("cpu") as inner:  # resets the kernel's watermark
            pass
    assert inner.cost().value < outer.cost().value - 150 * MiB
    assert outer.cost().value >= inner.cost().value + 150 * MiB


def test_getrusage_fallback_when_clear_refs_is_refused(monkeypatch):
    monkeypatch.setattr(memory, "reset_peak_rss", lambda path=None: False)
    rss_before = proc_status_kib("VmRSS") * 1024
    with MemoryProbe("cpu") as probe:
        pass
    cost = probe.cost()
    assert cost.source == "getrusage" and cost.extra["note"] == LIFETIME_NOTE and cost.value > 0
    assert cost.value >= rss_before  # a lifetime peak is at least what was resident before


def test_the_increase_over_the_start_is_what_the_window_added():
    """After training, a CPU process's resident memory is mostly training's leftovers: the increase
    over the window's start is what the window itself needed; the absolute peak keeps its name."""
    carried = allocate(200)  # resident before the window (training's leftovers)
    with MemoryProbe("cpu") as probe:
        block = allocate(50)
        del block
    del carried
    absolute, increase = probe.cost(), probe.increase_cost()
    assert increase.source == "procfs" and increase.unit == "B"
    assert 40 * MiB <= increase.value <= 120 * MiB
    assert absolute.value >= increase.value + 190 * MiB
    assert increase.extra["start_bytes"] == absolute.value - increase.value
    assert MemoryProbe("cpu").increase_cost().value is None


def test_no_increase_where_only_the_lifetime_peak_is_known(monkeypatch):
    monkeypatch.setattr(memory, "reset_peak_rss", lambda path=None: False)
    with MemoryProbe("cpu") as probe:
        pass
    c = probe.increase_cost()
    assert c.value is None and "clear_refs" in c.reason


def test_the_lifetime_peak_survives_the_per_phase_resets():
    """Start-up before the first phase can be the run's peak: the per-phase reset of VmHWM (and with
    it getrusage's maxrss) forgets it; lifetime_peak does not."""
    block = allocate(400)  # a start-up peak, before any phase
    del block
    with MemoryProbe("cpu") as phase:  # resets the kernel's watermark
        pass
    assert phase.cost().value < memory.maxrss_bytes() + 50 * MiB
    assert memory.maxrss_bytes() < phase.cost().value + 300 * MiB, "the reset lost the peak for getrusage too"
    life = memory.lifetime_peak("cpu")
    assert life.source == "procfs" and life.extra["note"].startswith("process lifetime peak")
    assert life.value >= phase.cost().value + 350 * MiB
    meter = PhaseMeter("cpu", "cpu", [])
    with meter:
        pass
    assert meter.costs()["lifetime_peak_mem_bytes"].value >= life.value


def test_proc_status_parsing(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\n")
    assert proc_status_kib("VmHWM", status) == 123456 and proc_status_kib("VmRSS", status) == 65432
    assert proc_status_kib("VmSwap", status) is None
    assert proc_status_kib("VmRSS", tmp_path / "absent") is None


def test_probe_not_used_is_null():
    assert MemoryProbe("cpu").cost().value is None and MemoryProbe("cpu").cost().reason


# ---- PhaseMeter --------------------------------------------------------------------------------


def test_phase_meter_costs():
    with PhaseMeter("cpu", "cpu", []) as meter:
        # busy until 0.05 s of wall time and 0.03 s of this process's CPU time have passed: on a
        # shared machine the wall clock alone may hand the CPU to others for most of the window
        t_end, c_end = time.perf_counter() + 0.05, time.process_time() + 0.03
        while time.perf_counter() < t_end or time.process_time() < c_end:
            pass
    costs = meter.costs()
    assert set(costs) == {
        "wall_s",
        "cpu_s",
        "devices",
        "device_hours",
        "peak_mem_bytes",
        "peak_mem_increase_bytes",
        "lifetime_peak_mem_bytes",
        "energy_j",
        "other_cpu_s",
        "other_gpu_processes",
        "contended",
    }
    assert costs["wall_s"].value >= 0.05 and costs["wall_s"].source == "wall_clock"
    assert costs["cpu_s"].value > 0.02 and costs["cpu_s"].source == "process_time"
    assert costs["devices"].value == 1 and costs["devices"].extra["device_type"] == "cpu"
    assert costs["device_hours"].value == pytest.approx(costs["wall_s"].value / 3600)
    assert costs["peak_mem_bytes"].value > 0 and costs["peak_mem_bytes"].source == "procfs"
    energy = costs["energy_j"]
    assert (energy.value is not None and energy.source == "rapl") or energy.reason.startswith("RAPL")
    json.dumps({k: v.to_dict() for k, v in costs.items()})  # the event is JSON


def test_phase_meter_memory_off_and_failing_body():
    with pytest.raises(RuntimeError):
        with PhaseMeter("cpu", enabled_memory=False) as meter:
            raise RuntimeError("boom")
    costs = meter.costs()
    assert costs["wall_s"].value >= 0  # measured up to the failure
    assert costs["peak_mem_bytes"].value is None and "measurement off" in costs["peak_mem_bytes"].reason


def test_phase_meter_device_count():
    assert PhaseMeter("cuda", "cuda:0", [0, 1]).devices == 2
    assert PhaseMeter("cuda", "cuda:0", []).devices == 1
    assert PhaseMeter("cpu").devices == 1


def test_phase_meter_not_used():
    costs = PhaseMeter("cpu").costs()
    assert all(c.value is None and c.reason for c in costs.values())


def test_throughput():
    c = throughput(100, 4.0, "examples/s")
    assert c.value == 25 and c.source == "wall_clock" and c.unit == "examples/s"
    assert throughput(100, 0.0, "tokens/s").value is None


# ---- Cost --------------------------------------------------------------------------------------


def test_cost_record():
    c = Cost.measured(3, "FLOP", "flop_counter", sampled_steps=2)
    assert c.to_dict() == {"value": 3, "unit": "FLOP", "source": "flop_counter", "reason": None, "sampled_steps": 2}
    m = Cost.missing("J", "RAPL absent")
    assert m.to_dict() == {"value": None, "unit": "J", "source": None, "reason": "RAPL absent"} and not m.ok
    assert Cost.missing("B", "off", "procfs").source == "procfs"


def test_cost_keeps_the_null_invariant():
    nan = Cost.measured(math.nan, "s", "wall_clock")
    assert nan.value is None and "finite" in nan.reason
    assert Cost(None, "s", "wall_clock").reason  # a null always says why
    json.dumps(Cost.measured(math.inf, "ratio", "analytic").to_dict(), allow_nan=False)
    with pytest.raises(ValueError):
        Cost.measured(1, "s", "wall_clock", reason="x")  # an extra may not overwrite a field


# ---- environment and import hygiene ------------------------------------------------------------


def test_collect_env():
    env = collect_env("cpu", "AMD EPYC", 1, "fp32")
    keys = {
        "python",
        "torch",
        "transformers",
        "datasets",
        "tokenizers",
        "cuda",
        "cudnn",
        "host",
        "platform",
        "device_type",
        "device_name",
        "device_count",
        "precision",
        "cpu_threads",
        "omp_wait_policy",
        "git_commit",
        "xcost_tui",
    }
    assert set(env) == keys and env["cpu_threads"] >= 1 and env["device_type"] == "cpu"
    assert env["git_commit"] is None or len(env["git_commit"]) == 40
    assert env["omp_wait_policy"] == os.environ.get("OMP_WAIT_POLICY")
    json.dumps(env)


def test_git_commit_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None


def test_measure_package_does_not_import_torch():
    code = (
        "import sys, xcost_tui.measure, xcost_tui.measure.nvml, xcost_tui.measure.timer; "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_probe_over_several_gpus_sums_each_ones_peak(monkeypatch):
    """A model spread over GPUs (device_map = "auto"): each GPU's own peak, summed (issue 17)."""
    import torch

    from xcost_tui.measure.memory import MemoryProbe, MemoryProbeSet, lifetime_peak_of, memory_probe

    now = {0: 100, 1: 1000}
    peak = dict(now)

    def index(d) -> int:
        return torch.device(d).index or 0

    def reset(d=None):
        peak[index(d)] = now[index(d)]

    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: now[index(d)])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: peak[index(d)])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
    probe = memory_probe(["cuda:0", "cuda:1"])
    assert isinstance(probe, MemoryProbeSet)
    assert isinstance(memory_probe(["cuda:0"]), MemoryProbe) and isinstance(memory_probe("cpu"), MemoryProbe)
    with probe:
        now[0] += 50
        peak[0] = max(peak[0], now[0])
        now[0] -= 50
        now[1] += 7
        peak[1] = max(peak[1], now[1])
    cost = probe.cost()
    assert cost.value == 150 + 1007 and cost.source == "torch.cuda"
    assert cost.extra["per_device"] == {"cuda:0": 150, "cuda:1": 1007} and cost.extra["devices"] == 2
    assert probe.increase_cost().value == 50 + 7
    assert probe.current() == (100 + 1007, 150 + 1007, "torch.cuda")
    assert lifetime_peak_of(["cuda:0", "cuda:1"]).value >= 150 + 1007
    unread = MemoryProbeSet(["cuda:0", "cuda:1"])
    assert unread.cost().value is None  # never entered: NULL with the reason, not a partial sum
