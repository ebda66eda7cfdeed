"""A measured run of a user's own training script, written as the tool's job writes its own.

``measured_run(store=..., method=..., model=..., seed=...)`` opens ``STORE/runs/<run_id>/`` and
writes the same files through the same records (xcost_tui/rundir; docs/run-directory.md):
``spec.json`` (a RunSpec with ``source = "external"`` and the script's path), ``status.json``
(running, with this process's identity; then how the run ended), ``events.jsonl`` (run_start,
phase_start/phase_end with their costs, progress, eval_result, run_end), ``predictions.jsonl``
and ``samples.jsonl`` (the sampler process beside this one, as beside the job). ``run.phase(name)``
measures a phase with the job's own ``PhaseMeter`` (wall and CPU time, peak memory, energy where
measurable, contention); ``run.record_eval(lang, predictions)`` writes the per-item predictions
and the accuracy they give. ``xcost-tui ingest`` then reads the run like any other.

What is not measured as the job measures it (FLOPs, CUDA warm-up, shared phases, checkpoints):
docs/measurement.md, "Measuring your own training script".
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..configuration import EXTERNAL
from ..errors import SpecError, XcostError, path_error
from ..measure.env import collect_env
from ..measure.sampler import spawn_beside, stop_beside
from ..measure.timer import PhaseMeter, throughput, watch_samples
from ..rundir import (
    EvalResult,
    EventWriter,
    JsonlWriter,
    PhaseEnd,
    PhaseStart,
    Prediction,
    Progress,
    RunDir,
    RunEnd,
    RunStart,
    RunStatus,
    StoreLayout,
    mark_running_here,
    update_status,
    write_json_atomic,
)
from ..rundir.cost import Cost
from ..rundir.kinds import PhaseKind
from ..runner.storage import archive_previous
from ..spec import RunSpec
from .device import TrackedDevice, detect_device

# Where a count came from: the script said so (``phase.examples = n``), or Trainer's state (the callback).
REPORTED = "reported"
NOT_COUNTED_FLOPS = (
    "not counted: xcost-tui counts FLOPs in its own job's loop (analytic, checked with FlopCounterMode); "
    "an external script's work is not seen"
)


def _phase_kind(name: str, kind: str | None) -> PhaseKind:
    """The kind given, else the one the name's prefix names (``target:copa`` -> target)."""
    text = kind if kind is not None else name.partition(":")[0]
    try:
        return PhaseKind(text)
    except ValueError:
        kinds = ", ".join(k.value for k in PhaseKind)
        raise SpecError(
            f"phase {name!r}: "
            + (f"kind {kind!r} is not a phase kind" if kind is not None else "its name names no phase kind")
            + f"; name it <kind>:<what> (target:copa, eval:th, intermediate:siqa) or pass kind= one of {kinds}"
        ) from None


class MeasuredPhase:
    """One phase of a measured run, inside ``with run.phase(...) as phase``. The script (or the
    Trainer callback) sets what it counted: ``examples``, ``steps``, ``tokens`` (non-padding
    tokens), ``tokens_padded``, and may add figures (``add_cost``) and facts (``info``)."""

    def __init__(self, run: MeasuredRun, name: str, kind: PhaseKind, tasks: list[str], lang: str | None):
        self.run = run
        self.name = name
        self.kind = kind
        self.tasks = tasks
        self.lang = lang
        self.examples: int | None = None
        self.steps: int | None = None
        self.tokens: int | None = None
        self.tokens_padded: int | None = None
        self.count_source = REPORTED  # how the counts above were obtained
        self.info: dict[str, Any] = {}
        self.extra_costs: dict[str, Cost] = {}
        self.meter = run.meter()
        self._evals: list[EvalResult] = []  # record_eval inside the phase: written after its phase_end

    def add_cost(self, name: str, cost: Cost) -> None:
        """A figure of the phase beside the meter's (a FLOP estimate with its source)."""
        self.extra_costs[name] = cost

    def progress(
        self, step: int | None, total_steps: int | None = None, *, loss: float | None = None, lr: float | None = None
    ) -> None:
        """A progress event (the live view's step, loss and ETA)."""
        self.run.emit(Progress(self.name, step, total_steps, loss=loss, lr=lr))

    def costs(self) -> dict[str, Cost]:
        """The meter's figures, the counts the script reported and the figures it added."""
        costs = dict(self.meter.costs())
        wall = costs["wall_s"].value or 0.0
        for name, value in (
            ("examples", self.examples),
            ("steps", self.steps),
            ("tokens_nonpad", self.tokens),
            ("tokens_padded", self.tokens_padded),
        ):
            costs[name] = (
                Cost.measured(int(value), "count", self.count_source)
                if value is not None
                else Cost.missing("count", "the script did not report it")
            )
        if self.tokens is not None and self.tokens_padded:
            costs["padding_efficiency"] = Cost.measured(self.tokens / self.tokens_padded, "ratio", self.count_source)
        costs["examples_per_s"] = (
            throughput(self.examples, wall, "examples/s")
            if self.examples is not None
            else Cost.missing("examples/s", "the script did not report its examples")
        )
        costs["tokens_per_s"] = (
            throughput(self.tokens, wall, "tokens/s")
            if self.tokens is not None
            else Cost.missing("tokens/s", "the script did not report its tokens")
        )
        for name in ("flops_analytic", "flops_analytic_nonpad", "flops_measured"):
            costs[name] = Cost.missing("FLOP", NOT_COUNTED_FLOPS)
        for name in ("mfu", "mfu_padded"):
            costs[name] = Cost.missing("ratio", "no FLOP count of xcost-tui's for an external script's phase")
        costs.update(self.extra_costs)
        return costs


