"""Several GPUs (``device_map = "auto"``) and the causal LM's precision. No GPU here: torch.cuda and
NVML are stand-ins at the boundary.

A model spread over GPUs used to be measured as if on the run's one GPU: device-hours, energy and
peak memory of one of them (issue 17, item 9)."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from support.fake_nvml import fake_uuid, make_fake_nvml

from xcost_tui.job import device as job_device
from xcost_tui.job.bench import bench_flop_costs
from xcost_tui.job.causal import model_precision
from xcost_tui.job.loops import Device
from xcost_tui.measure import nvml
from xcost_tui.measure.mfu import PEAKS

H100 = "NVIDIA H100 80GB HBM3"


class FakeCuda:
    """torch.cuda as the job asks it: bf16 support with and without emulation, each device's UUID
    (as torch prints it: no GPU- prefix) and compute capability."""

    def __init__(self, major: int = 9, *, emulates_bf16: bool = True, keyword: bool = True, uuids: bool = True):
        self.major, self.emulates, self.keyword, self.uuids = major, emulates_bf16, keyword, uuids
        self.asked: list = []

    def is_bf16_supported(self, **kwargs):
        if not self.keyword and kwargs:
            raise TypeError("is_bf16_supported() got an unexpected keyword argument 'including_emulation'")
        emulation = kwargs.get("including_emulation", True)
        self.asked.append(emulation)
        return self.major >= 8 or (emulation and self.emulates)

    def current_device(self) -> int:
        return 0

    def get_device_properties(self, i):
        if not self.uuids:
            raise AttributeError("uuid")
        return types.SimpleNamespace(major=self.major, minor=0, uuid=fake_uuid(i)[len("GPU-") :])


@pytest.fixture(autouse=True)
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


# ---- precision of the causal LM (and the MT model) ------------------------------------------------


@pytest.mark.parametrize("major,precision", [(7, "fp16"), (7.5, "fp16"), (8, "bf16"), (9, "bf16")])
def test_icl_precision_is_bf16_only_with_bf16_tensor_cores(major, precision):
    """Before, ``torch.cuda.is_bf16_supported()`` (emulation included) chose bf16 on a V100 or T4."""
    cuda = FakeCuda(major)
    assert model_precision("auto", "cuda", cuda=cuda) == precision
    assert cuda.asked == [False]  # emulation never counts


def test_icl_precision_on_a_torch_without_the_keyword():
    assert model_precision("auto", "cuda", cuda=FakeCuda(7, keyword=False)) == "fp16"
    assert model_precision("auto", "cuda", cuda=FakeCuda(8, keyword=False)) == "bf16"
    assert model_precision("bf16", "cuda", cuda=FakeCuda(7)) == "bf16"  # asked for: given
    assert model_precision("auto", "cpu", cuda=FakeCuda(9)) == "fp32"


# ---- which GPUs a model is on ---------------------------------------------------------------------


def test_the_gpus_of_a_device_map():
    model = types.SimpleNamespace(
        hf_device_map={
            "embed": 0,
            "layers.0": 1,
            "layers.1": "cuda:2",
            "layers.2": torch.device("cuda", 3),
            "layers.3": "cpu",
            "lm_head": "disk",
        }
    )
    assert job_device.model_cuda_indices(model) == [0, 1, 2, 3]


def test_the_gpus_of_a_model_without_a_device_map():
    assert job_device.model_cuda_indices(torch.nn.Linear(2, 2)) == []  # on the CPU


def gpu(index: int = 0) -> Device:
    return Device(torch.device("cuda", index), "cuda", H100, 1, "bf16", [index], None)


def test_a_spread_model_counts_every_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(4))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    d = job_device.spread_device(gpu(0), [0, 1, 3], FakeCuda())
    assert isinstance(d, job_device.GpuSet)
    assert (d.count, d.cuda_indices, d.nvml_indices, d.nvml_reason) == (3, [0, 1, 3], [0, 1, 3], None)
    assert (d.name, d.precision, d.torch_device) == (H100, "bf16", torch.device("cuda", 0))


def test_one_gpu_or_a_cpu_is_left_as_it_is(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(2))
    one = gpu(0)
    assert job_device.spread_device(one, [0], FakeCuda()) is one
    assert job_device.spread_device(one, [], FakeCuda()) is one
    cpu = Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32")
    assert job_device.spread_device(cpu, [0, 1], FakeCuda()) is cpu


def test_energy_is_null_when_one_of_the_gpus_cannot_be_found(monkeypatch):
    """Two GPUs' energy passed off as three would understate it: NULL, with the reason."""
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(3))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)  # ordinals on 3 GPUs: not NVML's numbering
    d = job_device.spread_device(gpu(0), [1, 2], FakeCuda(uuids=False))
    assert d.count == 3 and d.nvml_indices == []
    assert "cuda:0" in (d.nvml_reason or "") and "cuda:2" in (d.nvml_reason or "")


