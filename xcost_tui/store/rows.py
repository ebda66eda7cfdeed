"""The store's rows, built from what a run directory (or a forecast file) holds: pure functions.

Records in (the run's spec, its status.json, the fold of its events: ``RunRecords``; a
``PlanForecast``), typed rows out: one ``TypedDict`` per table whose row is written here, so a
misspelt or forgotten key is a type error, and tests/store/test_store_rows.py checks every row type
against its table's columns in ``schema.TABLES`` (a key the table does not have, or a column no
key fills, fails the test instead of becoming a NULL column). The rows of ``phases`` follow the
cost figures of ``schema.COST_FIGURES`` and are built from that list, so they are plain dicts;
the test builds one and checks its keys. Reading the files and writing the rows is
``ingest.py``'s business; the verdict tables' numbers are ``verdict_tables.py``'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from .. import configuration
from ..methods import GENERATOR_METHODS, SHOT_METHODS, UNTRAINED_METHODS
from ..rundir import Cost, JsonlLine, PhaseState, RunState, RunStatus, StatusRecord, dumps, final_status
from ..rundir.fields import as_float, as_int, as_str, as_strs_or_none, as_timestamp
from ..rundir.forecast import PlanForecast, phase_row
from ..rundir.kinds import PhaseKind
from ..rundir.records import MTScore
from . import schema

T = TypeVar("T")


@dataclass(frozen=True)
class RunRecords:
    """What one run directory holds, read: everything its rows are made of."""

    run_id: str
    run_dir: str  # as the store records it: relative to the store's root when under it
    spec: dict[str, Any]  # spec.json, else the run_start event's spec; {} when neither
    status: StatusRecord | None  # status.json; None when there is none
    state: RunState  # the fold of events.jsonl
    has_events: bool  # events.jsonl held at least one complete line
    source_sig: str  # sizes and times of the ingested files (RunDir.signature)

    @property
    def env(self) -> dict[str, Any]:
        return dict(self.state.run_start.env) if self.state.run_start else {}


@dataclass(frozen=True)
class Outcome:
    """How the run ended (or stands): the one rule of ``final_status``, the error and where it failed."""

    status: RunStatus
    error: str | None
    failed_phase: str | None


def outcome(rec: RunRecords) -> Outcome:
    status_rec, run_end = rec.status, rec.state.run_end
    status = final_status(status_rec, run_end.status if run_end else None, rec.has_events)
    error = (run_end.error if run_end else None) or (status_rec.error if status_rec else None)
    if status_rec is not None and status_rec.ended_by_executor:  # SLURM ended it: its reason, not the job's
        error = status_rec.error or error
    failed_phase = None
    if status in (RunStatus.FAILED, RunStatus.CANCELLED):
        failed_phase = (run_end.phase if run_end else None) or (status_rec.phase if status_rec else None)
    return Outcome(status, error, failed_phase)


# ---- runs ---------------------------------------------------------------------------------------


class RunRow(TypedDict):
    run_id: str
    run_dir: str
    name: str | None
    method: str | None
    model: str | None
    seed: int | None
    intermediate: list[str] | None
    intermediate_mode: str | None
    k: int | None
    shot_seed: int | None
    recipe: str | None
    intermediate_recipe: str | None
    few_shot_recipe: str | None
    batch_size: int | None
    collapse_retries: int | None
    collapsed: bool | None
    target_attempts: int | None
    resumes: int
    lost_wall_s: float | None
    peak_mem_lifetime_bytes: int | None
    peak_mem_lifetime_source: str | None
    warmup_s: float | None
    langs: list[str] | None
    target: str | None
    eval_split: str | None
    init_from: str | None
    status: str
    error: str | None
    failed_phase: str | None
    current_phase: str | None
    pid: int | None
    executor: str | None
    executor_job_id: str | None
    executor_state: str | None
    executor_reason: str | None
    executor_elapsed_s: float | None
    executor_gpus: int | None
    node: str | None
    cpu_threads: int | None
    runs_sharing: int | None
    contended_phases: int | None
    started: datetime | None
    updated: datetime | None
    ended: datetime | None
    duration_s: float | None
    device_type: str | None
    device_name: str | None
    device_count: int | None
    precision: str | None
    python_version: str | None
    torch_version: str | None
    transformers_version: str | None
    datasets_version: str | None
    tokenizers_version: str | None
    cuda_version: str | None
    host: str | None
    git_commit: str | None
    xcost_tui_version: str | None
    model_source: str | None
    model_revision: str | None
    model_load_s: float | None
    model_cached: bool | None
    worker_id: str | None
    worker_index: int | None
    xcopa_question: str | None
    translations: str | None
    model_dtype: str | None
    icl_prompt: str | None
    data_sources: int | None
    phases_planned: list[str] | None
    phases_done: int | None
    n_warnings: int | None
    spec: str | None  # JSON
    env: str | None  # JSON
    source_sig: str | None
    config_id: str | None
    config_family: str | None
    config_label: str | None
    training_id: str | None
    lr_sweep: list[float] | None
    annotated_examples: int | None
    annotation_hours_per_example: float | None
    annotation_hours: float | None


def _section(spec: dict[str, Any], section: str, key: str, conv: Callable[[Any], T]) -> T | None:
    """A value of one of the spec's hyper-parameter tables, None when absent or not a table."""
    table = spec.get(section)
    return conv(table.get(key)) if isinstance(table, dict) else None