class MeasuredRun:
    """One run of a user's script in a store (``measured_run`` opens and closes it)."""

    def __init__(
        self,
        spec: RunSpec,
        store: Path | str,
        *,
        device: TrackedDevice,
        phases: Sequence[str] = (),
        sample: bool = True,
    ):
        self.spec = spec
        self.layout = StoreLayout(Path(store))
        self.run_id = spec.run_id()
        self.files: RunDir = self.layout.run_dir(self.run_id)
        self.run_dir = self.files.path
        self.device = device
        self.phases_planned = list(phases)
        self.sample = sample
        self.archived: Path | None = None
        self.current: MeasuredPhase | None = None
        self.events: EventWriter | None = None
        self.predictions: JsonlWriter | None = None
        self._sampler: Any = None
        self._ended = False
        self.failed_phase: str | None = None  # the phase an exception left (finish names it)

    # ---- the life-cycle ----------------------------------------------------------------------
    def start(self) -> MeasuredRun:
        """spec.json, status.json (running, this process), the sampler beside it, run_start. A run
        directory of the same run id (the same script settings and seed) is archived first, as
        the runner does for a rerun (<store>/archive/)."""
        try:
            self.archived = archive_previous(self.layout, self.run_dir)
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise path_error(
                exc, self.run_dir, retry="the script", fix="give measured_run a store you can write to"
            ) from None
        write_json_atomic(self.files.spec, self.spec.to_dict())
        mark_running_here(self.run_dir)
        self.events = EventWriter(self.files.events)
        self.predictions = JsonlWriter(self.files.predictions)
        if self.sample:
            self._sampler = spawn_beside(self.run_dir)
        watch_samples(self.files.samples if self._sampler is not None else None)
        self.emit(RunStart(self.run_id, self.spec.to_dict(), self._env(), list(self.phases_planned)))
        return self

    def _env(self) -> dict[str, Any]:
        """run_start's env, as the job records it (measure/env.py), with where the run came from."""
        d = self.device
        env = collect_env(d.type, d.name, d.count, d.precision)
        env.update(source=EXTERNAL, script=self.spec.script, argv=list(sys.argv), cwd=os.getcwd())
        return env

    def finish(self, exc: BaseException | None = None) -> None:
        """run_end and the final status.json: succeeded, or failed (cancelled on ctrl-c) with the
        error, its traceback and the phase it happened in. Always stops the sampler."""
        if self._ended:
            return
        self._ended = True
        phase = self.current.name if self.current is not None else self.failed_phase
        if self.current is not None:  # a phase the callback opened and an exception left open
            with contextlib.suppress(Exception):
                self.current.meter.__exit__(None, None, None)
            self.current = None
        error = tb = None
        if exc is None:
            status, phase = RunStatus.SUCCEEDED, None
        elif isinstance(exc, KeyboardInterrupt):
            status, error = RunStatus.CANCELLED, "cancelled by KeyboardInterrupt (ctrl-c)"
        else:
            status = RunStatus.FAILED
            error = str(exc) if isinstance(exc, XcostError) else f"{type(exc).__name__}: {exc}"
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        code = 0 if exc is None else (130 if status == RunStatus.CANCELLED else 1)
        try:
            self.emit(RunEnd(status.value, error, phase, tb))
            update_status(self.run_dir, status, ended=time.time(), error=error, exit_code=code, phase=phase)
        finally:
            stop_beside(self._sampler)
            self._sampler = None
            watch_samples(None)
            if self.events is not None:
                self.events.close()
            if self.predictions is not None:
                self.predictions.close()

    def emit(self, event: Any) -> Any:
        if self.events is None:
            raise XcostError("the measured run has not started: use it inside `with measured_run(...) as run`")
        return self.events.emit(event)

    # ---- phases ------------------------------------------------------------------------------
    def meter(self) -> PhaseMeter:
        d = self.device
        return PhaseMeter(
            d.type, d.torch_device, d.nvml_indices, self.spec.measure.enabled, d.count, gpu_reason=d.nvml_reason
        )

    def open_phase(
        self,
        name: str,
        kind: str | None = None,
        *,
        tasks: Iterable[str] | None = None,
        lang: str | None = None,
        total_steps: int | None = None,
    ) -> MeasuredPhase:
        """Starts a phase (its phase_start and its meter); ``close_phase`` ends it. ``phase()`` is
        the ``with`` form; the Trainer callback opens and closes it from Trainer's hooks."""
        if self.current is not None:
            raise XcostError(
                f"phase {name!r} started inside phase {self.current.name!r}: phases do not nest; end one first"
            )
        k = _phase_kind(name, kind)
        if lang is None and k in (PhaseKind.EVAL, PhaseKind.FEW_SHOT, PhaseKind.TRANSLATE) and ":" in name:
            lang = name.partition(":")[2].partition("#")[0] or None
        if tasks is None:
            tasks = [self.spec.target] if k == PhaseKind.TARGET or lang == "en" else ["xcopa"] if lang else []
        phase = MeasuredPhase(self, name, k, list(tasks), lang)
        update_status(self.run_dir, RunStatus.RUNNING, phase=name)
        self.emit(PhaseStart(name, k.value, total_steps))
        self.current = phase
        phase.meter.__enter__()
        return phase

    def close_phase(self, phase: MeasuredPhase) -> PhaseEnd:
        """Stops the phase's meter and writes its phase_end (then the evaluations recorded in it)."""
        phase.meter.__exit__(None, None, None)
        self.current = None
        record = self.emit(
            PhaseEnd(
                phase.name,
                phase.kind.value,
                phase.tasks,
                phase.lang,
                None,
                phase.costs(),
                {"source": EXTERNAL, "precision": self.device.precision, **phase.info},
            )
        )
        for result in phase._evals:
            self.emit(result)
        return record

    @contextlib.contextmanager
    def phase(
        self,
        name: str,
        kind: str | None = None,
        *,
        tasks: Iterable[str] | None = None,
        lang: str | None = None,
        total_steps: int | None = None,
        examples: int | None = None,
        steps: int | None = None,
        tokens: int | None = None,
        tokens_padded: int | None = None,
    ) -> Iterator[MeasuredPhase]:
        """A measured phase: ``name`` as the job names its phases (``target:copa``, ``eval:th``,
        ``intermediate:siqa``; its kind is the prefix unless ``kind`` says). The counts may be
        given here or set on the phase inside the block. An exception inside leaves the phase
        without a phase_end (as in the job) and the run records it as failed in that phase."""
        phase = self.open_phase(name, kind, tasks=tasks, lang=lang, total_steps=total_steps)
        phase.examples, phase.steps, phase.tokens, phase.tokens_padded = examples, steps, tokens, tokens_padded
        try:
            yield phase
        except BaseException:
            with contextlib.suppress(Exception):
                phase.meter.__exit__(None, None, None)
            self.current, self.failed_phase = None, name  # the run's end names it (if nothing catches it)
            raise
        self.close_phase(phase)

    # ---- evaluation --------------------------------------------------------------------------
    def record_eval(
        self,
        lang: str,
        predictions: Iterable[Sequence[Any] | Mapping[str, Any]],
        *,
        task: str | None = None,
        split: str | None = None,
        phase: str | None = None,
    ) -> EvalResult:
        """The per-item predictions of one language: each ``(idx, pred, label)`` or ``(idx, pred,
        label, scores)`` (or a dict with those keys); ``idx`` is the item's id in the data set (the
        same item across languages: what the verdict pairs on). Writes them to predictions.jsonl and
        the accuracy they give as an eval_result (the job's rule: correct / labelled items; label
        -1 is unlabelled). Inside a phase it belongs to that phase; outside, to ``eval:<lang>``,
        recorded with its costs null (the script did not measure the evaluation)."""
        if self.predictions is None:
            raise XcostError("the measured run has not started: use it inside `with measured_run(...) as run`")
        task = task or (self.spec.target if lang == "en" else "xcopa")
        split = split or ("validation" if lang == "en" else self.spec.eval_split)
        inside = self.current
        name = phase or (inside.name if inside is not None else f"eval:{lang}")
        correct = labelled = 0
        for i, row in enumerate(predictions):
            idx, pred, label, scores = _prediction_row(row, i, lang)
            right = label >= 0 and pred == label
            labelled += label >= 0
            correct += right
            self.predictions.write(Prediction(name, task, lang, split, idx, pred, label, scores, right).to_dict())
        result = EvalResult(name, task, lang, split, correct / labelled if labelled else None, labelled, correct)
        if inside is not None and inside.name == name:
            inside._evals.append(result)
            return result
        self.emit(PhaseStart(name, PhaseKind.EVAL.value, None))
        reason = "not measured: the script evaluated outside a run.phase() (record_eval only)"
        costs = {n: Cost.missing(u, reason) for n, u in (("wall_s", "s"), ("device_hours", "h"), ("energy_j", "J"))}
        self.emit(PhaseEnd(name, PhaseKind.EVAL.value, [task], lang, None, costs, {"source": EXTERNAL}))
        return self.emit(result)


