from __future__ import annotations

import sys

import pytest

from fake_nvml import NVMLError_GpuIsLost, NVMLError_LibraryNotFound, NVMLError_NotSupported, make_fake_nvml
from xcost_tui.measure import nvml
from xcost_tui.measure.energy import EnergyMeter, counter_delta, read_rapl
from xcost_tui.measure.mfu import mfu, peak_flops


@pytest.fixture(autouse=True)
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


def test_counter_wraps():
    assert counter_delta(100, 250, 1000) == 150
    assert counter_delta(900, 50, 1000) == 150


def fake_powercap(root, zones):
    for name, (energy, max_range) in zones.items():
        z = root / name
        z.mkdir(parents=True)
        (z / "energy_uj").write_text(f"{energy}\n")
        (z / "max_energy_range_uj").write_text(f"{max_range}\n")


def test_rapl_reads_package_zones_only(tmp_path):
    fake_powercap(tmp_path, {"intel-rapl:0": (10, 100), "intel-rapl:0:0": (5, 100), "intel-rapl:1": (7, 100)})
    assert read_rapl(tmp_path) == {"intel-rapl:0": (10, 100), "intel-rapl:1": (7, 100)}
    assert "absent" in read_rapl(tmp_path / "nothing")


def test_rapl_energy_meter_with_wrap(tmp_path):
    fake_powercap(tmp_path, {"intel-rapl:0": (999_000_000, 1_000_000_000)})
    meter = EnergyMeter("cpu", rapl_root=tmp_path)
    with meter:
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("2000000\n")  # wrapped past the maximum
    cost = meter.cost()
    assert cost.value == pytest.approx(3.0) and cost.source == "rapl" and cost.unit == "J"


def test_cpu_without_rapl_is_null_with_reason(tmp_path):
    meter = EnergyMeter("cpu", rapl_root=tmp_path / "none")
    with meter:
        pass
    cost = meter.cost()
    assert cost.value is None and "RAPL" in cost.reason


def test_nvml_energy_delta(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(2, energy_step_mj=4000))
    meter = EnergyMeter("cuda", [0, 1])
    with meter:
        pass
    cost = meter.cost()
    assert cost.value == pytest.approx(8.0) and cost.source == "nvml"
    assert cost.extra["flag"] == "window_too_short"  # an empty window is shorter than a second


def test_nvml_energy_counter_that_does_not_move(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(1, energy_step_mj=0))
    meter = EnergyMeter("cuda", [0])
    with meter:
        pass
    assert meter.cost().value == 0 and meter.cost().extra["flag"] == "window_too_short"


def test_nvml_energy_not_supported(monkeypatch):
    fake = make_fake_nvml(1, fail={"nvmlDeviceGetTotalEnergyConsumption": NVMLError_NotSupported()})
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    meter = EnergyMeter("cuda", [0])
    with meter:
        pass
    assert meter.cost().value is None and "not supported" in meter.cost().reason


@pytest.mark.parametrize("error", [NVMLError_NotSupported(), NVMLError_GpuIsLost()])
def test_nvml_errors_become_na(monkeypatch, error):
    fake = make_fake_nvml(1, fail={"nvmlDeviceGetMemoryInfo": error, "nvmlDeviceGetPowerUsage": error})
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert nvml.memory_info(0) is nvml.NA and not nvml.power_w(0)
    assert nvml.device_name(0) == "NVIDIA H100 80GB HBM3"  # the rest still works
    assert nvml.value(nvml.power_w(0)) is None


def test_nvml_library_not_found(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(init_error=NVMLError_LibraryNotFound("no libnvidia-ml")))
    ok, reason = nvml.nvml_available()
    assert not ok and "LibraryNotFound" in reason
    assert nvml.device_count() == 0 and nvml.memory_info(0) is nvml.NA


def test_real_nvml_on_this_machine_does_not_raise():
    ok, reason = nvml.nvml_available()
    assert ok or reason  # no GPU here: a reason, never an exception
    assert isinstance(nvml.device_count(), int)


def test_process_memory(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(1, procs={123: 2**30}))
    assert nvml.process_memory(0) == {123: 2**30}


def test_peak_table_and_mfu():
    assert peak_flops("NVIDIA H100 80GB HBM3", "bf16") == (989e12, None)
    assert peak_flops("NVIDIA H100 PCIe", "bf16")[0] == 756e12
    assert peak_flops("NVIDIA A100-SXM4-80GB", "bf16")[0] == 312e12
    assert peak_flops("Tesla V100-SXM2-16GB", "bf16")[0] is None
    value, reason = peak_flops("AMD EPYC 7B13", "fp32")
    assert value is None and "CPU" in reason
    cost = mfu(312e12, 2.0, 312e12, devices=1)
    assert cost.value == pytest.approx(0.5) and cost.source == "analytic"
    assert mfu(1e12, 1.0, None).value is None
