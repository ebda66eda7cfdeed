"""One run, start to end, inside its own process: ``python -m xcost_tui.job RUN_DIR``.

Reads RUN_DIR/spec.json, checks all data and the model before any training starts, runs the
phases of ``RunSpec.phase_plan()`` (intermediate* → target → eval:en → [few-shot:<lang>]
eval:<lang> … → inference-bench) and writes typed events (xcost_tui.rundir), predictions and the
final status into RUN_DIR. After the target phase and English validation, a collapse check
(xcost_tui/collapse.py) may train the target phase again (``collapse_retries``: target:copa#2,
eval:en#2, ...).

This module is the job's life-cycle: status, signals, the sampler beside it, the device, the data,
and the end, however it comes. The phases are the method's runner's, which the method table names
(methods.py: phases.PhaseRunner for the encoder methods, translate.TranslateRunner,
icl.IclRunner). Nothing here imports torch before the CPU share is applied.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError, WriteError, XcostError
from ..measure.contention import apply_thread_share
from ..measure.env import collect_env
from ..measure.sampler import spawn_beside, stop_beside
from ..measure.timer import watch_samples
from ..methods import METHOD_TABLE, Method
from ..rundir import (
    EventWriter,
    JsonlWriter,
    RunDir,
    RunEnd,
    RunStart,
    RunStatus,
    WorkerInfo,
    mark_running_here,
    update_status,
)
from ..rundir import resume as resume_points
from ..rundir.cancel import read_cancel_request
from ..spec import RunSpec
from ..tasks import load_split
from .data import data_loaded_event, load_run_data
from .log import _log

if TYPE_CHECKING:
    import subprocess


# cuBLAS gives the same result twice only with a fixed workspace, and reads this when CUDA
# initialises: without it, the deterministic algorithms every run turns on cost time and buy no
# determinism (issue 17). ":4096:8" is the value NVIDIA documents (8 workspaces of 4 MiB).
CUBLAS_WORKSPACE = ":4096:8"


def deterministic_cublas(env: MutableMapping[str, str] | None = None) -> str:
    """Sets CUBLAS_WORKSPACE_CONFIG unless the user set it; returns the value in force."""
    target = os.environ if env is None else env
    return target.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


def method_runner(method: Method) -> Any:
    """The method's phase runner, named in the method table ("module:attribute"): a class whose
    ``start(job, spec, device, data)`` loads the run's model and runs its phases."""
    module, _, attribute = method.runner.partition(":")
    # deferred: a runner's module pulls in torch and transformers (start-up cost); the job imports
    # only its own method's, after the CPU share is applied
    return getattr(importlib.import_module(module), attribute)