def _prediction_row(row: Sequence[Any] | Mapping[str, Any], i: int, lang: str) -> tuple[Any, int, int, list[float]]:
    where = f"record_eval({lang!r}): prediction {i}"
    values: list[Any]
    if isinstance(row, Mapping):
        values = [row.get("idx"), row.get("pred"), row.get("label"), row.get("scores")]
    else:
        values = [*row, None][:4] if len(row) in (3, 4) else []
    if not values or any(v is None for v in values[:3]):
        raise XcostError(f"{where}: expected (idx, pred, label) or (idx, pred, label, scores), got {row!r}")
    idx, pred, label, scores = values
    try:
        return (
            idx if isinstance(idx, str) else int(idx),
            int(pred),
            int(label),
            [float(s) for s in scores] if scores is not None else [],
        )
    except (TypeError, ValueError):
        raise XcostError(f"{where}: idx, pred and label must be integers (idx may be a string), got {row!r}") from None


def external_spec(
    method: str,
    model: str,
    seed: int = 0,
    *,
    hparams: Mapping[str, Any] | None = None,
    script: str | None = None,
    **fields: Any,
) -> RunSpec:
    """The RunSpec of an external run (``source = "external"``), validated by the spec's own checks:
    ``hparams`` are RunSpec's (learning_rate, batch_size = the effective batch, epochs, max_steps,
    warmup_ratio, weight_decay, max_seq_len, ...), ``fields`` any other RunSpec key (langs,
    intermediate, few_shot_k, tiny_model_dims, eval_split, max_eval_examples, ...)."""
    data: dict[str, Any] = {"method": method, "model": model, "seed": seed, **fields}
    if hparams is not None:
        data["hparams"] = dict(hparams)
    data.update(source=EXTERNAL, script=script)
    return RunSpec.from_dict(data, where="measured_run")