def _json(obj: Any) -> str | None:
    return None if obj is None else dumps(obj)


def _lifetime_peak(state: RunState) -> tuple[int | None, str | None]:
    """The run's lifetime peak memory and its source: the highest ``lifetime_peak_mem_bytes`` of its
    phases (each is the process's peak since it started, start-up included, up to that phase's end)."""
    best: Cost | None = None
    best_value: float | int | None = None  # best's value, which is a number whenever best is set
    for p in state.phases.values():
        c = p.costs.get("lifetime_peak_mem_bytes") if p.completed else None
        value = c.value if c is not None else None
        if (
            c is not None
            and value is not None
            and as_int(value) is not None
            and (best_value is None or value > best_value)
        ):
            best, best_value = c, value
    return (as_int(best.value) if best else None), (best.source if best else None)


def run_row(rec: RunRecords) -> RunRow:
    """The ``runs`` row of one run."""
    spec, env, state, status_rec = rec.spec, rec.env, rec.state, rec.status
    end = outcome(rec)
    started = (
        (status_rec.started if status_rec else None)
        or (state.run_start.t if state.run_start else None)
        or state.first_t
    )
    ended = None
    if end.status != RunStatus.RUNNING:
        ended = (status_rec.ended if status_rec else None) or (state.run_end.t if state.run_end else None)
    updated = max(
        [x for x in (status_rec.updated if status_rec else None, state.last_t, ended, started) if x is not None],
        default=None,
    )
    stop = ended or updated  # the duration's end
    intermediate = as_strs_or_none(spec.get("intermediate"))
    peak, peak_source = _lifetime_peak(state)
    # Where the run executed (status.json): the executor, SLURM's job id, state, reason and
    # accounting, the node, and the CPU share the runner gave it.
    info = (status_rec.executor_info if status_rec else None) or {}
    share = (status_rec.cpu_share if status_rec else None) or {}
    return RunRow(
        run_id=rec.run_id,
        run_dir=rec.run_dir,
        name=as_str(spec.get("name")),
        method=as_str(spec.get("method")),
        model=as_str(spec.get("model")),
        seed=as_int(spec.get("seed")),
        intermediate=intermediate if intermediate is not None else ([] if spec else None),
        intermediate_mode=as_str(spec.get("intermediate_mode")),
        k=as_int(spec.get("few_shot_k")),
        shot_seed=as_int(spec.get("shot_seed")),
        recipe=_section(spec, "hparams", "recipe", as_str),
        intermediate_recipe=_section(spec, "intermediate_hparams", "recipe", as_str),
        few_shot_recipe=_section(spec, "few_shot_hparams", "recipe", as_str),
        batch_size=_section(spec, "hparams", "batch_size", as_int),
        collapse_retries=as_int(spec.get("collapse_retries")),
        collapsed=state.collapsed,
        target_attempts=state.target_attempts,
        resumes=len(state.resumes),
        lost_wall_s=sum(r.lost_s or 0.0 for r in state.resumes) if state.resumes else None,
        peak_mem_lifetime_bytes=peak,
        peak_mem_lifetime_source=peak_source,
        warmup_s=state.warmup_s,
        langs=as_strs_or_none(spec.get("langs")),
        target=as_str(spec.get("target")),
        eval_split=as_str(spec.get("eval_split")),
        init_from=as_str(spec.get("init_from")),
        status=end.status.value,
        error=end.error,
        failed_phase=end.failed_phase,
        current_phase=state.latest_phase if end.status == RunStatus.RUNNING else None,
        pid=status_rec.pid if status_rec else None,
        executor=(status_rec.executor or ("local" if status_rec.job is not None else None)) if status_rec else None,
        executor_job_id=status_rec.executor_job_id if status_rec else None,
        executor_state=status_rec.executor_state if status_rec else None,
        executor_reason=status_rec.executor_reason if status_rec else None,
        executor_elapsed_s=as_float(info.get("elapsed_s")),
        executor_gpus=as_int(info.get("gpus")),
        node=(as_str(info.get("node")) or (status_rec.job.host if status_rec.job is not None else None))
        if status_rec
        else None,
        cpu_threads=as_int(share.get("threads")),
        runs_sharing=as_int(share.get("runs")),
        contended_phases=sum(
            1
            for p in state.phases.values()
            if p.completed and not p.reused_from and (c := p.costs.get("contended")) is not None and c.value
        ),
        started=as_timestamp(started),
        updated=as_timestamp(updated),
        ended=as_timestamp(ended),
        duration_s=(stop - started) if started and stop else None,
        device_type=as_str(env.get("device_type")),
        device_name=as_str(env.get("device_name")),
        device_count=as_int(env.get("device_count")),
        precision=as_str(env.get("precision")),
        python_version=as_str(env.get("python")),
        torch_version=as_str(env.get("torch")),
        transformers_version=as_str(env.get("transformers")),
        datasets_version=as_str(env.get("datasets")),
        tokenizers_version=as_str(env.get("tokenizers")),
        cuda_version=as_str(env.get("cuda")),
        host=as_str(env.get("host")),
        git_commit=as_str(env.get("git_commit")),
        xcost_tui_version=as_str(env.get("xcost_tui")),
        model_source=state.model.source if state.model else None,
        model_revision=state.model.revision if state.model else None,
        model_load_s=state.model.load_s if state.model else None,
        model_cached=state.model.cached if state.model else None,
        worker_id=state.worker.worker_id if state.worker else None,
        worker_index=state.worker.index if state.worker else None,
        xcopa_question=as_str(spec.get("xcopa_question")),
        translations=as_str(spec.get("translations")),
        model_dtype=as_str(spec.get("model_dtype")) if spec.get("method") in GENERATOR_METHODS else None,
        # an icl spec from before the field ran lm-eval's prompt (its English one a space short)
        icl_prompt=(as_str(spec.get("icl_prompt")) or "lm-eval") if spec.get("method") in UNTRAINED_METHODS else None,
        data_sources=len(state.data_sources) if state.data_sources else None,
        phases_planned=state.phases_planned if state.run_start else None,
        phases_done=state.phases_done,
        n_warnings=state.n_warnings,
        spec=_json(spec) if spec else None,
        env=_json(env) if env else None,
        source_sig=rec.source_sig,
        config_id=configuration.configuration_id(spec) if spec else None,
        config_family=configuration.family(spec) if spec else None,
        config_label=configuration.label(spec) if spec else None,
        training_id=configuration.training_id(spec) if spec else None,
        **_annotation(spec, state),
    )


