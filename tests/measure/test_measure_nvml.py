"""The NVML boundary: every failure becomes the NA sentinel or a reason, never an exception."""

from __future__ import annotations

import logging
import subprocess
import sys
import types

import pytest
from support import fake_nvml
from support.fake_nvml import NVMLError_GpuIsLost, NVMLError_LibraryNotFound, NVMLError_NotSupported, make_fake_nvml

from xcost_tui.measure import nvml


class NVMLError_NoPermission(fake_nvml.NVMLError):  # noqa: N801 - the real binding's name
    pass


@pytest.fixture(autouse=True)
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


@pytest.fixture
def install(monkeypatch):
    def put(module):
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module

    return put


def test_na_sentinel():
    assert not nvml.NA and repr(nvml.NA) == "N/A"
    assert type(nvml.NA)() is nvml.NA
    assert nvml.value(nvml.NA) is None and nvml.value(0) == 0


def test_readings_through_a_working_binding(install):
    install(make_fake_nvml(2, procs={123: 2**30, 456: None}))
    assert nvml.nvml_available() == (True, None)
    assert nvml.device_count() == 2
    assert nvml.device_name(1) == "NVIDIA H100 80GB HBM3"
    assert nvml.device_uuid(1) == "GPU-00000001-fake-4000-8000-000000000000"
    mem = nvml.memory_info(1)
    assert isinstance(mem, nvml.MemoryInfo) and (mem.used, mem.total) == (2 * 2**30, 80 * 2**30)
    assert mem == (2 * 2**30, 80 * 2**30)
    assert nvml.processes(0) == [nvml.ProcessMemory(123, 2**30), nvml.ProcessMemory(456, nvml.NA)]
    assert nvml.processes(0)[1].used_bytes is nvml.NA, "the driver did not say: NA, not 0"
    assert nvml.utilization(1) == 51.0
    assert nvml.power_w(0) == 250.0
    assert nvml.temperature_c(0) == 60.0
    assert nvml.total_energy_mj(0) == 1_005_000
    assert nvml.process_memory(0) == {123: 2**30}


def test_bytes_names_from_old_bindings(install):
    fake = install(make_fake_nvml(1))
    fake.nvmlDeviceGetName = lambda h: b"Tesla T4"
    fake.nvmlDeviceGetUUID = lambda h: b"GPU-abc"
    assert nvml.device_name(0) == "Tesla T4" and nvml.device_uuid(0) == "GPU-abc"


def _fake_names(module) -> set[str]:
    return {n for n in vars(module) if n.startswith(("nvml", "NVML"))}


def test_the_fakes_use_the_real_bindings_names():
    """tests/support/fake_nvml.py and the sampler's fake name only functions, constants and errors the
    installed nvidia-ml-py has, so a test cannot pass against an API that does not exist."""
    real = pytest.importorskip("pynvml")
    import test_sampler

    for fake in (make_fake_nvml(1), test_sampler.fake_pynvml([test_sampler.FakeDevice(0)])):
        missing = sorted(n for n in _fake_names(fake) | {"NVMLError"} if not hasattr(real, n))
        assert missing == [], f"not in the real pynvml: {missing}"
    for cls in (
        fake_nvml.NVMLError_NotSupported,
        fake_nvml.NVMLError_GpuIsLost,
        fake_nvml.NVMLError_LibraryNotFound,
        NVMLError_NoPermission,
        test_sampler.NVMLError_NotSupported,
        test_sampler.NVMLError_GpuIsLost,
        test_sampler.NVMLError_LibraryNotFound,
    ):
        assert hasattr(real, cls.__name__), cls.__name__
    real_struct = real.c_nvmlProcessInfo_t
    fields = {f[0] for f in real_struct._fields_}
    assert {"pid", "usedGpuMemory"} <= fields
    assert {"used", "total"} <= {f[0] for f in real.c_nvmlMemory_t._fields_}
    assert "gpu" in {f[0] for f in real.c_nvmlUtilization_t._fields_}


