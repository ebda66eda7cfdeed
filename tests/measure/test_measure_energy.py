"""Energy: RAPL counters (wrap-around, a fake powercap tree) and NVML's energy counter (a fake
pynvml module at the boundary)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from support.fake_nvml import NVMLError_LibraryNotFound, NVMLError_NotSupported, make_fake_nvml

from xcost_tui.measure import nvml
from xcost_tui.measure.energy import WINDOW_TOO_SHORT, EnergyMeter, RaplCounter, counter_delta, read_rapl


@pytest.fixture(autouse=True)
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


def fake_powercap(root, zones):
    """zones: {dir name: (energy_uj, max_range_uj[, name])}."""
    for zone, spec in zones.items():
        z = root / zone
        z.mkdir(parents=True)
        (z / "energy_uj").write_text(f"{spec[0]}\n")
        (z / "max_energy_range_uj").write_text(f"{spec[1]}\n")
        if len(spec) > 2:
            (z / "name").write_text(f"{spec[2]}\n")


def set_energy(root, zone, uj):
    (root / zone / "energy_uj").write_text(f"{uj}\n")


# ---- pure arithmetic ---------------------------------------------------------------------------


def test_counter_wraps():
    assert counter_delta(100, 250, 1000) == 150
    assert counter_delta(900, 50, 1000) == 150
    assert counter_delta(500, 500, 1000) == 0
    assert counter_delta(999, 0, 1000) == 1


def test_rapl_counter_counts_every_wrap_between_polls():
    m = 1_000
    c = RaplCounter({"intel-rapl:0": (900, m), "intel-rapl:1": (10, m)})
    for reading in (
        {"intel-rapl:0": (300, m), "intel-rapl:1": (20, m)},  # wrapped: +400
        {"intel-rapl:0": (800, m), "intel-rapl:1": (30, m)},  # +500
        {"intel-rapl:0": (100, m), "intel-rapl:1": (40, m)},
    ):  # wrapped again: +300
        c.update(reading)
    assert c.uj == {"intel-rapl:0": 1200, "intel-rapl:1": 30}
    assert c.joules() == pytest.approx(1230e-6)
    c.update("RAPL powercap counters not readable: x (permission denied)")
    assert c.error and c.joules() == pytest.approx(1230e-6)


def test_rapl_counter_zone_that_disappears_is_an_error():
    c = RaplCounter({"intel-rapl:0": (1, 100), "intel-rapl:1": (1, 100)})
    c.update({"intel-rapl:0": (2, 100)})
    assert "intel-rapl:1" in c.error


# ---- reading a powercap tree -------------------------------------------------------------------


def test_rapl_reads_package_zones_only(tmp_path):
    fake_powercap(
        tmp_path,
        {
            "intel-rapl:0": (10, 100, "package-0"),
            "intel-rapl:0:0": (5, 100, "core"),
            "intel-rapl:0:1": (3, 100, "dram"),
            "intel-rapl:1": (7, 100, "package-1"),
            "intel-rapl:2": (99, 100, "psys"),
            "intel-rapl-mmio:0": (4, 100, "package-0"),
        },
    )
    assert read_rapl(tmp_path) == {"intel-rapl:0": (10, 100), "intel-rapl:1": (7, 100)}


def test_rapl_zone_without_name_file_counts_as_package(tmp_path):
    fake_powercap(tmp_path, {"intel-rapl:0": (10, 100)})
    assert read_rapl(tmp_path) == {"intel-rapl:0": (10, 100)}


def test_rapl_absent(tmp_path):
    assert read_rapl(tmp_path / "nothing") == f"RAPL powercap counters not readable: {tmp_path / 'nothing'} (absent)"
    assert "absent" in read_rapl(tmp_path)  # the directory exists, no zones in it


def test_rapl_permission_denied(tmp_path, monkeypatch):
    """What a non-root user sees since the kernel made energy_uj root-only (CVE-2020-8694)."""
    fake_powercap(tmp_path, {"intel-rapl:0": (10, 100, "package-0")})
    denied = tmp_path / "intel-rapl:0" / "energy_uj"
    real_read_text = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert read_rapl(tmp_path) == f"RAPL powercap counters not readable: {denied} (permission denied)"
    meter = EnergyMeter("cpu", rapl_root=tmp_path)
    with meter:
        pass
    assert meter.cost().value is None and "permission denied" in meter.cost().reason


def test_rapl_garbage(tmp_path):
    fake_powercap(tmp_path, {"intel-rapl:0": ("n/a", 100, "package-0")})
    assert "not readable" in read_rapl(tmp_path) and "ValueError" in read_rapl(tmp_path)


def test_this_machine_gives_counters_or_a_reason():
    got = read_rapl()
    assert isinstance(got, dict) or got.startswith("RAPL powercap counters not readable")


# ---- the meter on a CPU ------------------------------------------------------------------------


def test_rapl_energy_meter_with_wrap(tmp_path):
    fake_powercap(
        tmp_path,
        {
            "intel-rapl:0": (999_000_000, 1_000_000_000, "package-0"),
            "intel-rapl:1": (5_000_000, 1_000_000_000, "package-1"),
        },
    )
    meter = EnergyMeter("cpu", rapl_root=tmp_path)
    with meter:
        set_energy(tmp_path, "intel-rapl:0", 2_000_000)  # wrapped past the maximum: +3 J
        set_energy(tmp_path, "intel-rapl:1", 6_500_000)  # +1.5 J
    cost = meter.cost()
    assert cost.value == pytest.approx(4.5) and cost.source == "rapl" and cost.unit == "J"
    assert cost.extra["zones"] == ["intel-rapl:0", "intel-rapl:1"] and "flag" not in cost.extra


def test_rapl_meter_polls_so_two_wraps_are_counted(tmp_path, monkeypatch):
    """Two wraps inside one window: only the polling thread can see both."""
    import xcost_tui.measure.energy as energy

    m = 1_000_000
    fake_powercap(tmp_path, {"intel-rapl:0": (900_000, m, "package-0")})
    values = iter([100_000, 800_000])  # each poll sees the next value; the window ends at 200_000
    polled = threading.Event()
    real_read = energy.read_rapl
    calls = {"n": 0}

    def fake_read(root):
        calls["n"] += 1
        if calls["n"] > 1:  # after the reading at the start: poll readings, then the final one
            try:
                set_energy(tmp_path, "intel-rapl:0", next(values))
            except StopIteration:
                set_energy(tmp_path, "intel-rapl:0", 200_000)
                polled.set()
        return real_read(root)

    monkeypatch.setattr(energy, "read_rapl", fake_read)
    meter = EnergyMeter("cpu", rapl_root=tmp_path, rapl_poll_s=0.01)
    with meter:
        assert polled.wait(5)
    # 900k -> 100k (wrap, +200k) -> 800k (+700k) -> 200k (wrap, +400k) [-> 200k ...]
    assert meter.cost().value == pytest.approx(1.3)


def test_rapl_counter_that_does_not_move_is_flagged(tmp_path):
    fake_powercap(tmp_path, {"intel-rapl:0": (10, 100, "package-0")})
    meter = EnergyMeter("cpu", rapl_root=tmp_path)
    with meter:
        pass
    assert meter.cost().value == 0 and meter.cost().extra["flag"] == WINDOW_TOO_SHORT


def test_cpu_without_rapl_is_null_with_reason(tmp_path):
    meter = EnergyMeter("cpu", rapl_root=tmp_path / "none")
    with meter:
        pass
    cost = meter.cost()
    assert cost.value is None and cost.reason.startswith("RAPL powercap counters not readable")
    assert cost.to_dict()["value"] is None and cost.to_dict()["reason"] == cost.reason


def test_rapl_vanishing_during_the_window(tmp_path):
    fake_powercap(tmp_path, {"intel-rapl:0": (10, 100, "package-0")})
    meter = EnergyMeter("cpu", rapl_root=tmp_path)
    with meter:
        (tmp_path / "intel-rapl:0" / "energy_uj").unlink()
    assert meter.cost().value is None and "absent" in meter.cost().reason


def test_meter_not_used():
    assert EnergyMeter("cpu").cost().value is None


# ---- the meter on GPUs (fake NVML) -------------------------------------------------------------


def test_nvml_energy_delta_summed_over_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(2, energy_step_mj=4000))
    meter = EnergyMeter("cuda", [0, 1])
    with meter:
        pass
    cost = meter.cost()
    assert cost.value == pytest.approx(8.0) and cost.source == "nvml" and cost.unit == "J"
    assert "flag" not in cost.extra and "shorter" in cost.extra["note"]  # moved, but in a short window


def test_nvml_energy_only_on_the_runs_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(4, energy_step_mj=1000))
    meter = EnergyMeter("cuda", [2])
    with meter:
        pass
    assert meter.cost().value == pytest.approx(1.0)


def test_nvml_energy_counter_that_does_not_move(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(1, energy_step_mj=0))
    meter = EnergyMeter("cuda", [0])
    with meter:
        pass
    cost = meter.cost()
    assert cost.value == 0 and cost.extra["flag"] == WINDOW_TOO_SHORT
    assert cost.to_dict()["flag"] == "window_too_short"


def test_nvml_energy_counter_going_backwards(monkeypatch):
    fake = make_fake_nvml(1, energy_step_mj=-10)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    meter = EnergyMeter("cuda", [0])
    with meter:
        pass
    assert meter.cost().value is None and "backwards" in meter.cost().reason


def test_nvml_energy_not_supported(monkeypatch):
    fake = make_fake_nvml(1, fail={"nvmlDeviceGetTotalEnergyConsumption": NVMLError_NotSupported()})
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    meter = EnergyMeter("cuda", [0])
    with meter:
        pass
    assert meter.cost().value is None and "not supported" in meter.cost().reason


def test_nvml_missing_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(init_error=NVMLError_LibraryNotFound("gone")))
    meter = EnergyMeter("cuda", [0])
    with meter:
        pass
    assert meter.cost().value is None and "LibraryNotFound" in meter.cost().reason


def test_nvml_without_gpu_indices(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(1))
    meter = EnergyMeter("cuda", [])
    with meter:
        pass
    assert meter.cost().value is None and "no GPU index" in meter.cost().reason
