"""The sampler: the psutil process tree, the NVML path through a fake ``pynvml`` (errors included),
the no-GPU path, and the sampling rate."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from xcost_tui.measure import nvml
from xcost_tui.measure.sampler import Sampler, SampleTarget
from xcost_tui.rundir import read_jsonl
from xcost_tui.rundir.layout import SAMPLES

GIB = 1 << 30


# ---- a fake pynvml ------------------------------------------------------------------------------


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's names
    pass


class NVMLError_GpuIsLost(NVMLError):  # noqa: N801
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801
    pass


def as_dicts(pairs):
    """sample_once's typed samples as the JSON objects samples.jsonl holds."""
    return [(rid, smp.to_dict()) for rid, smp in pairs]


class FakeDevice:
    def __init__(self, index: int, procs: dict[int, int | None] | None = None):
        self.index = index
        self.name = f"Fake GPU {index}"
        self.used, self.total = (index + 1) * GIB, 80 * GIB
        self.util, self.power_mw, self.temp = 40 + index, 250_000, 60
        self.procs = procs or {}
        self.broken: dict[str, type[Exception]] = {}  # pynvml function name -> error it raises


def fake_pynvml(devices: list[FakeDevice], init_error: type[Exception] | None = None) -> types.ModuleType:
    m = types.ModuleType("pynvml")
    m.NVMLError = NVMLError
    m.NVML_TEMPERATURE_GPU = 0
    m.calls = []

    def guarded(name):
        def deco(fn):
            def wrapper(h, *a):
                m.calls.append(name)
                if name in h.broken:
                    raise h.broken[name]("fake NVML error")
                return fn(h, *a)

            return wrapper

        return deco

    def nvmlInit():
        if init_error is not None:
            raise init_error("NVML Shared Library Not Found")

    m.nvmlInit = nvmlInit
    m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: len(devices)
    m.nvmlDeviceGetHandleByIndex = lambda i: devices[i]
    m.nvmlDeviceGetName = guarded("name")(lambda h: h.name.encode())  # bytes, as older bindings give
    m.nvmlDeviceGetUUID = guarded("uuid")(lambda h: f"GPU-{h.index:08x}-0000-0000-0000-000000000000")
    m.nvmlDeviceGetMemoryInfo = guarded("memory")(
        lambda h: types.SimpleNamespace(used=h.used, total=h.total, free=h.total - h.used)
    )
    m.nvmlDeviceGetUtilizationRates = guarded("util")(lambda h: types.SimpleNamespace(gpu=h.util, memory=10))
    m.nvmlDeviceGetPowerUsage = guarded("power")(lambda h: h.power_mw)
    m.nvmlDeviceGetTemperature = guarded("temp")(lambda h, sensor: h.temp)
    m.nvmlDeviceGetComputeRunningProcesses = guarded("procs")(
        lambda h: [types.SimpleNamespace(pid=p, usedGpuMemory=b) for p, b in h.procs.items()]
    )
    return m


@pytest.fixture
def use_fake(monkeypatch):
    def install(module):
        monkeypatch.setitem(sys.modules, "pynvml", module)
        nvml.reset()
        return module

    yield install
    nvml.reset()