@pytest.mark.parametrize("error", [NVMLError_NotSupported(), NVMLError_GpuIsLost(), NVMLError_NoPermission()])
def test_nvml_errors_become_na(install, error):
    install(
        make_fake_nvml(
            1,
            fail={
                "nvmlDeviceGetMemoryInfo": error,
                "nvmlDeviceGetPowerUsage": error,
                "nvmlDeviceGetTotalEnergyConsumption": error,
            },
        )
    )
    assert nvml.memory_info(0) is nvml.NA and nvml.power_w(0) is nvml.NA and nvml.total_energy_mj(0) is nvml.NA
    assert not nvml.power_w(0) and nvml.value(nvml.power_w(0)) is None
    assert nvml.device_name(0) == "NVIDIA H100 80GB HBM3"  # the rest still works
    assert nvml.call("nvmlDeviceGetMemoryInfo", 0) is nvml.NA


def test_lost_handle_makes_every_reading_na(install):
    install(make_fake_nvml(1, fail={"nvmlDeviceGetHandleByIndex": NVMLError_GpuIsLost()}))
    for fn in (
        nvml.device_name,
        nvml.device_uuid,
        nvml.memory_info,
        nvml.utilization,
        nvml.power_w,
        nvml.temperature_c,
        nvml.total_energy_mj,
        nvml.processes,
        nvml.process_memory,
    ):
        assert fn(0) is nvml.NA


def test_errors_logged_once(install, caplog):
    install(make_fake_nvml(1, fail={"nvmlDeviceGetPowerUsage": NVMLError_NotSupported()}))
    with caplog.at_level(logging.DEBUG, logger=nvml.__name__):
        for _ in range(5):
            nvml.power_w(0)
    assert sum("nvmlDeviceGetPowerUsage" in r.getMessage() for r in caplog.records) == 1


def test_library_not_found(install):
    install(make_fake_nvml(init_error=NVMLError_LibraryNotFound("NVML Shared Library Not Found")))
    ok, reason = nvml.nvml_available()
    assert not ok and reason.startswith("NVML not available: ") and "LibraryNotFound" in reason
    assert nvml.device_count() == 0 and nvml.memory_info(0) is nvml.NA and nvml.handle(0) is nvml.NA
    assert nvml.call("nvmlDeviceGetCount") is nvml.NA


def test_init_is_attempted_once(install):
    calls = []
    fake = install(make_fake_nvml(1))
    real_init = fake.nvmlInit
    fake.nvmlInit = lambda: (calls.append(1), real_init())[1]
    for _ in range(3):
        nvml.device_count()
    assert calls == [1]


def test_binding_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    ok, reason = nvml.nvml_available()
    assert not ok and "not installed" in reason
    assert nvml.device_count() == 0


def test_missing_function_and_odd_return_values(install):
    fake = install(make_fake_nvml(1))
    del fake.nvmlDeviceGetTotalEnergyConsumption
    fake.nvmlDeviceGetMemoryInfo = lambda h: "not a struct"
    fake.nvmlDeviceGetUtilizationRates = lambda h: (_ for _ in ()).throw(RuntimeError("binding bug"))
    assert nvml.total_energy_mj(0) is nvml.NA
    assert nvml.memory_info(0) is nvml.NA
    assert nvml.utilization(0) is nvml.NA


def test_process_memory_skips_unreported_usage(install):
    fake = install(make_fake_nvml(1))
    fake.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        types.SimpleNamespace(pid=1, usedGpuMemory=None),
        types.SimpleNamespace(pid=2, usedGpuMemory=512),
    ]
    assert nvml.process_memory(0) == {2: 512}


def test_swapping_the_module_reinitialises(install):
    install(make_fake_nvml(init_error=NVMLError_LibraryNotFound("x")))
    assert nvml.nvml_available()[0] is False
    install(make_fake_nvml(3))
    assert nvml.nvml_available() == (True, None) and nvml.device_count() == 3


