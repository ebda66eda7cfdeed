"""Issue 17: a phase measured in several windows, and work paused out of it.

The learning-curve evaluations inside a training phase are measured by a meter of their own, one
window per point, while the training phase's meter is paused: every figure of the training phase
(wall, CPU, energy, peak memory, the contention window) leaves them out."""

from __future__ import annotations

import time

import pytest

from xcost_tui.measure.contention import CpuWindow
from xcost_tui.measure.energy import WINDOW_TOO_SHORT, sum_energy
from xcost_tui.measure.memory import MemoryProbe
from xcost_tui.measure.timer import PhaseMeter
from xcost_tui.rundir.cost import Cost


def spin(seconds: float) -> None:
    """Busy CPU work for about ``seconds`` of this process's CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_paused_work_is_in_no_figure_of_the_phase():
    train, curve = PhaseMeter("cpu"), PhaseMeter("cpu")
    with train:
        spin(0.05)
        with train.paused():
            with curve:
                spin(0.2)
                time.sleep(0.2)
        spin(0.05)
        with train.paused(), curve:
            spin(0.2)
    assert train.windows == 3 and curve.windows == 2
    # CPU time is the process's own: the paused work went to the curve's meter, not the phase's
    assert train.cpu < 0.2 <= curve.cpu
    assert curve.wall >= 0.6 - 0.05
    t, c = train.costs(), curve.costs()
    assert t["wall_s"].value == pytest.approx(train.wall) and c["wall_s"].value == pytest.approx(curve.wall)
    assert t["device_hours"].value == pytest.approx(train.wall / 3600)
    # the contention window is the phase's windows: others' CPU fits in cpus x wall (give or take
    # the kernel's 10 ms ticks of each CPU's counter at both ends of each window)
    for meter, costs in ((train, t), (curve, c)):
        other = costs["other_cpu_s"]
        if other.value is not None:
            ticks = 2 * 0.01 * other.extra["cpus"] * meter.windows
            assert other.value <= other.extra["cpus"] * costs["wall_s"].value + ticks + 0.05


def test_cpu_windows_add_up():
    a, b = CpuWindow(1.0, 1.5, 1.0, 2), CpuWindow(2.0, 3.0, 1.0, 2)
    total = CpuWindow.total([a, b])
    assert total == CpuWindow(3.0, 4.5, 2.0, 2) and total.other_s == pytest.approx(2.5)
    assert CpuWindow.total([a]) is a
    assert CpuWindow.total([]) is None and CpuWindow.total([a, None]) is None


def test_energy_of_several_windows_is_their_sum():
    one = Cost.measured(2.0, "J", "nvml", window_s=0.5)
    two = Cost.measured(3.0, "J", "nvml", window_s=1.0)
    total = sum_energy([one, two])
    assert total.value == 5.0 and total.source == "nvml" and total.extra["window_s"] == 1.5
    assert total.extra["windows"] == 2
    assert sum_energy([one]) is one
    missing = Cost.missing("J", "no NVML")
    assert sum_energy([one, missing]).reason == "no NVML"
    zero = sum_energy([Cost.measured(0.0, "J", "nvml", window_s=0.05)] * 2)
    assert zero.value == 0.0 and zero.extra["flag"] == WINDOW_TOO_SHORT
    assert sum_energy([]).value is None


def test_a_resumed_probe_keeps_its_peak_and_leaves_the_gap_out():
    probe = MemoryProbe("cpu")
    with probe:
        block = bytearray(30 * 2**20)  # 30 MiB resident in the first window
        block[::4096] = b"x" * len(block[::4096])
    first = probe.cost().value
    del block
    other = MemoryProbe("cpu")
    with other:  # between the windows: not the probe's
        gap = bytearray(80 * 2**20)
        gap[::4096] = b"y" * len(gap[::4096])
        del gap
    probe.resume()
    probe.__exit__(None, None, None)
    assert probe.cost().value >= first  # kept across windows
    if other.per_phase and probe.per_phase:
        # the gap's 80 MiB peak is the other probe's, not this one's (freed before the resume)
        assert probe.cost().value < other.cost().value
