"""The resource sampler: one thread that samples every active run at a fixed rate.

Each tick writes one line per run to RUN_DIR/samples.jsonl (docs/run-directory.md)::

    {"t", "phase", "cpu_percent", "rss_bytes", "gpus": [{"index", "name", "mem_used_bytes",
     "mem_total_bytes", "util_percent", "power_w", "temp_c", "proc_mem_bytes"}]}

- ``cpu_percent`` and ``rss_bytes`` cover the job's whole process tree (psutil; percent of one
  core, so a job on 4 cores can read 400). ``psutil.Process`` objects are kept between ticks so
  ``cpu_percent`` has a baseline; the first tick of a run has ``cpu_percent: null``. The tree's
  membership is refreshed every ``children_every_s`` (listing children scans /proc).
- GPU figures come from NVML through ``xcost_tui.measure.nvml``, whose typed readings are a
  value or the ``NA`` sentinel, never an exception: a figure NVML cannot give is null, never
  zero. Each device is read once per tick, whatever the number of runs. ``proc_mem_bytes`` is
  the memory NVML attributes to the job's pids; null when NVML cannot list processes, reports no
  figure for them, or its pids are not ours (another pid namespace, e.g. a container).
- Without NVML, ``gpus`` is ``[]`` and one note says why.
- A target is a ``ProcessRef``: a pid now held by another process than the job is not sampled.
- A write that fails (a full or read-only disk) goes to ``on_write_error`` (the scheduler
  reports it once and stops starting runs); the sampler keeps trying on later ticks.
- Ticks are scheduled from a monotonic clock: the n-th tick is due at start + n/hz, so the rate
  does not drift; a tick that finds itself late skips the missed slots rather than piling up.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

import psutil

from ..errors import WriteError
from ..rundir import GpuReading, JsonlWriter, ProcessRef, RunDir, Sample
from .notes import Note


@dataclass(frozen=True)
class SampleTarget:
    run_id: str
    process: ProcessRef  # the job (a bare pid is identified when the target is made)
    run_dir: Path
    phase: str | None = None
    gpus: tuple[int, ...] | None = None  # NVML indices to report; None: every device

    def __post_init__(self) -> None:
        if isinstance(self.process, int):  # e.g. benchmarks/bench_sampler.py: the process alive now
            object.__setattr__(self, "process", ProcessRef.of(self.process))

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class _ProcState:
    root: psutil.Process
    procs: dict[int, psutil.Process] = field(default_factory=dict)
    writer: JsonlWriter | None = None
    children_at: float = 0.0  # monotonic time of the last tree refresh
    first: bool = True


@dataclass(frozen=True)
class _Device:
    """One GPU read once in a tick (NA already turned into None)."""

    index: int
    name: str | None
    uuid: str | None
    mem_used_bytes: int | None
    mem_total_bytes: int | None
    util_percent: float | None
    power_w: float | None
    temp_c: float | None
    procs: list[tuple[int, int | None]] | None  # (pid, bytes or None: not reported); None: not listed

    def reading(self, pids: set[int]) -> GpuReading:
        return GpuReading(index=self.index, name=self.name, uuid=self.uuid, mem_used_bytes=self.mem_used_bytes,
                          mem_total_bytes=self.mem_total_bytes, util_percent=self.util_percent,
                          power_w=self.power_w, temp_c=self.temp_c, proc_mem_bytes=_proc_mem(self.procs, pids))


class _Nvml:
    """The readings the sampler needs, from ``xcost_tui.measure.nvml`` (typed readings or NA)."""

    def __init__(self, nvml: ModuleType):
        self.nvml = nvml
        self.count = nvml.device_count()
        self.names = [nvml.value(nvml.device_name(i)) for i in range(self.count)]
        self.uuids = [nvml.value(nvml.device_uuid(i)) for i in range(self.count)]

    def read(self, i: int) -> _Device:
        m = self.nvml
        mem = m.memory_info(i)
        listed = m.processes(i)
        procs = None if listed is m.NA else [(p.pid, m.value(p.used_bytes)) for p in listed]
        return _Device(index=i, name=self.names[i], uuid=self.uuids[i],
                       mem_used_bytes=None if mem is m.NA else mem.used,
                       mem_total_bytes=None if mem is m.NA else mem.total,
                       util_percent=m.value(m.utilization(i)), power_w=m.value(m.power_w(i)),
                       temp_c=m.value(m.temperature_c(i)), procs=procs)


def _proc_mem(procs: list[tuple[int, int | None]] | None, pids: set[int]) -> int | None:
    if procs is None:
        return None
    ours = [used for pid, used in procs if pid in pids]
    if ours:
        values = [b for b in ours if b is not None]
        return sum(values) if values else None
    if procs and not any(psutil.pid_exists(pid) for pid, _ in procs):
        return None  # NVML reports pids of another namespace: we cannot tell which are ours
    return 0


class Sampler:
    def __init__(self, targets: Callable[[], list[SampleTarget]], hz: float = 2.0, *,
                 on_note: Callable[[Note], None] | None = None, children_every_s: float = 2.0,
                 use_nvml: bool = True, on_write_error: Callable[[WriteError], None] | None = None):
        if hz <= 0:
            raise ValueError("the sampling rate must be > 0 Hz")
        self.targets = targets
        self.hz = float(hz)
        self.period = 1.0 / self.hz
        self.on_note = on_note
        self.children_every_s = children_every_s
        self.use_nvml = use_nvml
        self.on_write_error = on_write_error
        self.notes: list[Note] = []
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
                self._note(f"sampler: a tick failed ({type(exc).__name__}: {exc})", once_key=type(exc).__name__,
                           warning=True)
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
        devices: dict[int, _Device] = {}
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
                    gpus.append(devices[i].reading(pids))
            sample = Sample(t=time.time(), phase=tgt.phase, cpu_percent=cpu, rss_bytes=rss, gpus=gpus)
            path = RunDir(tgt.run_dir).samples
            try:
                if state.writer is None:
                    state.writer = JsonlWriter(path)
                state.writer.write(sample.to_dict())
                self.samples_written += 1
            except WriteError as exc:
                if self.on_write_error is not None:
                    self.on_write_error(exc)
                else:
                    self._note(f"sampler: {exc}; no samples of this run until it can be written",
                               once_key=str(tgt.run_dir), warning=True)
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
            ref = tgt.process
            try:
                root = psutil.Process(ref.pid)
                if ref.create_time is not None and abs(root.create_time() - ref.create_time) > 1.0:
                    return None  # the pid belongs to another process now: not the job
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

    def _note(self, message: str, once_key: str | None = None, *, warning: bool = False) -> None:
        key = once_key or message
        if key in self._noted:
            return
        self._noted.add(key)
        note = Note.warning(message) if warning else Note.info(message)
        self.notes.append(note)
        if self.on_note is not None:
            self.on_note(note)