def test_reset_shuts_down(install):
    fake = install(make_fake_nvml(1))
    calls = []
    fake.nvmlShutdown = lambda: calls.append(1)
    nvml.device_count()
    nvml.reset()
    assert calls == [1]


def test_real_nvml_on_this_machine_does_not_raise():
    """The installed nvidia-ml-py, whatever this machine has: a GPU, or a reason."""
    ok, reason = nvml.nvml_available()
    assert ok or (isinstance(reason, str) and reason)
    n = nvml.device_count()
    assert isinstance(n, int)
    if not ok:
        assert n == 0
        assert nvml.device_name(0) is nvml.NA and nvml.memory_info(0) is nvml.NA
        assert nvml.total_energy_mj(0) is nvml.NA and nvml.process_memory(0) is nvml.NA


def test_no_torch_in_the_nvml_module():
    code = "import sys, xcost_tui.measure.nvml; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- which NVML device the job's CUDA device is ------------------------------------------------

from support.fake_nvml import fake_uuid  # noqa: E402

MIG_A = "MIG-aaaaaaaa-1111-5222-8333-444444444444"
MIG_B = "MIG-bbbbbbbb-1111-5222-8333-444444444444"


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, None),  # unset: every GPU
        ("", []),  # set but empty: none
        ("0,1", [0, 1]),
        (" 2 , 0 ", [2, 0]),
        ("1gpu,2", [1, 2]),  # CUDA reads each entry like strtoul
        ("0,-1,2", [0]),  # the list ends at the first invalid entry
        ("0,x,2", [0]),
        ("0,0", []),  # a repeated entry: no device at all
        ("GPU-aa,GPU-bb", ["GPU-aa", "GPU-bb"]),
        ("GPU-aa,1", ["GPU-aa"]),  # the first entry says which kind; another kind ends the list
        (f"{MIG_A}", [MIG_A]),
    ],
)
def test_cuda_visible_devices_is_read_as_cuda_reads_it(value, expected):
    assert nvml.parse_visible_devices(value) == expected


def test_the_torch_uuid_names_the_gpu_whatever_the_numbering(install):
    """torch's own UUID of the device (bare, as torch prints it) is the mapping: CUDA_VISIBLE_DEVICES=3,1
    makes cuda:1 NVML's GPU 1, which the old index arithmetic got right only by luck of the order."""
    install(make_fake_nvml(4))
    bare = fake_uuid(1)[len("GPU-") :]
    m = nvml.map_cuda_device(1, torch_uuid=bare, visible="3,1", order=None)
    assert (m.index, m.uuid, m.mig, m.reason, m.how) == (1, fake_uuid(1), False, None, "uuid")
    assert nvml.map_cuda_device(0, torch_uuid=fake_uuid(2), visible=None, order=None).index == 2


@pytest.mark.parametrize(
    "visible,torch_index,expected",
    [
        (f"{fake_uuid(2)},{fake_uuid(0)}", 0, 2),
        (f"{fake_uuid(2)},{fake_uuid(0)}", 1, 0),
        ("GPU-00000003", 0, 3),  # a unique prefix, as CUDA accepts
    ],
)
def test_uuid_entries_of_cuda_visible_devices(install, visible, torch_index, expected):
    """Before: a UUID entry was not a number, so the job read energy from NVML's GPU <torch index>: another GPU."""
    install(make_fake_nvml(4))
    m = nvml.map_cuda_device(torch_index, visible=visible, order=None)
    assert m.index == expected and m.uuid == fake_uuid(expected) and m.reason is None


def test_an_ambiguous_or_unknown_uuid_is_null_with_the_reason(install):
    install(make_fake_nvml(4))
    m = nvml.map_cuda_device(0, visible="GPU-0000000", order="PCI_BUS_ID")
    assert m.index is None and "matches 4 GPUs" in m.reason
    m = nvml.map_cuda_device(0, visible="GPU-deadbeef", order="PCI_BUS_ID")
    assert m.index is None and "knows no device 'GPU-deadbeef'" in m.reason