class ProtocolColumns(TypedDict):
    """The few-shot protocol's columns of a ``runs`` row (issue 19)."""

    lr_sweep: list[float] | None
    annotated_examples: int | None
    annotation_hours_per_example: float | None
    annotation_hours: float | None


def _annotation(spec: dict[str, Any], state: RunState) -> ProtocolColumns:
    """The few-shot protocol's columns (docs/methods.md, "Few-shot protocol"): the learning rates of
    a sweep, and the labelled target-language examples a shot method's pipeline needed: k per
    language (the shots or demonstrations) plus, after a sweep, each language's selection items
    (the trials' ``selection_n``); their annotation cost when the spec prices an example."""
    sweep = [float(x) for x in spec.get("lr_sweep") or [] if isinstance(x, (int, float))]
    lr_sweep = sweep if spec.get("method") == "few-shot" else None
    if spec.get("method") not in SHOT_METHODS:
        return ProtocolColumns(
            lr_sweep=lr_sweep, annotated_examples=None, annotation_hours_per_example=None, annotation_hours=None
        )
    k = as_int(spec.get("few_shot_k")) or 0
    selection: dict[str, int] = {}
    for p in state.phases.values():
        if p.kind == PhaseKind.FEW_SHOT_TRIAL.value and p.completed and p.lang:
            selection[p.lang] = max(selection.get(p.lang, 0), as_int(p.info.get("selection_n")) or 0)
    n = k * len(as_strs_or_none(spec.get("langs")) or []) + sum(selection.values())
    per = as_float(spec.get("annotation_hours_per_example"))
    return ProtocolColumns(
        lr_sweep=lr_sweep,
        annotated_examples=n,
        annotation_hours_per_example=per,
        annotation_hours=n * per if per is not None else None,
    )


