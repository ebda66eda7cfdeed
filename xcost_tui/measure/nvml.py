"""The one boundary to NVML (the nvidia-ml-py distribution, module ``pynvml``).

Every call goes through ``call``, which returns the ``NA`` sentinel instead of raising
(nvitop's pattern): a missing library, no GPU, an unsupported query or a lost GPU never
crashes a caller. Each reading has one type, or ``NA``: ``device_name``/``device_uuid`` -> str,
``memory_info`` -> ``MemoryInfo(used, total)``, ``utilization``/``power_w``/``temperature_c`` ->
float, ``total_energy_mj`` -> int, ``processes`` -> [``ProcessMemory(pid, used_bytes)``], where
``used_bytes`` is itself ``NA`` when the driver does not say. Callers never probe shapes.
Tests swap the library with ``monkeypatch.setitem(sys.modules, "pynvml", fake)``.
``map_cuda_device`` says which NVML device a CUDA device is (CUDA_VISIBLE_DEVICES with ordinals,
GPU-/MIG- UUIDs, CUDA_DEVICE_ORDER), by UUID wherever one is known.
No torch here: the supervisor's sampler uses this module.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias, TypeVar

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
Maybe: TypeAlias = T | NaType  # a reading, or NA


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


# ---- which NVML device a CUDA device is ----------------------------------------------------------

MIG_ENERGY = (
    "a MIG instance: NVML's energy counter belongs to the whole GPU, every instance on it "
    "included, so this run's share cannot be told apart"
)
_OLD_MIG = re.compile(r"^MIG-(GPU-[^/]+)/(\d+)/(\d+)$")  # before driver R470: MIG-GPU-<uuid>/<gi>/<ci>


class GpuMapping(NamedTuple):
    """One CUDA device as NVML knows it. ``index``: the NVML index of the physical GPU (for a MIG
    instance, the GPU it is carved from); ``uuid``: the device's own NVML UUID (``GPU-…`` or
    ``MIG-…``); ``how``: how it was found. ``index`` is None when the device cannot be found, and
    then ``reason`` says why; for a MIG instance ``reason`` says why its energy is not its own."""

    index: int | None  # type: ignore[assignment]  # the field shadows tuple.index, as the callers expect
    uuid: str | None = None
    mig: bool = False
    reason: str | None = None
    how: str = ""


def _strtoul(text: str) -> int:
    """The leading decimal digits of ``text`` as CUDA's strtoul reads them ("1gpu" -> 1); -1 for none."""
    digits = re.match(r"^\+?(\d+)", text)
    return int(digits.group(1)) if digits else -1


def parse_visible_devices(value: str | None) -> list[int] | list[str] | None:
    """CUDA_VISIBLE_DEVICES as CUDA reads it: None when unset (every GPU is visible); else the
    ordinals (numbers in CUDA_DEVICE_ORDER's order) or the UUIDs (``GPU-…``, a unique prefix allowed,
    or ``MIG-…``), in the order CUDA numbers them. The first entry decides which kind; the list ends
    at the first entry that is not of that kind (or not a number); a repeated entry leaves no device
    visible (the rules of CUDA, as torch.cuda._parse_visible_devices implements them)."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    first = parts[0] if parts else ""
    for prefix in ("GPU-", "MIG-"):
        if first.upper().startswith(prefix):
            uuids: list[str] = []
            for p in parts:
                if not p.upper().startswith(prefix):
                    break
                if p in uuids:
                    return []
                uuids.append(p)
            return uuids
    ordinals: list[int] = []
    for p in parts:
        n = _strtoul(p)
        if n < 0:
            break
        if n in ordinals:
            return []
        ordinals.append(n)
    return ordinals


def _uuids() -> list[str | None]:
    return [value(device_uuid(i)) for i in range(device_count())]


def _find_gpu_uuid(uuid: str) -> GpuMapping | None:
    """The physical GPU whose NVML UUID is ``uuid`` or starts with it (CUDA accepts a unique prefix)."""
    want = uuid.strip().lower()
    known = _uuids()
    hits = [i for i, u in enumerate(known) if u and u.lower().startswith(want)]
    if len(hits) > 1:
        return GpuMapping(None, None, False, f"GPU UUID prefix {uuid!r} matches {len(hits)} GPUs", "uuid")
    if not hits:
        return None
    return GpuMapping(hits[0], known[hits[0]], False, None, "uuid")


def _find_mig_uuid(uuid: str) -> GpuMapping | None:
    """A MIG instance (``MIG-<uuid>``, or ``MIG-GPU-<uuid>/<gi>/<ci>`` of drivers before R470) and
    the NVML index of its GPU."""
    old = _OLD_MIG.match(uuid.strip())
    if old:
        parent = _find_gpu_uuid(old.group(1))
        if parent is None or parent.index is None:
            return parent
        return GpuMapping(parent.index, uuid.strip(), True, MIG_ENERGY, "uuid")
    h = call("nvmlDeviceGetHandleByUUID", uuid.strip())
    if h is NA:
        return None
    parent = call("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", h)
    index = NA if parent is NA else _convert(call("nvmlDeviceGetIndex", parent), int)
    if isinstance(index, NaType):
        return GpuMapping(
            None, uuid.strip(), True, f"NVML does not say which GPU the MIG instance {uuid} is on", "uuid"
        )
    return GpuMapping(index, uuid.strip(), True, MIG_ENERGY, "uuid")


def find_uuid(uuid: str) -> GpuMapping | None:
    """The NVML device of a UUID: ``GPU-…`` (or a unique prefix), ``MIG-…``, or a bare UUID as torch
    prints a device's (tried as a GPU's, then as a MIG instance's). None when NVML has no such device."""
    text = uuid.strip()
    upper = text.upper()
    if upper.startswith("MIG-"):
        return _find_mig_uuid(text)
    if upper.startswith("GPU-"):
        return _find_gpu_uuid(text)
    if not text:
        return None
    return _find_gpu_uuid("GPU-" + text) or _find_mig_uuid("MIG-" + text)


