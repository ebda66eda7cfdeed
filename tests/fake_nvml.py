"""A stand-in for the ``pynvml`` module (nvidia-ml-py), for tests at the NVML boundary.

Its names and return shapes are those of the real binding (tests/test_measure_nvml.py checks
every name against the installed ``pynvml``): structs with the real field names, ``str`` names
and UUIDs (nvidia-ml-py 12+ decodes them), ``usedGpuMemory=None`` where the driver does not say."""

from __future__ import annotations

import types


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_GpuIsLost(NVMLError):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


def make_fake_nvml(n_gpus: int = 1, *, name: str = "NVIDIA H100 80GB HBM3", energy_step_mj: int = 5000,
                   init_error: Exception | None = None, fail: dict[str, Exception] | None = None,
                   procs: dict[int, int] | None = None) -> types.ModuleType:
    """Each energy read advances the counter by energy_step_mj; ``fail`` maps function names to errors."""
    fail = dict(fail or {})
    state = {"energy": [1_000_000] * n_gpus}
    mod = types.ModuleType("pynvml")
    mod.NVMLError = NVMLError
    mod.NVMLError_NotSupported = NVMLError_NotSupported
    mod.NVMLError_GpuIsLost = NVMLError_GpuIsLost
    mod.NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    mod.NVML_TEMPERATURE_GPU = 0

    def guard(fn_name, fn):
        def wrapper(*args):
            if fn_name in fail:
                raise fail[fn_name]
            return fn(*args)
        return wrapper

    def init():
        if init_error is not None:
            raise init_error

    def energy(h):
        state["energy"][h] += energy_step_mj
        return state["energy"][h]

    fns = {
        "nvmlInit": init,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: n_gpus,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: name,
        "nvmlDeviceGetUUID": lambda h: f"GPU-{h:08x}-fake-4000-8000-000000000000",
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(used=(h + 1) * 2**30, total=80 * 2**30, free=0),
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=50 + h, memory=10),
        "nvmlDeviceGetPowerUsage": lambda h: 250_000,
        "nvmlDeviceGetTemperature": lambda h, s: 60,
        "nvmlDeviceGetTotalEnergyConsumption": energy,
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [
            types.SimpleNamespace(pid=p, usedGpuMemory=b, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
            for p, b in (procs or {}).items()],
    }
    for fn_name, fn in fns.items():
        setattr(mod, fn_name, fn if fn_name == "nvmlInit" else guard(fn_name, fn))
    mod.state = state
    return mod