@pytest.fixture
def child():
    """A job stand-in: a sleeping process with a child of its own."""
    code = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(c.pid, flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    grandchild = int(proc.stdout.readline())
    yield proc, grandchild
    subprocess.run(["kill", str(grandchild)], check=False)
    proc.kill()
    proc.wait()


def make(tmp_path: Path, pid: int, gpus=None, phase="target:copa", **kw) -> Sampler:
    target = SampleTarget("r1", pid, tmp_path, phase, gpus)
    return Sampler(lambda: [target], children_every_s=0.0, **kw)


# ---- the GPU path -------------------------------------------------------------------------------


def test_gpu_readings_and_the_jobs_own_gpu_memory(tmp_path, use_fake, child):
    proc, grandchild = child
    dev0 = FakeDevice(0, {proc.pid: 2 * GIB, grandchild: 1 * GIB, 1: 30 * GIB})  # pid 1: not ours
    dev1 = FakeDevice(1, {1: 5 * GIB})
    use_fake(fake_pynvml([dev0, dev1]))
    s = make(tmp_path, proc.pid)
    s.sample_once()
    ((_, sample),) = as_dicts(s.sample_once())
    assert sample["phase"] == "target:copa" and sample["cpu_percent"] is not None and sample["rss_bytes"] > 0
    g0, g1 = sample["gpus"]
    assert g0 == {
        "index": 0,
        "name": "Fake GPU 0",
        "uuid": "GPU-00000000-0000-0000-0000-000000000000",
        "mem_used_bytes": GIB,
        "mem_total_bytes": 80 * GIB,
        "util_percent": 40.0,
        "power_w": 250.0,
        "temp_c": 60.0,
        "proc_mem_bytes": 3 * GIB,
        "other_pids": [1],
        "other_mem_bytes": 30 * GIB,
    }
    assert g1["proc_mem_bytes"] == 0, "NVML lists processes on GPU 1, none of them the job's"
    assert g1["other_pids"] == [1] and g1["other_mem_bytes"] == 5 * GIB, "contention: another process on GPU 1"
    assert sample["cpus"] >= 1 and sample["other_cpu_percent"] is not None
    assert s.notes == []
    written = read_jsonl(tmp_path / SAMPLES)
    assert len(written) == 2 and written[-1] == sample

    only0 = make(tmp_path / "b", proc.pid, gpus=(0,))
    ((_, sample),) = as_dicts(only0.sample_once())
    assert [g["index"] for g in sample["gpus"]] == [0], "a run sees the GPU it was given"


def test_nvml_errors_give_null_fields_not_crashes(tmp_path, use_fake, child):
    proc, _ = child
    dev = FakeDevice(0, {proc.pid: GIB})
    fake = use_fake(fake_pynvml([dev]))
    s = make(tmp_path, proc.pid)
    ((_, ok),) = as_dicts(s.sample_once())
    assert ok["gpus"][0]["power_w"] == 250.0

    dev.broken = {"power": NVMLError_NotSupported, "util": NVMLError_NotSupported, "procs": NVMLError_NotSupported}
    ((_, sample),) = as_dicts(s.sample_once())
    g = sample["gpus"][0]
    assert g["power_w"] is None and g["util_percent"] is None and g["proc_mem_bytes"] is None
    assert g["mem_used_bytes"] == GIB and g["temp_c"] == 60.0

    # the GPU falls off the bus: every reading fails
    dev.broken = {name: NVMLError_GpuIsLost for name in ("memory", "util", "power", "temp", "procs", "name")}
    ((_, sample),) = as_dicts(s.sample_once())
    g = sample["gpus"][0]
    assert g["index"] == 0
    assert all(
        g[k] is None
        for k in ("mem_used_bytes", "mem_total_bytes", "util_percent", "power_w", "temp_c", "proc_mem_bytes")
    )
    assert "procs" in fake.calls
    lines = read_jsonl(tmp_path / SAMPLES)
    assert len(lines) == 3, "a sample was written on every tick"


def test_driver_reports_no_per_process_memory(tmp_path, use_fake, child):
    proc, _ = child
    use_fake(fake_pynvml([FakeDevice(0, {proc.pid: None})]))
    ((_, sample),) = as_dicts(make(tmp_path, proc.pid).sample_once())
    assert sample["gpus"][0]["proc_mem_bytes"] is None


def test_pids_of_another_namespace_are_not_counted_as_zero(tmp_path, use_fake, child):
    proc, _ = child
    use_fake(fake_pynvml([FakeDevice(0, {4_000_000: GIB})]))  # no such pid here (a container)
    ((_, sample),) = as_dicts(make(tmp_path, proc.pid).sample_once())
    assert sample["gpus"][0]["proc_mem_bytes"] is None


def test_library_not_found_means_no_gpus_and_one_note(tmp_path, use_fake, child):
    proc, _ = child
    use_fake(fake_pynvml([FakeDevice(0)], init_error=NVMLError_LibraryNotFound))
    notes = []
    s = make(tmp_path, proc.pid, on_note=notes.append)
    for _ in range(3):
        ((_, sample),) = as_dicts(s.sample_once())
        assert sample["gpus"] == []
    assert len(notes) == 1
    assert notes[0].text.startswith("no GPU: NVML not available (") and "LibraryNotFound" in notes[0].text


def test_pynvml_not_installed(tmp_path, use_fake, child):
    proc, _ = child
    use_fake(None)  # sys.modules["pynvml"] = None: importing it raises ImportError
    s = make(tmp_path, proc.pid)
    ((_, sample),) = as_dicts(s.sample_once())
    assert sample["gpus"] == [] and s.notes and s.notes[0].text.startswith("no GPU: NVML not available")


# ---- the process tree -----------------------------------------------------------------------------


def test_cpu_and_rss_cover_the_whole_process_tree(tmp_path, use_fake):
    use_fake(None)
    code = (
        "import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'while True: pass']); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        s = make(tmp_path, proc.pid, use_nvml=False)
        samples = []
        # The sampled process only sleeps: any CPU its tree shows is the busy grandchild's. Not a
        # bar like "30 %": on a loaded machine the grandchild may get a fifth of a core.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ((_, sample),) = as_dicts(s.sample_once())
            samples.append(sample)
            if len(samples) > 3 and sample["cpu_percent"] and sample["cpu_percent"] > 5:
                break
            time.sleep(0.2)
        assert samples[0]["cpu_percent"] is None, "no baseline on the first tick: null, not 0"
        assert samples[-1]["cpu_percent"] > 5, "the busy grandchild counts"
        single = proc_rss(proc.pid)
        assert samples[-1]["rss_bytes"] > single, "RSS sums the tree"
    finally:
        import psutil

        for c in psutil.Process(proc.pid).children(recursive=True):
            c.kill()
        proc.kill()
        proc.wait()


def proc_rss(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


def test_a_target_that_is_gone_is_skipped(tmp_path, use_fake):
    use_fake(None)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    s = make(tmp_path, proc.pid)
    assert s.sample_once() == []
    assert not (tmp_path / SAMPLES).exists()


# ---- the rate ----------------------------------------------------------------------------------


def test_ten_hertz_gives_ten_samples_a_second(tmp_path, use_fake, child):
    use_fake(None)
    proc, _ = child
    s = Sampler(lambda: [SampleTarget("r1", proc.pid, tmp_path, None, None)], hz=10)
    s.start()
    time.sleep(3.0)
    s.stop()
    samples = read_jsonl(tmp_path / SAMPLES)
    assert 24 <= len(samples) <= 32, len(samples)
    gaps = sorted(b["t"] - a["t"] for a, b in zip(samples, samples[1:]))
    assert abs(gaps[len(gaps) // 2] - 0.1) < 0.02, "ticks are 0.1 s apart"
    assert s.cpu_time_s < 1.0


def test_a_slow_tick_skips_slots_instead_of_piling_up(tmp_path):
    calls = []

    def targets():
        calls.append(time.monotonic())
        if len(calls) == 2:
            time.sleep(0.55)  # one tick takes five periods
        return []

    s = Sampler(targets, hz=10, use_nvml=False)
    s.start()
    time.sleep(1.5)
    s.stop()
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert s.skipped_ticks >= 4
    assert min(gaps[2:]) > 0.05, "no burst of catch-up ticks after the slow one"
    assert 9 <= len(calls) <= 13, len(calls)


def test_a_target_whose_pid_belongs_to_another_process_is_not_sampled(tmp_path, use_fake, child):
    """A pid reused by an unrelated process (its create time differs) is not the job."""
    import psutil

    from xcost_tui.rundir import ProcessRef

    use_fake(None)
    proc, _ = child
    created = psutil.Process(proc.pid).create_time()
    stranger = Sampler(
        lambda: [SampleTarget("r1", ProcessRef(proc.pid, created - 100.0), tmp_path)], children_every_s=0.0
    )
    assert stranger.sample_once() == [] and not (tmp_path / SAMPLES).exists()
    ours = Sampler(lambda: [SampleTarget("r1", ProcessRef(proc.pid, created), tmp_path)], children_every_s=0.0)
    assert len(ours.sample_once()) == 1