def default_script() -> str | None:
    """The script this process runs (``python path/to/script.py``), absolute; None in a REPL."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else None


@contextlib.contextmanager
def measured_run(
    store: Path | str = "store",
    *,
    method: str,
    model: str,
    seed: int = 0,
    hparams: Mapping[str, Any] | None = None,
    phases: Sequence[str] = (),
    device: str = "auto",
    precision: str | None = None,
    script: str | None = None,
    sample: bool = True,
    **spec_fields: Any,
) -> Iterator[MeasuredRun]:
    """Measures a run of this script into ``store`` (``STORE/runs/<run_id>/``); ``xcost-tui ingest
    --store STORE`` then reads it. ``method``, ``model``, ``seed``, ``hparams`` and ``spec_fields``
    make its RunSpec (``external_spec``): say what the script does, so the verdict groups it and
    pairs it with the tool's runs. ``phases``: the phases it will record, in order (the run's
    planned phases; the app's progress). ``device``/``precision``: where and how it trains (auto:
    a GPU when torch sees one). An exception inside ends the run failed with the error recorded,
    and is raised again."""
    spec = external_spec(method, model, seed, hparams=hparams, script=script or default_script(), **spec_fields)
    run = MeasuredRun(spec, store, device=detect_device(device, precision), phases=phases, sample=sample)
    run.start()
    try:
        yield run
    except BaseException as exc:
        run.finish(exc)
        raise
    run.finish()
