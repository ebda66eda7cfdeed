"""The one boundary to NVML (the nvidia-ml-py distribution, module ``pynvml``).

Every call goes through ``call``, which returns the ``NA`` sentinel instead of raising
(nvitop's pattern): a missing library, no GPU, an unsupported query or a lost GPU never
crashes a caller. Tests swap the library with ``monkeypatch.setitem(sys.modules, "pynvml", fake)``.
No torch here: the supervisor's sampler uses this module.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

log = logging.getLogger(__name__)


class _NA:
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


NA = _NA()
_lock = threading.Lock()
_state: dict = {"init": None, "reason": None, "module": None, "warned": set()}


def _pynvml():
    mod = sys.modules.get("pynvml")
    if mod is None:
        mod = importlib.import_module("pynvml")
    return mod


def reset() -> None:
    with _lock:
        _state.update(init=None, reason=None, module=None, warned=set())


def nvml_available() -> tuple[bool, str | None]:
    """(True, None) once nvmlInit succeeded; (False, reason) otherwise. Initialises once."""
    with _lock:
        try:
            mod = _pynvml()
        except ImportError as exc:
            _state.update(init=False, reason=f"nvidia-ml-py is not installed ({exc})", module=None)
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
    """pynvml.<fn_name>(*args), or NA on any NVML error."""
    ok, _ = nvml_available()
    if not ok:
        return NA
    mod = _state["module"]
    fn = getattr(mod, fn_name, None)
    if fn is None:
        return NA
    error_cls = getattr(mod, "NVMLError", Exception)
    try:
        return fn(*args)
    except error_cls as exc:
        key = (fn_name, type(exc).__name__)
        if key not in _state["warned"]:
            _state["warned"].add(key)
            log.debug("NVML %s failed: %s", fn_name, _describe(exc))
        return NA
    except Exception as exc:  # a broken binding must not crash a panel either
        log.debug("NVML %s raised %s", fn_name, _describe(exc))
        return NA


def value(x):
    """NA -> None, for JSON."""
    return None if x is NA else x


def device_count() -> int:
    n = call("nvmlDeviceGetCount")
    return int(n) if n is not NA else 0


def handle(i: int):
    return call("nvmlDeviceGetHandleByIndex", i)


def _on(i: int, fn_name: str):
    h = handle(i)
    return NA if h is NA else call(fn_name, h)


def device_name(i: int):
    name = _on(i, "nvmlDeviceGetName")
    return name.decode() if isinstance(name, bytes) else name


def memory_info(i: int):
    info = _on(i, "nvmlDeviceGetMemoryInfo")
    return NA if info is NA else (int(info.used), int(info.total))


def utilization(i: int):
    u = _on(i, "nvmlDeviceGetUtilizationRates")
    return NA if u is NA else float(u.gpu)


def power_w(i: int):
    mw = _on(i, "nvmlDeviceGetPowerUsage")
    return NA if mw is NA else mw / 1000.0


def temperature_c(i: int):
    h = handle(i)
    if h is NA:
        return NA
    sensor = getattr(_state["module"], "NVML_TEMPERATURE_GPU", 0)
    t = call("nvmlDeviceGetTemperature", h, sensor)
    return NA if t is NA else float(t)


def total_energy_mj(i: int):
    """Millijoules since the driver loaded (Volta and newer); NA where unsupported."""
    e = _on(i, "nvmlDeviceGetTotalEnergyConsumption")
    return NA if e is NA else int(e)


def process_memory(i: int) -> dict[int, int] | _NA:
    procs = _on(i, "nvmlDeviceGetComputeRunningProcesses")
    if procs is NA:
        return NA
    out: dict[int, int] = {}
    for p in procs:
        used = getattr(p, "usedGpuMemory", None)
        if used is not None:  # None: the driver does not report it (e.g. some MIG/WSL setups)
            out[int(p.pid)] = int(used)
    return out
