"""The resource sampler: beside the job, a small torch-free process that samples it at a fixed rate.

The job starts it (``spawn_beside``) as ``python -m xcost_tui.measure.beside RUN_DIR --pid PID``
on whatever node the job runs (a workstation, a SLURM compute node): it follows the job's pid and
the GPUs the job was given (``CUDA_VISIBLE_DEVICES``, mapped to NVML devices by UUID), and
appends to RUN_DIR/samples.jsonl. The supervisor only reads that file. Local and SLURM runs
sample the same way. ``Sampler`` itself is the sampling loop (a thread; several targets may
share it, as benchmarks/bench_sampler.py does).

Each tick writes one line per target to RUN_DIR/samples.jsonl (docs/run-directory.md)::

    {"t", "phase", "cpu_percent", "rss_bytes", "gpus": [{"index", "name", "uuid", "mem_used_bytes",
     "mem_total_bytes", "util_percent", "power_w", "temp_c", "proc_mem_bytes", "other_pids",
     "other_mem_bytes"}], "other_cpu_percent", "cpus"}

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
- Contention (measure/contention.py): ``other_cpu_percent`` is the CPU time other processes used
  on the CPUs the job may run on since the previous tick (busy time of those CPUs minus the job
  tree's own), in percent of one core; ``cpus`` how many CPUs those are; per GPU, ``other_pids``
  are the processes NVML lists there that are not the job's. The sampler process counts as the
  job's own (it is the job's child) but is left out of ``cpu_percent`` and ``rss_bytes``.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import psutil

from ..errors import WriteError
from ..rundir import GpuReading, JsonlReader, JsonlWriter, ProcessRef, RunDir, RunFold, Sample, parse_event
from . import nvml
from .contention import busy_seconds, job_cpus

HZ_ENV = "XCOST_SAMPLE_HZ"  # the rate the runner asks for (the job passes it on)
NVML_ENV = "XCOST_SAMPLER_NVML"  # "0": no NVML (Scheduler(use_nvml=False))


@dataclass(frozen=True)
class SamplerNote:
    """What the sampler says once (no GPU and why, a write that failed): a line of the job's log."""

    text: str
    warning: bool = False

    def __str__(self) -> str:
        return f"warning: {self.text}" if self.warning else self.text


def strip_reason(reason: object) -> str:
    """NVML's reason without a leading "NVML not available" (our messages say that already)."""
    text = str(reason or "unknown reason")
    for prefix in ("NVML not available: ", "NVML not available"):
        if text.startswith(prefix):
            return text[len(prefix) :] or "unknown reason"
    return text


@dataclass(frozen=True)
class SampleTarget:
    run_id: str
    process: ProcessRef  # the job (a bare pid is identified when the target is made)
    run_dir: Path
    phase: str | None = None
    gpus: tuple[int, ...] | None = None  # NVML indices to report; None: every device
    gpu_uuids: tuple[str, ...] | None = None  # or the devices by UUID (the job's CUDA_VISIBLE_DEVICES)

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
    cpus: list[int] = field(default_factory=job_cpus)
    last: tuple[float, float, float] | None = None  # (monotonic t, busy s of the job's CPUs, the tree's own CPU s)


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
        others = _others(self.procs, pids)
        return GpuReading(
            index=self.index,
            name=self.name,
            uuid=self.uuid,
            mem_used_bytes=self.mem_used_bytes,
            mem_total_bytes=self.mem_total_bytes,
            util_percent=self.util_percent,
            power_w=self.power_w,
            temp_c=self.temp_c,
            proc_mem_bytes=_proc_mem(self.procs, pids),
            other_pids=None if others is None else [p for p, _ in others],
            other_mem_bytes=None if others is None else _sum_known([b for _, b in others]),
        )


class _Nvml:
    """The readings the sampler needs, from ``xcost_tui.measure.nvml`` (typed readings or NA)."""

    def __init__(self, nvml: ModuleType):
        self.nvml = nvml
        self.count = nvml.device_count()
        self.names = [nvml.value(nvml.device_name(i)) for i in range(self.count)]
        self.uuids = [nvml.value(nvml.device_uuid(i)) for i in range(self.count)]

    def indices(self, tgt: SampleTarget) -> Sequence[int]:
        """The NVML devices of a target: by UUID when it names them (a UUID may be given by its
        prefix, as CUDA_VISIBLE_DEVICES allows), else by index, else every device."""
        if tgt.gpu_uuids is not None:
            out: list[int] = []
            for want in tgt.gpu_uuids:
                match = [i for i, u in enumerate(self.uuids) if u and (u == want or u.startswith(want))]
                out.extend(i for i in match[:1] if i not in out)
            return out
        return tgt.gpus if tgt.gpus is not None else range(self.count)

    def read(self, i: int) -> _Device:
        m = self.nvml
        mem = m.memory_info(i)
        listed = m.processes(i)
        procs = None if listed is m.NA else [(p.pid, m.value(p.used_bytes)) for p in listed]
        return _Device(
            index=i,
            name=self.names[i],
            uuid=self.uuids[i],
            mem_used_bytes=None if mem is m.NA else mem.used,
            mem_total_bytes=None if mem is m.NA else mem.total,
            util_percent=m.value(m.utilization(i)),
            power_w=m.value(m.power_w(i)),
            temp_c=m.value(m.temperature_c(i)),
            procs=procs,
        )


