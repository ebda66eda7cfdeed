"""A stand-in for the ``pynvml`` module (nvidia-ml-py), for tests at the NVML boundary.

Its names and return shapes are those of the real binding (tests/measure/test_measure_nvml.py checks
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


class NVMLError_NotFound(NVMLError):
    pass


def fake_uuid(i: int) -> str:
    return f"GPU-{i:08x}-fake-4000-8000-000000000000"


def make_fake_nvml(
    n_gpus: int = 1,
    *,
    name: str = "NVIDIA H100 80GB HBM3",
    energy_step_mj: int = 5000,
    init_error: Exception | None = None,
    fail: dict[str, Exception] | None = None,
    procs: dict[int, int] | None = None,
    names: list[str] | None = None,
    mig: dict[str, int] | None = None,
) -> types.ModuleType:
    """Each energy read advances the counter by energy_step_mj; ``fail`` maps function names to errors.
    ``names`` gives each GPU its own name; ``mig`` maps MIG instance UUIDs (``MIG-…``) to the index
    of the GPU they are on. GPU handles are the indices; a MIG handle is ``("mig", gpu, uuid)``."""
    mig = dict(mig or {})
    fail = dict(fail or {})
    state = {"energy": [1_000_000] * n_gpus}
    mod = types.ModuleType("pynvml")
    mod.NVMLError = NVMLError
    mod.NVMLError_NotSupported = NVMLError_NotSupported
    mod.NVMLError_GpuIsLost = NVMLError_GpuIsLost
    mod.NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    mod.NVMLError_NotFound = NVMLError_NotFound
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
        if isinstance(h, tuple):
            raise NVMLError_NotSupported()  # a MIG instance has no energy counter of its own
        state["energy"][h] += energy_step_mj
        return state["energy"][h]

    def by_index(i):
        if not 0 <= i < n_gpus:
            raise NVMLError_NotFound()
        return i

    def by_uuid(uuid):
        for i in range(n_gpus):
            if fake_uuid(i) == uuid:
                return i
        if uuid in mig:
            return ("mig", mig[uuid], uuid)
        raise NVMLError_NotFound()

    def parent_of(h):
        if not isinstance(h, tuple):
            raise NVMLError_NotFound()
        return h[1]

    def index_of(h):
        if isinstance(h, tuple):
            raise NVMLError_NotSupported()
        return h

    fns = {
        "nvmlInit": init,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: n_gpus,
        "nvmlDeviceGetHandleByIndex": by_index,
        "nvmlDeviceGetHandleByUUID": by_uuid,
        "nvmlDeviceGetDeviceHandleFromMigDeviceHandle": parent_of,
        "nvmlDeviceGetIndex": index_of,
        "nvmlDeviceGetName": lambda h: names[h] if names else name,
        "nvmlDeviceGetUUID": lambda h: h[2] if isinstance(h, tuple) else fake_uuid(h),
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(used=(h + 1) * 2**30, total=80 * 2**30, free=0),
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=50 + h, memory=10),
        "nvmlDeviceGetPowerUsage": lambda h: 250_000,
        "nvmlDeviceGetTemperature": lambda h, s: 60,
        "nvmlDeviceGetTotalEnergyConsumption": energy,
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [
            types.SimpleNamespace(pid=p, usedGpuMemory=b, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
            for p, b in (procs or {}).items()
        ],
    }
    for fn_name, fn in fns.items():
        setattr(mod, fn_name, fn if fn_name == "nvmlInit" else guard(fn_name, fn))
    mod.state = state
    return mod
