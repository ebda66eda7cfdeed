"""The one boundary to NVML (the nvidia-ml-py distribution, module ``pynvml``).

Every call goes through ``call``, which returns the ``NA`` sentinel instead of raising
(nvitop's pattern): a missing library, no GPU, an unsupported query or a lost GPU never
crashes a caller. Each reading has one type, or ``NA``: ``device_name``/``device_uuid`` -> str,
``memory_info`` -> ``MemoryInfo(used, total)``, ``utilization``/``power_w``/``temperature_c`` ->
float, ``total_energy_mj`` -> int, ``processes`` -> [``ProcessMemory(pid, used_bytes)``], where
``used_bytes`` is itself ``NA`` when the driver does not say. Callers never probe shapes.
Tests swap the library with ``monkeypatch.setitem(sys.modules, "pynvml", fake)``.
No torch here: the supervisor's sampler uses this module.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any, Callable, NamedTuple, TypeVar, Union

log = logging.getLogger(__name__)


class NaType:
    """Not available: falsy, prints as N/A, and JSON writers turn it into null via ``value()``."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "N/A"


NA = NaType()

T = TypeVar("T")
Maybe = Union[T, NaType]  # a reading, or NA


class MemoryInfo(NamedTuple):
    """Device memory in bytes: every process's and the driver's share."""

    used: int
    total: int


class ProcessMemory(NamedTuple):
    """One compute process on a GPU; ``used_bytes`` is NA where the driver does not report it
    (some MIG, vGPU and WSL set-ups)."""

    pid: int
    used_bytes: int | NaType


_lock = threading.Lock()
_state: dict = {"init": None, "reason": None, "module": None, "warned": set()}


def _pynvml():
    mod = sys.modules.get("pynvml")
    if mod is None:
        mod = importlib.import_module("pynvml")
    return mod


def reset() -> None:
    """Forget the initialisation (shutting NVML down if it was up), so the next call starts over."""
    with _lock:
        mod = _state["module"] if _state["init"] else None
        _state.update(init=None, reason=None, module=None, warned=set())
    if mod is not None:
        try:
            mod.nvmlShutdown()
        except Exception:  # noqa: BLE001 - nothing to do about a failed shutdown
            pass


def nvml_available() -> tuple[bool, str | None]:
    """(True, None) once nvmlInit succeeded; (False, reason) otherwise. Initialises once."""
    with _lock:
        if "pynvml" not in sys.modules and _state["init"] is False and _state["module"] is None:
            return False, _state["reason"]  # the import failed before: do not search sys.path again
        try:
            mod = _pynvml()
        except Exception as exc:  # ImportError, or a binding that fails while importing
            _state.update(init=False, reason=f"nvidia-ml-py is not installed ({_describe(exc)})", module=None)
            return False, _state["reason"]
        if _state["init"] is not None and _state["module"] is mod:
            return _state["init"], _state["reason"]
        try:
            mod.nvmlInit()
            _state.update(init=True, reason=None, module=mod)
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            _state.update(init=False, reason=f"NVML not available: {_describe(exc)}", module=mod)
        return _state["init"], _state["reason"]


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call(fn_name: str, *args):
    """pynvml.<fn_name>(*args), or NA on any NVML error (NotSupported, GpuIsLost, NoPermission,
    ...), on a function this binding lacks, or when NVML is not available at all."""
    ok, _ = nvml_available()
    if not ok:
        return NA
    mod = _state["module"]
    fn = getattr(mod, fn_name, None)
    if fn is None:
        return NA
    try:
        return fn(*args)
    except Exception as exc:  # pynvml.NVMLError_*, and a broken binding must not crash a panel either
        key = (fn_name, type(exc).__name__)
        if key not in _state["warned"]:  # once per function and error, not once per sample
            _state["warned"].add(key)
            log.debug("NVML %s failed: %s", fn_name, _describe(exc))
        return NA


def value(x: Maybe[T]) -> T | None:
    """NA -> None, for JSON."""
    return None if x is NA else x  # type: ignore[return-value]


def _convert(raw: Any, fn: Callable[[Any], T]) -> Maybe[T]:
    """fn(raw), or NA when raw is NA or has an unexpected shape (an odd binding version)."""
    if raw is NA:
        return NA
    try:
        return fn(raw)
    except (AttributeError, TypeError, ValueError) as exc:
        log.debug("NVML returned an unexpected value %r: %s", raw, _describe(exc))
        return NA


def device_count() -> int:
    """GPUs NVML sees (all of the machine's, whatever CUDA_VISIBLE_DEVICES says); 0 without NVML."""
    n = _convert(call("nvmlDeviceGetCount"), int)
    return 0 if isinstance(n, NaType) else n


def handle(i: int) -> Any:
    """The device handle of GPU i, or NA."""
    return call("nvmlDeviceGetHandleByIndex", i)


def _on(i: int, fn_name: str, *args: Any) -> Any:
    h = handle(i)
    return NA if h is NA else call(fn_name, h, *args)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)  # older bindings return bytes


def device_name(i: int) -> Maybe[str]:
    """e.g. "NVIDIA H100 80GB HBM3"."""
    return _convert(_on(i, "nvmlDeviceGetName"), _text)


def device_uuid(i: int) -> Maybe[str]:
    """e.g. "GPU-5a8c...": the one name of a GPU that survives renumbering and reboots."""
    return _convert(_on(i, "nvmlDeviceGetUUID"), _text)


def memory_info(i: int) -> Maybe[MemoryInfo]:
    """Used and total bytes of the whole device, every process and the driver's share."""
    return _convert(_on(i, "nvmlDeviceGetMemoryInfo"), lambda m: MemoryInfo(int(m.used), int(m.total)))


def utilization(i: int) -> Maybe[float]:
    """Percent of the last sample period in which a kernel ran (not how busy the SMs were)."""
    return _convert(_on(i, "nvmlDeviceGetUtilizationRates"), lambda u: float(u.gpu))


def power_w(i: int) -> Maybe[float]:
    return _convert(_on(i, "nvmlDeviceGetPowerUsage"), lambda mw: mw / 1000.0)


def temperature_c(i: int) -> Maybe[float]:
    h = handle(i)  # initialises NVML first, so the sensor constant comes from the loaded binding
    if h is NA:
        return NA
    sensor = getattr(_state["module"], "NVML_TEMPERATURE_GPU", 0)
    return _convert(call("nvmlDeviceGetTemperature", h, sensor), float)


def total_energy_mj(i: int) -> Maybe[int]:
    """Millijoules since the driver loaded (Volta and newer); NA where unsupported."""
    return _convert(_on(i, "nvmlDeviceGetTotalEnergyConsumption"), int)


def processes(i: int) -> Maybe[list[ProcessMemory]]:
    """The compute processes on GPU i (pynvml gives ``usedGpuMemory`` None where the driver
    does not report a process's usage: that is NA here); NA when NVML cannot list them."""
    def table(procs: Any) -> list[ProcessMemory]:
        return [ProcessMemory(int(p.pid), NA if p.usedGpuMemory is None else int(p.usedGpuMemory)) for p in procs]

    return _convert(_on(i, "nvmlDeviceGetComputeRunningProcesses"), table)


def process_memory(i: int) -> Maybe[dict[int, int]]:
    """{pid: GPU bytes} of the compute processes on GPU i whose usage the driver reports."""
    listed = processes(i)
    if isinstance(listed, NaType):
        return NA
    return {p.pid: p.used_bytes for p in listed if not isinstance(p.used_bytes, NaType)}
