"""The resource sampler: one thread that samples every active run at a fixed rate.

Each tick writes one line per run to RUN_DIR/samples.jsonl (docs/run-directory.md)::

    {"t", "phase", "cpu_percent", "rss_bytes", "gpus": [{"index", "name", "mem_used_bytes",
     "mem_total_bytes", "util_percent", "power_w", "temp_c", "proc_mem_bytes"}]}

- ``cpu_percent`` and ``rss_bytes`` cover the job's whole process tree (psutil; percent of one
  core, so a job on 4 cores can read 400). ``psutil.Process`` objects are kept between ticks so
  ``cpu_percent`` has a baseline; the first tick of a run has ``cpu_percent: null``. The tree's
  membership is refreshed every ``children_every_s`` (listing children scans /proc).
- GPU figures come from NVML through ``xcost_tui.measure.nvml``, whose calls return an ``NA``
  sentinel instead of raising: a figure NVML cannot give is null, never zero. Each device is read
  once per tick, whatever the number of runs. ``proc_mem_bytes`` is the memory NVML attributes to
  the job's pids; null when NVML cannot list processes or its pids are not ours (another pid
  namespace, e.g. a container).
- Without NVML, ``gpus`` is ``[]`` and one note says why.
- Ticks are scheduled from a monotonic clock: the n-th tick is due at start + n/hz, so the rate
  does not drift; a tick that finds itself late skips the missed slots rather than piling up.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil

from ..errors import WriteError
from ..rundir import GpuReading, JsonlWriter, RunDir, Sample


@dataclass(frozen=True)
class SampleTarget:
    run_id: str
    pid: int
    run_dir: Path
    phase: str | None = None
    gpus: tuple[int, ...] | None = None  # NVML indices to report; None: every device


@dataclass
class _ProcState:
    root: psutil.Process
    procs: dict[int, psutil.Process] = field(default_factory=dict)
    writer: JsonlWriter | None = None
    children_at: float = 0.0  # monotonic time of the last tree refresh
    first: bool = True


class _Nvml:
    """The few NVML readings the sampler needs, through xcost_tui.measure.nvml (NA -> None)."""

    def __init__(self, module):
        self.m = module
        self.na = getattr(module, "NA", None)
        n = self._val(module.device_count())
        self.count = int(n) if isinstance(n, (int, float)) else 0
        self.names = [self._val(module.device_name(i)) for i in range(self.count)]

    def _val(self, v: Any) -> Any:
        if v is None or (self.na is not None and v is self.na):
            return None
        return v

    def _read(self, fn: str, i: int) -> Any:
        try:
            return self._val(getattr(self.m, fn)(i))
        except Exception:  # noqa: BLE001 - the boundary should not raise; if it does, the figure is null
            return None

    def _processes(self, i: int) -> dict[int, Any] | None:
        """pid -> GPU bytes (None where the driver does not say) of the compute processes on GPU i."""
        call, handle = getattr(self.m, "call", None), getattr(self.m, "handle", None)
        if call is None or handle is None:
            procs = self._read("process_memory", i)
            return procs if isinstance(procs, dict) else None
        try:
            h = self._val(handle(i))
            listed = None if h is None else self._val(call("nvmlDeviceGetComputeRunningProcesses", h))
            if listed is None:
                return None
            return {int(p.pid): getattr(p, "usedGpuMemory", None) for p in listed}
        except Exception:  # noqa: BLE001 - an odd binding: no figure rather than a crash
            return None

    def read(self, i: int) -> dict[str, Any]:
        mem = self._read("memory_info", i)
        used, total = (mem if isinstance(mem, (tuple, list)) and len(mem) >= 2 else (None, None))
        util = self._read("utilization", i)
        if isinstance(util, (tuple, list)):
            util = util[0] if util else None
        elif isinstance(util, dict):
            util = util.get("gpu")
        elif util is not None and not isinstance(util, (int, float)):
            util = getattr(util, "gpu", None)
        procs = self._processes(i)
        return {"index": i, "name": self.names[i] if i < len(self.names) else None,
                "mem_used_bytes": _num(used), "mem_total_bytes": _num(total), "util_percent": _num(util),
                "power_w": _num(self._read("power_w", i)), "temp_c": _num(self._read("temperature_c", i)),
                "_procs": procs}


def _num(v: Any) -> float | int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _proc_mem(procs: dict[int, Any] | None, pids: set[int]) -> int | None:
    if procs is None:
        return None
    ours = [b for pid, b in procs.items() if pid in pids]
    if ours:
        values = [b for b in ours if isinstance(b, (int, float)) and not isinstance(b, bool)]
        return int(sum(values)) if values else None
    if procs and not any(psutil.pid_exists(pid) for pid in procs):
        return None  # NVML reports pids of another namespace: we cannot tell which are ours
    return 0


class Sampler:
    def __init__(self, targets: Callable[[], list[SampleTarget]], hz: float = 2.0, *,
                 on_note: Callable[[str], None] | None = None, children_every_s: float = 2.0,
                 use_nvml: bool = True):
        if hz <= 0:
            raise ValueError("the sampling rate must be > 0 Hz")
        self.targets = targets
        self.hz = float(hz)
        self.period = 1.0 / self.hz
        self.on_note = on_note
        self.children_every_s = children_every_s
        self.use_nvml = use_nvml
        self.notes: list[str] = []
        self._noted: set[str] = set()
        self.ticks = 0
        self.skipped_ticks = 0
        self.samples_written = 0
        self.cpu_time_s = 0.0  # CPU time of the sampler thread so far (time.thread_time)
        self._states: dict[str, _ProcState] = {}
        self._nvml: _Nvml | None = None
        self._nvml_checked = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="xcost-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_all()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        t_cpu0 = time.thread_time()
        next_due = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as exc:  # noqa: BLE001 - the sampler never takes the supervisor down
                self._note(f"sampler: a tick failed ({type(exc).__name__}: {exc})", once_key=type(exc).__name__)
            self.cpu_time_s = time.thread_time() - t_cpu0
            next_due += self.period
            delay = next_due - time.monotonic()
            if delay < 0:  # late: skip the missed slots instead of firing them back to back
                missed = math.ceil(-delay / self.period)
                self.skipped_ticks += missed
                next_due += missed * self.period
                delay = next_due - time.monotonic()
            if self._stop.wait(max(0.0, delay)):
                break
        self.cpu_time_s = time.thread_time() - t_cpu0

    # ---- one tick -------------------------------------------------------------------------------
    def sample_once(self) -> list[tuple[str, Sample]]:
        """Samples every target once; returns (run_id, sample) pairs (also appended to samples.jsonl)."""
        if not self._nvml_checked:
            self._init_nvml()
        targets = self.targets()
        self.ticks += 1
        out: list[tuple[str, Sample]] = []
        devices: dict[int, dict[str, Any]] = {}
        now_mono = time.monotonic()
        seen = set()
        for tgt in targets:
            seen.add(tgt.run_id)
            state = self._state_for(tgt)
            if state is None:
                continue
            tree = self._read_tree(state, now_mono)
            if tree is None:  # the job is gone; the scheduler will notice
                continue
            cpu, rss, pids = tree
            gpus = []
            if self._nvml is not None:
                indices = tgt.gpus if tgt.gpus is not None else range(self._nvml.count)
                for i in indices:
                    if not 0 <= i < self._nvml.count:
                        continue
                    if i not in devices:
                        devices[i] = self._nvml.read(i)
                    dev = devices[i]
                    gpus.append(GpuReading(index=i, name=dev["name"], mem_used_bytes=dev["mem_used_bytes"],
                                           mem_total_bytes=dev["mem_total_bytes"], util_percent=dev["util_percent"],
                                           power_w=dev["power_w"], temp_c=dev["temp_c"],
                                           proc_mem_bytes=_proc_mem(dev["_procs"], pids)))
            sample = Sample(t=time.time(), phase=tgt.phase, cpu_percent=cpu, rss_bytes=rss, gpus=gpus)
            path = RunDir(tgt.run_dir).samples
            try:
                if state.writer is None:
                    state.writer = JsonlWriter(path)
                state.writer.write(sample.to_dict())
                self.samples_written += 1
            except WriteError as exc:
                self._note(f"sampler: {exc}; sampling of this run stopped", once_key=str(tgt.run_dir))
            out.append((tgt.run_id, sample))
        for run_id in [r for r in self._states if r not in seen]:
            self._drop(run_id)
        return out

    def _state_for(self, tgt: SampleTarget) -> _ProcState | None:
        state = self._states.get(tgt.run_id)
        if state is not None and state.root.pid != tgt.pid:
            self._drop(tgt.run_id)
            state = None
        if state is None:
            try:
                root = psutil.Process(tgt.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
                return None
            state = _ProcState(root=root, procs={root.pid: root})
            self._states[tgt.run_id] = state
        return state

    def _read_tree(self, state: _ProcState, now_mono: float) -> tuple[float | None, int | None, set[int]] | None:
        if now_mono - state.children_at >= self.children_every_s:
            state.children_at = now_mono
            try:
                children = state.root.children(recursive=True)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                return None
            except psutil.AccessDenied:
                children = []
            current = {state.root.pid, *(c.pid for c in children)}
            for c in children:
                state.procs.setdefault(c.pid, c)  # keep old objects: they hold the cpu_percent baseline
            for pid in [p for p in state.procs if p not in current]:
                del state.procs[pid]
        cpu_total, rss_total, pids = 0.0, 0, set()
        got_rss = False
        for pid, proc in list(state.procs.items()):
            try:
                with proc.oneshot():  # one read of /proc/<pid>/stat for status and times
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        raise psutil.ZombieProcess(pid)
                    cpu = proc.cpu_percent(None)
                    rss = proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                if proc is state.root:
                    return None
                del state.procs[pid]
                continue
            except psutil.AccessDenied:
                continue
            pids.add(pid)
            cpu_total += cpu
            rss_total += rss
            got_rss = True
        first, state.first = state.first, False
        return (None if first else round(cpu_total, 2)), (rss_total if got_rss else None), pids

    # ---- NVML ---------------------------------------------------------------------------------
    def _init_nvml(self) -> None:
        self._nvml_checked = True
        if not self.use_nvml:
            self._note("no GPU: NVML sampling turned off")
            return
        try:
            from ..measure import nvml
        except ImportError as exc:
            self._note(f"no GPU: NVML not available (xcost_tui.measure.nvml cannot be imported: {exc})")
            return
        try:
            ok, reason = nvml.nvml_available()
            if not ok:
                from .procs import strip_reason

                self._note(f"no GPU: NVML not available ({strip_reason(reason)})")
                return
            self._nvml = _Nvml(nvml)
        except Exception as exc:  # noqa: BLE001
            self._note(f"no GPU: NVML not available ({type(exc).__name__}: {exc})")
            self._nvml = None

    # ---- bookkeeping ----------------------------------------------------------------------------
    def _drop(self, run_id: str) -> None:
        state = self._states.pop(run_id, None)
        if state is not None and state.writer is not None:
            state.writer.close()

    def _close_all(self) -> None:
        for run_id in list(self._states):
            self._drop(run_id)

    def _note(self, message: str, once_key: str | None = None) -> None:
        key = once_key or message
        if key in self._noted:
            return
        self._noted.add(key)
        self.notes.append(message)
        if self.on_note is not None:
            self.on_note(message)