def test_mig_instances_map_to_their_gpu_and_say_why_energy_is_not_theirs(install):
    install(make_fake_nvml(2, mig={MIG_A: 1, MIG_B: 0}))
    m = nvml.map_cuda_device(0, visible=MIG_A, order=None)
    assert (m.index, m.uuid, m.mig, m.reason) == (1, MIG_A, True, nvml.MIG_ENERGY)
    # torch reports a MIG instance's bare UUID: tried as a GPU's, then as a MIG instance's
    assert nvml.map_cuda_device(0, torch_uuid=MIG_B[len("MIG-") :], visible=None, order=None).index == 0
    # drivers before R470 name them MIG-GPU-<gpu uuid>/<gpu instance>/<compute instance>
    old = f"MIG-{fake_uuid(1)}/1/0"
    m = nvml.map_cuda_device(0, visible=old, order=None)
    assert (m.index, m.mig, m.reason) == (1, True, nvml.MIG_ENERGY)


@pytest.mark.parametrize(
    "visible,order,torch_index,expected",
    [
        ("2,0", "PCI_BUS_ID", 0, 2),
        ("2,0", "pci_bus_id", 1, 0),
        (None, "PCI_BUS_ID", 3, 3),
    ],
)
def test_ordinals_under_pci_bus_order_are_nvml_indices(install, visible, order, torch_index, expected):
    install(make_fake_nvml(4))
    m = nvml.map_cuda_device(torch_index, visible=visible, order=order)
    assert m.index == expected and m.uuid == fake_uuid(expected) and m.how == "pci_bus_id order"


@pytest.mark.parametrize("order", [None, "FASTEST_FIRST"])
def test_ordinals_in_cudas_default_order_are_not_guessed(install, order):
    """CUDA numbers GPUs fastest first by default, NVML by PCI bus: on a machine of mixed GPUs
    CUDA_VISIBLE_DEVICES=0 may be NVML's GPU 1. Without a UUID the figure is NULL, with the way out."""
    install(make_fake_nvml(2, names=["NVIDIA A10", "NVIDIA H100 80GB HBM3"]))
    m = nvml.map_cuda_device(0, visible="0", order=order)
    assert m.index is None and "CUDA_DEVICE_ORDER=PCI_BUS_ID" in m.reason and "UUID" in m.reason


def test_a_single_gpu_is_unambiguous(install):
    install(make_fake_nvml(1))
    assert nvml.map_cuda_device(0, visible=None, order=None).index == 0
    m = nvml.map_cuda_device(1, visible=None, order=None)
    assert m.index is None and "NVML sees 1 GPU" in m.reason


def test_a_device_outside_cuda_visible_devices_or_without_nvml(install):
    install(make_fake_nvml(4))
    m = nvml.map_cuda_device(2, visible="0,1", order="PCI_BUS_ID")
    assert m.index is None and "not among the GPUs CUDA_VISIBLE_DEVICES=0,1" in m.reason
    nvml.reset()
    install(make_fake_nvml(init_error=NVMLError_LibraryNotFound("gone")))
    m = nvml.map_cuda_device(0, visible=None, order=None)
    assert m.index is None and m.reason.startswith("NVML not available")


def test_the_environment_is_read_when_not_given(install, monkeypatch):
    install(make_fake_nvml(4))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    assert nvml.map_cuda_device(0).index == 3
    monkeypatch.delenv("CUDA_DEVICE_ORDER")
    assert nvml.map_cuda_device(0).index is None


def test_a_mig_entry_is_a_mig_instance_whatever_uuid_torch_reports(install):
    """Should torch report the parent GPU's UUID for a MIG device, the run would read the whole GPU's
    energy as its own: the MIG entry of CUDA_VISIBLE_DEVICES decides."""
    install(make_fake_nvml(2, mig={MIG_A: 1}))
    m = nvml.map_cuda_device(0, torch_uuid=fake_uuid(1), visible=MIG_A, order=None)
    assert (m.index, m.mig, m.reason) == (1, True, nvml.MIG_ENERGY)