class FakeAllocator:
    """torch.cuda's allocator statistics per device: bytes now and the peak since the last reset."""

    def __init__(self, now: dict[int, int]):
        self.now, self.peak = dict(now), dict(now)
        self.synced: list = []

    @staticmethod
    def index(device) -> int:
        return torch.device(device).index or 0

    def allocate(self, i: int, n: int) -> None:
        self.now[i] += n
        self.peak[i] = max(self.peak[i], self.now[i])

    def free(self, i: int, n: int) -> None:
        self.now[i] -= n

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: self.now[self.index(d)])
        monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: self.peak[self.index(d)])

        def reset(d=None):
            i = self.index(d)
            self.peak[i] = self.now[i]

        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: self.synced.append(d))


def test_a_phase_is_measured_over_every_gpu(monkeypatch):
    """device-hours of two GPUs, energy of both, peak memory of each summed, both synchronised."""
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(2, energy_step_mj=5000))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    alloc = FakeAllocator({0: 1000, 1: 3000})
    alloc.install(monkeypatch)
    d = job_device.spread_device(gpu(0), [0, 1], FakeCuda())
    meter = job_device.phase_meter(d, True)
    with meter:
        alloc.allocate(0, 500)
        alloc.allocate(1, 200)
        alloc.free(1, 200)
    costs = meter.costs()
    assert costs["devices"].value == 2
    assert costs["device_hours"].value == pytest.approx(costs["wall_s"].value * 2 / 3600)
    assert costs["energy_j"].value == pytest.approx(10.0)  # 5 J on each GPU
    peak = costs["peak_mem_bytes"]
    assert peak.value == 1500 + 3200 and peak.extra["per_device"] == {"cuda:0": 1500, "cuda:1": 3200}
    assert costs["peak_mem_increase_bytes"].value == 500 + 200
    assert costs["lifetime_peak_mem_bytes"].value >= 4700
    assert {"cuda:0", "cuda:1"} <= set(alloc.synced)
    now, peak_now, _ = meter.memory.current()
    assert (now, peak_now) == (1500 + 3000, 4700)


def test_one_gpu_keeps_the_meter_it_had(monkeypatch):
    meter = job_device.phase_meter(Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32"), False)
    assert type(meter).__name__ == "PhaseMeter" and meter.devices == 1


# ---- MFU of the bench's throughput part -------------------------------------------------------------


def test_bench_mfu_is_the_throughput_parts_useful_work_over_every_gpu():
    peak = next(peaks for _, label, peaks in PEAKS if label == "H100 SXM")["bf16"]
    assert peak is not None
    latency = [(10**12, 8 * 10**11)] * 4
    costs = bench_flop_costs(gpu(0), latency, (4 * 10**15, 3 * 10**15), 2.0, "query")
    assert costs["flops_analytic"].value == 4 * 10**12 + 4 * 10**15
    assert costs["flops_analytic_nonpad"].value == 4 * 8 * 10**11 + 3 * 10**15
    assert costs["query_flops"].value == 10**12
    assert costs["mfu"].value == pytest.approx(3e15 / (2.0 * peak))
    assert costs["mfu_padded"].value == pytest.approx(4e15 / (2.0 * peak))
    assert costs["mfu"].extra["part"] == "throughput"
    two = job_device.GpuSet(torch.device("cuda", 0), "cuda", H100, 2, "bf16", [0, 1], None, cuda_indices=[0, 1])
    assert bench_flop_costs(two, latency, (4 * 10**15, 3 * 10**15), 2.0, "query")["mfu"].value == pytest.approx(
        3e15 / (2.0 * peak * 2)
    )
    cpu = bench_flop_costs(Device(torch.device("cpu"), "cpu", "AMD EPYC", 1, "fp32"), latency, (1, 1), 1.0, "q")
    assert cpu["mfu"].value is None and cpu["mfu"].reason == "no peak FLOP/s table for CPUs"
    assert cpu["flops_analytic"].value == 4 * 10**12 + 1
    none = bench_flop_costs(gpu(0), [], (0, 0), 0.0, "q")
    assert none["query_flops"].value is None and none["mfu"].value is None