_FROM_ENV = object()


def map_cuda_device(
    torch_index: int, *, torch_uuid: str | None = None, visible: Any = _FROM_ENV, order: Any = _FROM_ENV
) -> GpuMapping:
    """Which NVML device CUDA device ``torch_index`` (torch's numbering) is.

    By UUID first: ``torch_uuid`` (torch's ``get_device_properties(i).uuid``) names the device
    exactly, whatever the numbering (but a ``MIG-…`` entry of CUDA_VISIBLE_DEVICES names a MIG
    instance itself, so it is looked up as such). Else from ``visible`` (CUDA_VISIBLE_DEVICES) and ``order``
    (CUDA_DEVICE_ORDER; both read from the environment unless given): a UUID entry is looked up in
    NVML; an ordinal is CUDA's number in CUDA_DEVICE_ORDER's order, which is NVML's only under
    ``PCI_BUS_ID`` (CUDA's default, ``FASTEST_FIRST``, may put a faster GPU first) or on a machine
    with one GPU. Anything else: ``index`` None with the reason, so a figure read from NVML is NULL
    rather than another GPU's."""
    ok, why = nvml_available()
    if not ok:
        return GpuMapping(None, None, False, why or "NVML not available")
    if visible is _FROM_ENV:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if order is _FROM_ENV:
        order = os.environ.get("CUDA_DEVICE_ORDER")
    entries = parse_visible_devices(visible)
    where = f"CUDA_VISIBLE_DEVICES={visible}"
    entry: int | str | None = None
    if entries is not None and 0 <= torch_index < len(entries):
        entry = entries[torch_index]
    mig_entry = isinstance(entry, str) and entry.upper().startswith("MIG-")
    if torch_uuid and not mig_entry:  # a MIG instance is named by its entry (whatever UUID torch reports for it)
        found = find_uuid(str(torch_uuid))
        if found is not None:
            return found
    if entries is None:
        entry = torch_index
    elif entry is None:
        return GpuMapping(None, None, False, f"cuda:{torch_index} is not among the GPUs {where} makes visible")
    if isinstance(entry, str):
        found = find_uuid(entry)
        return (
            found
            if found is not None
            else GpuMapping(None, None, entry.upper().startswith("MIG-"), f"NVML knows no device {entry!r} ({where})")
        )
    n = device_count()
    if not 0 <= entry < n:
        return GpuMapping(
            None,
            None,
            False,
            f"CUDA ordinal {entry} but NVML sees {n} GPU(s)" + (f" ({where})" if visible is not None else ""),
        )
    pci_order = str(order or "").strip().upper() == "PCI_BUS_ID"
    if not pci_order and n > 1:
        return GpuMapping(
            None,
            None,
            False,
            f"CUDA ordinal {entry} among {n} GPUs: CUDA numbers them fastest first (CUDA_DEVICE_ORDER "
            f"{'is ' + repr(order) if order else 'unset'}), NVML by PCI bus, so which one it is cannot be "
            f"told; set CUDA_DEVICE_ORDER=PCI_BUS_ID or name the GPU by UUID in CUDA_VISIBLE_DEVICES",
        )
    return GpuMapping(entry, value(device_uuid(entry)), False, None, "pci_bus_id order" if pci_order else "only GPU")


def map_torch_device(torch_index: int, cuda: Any) -> GpuMapping:
    """The NVML device of CUDA device ``torch_index`` by the UUID torch reports for it
    (``cuda`` is ``torch.cuda``, or a stand-in in tests), else from CUDA_VISIBLE_DEVICES and
    CUDA_DEVICE_ORDER (``map_cuda_device``); energy is NULL with the reason when it cannot be found
    or is a MIG instance (whose counter is the GPU's). The job and a user's measured script
    (xcost_tui/track) both find their GPU this way."""
    try:
        uuid = str(cuda.get_device_properties(torch_index).uuid)
    except Exception:  # noqa: BLE001 - an old torch or odd build: the environment decides
        uuid = None
    return map_cuda_device(torch_index, torch_uuid=uuid)