def _sum_known(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known or not values else None


def _others(procs: list[tuple[int, int | None]] | None, pids: set[int]) -> list[tuple[int, int | None]] | None:
    """The processes on a GPU that are not the job's; None when NVML could not list them or its
    pids are of another pid namespace (ours cannot be told from others)."""
    if procs is None:
        return None
    if procs and not any(pid in pids for pid, _ in procs) and not any(psutil.pid_exists(pid) for pid, _ in procs):
        return None
    return [(pid, used) for pid, used in procs if pid not in pids]


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
    def __init__(
        self,
        targets: Callable[[], list[SampleTarget]],
        hz: float = 2.0,
        *,
        on_note: Callable[[SamplerNote], None] | None = None,
        children_every_s: float = 2.0,
        use_nvml: bool = True,
        on_write_error: Callable[[WriteError], None] | None = None,
    ):
        if hz <= 0:
            raise ValueError("the sampling rate must be > 0 Hz")
        self.targets = targets
        self.hz = float(hz)
        self.period = 1.0 / self.hz
        self.on_note = on_note
        self.children_every_s = children_every_s
        self.use_nvml = use_nvml
        self.on_write_error = on_write_error
        self.notes: list[SamplerNote] = []
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
                self._note(
                    f"sampler: a tick failed ({type(exc).__name__}: {exc})", once_key=type(exc).__name__, warning=True
                )
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
            cpu, rss, pids, own_s = tree
            other_cpu = self._other_cpu(state, own_s, now_mono)
            gpus = []
            if self._nvml is not None:
                indices = self._nvml.indices(tgt)
                for i in indices:
                    if not 0 <= i < self._nvml.count:
                        continue
                    if i not in devices:
                        devices[i] = self._nvml.read(i)
                    gpus.append(devices[i].reading(pids))
            sample = Sample(
                t=time.time(),
                phase=tgt.phase,
                cpu_percent=cpu,
                rss_bytes=rss,
                gpus=gpus,
                other_cpu_percent=other_cpu,
                cpus=len(state.cpus),
            )
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
                    self._note(
                        f"sampler: {exc}; no samples of this run until it can be written",
                        once_key=str(tgt.run_dir),
                        warning=True,
                    )
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

    def _other_cpu(self, state: _ProcState, own_s: float, now_mono: float) -> float | None:
        """Other processes' CPU on the job's CPUs since the last tick, in percent of one core."""
        try:
            busy = busy_seconds(state.cpus)
        except Exception:  # noqa: BLE001 - evidence only
            return None
        last, state.last = state.last, (now_mono, busy, own_s)
        if last is None or now_mono <= last[0]:
            return None
        other = max(0.0, (busy - last[1]) - (own_s - last[2]))
        return round(100.0 * other / (now_mono - last[0]), 2)

    def _read_tree(self, state: _ProcState, now_mono: float) -> tuple[float | None, int | None, set[int], float] | None:
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
        cpu_total, rss_total, own_s, pids = 0.0, 0, 0.0, set()
        got_rss = False
        me = os.getpid()
        for pid, proc in list(state.procs.items()):
            try:
                with proc.oneshot():  # one read of /proc/<pid>/stat for status and times
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        raise psutil.ZombieProcess(pid)
                    cpu = proc.cpu_percent(None)
                    rss = proc.memory_info().rss
                    t = proc.cpu_times()
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                if proc is state.root:
                    return None
                del state.procs[pid]
                continue
            except psutil.AccessDenied:
                continue
            pids.add(pid)
            own_s += t.user + t.system
            if proc is state.root:  # the children it reaped stay its own
                own_s += getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
            if pid == me:  # the sampler beside the job: the job's own work, but not what it reports
                continue
            cpu_total += cpu
            rss_total += rss
            got_rss = True
        first, state.first = state.first, False
        return (None if first else round(cpu_total, 2)), (rss_total if got_rss else None), pids, own_s

    # ---- NVML ---------------------------------------------------------------------------------
    def _init_nvml(self) -> None:
        self._nvml_checked = True
        if not self.use_nvml:
            self._note("no GPU: NVML sampling turned off")
            return
        try:
            ok, reason = nvml.nvml_available()
            if not ok:
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
        note = SamplerNote(message, warning)
        self.notes.append(note)
        if self.on_note is not None:
            self.on_note(note)


# ==== beside the job: the sampler process ==========================================================


def visible_gpus(env: dict[str, str] | None = None) -> tuple[tuple[int, ...] | None, tuple[str, ...] | None]:
    """The job's GPUs from its CUDA_VISIBLE_DEVICES: (NVML indices, UUIDs); (None, None) means
    every device (the variable is unset), ((), None) none ("" or -1).

    UUIDs (``GPU-…``, ``MIG-…``) name devices exactly. Indices are NVML's (PCI bus order), which
    is CUDA's when CUDA_DEVICE_ORDER=PCI_BUS_ID (the runner sets it) or when SLURM's device
    cgroup shows the job only its own GPUs (then both number them from 0)."""
    source: Mapping[str, str] = os.environ if env is None else env
    raw = source.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return None, None
    items = [x.strip() for x in raw.split(",") if x.strip()]
    out_idx: list[int] = []
    out_uuid: list[str] = []
    for x in items:
        if x.lstrip("-").isdigit():
            if int(x) < 0:  # CUDA stops at the first invalid entry
                break
            out_idx.append(int(x))
        else:
            out_uuid.append(x)
    if out_uuid:
        return None, tuple(out_uuid)
    return tuple(out_idx), None


class _Follow:
    """The job's live phase, from the tail of events.jsonl (the fold the live view uses)."""

    def __init__(self, run_dir: Path):
        self.reader = JsonlReader(RunDir(run_dir).events)
        self.fold = RunFold()

    def phase(self) -> str | None:
        try:
            for obj in self.reader.read_all():
                event = parse_event(obj)
                if event is not None:
                    self.fold.apply(event)
        except OSError:
            pass
        return self.fold.state.latest_phase


def main(argv: list[str] | None = None) -> int:
    """``python -m xcost_tui.measure.beside RUN_DIR --pid PID [--hz HZ]``: samples the job until
    it is gone (or SIGTERM), into RUN_DIR/samples.jsonl. Its notes go to stderr (the job's log)."""
    ap = argparse.ArgumentParser(prog="python -m xcost_tui.measure.beside")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--pid", type=int, default=None, help="the job (default: the parent process)")
    ap.add_argument("--hz", type=float, default=None, help=f"samples per second (default ${HZ_ENV}, else 2)")
    args = ap.parse_args(argv)
    pid = args.pid or os.getppid()
    try:
        hz = args.hz or float(os.environ.get(HZ_ENV) or 2.0)
    except ValueError:
        hz = 2.0
    try:
        job = ProcessRef.of(pid)
        root = psutil.Process(pid)
    except (psutil.Error, ValueError):
        return 0  # the job is already gone
    indices, uuids = visible_gpus()
    follow = _Follow(args.run_dir)
    target = [SampleTarget(args.run_dir.name, job, args.run_dir, None, indices, uuids)]
    stop = threading.Event()

    def say(note: SamplerNote) -> None:
        print(f"sampler: {note.text}", file=sys.stderr, flush=True)

    said: set[str] = set()

    def write_failed(exc: WriteError) -> None:
        if str(exc) not in said:
            said.add(str(exc))
            print(f"sampler: {exc}; no samples until samples.jsonl can be written", file=sys.stderr, flush=True)

    def targets() -> list[SampleTarget]:
        t = target[0]
        phase = follow.phase()
        if phase != t.phase:
            target[0] = t = SampleTarget(t.run_id, t.process, t.run_dir, phase, t.gpus, t.gpu_uuids)
        return [t]

    sampler = Sampler(
        targets, hz=hz, on_note=say, use_nvml=os.environ.get(NVML_ENV, "1") != "0", on_write_error=write_failed
    )
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    sampler.start()
    try:
        while not stop.wait(0.25):
            try:
                if root.status() == psutil.STATUS_ZOMBIE or abs(root.create_time() - (job.create_time or 0)) > 1.0:
                    break
            except psutil.Error:
                break  # the job is gone: so is its sampler
    finally:
        sampler.stop()
    return 0


def spawn_beside(
    run_dir: Path | str, pid: int | None = None, *, hz: float | None = None
) -> subprocess.Popen[bytes] | None:
    """Starts the sampler process beside the calling job (its child, in its process group, so a
    cancel or SLURM's signals reach it too); its notes go to the job's stderr. None when it
    could not be started (the run goes on without samples, and says so)."""
    env = dict(os.environ)
    pkg_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
    if hz is not None:
        env[HZ_ENV] = str(hz)
    cmd = [sys.executable, "-m", "xcost_tui.measure.beside", str(run_dir), "--pid", str(pid or os.getpid())]
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env, close_fds=True)
    except OSError as exc:
        print(f"sampler: could not start ({exc}); this run has no resource samples", file=sys.stderr, flush=True)
        return None


def stop_beside(proc: subprocess.Popen[bytes] | None, timeout: float = 3.0) -> None:
    """Stops the sampler process (SIGTERM, then SIGKILL) and reaps it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    except OSError:
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