# ---- phases -------------------------------------------------------------------------------------

PhaseRow = dict[str, Any]  # the columns of ``phases``: its cost figures follow schema.COST_FIGURES


def _cost_columns(costs: dict[str, Cost]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, typ in schema.COST_FIGURES:
        c = costs.get(name)
        value = c.value if c is not None else None
        row[name] = as_int(value) if typ == "BIGINT" else as_float(value)
    for name in schema.SOURCED_FIGURES:
        c = costs.get(name)
        row[f"{name}_source"] = c.source if c is not None else None
        row[f"{name}_reason"] = c.reason if c is not None else None
    fm = costs.get("flops_measured")
    row["flops_sampled_steps"] = as_int(fm.extra.get("sampled_steps")) if fm is not None else None
    row["flops_check_ratio"] = as_float(fm.extra.get("ratio")) if fm is not None else None
    en = costs.get("energy_j")
    row["energy_flag"] = as_str(en.extra.get("flag")) if en is not None else None
    flag = costs.get("contended")
    row["contended"] = None if flag is None or flag.value is None else bool(flag.value)
    row["contention"] = None
    if flag is not None:
        reasons = flag.extra.get("reasons")
        row["contention"] = "; ".join(map(str, reasons)) if flag.value and isinstance(reasons, list) else flag.reason
    return row


def phase_row_of(run_id: str, p: PhaseState) -> PhaseRow:
    """The ``phases`` row of one phase: its costs only once it completed."""
    reused = p.reused_from
    row: PhaseRow = dict.fromkeys(schema.columns("phases"))
    row.update(
        run_id=run_id,
        phase=p.name,
        kind=p.kind or None,
        ordinal=p.ordinal,
        completed=p.completed,
        t_start=p.t_start,
        t_end=p.t_end,
    )
    if p.completed:
        row.update(
            tasks=list(p.tasks),
            lang=p.lang,
            reused_from_run=reused.run_id if reused else None,
            reused_from_phase=reused.phase if reused else None,
            reused_from_dir=reused.run_dir if reused else None,
            costs=_json({k: c.to_dict() for k, c in p.costs.items()}),
            info=_json(p.info),
            **_cost_columns(p.costs),
        )
    return row


def phase_rows(rec: RunRecords) -> list[PhaseRow]:
    return [phase_row_of(rec.run_id, p) for p in rec.state.phases.values()]


# ---- evals, curves, data sources, events ----------------------------------------------------------


class EvalRow(TypedDict):
    run_id: str
    phase: str
    task: str
    lang: str
    split: str
    accuracy: float | None
    n: int | None
    correct: int | None
    t: float | None


def eval_rows(rec: RunRecords) -> list[EvalRow]:
    return [
        EvalRow(
            run_id=rec.run_id,
            phase=e.phase,
            task=e.task,
            lang=e.lang,
            split=e.split,
            accuracy=e.accuracy,
            n=e.n,
            correct=e.correct,
            t=e.t or None,
        )
        for e in rec.state.evals
    ]


class CurveRow(TypedDict):
    run_id: str
    phase: str
    point: int
    step: int | None
    total_steps: int | None
    lang: str
    split: str
    accuracy: float | None
    n: int | None
    cum_train_device_hours: float | None
    cum_train_flops: float | None
    cum_train_energy_j: float | None
    eval_wall_s: float | None
    eval_flops: float | None


def curve_rows(rec: RunRecords) -> list[CurveRow]:
    """One row per learning-curve point and held-out language."""
    return [
        CurveRow(
            run_id=rec.run_id,
            phase=c.phase,
            point=c.point,
            step=c.step,
            total_steps=c.total_steps,
            lang=lang,
            split=c.split,
            accuracy=acc,
            n=c.n.get(lang),
            cum_train_device_hours=c.cum_train_device_hours,
            cum_train_flops=c.cum_train_flops,
            cum_train_energy_j=c.cum_train_energy_j,
            eval_wall_s=c.eval_wall_s,
            eval_flops=c.eval_flops,
        )
        for c in rec.state.curve
        for lang, acc in c.accuracy.items()
    ]


class MTQualityRow(TypedDict):
    run_id: str
    phase: str
    lang: str
    split: str
    reference: str
    translator: str | None
    chrf: float | None
    bleu: float | None
    items: int | None
    segments: int | None
    chrf_signature: str | None
    bleu_signature: str | None
    missing: str | None


def mt_quality_rows(rec: RunRecords) -> list[MTQualityRow]:
    """translate-test's MT quality: one row per translate:<lang> phase and reference, from the
    phase's ``info.mt_quality`` (rundir/records.py ``MTScore``, written by job/mtquality.py)."""
    out: list[MTQualityRow] = []
    for p in rec.state.phases.values():
        scores = p.info.get("mt_quality") if p.kind == PhaseKind.TRANSLATE else None
        for raw in scores if isinstance(scores, list) else []:
            m = MTScore.from_dict(raw)
            if m is None:
                continue
            out.append(
                MTQualityRow(
                    run_id=rec.run_id,
                    phase=p.name,
                    lang=m.lang,
                    split=m.split,
                    reference=m.reference,
                    translator=m.translator,
                    chrf=m.chrf,
                    bleu=m.bleu,
                    items=m.items,
                    segments=m.segments,
                    chrf_signature=m.chrf_signature,
                    bleu_signature=m.bleu_signature,
                    missing=m.missing,
                )
            )
    return out


class DataSourceRow(TypedDict):
    run_id: str
    seq: int
    task: str
    split: str
    lang: str
    role: str
    source: str
    repo: str | None
    config: str | None
    hub_split: str | None
    revision: str | None
    resolved_revision: str | None
    path: str | None
    sha256: str | None
    rows: int | None
    used: int | None
    subset: str | None
    fallback: str | None
    xcopa_question: str | None
    questions_corrected: int | None
    note: str | None
    t: float | None


def data_source_rows(rec: RunRecords) -> list[DataSourceRow]:
    """One row per ``data_loaded`` event: every split the run read and where from."""
    return [
        DataSourceRow(
            run_id=rec.run_id,
            seq=i,
            task=ev.task,
            split=ev.split,
            lang=ev.lang,
            role=ev.role,
            source=ev.source,
            repo=ev.repo,
            config=ev.config,
            hub_split=ev.hub_split,
            revision=ev.revision,
            resolved_revision=ev.resolved_revision,
            path=ev.path,
            sha256=ev.sha256,
            rows=ev.rows,
            used=ev.used,
            subset=ev.subset,
            fallback=ev.fallback,
            xcopa_question=ev.xcopa_question,
            questions_corrected=ev.questions_corrected,
            note=ev.note,
            t=ev.t or None,
        )
        for i, ev in enumerate(rec.state.data_sources)
    ]


class EventColumns(TypedDict):
    """The ``events`` table by column (a run can hold many events: built as columns, not rows)."""

    run_id: list[str]
    seq: list[int]
    t: list[float | None]
    type: list[str | None]
    phase: list[str | None]
    json: list[str]


def event_columns(run_id: str, lines: Sequence[JsonlLine]) -> EventColumns:
    """Every complete line of events.jsonl, as it was written (the store keeps the text)."""
    cols = EventColumns(run_id=[], seq=[], t=[], type=[], phase=[], json=[])
    for seq, line in enumerate(lines):
        cols["run_id"].append(run_id)
        cols["seq"].append(seq)
        cols["t"].append(as_float(line.obj.get("t")))
        cols["type"].append(as_str(line.obj.get("type")))
        cols["phase"].append(as_str(line.obj.get("phase")))
        # DuckDB's JSON has no NaN/Infinity (Python's json writes them): store such a line cleaned
        cols["json"].append(dumps(line.obj) if ("NaN" in line.text or "Infinity" in line.text) else line.text)
    return cols


# ---- forecasts ----------------------------------------------------------------------------------


class ForecastRow(TypedDict):
    forecast_id: str
    made_at: datetime | None
    plan: str
    plan_label: str
    mode: str
    device_type: str | None
    device_name: str | None
    device_family: str | None
    device_profile: str | None
    precision: str | None
    efficiency: float | None
    host: str | None
    env: str  # JSON
    run_id: str
    run_name: str | None
    method: str
    model: str
    seed: int
    phase: str
    kind: str
    ordinal: int
    examples: int | None
    steps: int | None
    micro_batch_size: int | None
    micro_batch_source: str | None
    micro_batches: int | None
    tokens_nonpad: int | None
    tokens_padded: int | None
    flops: float | None
    wall_s: float | None
    device_hours: float | None
    energy_j: float | None
    peak_mem_bytes: int | None
    peak_mem_source: str | None
    memory_total_bytes: int | None
    max_micro_batch: int | None
    fits: bool | None
    time_source: str | None
    lengths_source: str | None
    counts_source: str | None
    assumed: bool
    shared: bool
    shared_from: str | None
    run_suggested_time_s: float | None
    notes: str  # JSON
    path: str | None


def forecast_rows(fc: PlanForecast, path: str | None) -> list[ForecastRow]:
    """The ``forecasts`` table's rows of one forecast: one per run and phase, from the flat row of a
    forecast phase the CSV output starts from too (``rundir.forecast.phase_row``); ``path`` is the
    forecast file as the store records it."""
    dev = fc.device or {}
    rows = []
    for run, p in fc.phases():
        ph = phase_row(run, p)
        rows.append(
            ForecastRow(
                forecast_id=fc.forecast_id,
                made_at=as_timestamp(fc.made_at),
                plan=fc.plan,
                plan_label=fc.plan_label,
                mode=fc.mode,
                device_type=dev.get("type"),
                device_name=dev.get("name"),
                device_family=dev.get("family"),
                device_profile=dev.get("profile"),
                precision=dev.get("precision"),
                efficiency=fc.efficiency,
                host=(fc.env or {}).get("host"),
                env=json.dumps(fc.env, default=str),
                run_id=ph["run_id"],
                run_name=ph["run_name"],
                method=ph["method"],
                model=ph["model"],
                seed=ph["seed"],
                phase=ph["phase"],
                kind=ph["kind"],
                ordinal=ph["ordinal"],
                examples=ph["examples"],
                steps=ph["steps"],
                micro_batch_size=ph["micro_batch_size"],
                micro_batch_source=ph["micro_batch_source"],
                micro_batches=ph["micro_batches"],
                tokens_nonpad=ph["tokens_nonpad"],
                tokens_padded=ph["tokens_padded"],
                flops=ph["flops"],
                wall_s=ph["wall_s"],
                device_hours=ph["device_hours"],
                energy_j=ph["energy_j"],
                peak_mem_bytes=ph["peak_mem_bytes"],
                peak_mem_source=ph["peak_mem_source"],
                memory_total_bytes=ph["memory_total_bytes"],
                max_micro_batch=ph["max_micro_batch"],
                fits=ph["fits"],
                time_source=ph["time_source"],
                lengths_source=ph["lengths_source"],
                counts_source=ph["counts_source"],
                assumed=ph["assumed"],
                shared=ph["shared"],
                shared_from=ph["shared_from"],
                run_suggested_time_s=ph["run_suggested_time_s"],
                notes=json.dumps(p.notes),
                path=path,
            )
        )
    return rows


# ---- the verdict tables (their numbers: verdict_tables.py) ------------------------------------------


class VerdictAccuracyRow(TypedDict):
    config_id: str
    lang: str  # an XCOPA language, "en", or an average form: avg, avg_all, avg_published, avg_seen
    n_runs: int
    n_seeds: int
    n_clusters: int  # the interval's clusters: training seeds, or an in-context configuration's shot draws
    n_items: int
    accuracy: float
    se: float
    ci_low: float
    ci_high: float
    seed_sd: float | None  # SD of a new training seed's accuracy (None: trains nothing, or 1 seed)
    draw_sd: float | None  # SD of a new shot draw's accuracy (within a seed when it trains)
    covers: str  # what the interval covers, in words: "seeds, shot draws and items", "items only (1 seed)" ...
    seed_variation: bool
    chance: bool


class VerdictComparisonRow(TypedDict):
    config_id: str
    baseline_id: str
    lang: str
    paired: bool  # through shared training seeds; False: independent arms, paired on items only
    n_pairs: int
    n_a: int  # clusters behind each side
    n_b: int
    n_items: int
    diff: float
    se: float
    ci_low: float
    ci_high: float
    equiv_low: float
    equiv_high: float
    delta: float  # the equivalence margin the equivalence p-values were computed at
    p_value: float
    p_equiv: float  # TOST against ±delta
    p_holm: float | None  # Holm-adjusted over holm_family (None: English, a family of its own)
    p_equiv_holm: float | None
    p_equiv_at: list[float]  # the TOST p at each of stats.thresholds.SENSITIVITY_DELTAS
    p_equiv_holm_at: list[float]  # the same, Holm-adjusted over holm_family (unadjusted without a family)
    holm_family: str | None  # "languages" (the XCOPA languages of one comparison) or "configurations" (averages)
    holm_n: int | None
    seed_sd: float | None  # paired: SD over seeds of the difference
    mcnemar_p: float | None  # McNemar's exact test stratified over seed pairs (paired, per language)