class Job:
    """One run. ``worker``: the warm worker running it in its own process (job/worker.py), which
    owns the signals (they cancel the run it is running) and records its start-up in the run's
    events; None for a run in a process of its own."""

    def __init__(self, run_dir: Path, cancel: threading.Event | None = None, worker: WorkerInfo | None = None):
        self.run_dir = run_dir
        self.worker = worker
        self.files = RunDir(run_dir)
        self.events = EventWriter(self.files.events)
        self.predictions = JsonlWriter(self.files.predictions)
        self.cancel = cancel or threading.Event()
        self.phase: str | None = None
        self._signal: str | None = None  # the signal that asked for the cancel (its name)
        self._sampler: subprocess.Popen[Any] | None = None  # the sampler process beside this job (measure/sampler.py)

    # ---- entry --------------------------------------------------------------------------------
    def main(self) -> int:
        if self.worker is None:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        # The CPU share the runner (or SLURM's --cpus-per-task) gave this job, applied to the thread
        # pools' environment (docs/runner.md, "CPU share"), before torch is imported: they read it then.
        threads = apply_thread_share()
        deterministic_cublas()
        try:
            mark_running_here(self.run_dir)
            self._start_sampler()
            if threads:
                import torch

                torch.set_num_threads(threads)
                _log(f"cpu share: {threads} thread(s)")
            spec = self._read_spec()
            self._run(spec)
        except BaseException as exc:  # noqa: BLE001 - every ending is recorded
            return self._finish_error(exc)
        return self._finish(RunStatus.SUCCEEDED) or 0

    def cancel_before_start(self, error: str) -> int:
        """A run a warm worker was handed after its cancel was asked for: recorded cancelled, not run."""
        return self._finish(RunStatus.CANCELLED, error=error, exit_code=143) or 143

    def _start_sampler(self) -> None:
        """The sampler process beside this job: it samples the job's process tree and its GPUs into
        samples.jsonl (measure/sampler.py); phases take their contention evidence from it too."""
        self._sampler = spawn_beside(self.run_dir)
        watch_samples(self.files.samples if self._sampler is not None else None)

    def _stop_sampler(self) -> None:
        stop_beside(self._sampler)
        self._sampler = None
        watch_samples(None)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signal = signal.Signals(signum).name
        _log(f"received {self._signal}: cancelling after the current batch")
        self.cancel.set()

    def cancel_reason(self) -> str:
        """The run's error when it was cancelled: the reason whoever asked wrote in its cancel
        request (``xcost-tui run`` names the signal that stopped it), else the signal received."""
        request = read_cancel_request(self.run_dir)
        if request is not None and request.reason:
            return request.reason
        return f"cancelled by {self._signal}" if self._signal else "cancelled by signal"

    def _read_spec(self) -> RunSpec:
        path = self.files.spec
        try:
            data = self.files.read_spec()
        except FileNotFoundError:
            raise SpecError(f"{path}: no spec.json in the run directory") from None
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        return RunSpec.from_dict(data, where=str(path))

    def _finish(
        self, status: RunStatus, *, error: str | None = None, traceback_text: str | None = None, exit_code: int = 0
    ) -> int | None:
        """Records the end: the run_end event, then status.json. On a full or read-only disk the
        cause is said once and the exit code is 3; status.json then still says where the run was
        (the runner records the failure with the job's exit code)."""
        try:
            if status == RunStatus.SUCCEEDED:  # nothing to continue: the resume checkpoints' space is given back
                resume_points.clear(self.run_dir)
            self.events.emit(
                RunEnd(status.value, error, self.phase if status != RunStatus.SUCCEEDED else None, traceback_text)
            )
            update_status(
                self.run_dir,
                status,
                ended=time.time(),
                error=error,
                exit_code=exit_code,
                phase=self.phase if status != RunStatus.SUCCEEDED else None,
            )
        except WriteError as exc:
            print(f"error: could not record the run's end ({status.value}): {exc}", file=sys.stderr, flush=True)
            return 3
        finally:
            self._stop_sampler()
            self.events.close()
            self.predictions.close()
        return None

    def _finish_error(self, exc: BaseException) -> int:
        # deferred: job/loops.py pulls in torch (start-up cost); a spec error ends the job without it
        from .loops import Cancelled

        if isinstance(exc, (Cancelled, KeyboardInterrupt)):
            _log(f"cancelled during {self.phase or 'start-up'}")
            return self._finish(RunStatus.CANCELLED, error=self.cancel_reason(), exit_code=143) or 143
        if isinstance(exc, XcostError):
            message, tb = str(exc), None
        else:
            message, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr, flush=True)
        code = 2 if isinstance(exc, XcostError) else 1
        if isinstance(exc, WriteError):
            code = 3
        return self._finish(RunStatus.FAILED, error=message, traceback_text=tb, exit_code=code) or code

    # ---- the run ------------------------------------------------------------------------------
    def _run(self, spec: RunSpec) -> None:
        # deferred: the device, the phases and the models pull in torch (start-up cost); main()
        # applies the CPU share to the environment first, which torch's thread pools read on import
        from .cache import CACHE
        from .causal import model_precision
        from .device import pick_device
        from .phases import seed_everything

        method = METHOD_TABLE[spec.method]
        seed_everything(spec.seed)
        device = pick_device(spec.device)
        if not method.encoder:  # the causal LM's weights are loaded in their precision (no autocast)
            device = dataclasses.replace(device, precision=model_precision(spec.model_dtype, device.type))
        self.events.emit(
            RunStart(
                self.files.run_id,
                spec.to_dict(),
                collect_env(device.type, device.name, device.count, device.precision),
                spec.phases_planned,
            )
        )
        if self.worker is not None:
            self.events.emit(self.worker)
        _log(f"run {self.run_dir.name}: {spec.method} on {spec.model}, device {device.name} ({device.precision})")

        # 1. All data first: a bad file fails here, before any training. Each split read is recorded.
        data = load_run_data(spec, load_split=CACHE.split_loader(load_split), log=_log)
        for source in data.sources:
            self.events.emit(data_loaded_event(source))
            _log(
                f"data: {source.task} {source.split}{'' if source.lang == 'en' else ' ' + source.lang} "
                f"({source.role}): {source.used} of {source.rows} rows from {source.describe()}"
                + (f"; fallback {source.fallback}: {source.note}" if source.fallback else "")
                + (
                    f"; {source.questions_corrected} questions taken from English COPA"
                    if source.questions_corrected
                    else ""
                )
            )
        # 2. The method's runner (methods.py): its model, then its phases.
        method_runner(method).start(self, spec, device, data)

    def cancel_point(self) -> None:
        """Stops here when a cancel arrived (start-up is long: data, tokenizer, model)."""
        # deferred: job/loops.py pulls in torch (start-up cost): this module is imported before the
        # CPU share is applied
        from .loops import Cancelled

        if self.cancel.is_set():
            raise Cancelled()


USAGE = (
    "usage: python -m xcost_tui.job RUN_DIR\n"
    "       python -m xcost_tui.job --worker WORKER_DIR   (runs read from stdin, one JSON request a line)\n"
    "       python -m xcost_tui.job --runs RUN_DIR [RUN_DIR ...]   (a fixed list, one after another)"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("--"):
        print(USAGE, file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    if not run_dir.is_dir():
        print(f"error: run directory {run_dir} does not exist", file=sys.stderr)
        return 2
    return Job(run_dir).main()
