"""The job's device: precision on GPUs without bf16 tensor cores, which NVML device the job's GPU is,
and what MFU counts. No GPU here: torch.cuda and NVML are stand-ins at the boundary."""

from __future__ import annotations

import dataclasses
import sys
import types
import warnings

import pytest
import torch
from support.fake_nvml import fake_uuid, make_fake_nvml

from xcost_tui.job import device as job_device
from xcost_tui.job.loops import Device, Tally, grad_scaler
from xcost_tui.job.phases import PhaseRunner
from xcost_tui.measure import nvml
from xcost_tui.measure.energy import EnergyMeter
from xcost_tui.measure.mfu import PEAKS
from xcost_tui.rundir import Cost, EventWriter
from xcost_tui.spec import PhaseKind, PlannedPhase


class FakeCuda:
    """torch.cuda as the job asks it: is_bf16_supported (with and without emulation), the device's
    properties (compute capability, UUID as torch prints it: no GPU- prefix) and name."""

    def __init__(
        self,
        major: int,
        *,
        emulates_bf16: bool = True,
        uuid: str | None = None,
        name: str = "GPU",
        keyword: bool = True,
    ):
        self.major, self.emulates, self.uuid, self.name, self.keyword = major, emulates_bf16, uuid, name, keyword
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
        if self.uuid is None:
            raise AttributeError("uuid")
        return types.SimpleNamespace(major=self.major, minor=0, uuid=self.uuid)

    def get_device_name(self, i):
        return self.name


@pytest.fixture(autouse=True)
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


@pytest.mark.parametrize("major,precision", [(7, "fp16"), (7.5, "fp16"), (8, "bf16"), (9, "bf16")])
def test_bf16_only_with_bf16_tensor_cores(major, precision):
    """V100 (7.0) and T4 (7.5) emulate bf16, which is_bf16_supported() counts by default: before, they
    trained in emulated bf16. Now: fp16 there, bf16 from Ampere (8.0) on."""
    cuda = FakeCuda(major)
    assert job_device.choose_precision(cuda) == precision
    assert cuda.asked == [False]  # emulation never counts


def test_precision_on_a_torch_without_the_keyword():
    assert job_device.choose_precision(FakeCuda(7, keyword=False, uuid="x")) == "fp16"
    assert job_device.choose_precision(FakeCuda(8, keyword=False, uuid="x")) == "bf16"


def test_fp16_trains_with_a_grad_scaler_and_bf16_without():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # on this CPU-only torch the scaler says it disables itself
        scaler = grad_scaler(Device(torch.device("cuda"), "cuda", "Tesla V100-SXM2-16GB", 1, "fp16"))
    assert isinstance(scaler, torch.amp.GradScaler)
    assert grad_scaler(Device(torch.device("cuda"), "cuda", "NVIDIA A100", 1, "bf16")) is None
    assert grad_scaler(Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32")) is None


def test_pick_device_on_a_v100_behind_a_uuid(monkeypatch):
    """The whole choice on a stand-in GPU: CUDA_VISIBLE_DEVICES names NVML's GPU 2 by UUID; the job
    reads energy from NVML's GPU 2 (before: GPU 0, the torch index) and trains in fp16."""
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(4, name="Tesla V100-SXM2-16GB"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", fake_uuid(2))
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    fake = FakeCuda(7, uuid=None, name="Tesla V100-SXM2-16GB")  # no torch UUID: the environment decides
    for name in ("is_bf16_supported", "current_device", "get_device_properties", "get_device_name"):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: None)
    device = job_device.pick_device("cuda")
    assert (device.type, device.precision, device.nvml_indices, device.nvml_reason) == ("cuda", "fp16", [2], None)


def test_the_torch_uuid_wins_over_the_numbering(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(4))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    cuda = FakeCuda(9, uuid=fake_uuid(1)[len("GPU-") :])
    m = nvml.map_torch_device(1, cuda)
    assert m.index == 1 and m.how == "uuid"


def test_an_unmappable_gpu_has_null_energy_with_the_reason(monkeypatch):
    """CUDA's default order on a machine of mixed GPUs: NVML's GPU 0 may not be CUDA's 0. Before, the
    job read GPU 0's counter anyway."""
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(2, names=["NVIDIA A10", "NVIDIA H100 80GB HBM3"]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    m = nvml.map_torch_device(0, FakeCuda(9, uuid=None))
    assert m.index is None
    meter = EnergyMeter("cuda", [], gpu_reason=m.reason)
    with meter:
        pass
    cost = meter.cost()
    assert cost.value is None and "not read from NVML" in cost.reason and "CUDA_DEVICE_ORDER" in cost.reason


def test_a_mig_instance_has_null_energy_with_the_reason(monkeypatch):
    mig = "MIG-aaaaaaaa-1111-5222-8333-444444444444"
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml(2, mig={mig: 1}))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", mig)
    m = nvml.map_torch_device(0, FakeCuda(9, uuid=mig[len("MIG-") :]))
    assert (m.index, m.mig) == (1, True)
    meter = EnergyMeter("cuda", [], gpu_reason=m.reason)
    with meter:
        pass
    assert meter.cost().value is None and "MIG instance" in meter.cost().reason


# ---- MFU counts useful work --------------------------------------------------------------------


def test_mfu_counts_the_non_pad_flops_and_mfu_padded_the_padded(tmp_path):
    """A phase on an H100 in bf16 whose batches were half padding: MFU is the non-pad FLOPs over
    peak (before: the padded FLOPs, which count the padding as useful work)."""
    h100 = next(peaks for pattern, label, peaks in PEAKS if label == "H100 SXM")["bf16"]
    runner = PhaseRunner.__new__(PhaseRunner)
    runner.completed = []
    runner.ctx = types.SimpleNamespace(
        device=Device(torch.device("cpu"), "cuda", "NVIDIA H100 80GB HBM3", 1, "bf16"),
        events=EventWriter(tmp_path / "events.jsonl"),
        memory_now=None,
    )
    meter = types.SimpleNamespace(costs=lambda: {"wall_s": Cost.measured(2.0, "s", "wall_clock")})
    tally = Tally(
        examples=10, steps=1, tokens_nonpad=500, tokens_padded=1000, flops_analytic=4 * 10**15, flops_nonpad=2 * 10**15
    )
    phase = PlannedPhase("target:copa", PhaseKind.TARGET, ("copa",), None)
    rec = runner._end(phase, meter, tally, tasks=["copa"])
    costs = rec.costs
    assert costs["flops_analytic"].value == 4 * 10**15 and costs["flops_analytic_nonpad"].value == 2 * 10**15
    assert costs["flops_analytic_nonpad"].source == "analytic"
    assert costs["mfu"].value == pytest.approx(2e15 / (2.0 * h100))
    assert costs["mfu_padded"].value == pytest.approx(4e15 / (2.0 * h100))
    # on a CPU both are NULL with the same reason
    runner.ctx.device = dataclasses.replace(runner.ctx.device, type="cpu", name="AMD EPYC", precision="fp32")
    rec = runner._end(phase, meter, tally, tasks=["copa"])
    assert rec.costs["mfu"].value is None and rec.costs["mfu_padded"].reason == rec.costs["mfu"].reason
