"""The phase engine of the encoder methods: a run's planned phases (``RunSpec.phase_plan``) in
order, each measured between ``_begin`` and ``_end`` (PhaseMeter, a phase_start and a phase_end
event), with the seeds that make a phase's randomness its own.

``PhaseRunner.start`` loads the run's encoder and runs every phase in one loop (``run_all``); a
method whose phases differ overrides the per-language hooks (translate-test, job/translate.py).
In-context learning measures its phases with the same ``_begin``/``_end`` (job/icl.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import threading
from pathlib import Path
from typing import Protocol, cast

import torch

from ..collapse import check_collapse
from ..measure.flops import EncoderDims
from ..measure.heads import SPAN_HEAD
from ..measure.mfu import mfu, peak_flops
from ..measure.timer import PhaseMeter, throughput
from ..methods import METHOD_TABLE
from ..rundir import (
    CheckpointSaved,
    EvalResult,
    EventWriter,
    JsonlWriter,
    PhaseEnd,
    PhaseStart,
    Prediction,
    Resumed,
    ReusedFrom,
    RunDir,
    RunStatus,
    parse_event,
    read_jsonl,
    update_status,
)
from ..rundir import resume as resume_points
from ..rundir.cost import Cost
from ..rundir.events import CollapseCheck
from ..rundir.kinds import attempt_phase, phase_attempt
from ..spec import PhaseKind, PlannedPhase, RunSpec
from ..tasks import get_task
from ..tasks.registry import SPAN
from .batching import encode
from .bench import inference_bench
from .curves import CurveProbe, curve_phase_name, pipeline_costs
from .data import RunData, few_shot_sample, selection_sample
from .device import phase_meter
from .log import _log
from .loops import Device, JobContext, TrainTask, encoder_dims, evaluate, evaluate_spans, plan_steps, train
from .model import head_key, load_encoder, save_checkpoint
from .perquery import encoder_query_flops
from .resume import Checkpointer, Restored, interval
from .warmup import Warmer


class RunHandle(Protocol):
    """What the phases use of the job (``main.Job``): its run directory, its writers, the phase it
    is in (status.json says it), and its cancel point."""

    run_dir: Path
    files: RunDir
    events: EventWriter
    predictions: JsonlWriter
    cancel: threading.Event
    phase: str | None

    def cancel_point(self) -> None: ...


# ---- seeds ------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    torch.use_deterministic_algorithms(True, warn_only=True)


def phase_seed(seed: int, phase: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{phase}".encode()).digest()[:4], "little")


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed of attempt ``attempt`` of the target phase: the run's seed first, then one derived
    from it per retry (recorded in the attempt's info and its collapse_check event)."""
    return seed if attempt <= 1 else phase_seed(seed, f"collapse-retry:{attempt}")


# ---- phases -------------------------------------------------------------------------------------


# what a saved model after the target phase carries besides its phase records (phase.json field -> event type)
TARGET_CHECKPOINT = "target"
SHARED_EVENTS = {"evals": "eval_result", "collapse_checks": "collapse_check", "curve_points": "curve_point"}


class PhaseRunner:
    """Executes the spec's phase plan (RunSpec.phase_plan), in order, one measured phase each."""

    records_curves = True  # its target and few-shot phases record learning curves (translate-test's do not)

    def __init__(self, job: RunHandle, spec: RunSpec, ctx, model, tokenizer):
        self.job, self.spec, self.ctx, self.model, self.tokenizer = job, spec, ctx, model, tokenizer
        self.completed: list[PhaseEnd] = []  # phase_end events of this run
        self.data: RunData | None = None
        self.head = ""  # the target task's head key (run_all)
        # the model after the target phase, restored before each few-shot phase: on the host, so a
        # few-shot run holds one copy of the weights on the GPU, as direct does (issue 17)
        self.base_state: dict | None = None
        self.last_eval: list = []  # the last evaluated language's items: the inference bench's
        # a learning-rate sweep (spec.lr_sweep): per language, the best trial so far (its model on
        # the host) and every trial's selection score; eval:<lang> evaluates the selected model
        self.sweeps: dict[str, Sweep] = {}
        self.warmer = Warmer(ctx, model)  # its settings are the run's (ctx.measure)
        self.restored: Restored | None = None  # the resume checkpoint of a phase to continue (_resume)
        self._last_ckpt: Checkpointer | None = None  # the last training phase's resume checkpoints

    @classmethod
    def start(cls, job: RunHandle, spec: RunSpec, device: Device, data: RunData) -> None:
        """An encoder method's run after its data is loaded: the model (from a saved encoder, the
        hub or a path, or built in), then the phases (main.Job._run calls it: methods.py names it)."""
        # tiny-xlmr's tokenizer leaves a few-shot run's shots out where its target phase may be
        # shared (RunData.tokenizer_lists): then its own target phase trains the model a shared run starts from
        tokenizer, model, loaded, reused_meta = load_encoder(spec, lambda: list(data.tokenizer_lists(spec)))
        job.events.emit(loaded)
        _log(f"model: {spec.model} ({loaded.source}{', revision ' + loaded.revision if loaded.revision else ''})")
        model.to(device.torch_device)

        ctx = JobContext(
            device=device,
            events=job.events,
            measure=spec.measure,
            dims=EncoderDims.from_hf_config(model.encoder.config),
            pad_id=tokenizer.pad_token_id,
            cancel=job.cancel,
            log=_log,
            memory_now=lambda: (None, None, None),
        )
        job.cancel_point()
        cls(job, spec, ctx, model, tokenizer).run_all(data, reused_meta)

    def run_all(self, data: RunData, reused_meta: dict | None) -> None:
        """The phase loop: intermediate phase(s), the target phase with English validation (and the
        collapse check), then per language the method's own phase and eval:<lang>, then the
        inference bench. The per-language steps are hooks a method's runner overrides. A run
        started from a saved model after the target phase (``init_target_from``) records every
        phase up to it as reused (``_reused_target``)."""
        self.data = data
        spec = self.spec
        plan = spec.phase_plan()
        target_meta = reused_meta if (reused_meta or {}).get("kind") == TARGET_CHECKPOINT else None
        if target_meta is not None:
            reused_meta = None
        reused = {rec.get("phase"): rec for rec in (reused_meta or {}).get("phases", []) if isinstance(rec, dict)}
        last_intermediate = max((i for i, p in enumerate(plan) if p.kind == PhaseKind.INTERMEDIATE), default=None)
        self.head = head_key(*self._head_of(spec.target))
        self.base_state = None
        self.last_eval = data.english_eval
        language_phase = METHOD_TABLE[spec.method].per_language_phase  # few-shot:<lang>, translate:<lang>
        done: set[str] = set()  # planned phases already run as part of another (eval:en with the target)
        done |= self._resume(plan) if reused_meta is None and target_meta is None else set()
        for i, phase in enumerate(plan):
            if phase.name in done:
                continue
            if phase.kind == PhaseKind.INTERMEDIATE:
                if target_meta is None:  # else recorded with the target phase's records
                    self._intermediate_phase(phase, data, reused, reused_meta, i == last_intermediate)
            elif phase.kind == PhaseKind.TARGET:
                english = plan[i + 1] if i + 1 < len(plan) and plan[i + 1].lang == "en" else None
                if target_meta is not None:
                    self._reused_target(target_meta)
                else:
                    self._target_attempts(phase, english, data, self.head)
                    if spec.save_target:
                        self._save_target_checkpoint()
                if english is not None:
                    done.add(english.name)
                if language_phase == PhaseKind.FEW_SHOT.value:
                    self.base_state = _snapshot(self.model)
            elif phase.kind == PhaseKind.FEW_SHOT_TRIAL:
                self._trial_phase(phase, data)
            elif phase.kind.value == language_phase:
                self._language_phase(phase, data)
            elif phase.kind == PhaseKind.EVAL:
                assert phase.lang is not None
                if phase.lang == "en":
                    self._eval_phase(phase, spec.target, "validation", data.english_eval, self.head)
                else:
                    self._language_eval(phase, data)
            elif phase.kind == PhaseKind.INFERENCE_BENCH:
                self._bench(phase)

    # ---- resume (job/resume.py) -------------------------------------------------------------------
    def _resume(self, plan: list[PlannedPhase]) -> set[str]:
        """A run launched again in its run directory after an interruption continues from its resume
        checkpoint (an intermediate phase's): the phases before it (and the checkpoint's own, when it
        was taken after it ended) are not run again, their records stay as the earlier attempt wrote
        them; returns their names. The ``resumed`` event says from where, and what was lost."""
        self.restored = None
        point = resume_points.latest(self.job.run_dir)
        names = [p.name for p in plan if p.kind == PhaseKind.INTERMEDIATE]
        if point is None or point.phase not in names:
            return set()
        if (point.meta.get("info") or {}).get("run_id") != self.spec.run_id():
            _log(f"resume checkpoint {point.path} is another run's (its spec differs): not resumed")
            return set()
        restored = Restored.load(point)
        restored.lost = resume_points.lost_work(self.job.run_dir, point)
        lost = restored.lost
        attempt = int(point.meta.get("attempt") or 1) + 1
        self.ctx.events.emit(
            Resumed(
                point.phase,
                point.step,
                attempt,
                str(point.path.relative_to(self.job.run_dir)),
                lost.seconds,
                lost.steps,
                lost.flops,
                lost.source,
                lost.interrupted_t,
            )
        )
        self.completed = [PhaseEnd.from_dict({**r, "t": 0.0}) for r in point.meta.get("records") or []]
        skipped = set(names[: names.index(point.phase)])
        if point.done:
            restored.restore_model(self.model)
            skipped.add(point.phase)
        else:
            self.restored = restored
        _log(
            f"resumed from {point.path.name}: {point.phase} "
            + ("done" if point.done else f"at step {point.step}")
            + f"; lost {lost.seconds if lost.seconds is None else round(lost.seconds, 2)}s ({lost.source})"
        )
        return skipped

    def _checkpointer(self, phase: PlannedPhase, meter, info: dict, restored: Restored | None) -> Checkpointer | None:
        """The resume checkpoints of an intermediate phase (the long ones), when they are on or the
        phase continues from one (``restored``)."""
        if phase.kind != PhaseKind.INTERMEDIATE:
            return None
        every_s, every_steps = interval()
        if restored is None and every_s is None and every_steps is None:
            return None
        return Checkpointer(
            self.job.run_dir,
            phase.name,
            self.ctx.events,
            meter,
            _log,
            records=[p.to_dict() for p in self.completed],
            info=info,
            restored=restored,
            every_s=every_s,
            every_steps=every_steps,
        )

    def _phase_done_checkpoint(self, phase: PlannedPhase, ckpt: Checkpointer | None) -> None:
        """After an intermediate phase long enough to have checkpointed (or resumed), the model as
        it ended it, so a re-launch does not train it again (the phases after it start from it)."""
        plan = [p.name for p in self.spec.phase_plan()]
        if ckpt is None or plan[-1] == phase.name:
            return
        if not ckpt.saves and ckpt.restored is None:  # a short phase: done again sooner than saved
            return
        state = {"model": self.model.state_dict(), "heads": list(self.model.heads.keys())}
        ckpt.save_done(state, [p.to_dict() for p in self.completed])

    # ---- the per-language hooks (translate-test overrides them: job/translate.py) ---------------
    def _language_phase(self, phase: PlannedPhase, data: RunData) -> None:
        """few-shot:<lang>: the target phase's model trained on the language's k drawn shots."""
        spec = self.spec
        assert phase.lang is not None and self.base_state is not None and spec.few_shot_k is not None
        _restore(self.model, self.base_state)
        pool = data.few_shot_pool[phase.lang]
        shot_seed = spec.shot_seed or 0
        picked = few_shot_sample(pool, spec.few_shot_k, shot_seed, phase.lang)
        shots = [pool[j] for j in picked]
        self._train_phase(
            phase,
            {"xcopa": shots},
            spec.few_shot_hparams,
            info={
                "k": spec.few_shot_k,
                "shot_seed": shot_seed,
                "few_shot_indices": [e.idx for e in shots],
                **data.questions_info(spec, "validation", phase.lang, shots),
            },
        )

    def _trial_phase(self, phase: PlannedPhase, data: RunData) -> None:
        """few-shot:<lang>@lr=<lr>: one learning rate of the language's sweep, fine-tuned from the
        post-target model on the same k shots, then scored on the language's selection items (the
        same seeded validation items for every trial, none of them a shot) inside the same measured
        phase, so the selection's cost is the trial's. The best trial so far is kept (on the host)."""
        spec = self.spec
        lang = phase.lang
        assert lang is not None and self.base_state is not None and spec.few_shot_k is not None
        lr = dict(spec.trial_phases(lang))[phase.name]
        _restore(self.model, self.base_state)
        pool = data.few_shot_pool[lang]
        shot_seed = spec.shot_seed or 0
        picked = few_shot_sample(pool, spec.few_shot_k, shot_seed, lang)
        shots = [pool[j] for j in picked]
        # never empty: a sweep whose k leaves no item is refused when the data loads (job/data.py)
        held = [pool[j] for j in selection_sample(pool, spec.few_shot_k, shot_seed, lang, spec.lr_sweep_items)]
        hp = dataclasses.replace(spec.few_shot_hparams, learning_rate=lr)
        score = encode(held, self.tokenizer, self.spec.hparams.max_seq_len)
        rows: list[dict] = []
        self._train_phase(
            phase,
            {"xcopa": shots},
            hp,
            info={
                "k": spec.few_shot_k,
                "shot_seed": shot_seed,
                "few_shot_indices": [e.idx for e in shots],
                "learning_rate": lr,
                "selection_indices": [e.idx for e in held],
                **data.questions_info(spec, "validation", lang, shots),
            },
            score=(score, rows),
        )
        correct = sum(1 for r in rows if r["correct"])
        sweep = self.sweeps.setdefault(lang, Sweep(len(held)))
        sweep.add(phase.name, lr, correct, self.model)

    def _language_eval(self, phase: PlannedPhase, data: RunData) -> None:
        """eval:<lang> of a target language: its XCOPA items (after a learning-rate sweep, with
        the selected trial's model; its eval info records the selection)."""
        spec = self.spec
        assert phase.lang is not None
        examples = data.target_eval[phase.lang]
        split = "validation" if spec.eval_split == "val" else spec.eval_split
        sweep = self.sweeps.get(phase.lang)
        if sweep is not None:
            _restore(self.model, sweep.best_state)
        self._eval_phase(
            phase,
            "xcopa",
            spec.eval_split,
            examples,
            self.head,
            extra_info={
                **data.questions_info(spec, split, phase.lang, examples),
                **({"lr_sweep": sweep.record()} if sweep is not None else {}),
            },
        )
        self.last_eval = examples or self.last_eval

    def _bench(self, phase: PlannedPhase) -> None:
        """inference-bench: the classifier (the target phase's, in a few-shot run) on the last
        evaluated language's items."""
        if self.base_state is not None:
            _restore(self.model, self.base_state)
        self._inference_bench(phase, self.last_eval, self.head)

    def _target_attempts(
        self, phase: PlannedPhase, english: PlannedPhase | None, data: RunData, target_head: str
    ) -> None:
        """The target phase, then English validation and the collapse check; a collapsed attempt is
        trained again (``collapse_retries`` times at most) from the model as it was before the
        target phase, with a derived seed: target:copa#2 and eval:en#2, each its own phase with its
        own costs. The run goes on with the last attempt (collapsed or not: the check says which)."""
        spec = self.spec
        before = _snapshot(self.model) if spec.collapse_retries and english is not None else None
        attempt = 1
        while True:
            seed = attempt_seed(spec.seed, attempt)
            name = attempt_phase(phase.name, attempt)
            losses = self._train_phase(
                dataclasses.replace(phase, name=name),
                {spec.target: data.target_train},
                spec.hparams,
                seed=seed,
                info={"attempt": attempt},
            )
            if english is None:
                return
            en = dataclasses.replace(english, name=attempt_phase(english.name, attempt))
            rows = self._eval_phase(en, spec.target, "validation", data.english_eval, target_head)
            n_choices = max((len(r["scores"]) for r in rows), default=2)
            verdict = check_collapse(
                [r["pred"] for r in rows], [r["label"] for r in rows], max(2, n_choices), losses=losses
            )
            retry = bool(verdict.collapsed) and attempt <= spec.collapse_retries
            self.ctx.events.emit(
                CollapseCheck(
                    name,
                    en.name,
                    attempt,
                    seed,
                    verdict.collapsed,
                    verdict.accuracy,
                    verdict.n,
                    verdict.correct,
                    verdict.p_value,
                    verdict.majority_choice,
                    verdict.majority_share,
                    verdict.alpha,
                    verdict.majority,
                    list(verdict.reasons),
                    retry,
                    within_chance=verdict.within_chance,
                    loss_first=verdict.loss_first,
                    loss_last=verdict.loss_last,
                    loss_steps=verdict.loss_steps,
                    loss_tolerance=verdict.loss_tolerance,
                    loss_fell=verdict.loss_fell,
                )
            )
            if verdict.collapsed:
                _log(
                    f"{name}: collapsed ({'; '.join(verdict.reasons)})"
                    + (f"; training it again with a derived seed (attempt {attempt + 1})" if retry else "")
                )
            if not retry:
                return
            assert before is not None
            _restore(self.model, before)
            attempt += 1

    # ---- helpers -----------------------------------------------------------------------------
    def _head_of(self, task: str) -> tuple[str, int | None]:
        t = get_task(task)
        return t.head, t.num_labels

    def _meter(self) -> PhaseMeter:
        """A phase's meter on the run's device: over every GPU it uses (job/device.py)."""
        return phase_meter(self.ctx.device, self.spec.measure.enabled)

    def _begin(self, phase: PlannedPhase, total_steps: int | None):
        self.job.cancel_point()
        self.job.phase = phase.name
        update_status(self.job.run_dir, RunStatus.RUNNING, phase=phase.name)
        self.ctx.events.emit(PhaseStart(phase.name, phase.kind.value, total_steps))
        meter = self._meter()
        if self.spec.measure.enabled:
            self.ctx.memory_now = lambda: meter.memory.current()
        return meter

    def _end(
        self, phase: PlannedPhase, meter, tally, *, tasks, info=None, extra_costs=None, ckpt: Checkpointer | None = None
    ) -> PhaseEnd:
        costs = dict(meter.costs())
        if ckpt is not None:
            info = {**(info or {}), **_resumed_costs(costs, ckpt)}
        wall = costs["wall_s"].value or 0.0
        if ckpt is not None:  # throughput and MFU of the useful work: the lost stretches left out
            wall = costs["wall_s"].extra.get("useful_s", wall)
        if tally is not None:
            costs["examples"] = Cost.measured(tally.examples, "count", "counted")
            costs["steps"] = Cost.measured(tally.steps, "count", "counted")
            costs["tokens_nonpad"] = Cost.measured(tally.tokens_nonpad, "count", "counted")
            costs["tokens_padded"] = Cost.measured(tally.tokens_padded, "count", "counted")
            costs["padding_efficiency"] = (
                Cost.measured(tally.tokens_nonpad / tally.tokens_padded, "ratio", "counted")
                if tally.tokens_padded
                else Cost.missing("ratio", "no tokens processed")
            )
            costs["flops_analytic"] = Cost.measured(tally.flops_analytic, "FLOP", "analytic")
            costs["flops_analytic_nonpad"] = Cost.measured(tally.flops_nonpad, "FLOP", "analytic")
            if tally.check is not None:
                costs["flops_measured"] = tally.check.cost(tally.flops_analytic)
            else:
                costs["flops_measured"] = Cost.missing("FLOP", "measurement off (measure.enabled = false)")
            costs["examples_per_s"] = throughput(tally.examples, wall, "examples/s")
            costs["tokens_per_s"] = throughput(tally.tokens_nonpad, wall, "tokens/s")
            # MFU counts useful work: the FLOPs of the non-pad tokens; mfu_padded what the hardware multiplied.
            peak, reason = peak_flops(self.ctx.device.name, self.ctx.device.precision, self.ctx.device.type)
            count = self.ctx.device.count
            why = cast(str, reason)  # peak_flops gives a reason whenever it gives no peak
            costs["mfu"] = mfu(tally.flops_nonpad, wall, peak, count) if peak else Cost.missing("ratio", why)
            costs["mfu_padded"] = mfu(tally.flops_analytic, wall, peak, count) if peak else Cost.missing("ratio", why)
        costs.update(extra_costs or {})
        record = self.ctx.events.emit(
            PhaseEnd(phase.name, phase.kind.value, list(tasks), phase.lang, None, costs, info or {})
        )
        assert isinstance(record, PhaseEnd)
        self.completed.append(record)
        self.ctx.memory_now = lambda: (None, None, None)
        return record

    def _train_phase(
        self,
        phase: PlannedPhase,
        task_data: dict[str, list],
        hp,
        *,
        info=None,
        seed: int | None = None,
        validate=None,
        score: tuple[list, list[dict]] | None = None,
    ) -> list[float]:
        """One measured training phase; returns its mean loss per optimiser step (the collapse
        check reads whether it fell). ``validate()``, when given, runs after the phase's window
        and before its record, and returns facts for the record's info (a span task's EM/F1).
        ``score``: (encoded items, a list to fill with their rows), scored after training inside
        the same meter (a sweep trial's selection): its examples, tokens and FLOPs are part of the
        phase's."""
        # Each phase starts from its own seed, so a phase's randomness (new heads, dropout) does not
        # depend on what ran before it: a run started from a saved encoder matches one that trained it.
        # A retry of the target phase (target:copa#2) has its own seed (attempt_seed) and is seeded
        # as its phase, so it differs from the first attempt only by that seed.
        seed = self.spec.seed if seed is None else seed
        # A sweep's trials (few-shot:it@lr=3e-05) are seeded, and see their examples in the order,
        # of few-shot:it: they differ by the learning rate only.
        order_key = phase.name.split("@", 1)[0] if phase.kind == PhaseKind.FEW_SHOT_TRIAL else None
        restored = self.restored if self.restored is not None and self.restored.point.phase == phase.name else None
        if restored is not None:  # the weights (every head) as the interrupted attempt checkpointed them
            restored.restore_model(self.model)
        torch.manual_seed(phase_seed(seed, order_key or phase_attempt(phase.name)[0]))
        tasks = []
        reinit = {}
        for name, exs in task_data.items():
            key = head_key(*self._head_of(name))
            reinit[name] = self.model.ensure_head(key)
            tasks.append(TrainTask(name, key, encode(exs, self.tokenizer, hp.max_seq_len)))
        if restored is not None:  # whether the phase made its heads is its first attempt's fact
            reinit = dict(restored.point.meta.get("info", {}).get("head_initialised") or reinit)
        total_steps, _ = plan_steps(tasks, hp)
        probe = self._curve_probe(phase, tasks[0].head)
        # untimed, before the meter: the warm-up at the phase's new shapes, the micro-batch, the FLOP check
        micro, check = self.warmer.train(phase.name, tasks, hp)
        curve_check = (
            self.warmer.eval(phase.name, [e for d in probe.labelled.values() for e in d], probe.head, probe.batch_size)
            if probe is not None
            else None
        )
        score_check = (
            self.warmer.eval(phase.name, score[0], tasks[0].head, self.spec.eval_batch_size) if score else None
        )
        meter = self._begin(phase, total_steps)
        ckpt = self._last_ckpt = self._checkpointer(
            phase, meter, {"head_initialised": reinit, "run_id": self.spec.run_id()}, restored
        )
        with meter:
            if probe is not None:
                probe.start(meter)
            tally, facts = train(
                self.ctx,
                self.model,
                phase.name,
                tasks,
                hp,
                seed,
                on_step=probe,
                micro=micro,
                order_key=order_key,
                checkpoint=ckpt,
            )
            if score is not None:
                score_tally, score_rows = evaluate(
                    self.ctx, self.model, score[0], tasks[0].head, self.spec.eval_batch_size
                )
        self.restored = None
        if score is not None:
            steps = tally.steps
            tally.merge(score_tally)
            tally.steps = steps  # optimiser steps: the scoring takes none
            if check is not None and score_check is not None:
                check.merge(score_check)
            score[1].extend(score_rows)
            correct = sum(1 for r in score_rows if r["correct"])
            facts.update(
                selection_n=len(score_rows),
                selection_correct=correct,
                selection_accuracy=correct / len(score_rows) if score_rows else None,
                selection_examples=score_tally.examples,
                selection_flops=score_tally.flops_analytic,
            )
        tally.check = check
        if probe is not None:
            facts.update(probe.info())
        if validate is not None:
            facts.update(validate())
        self._end(
            phase,
            meter,
            tally,
            tasks=list(task_data),
            info={
                **facts,
                "precision": self.ctx.device.precision,
                "head_initialised": reinit,
                "max_seq_len": hp.max_seq_len,
                **(info or {}),
            },
            ckpt=ckpt,
        )
        if probe is not None and probe.n_points:
            self._curve_phase(phase, probe, curve_check)
        return tally.step_losses

    def _curve_phase(self, phase: PlannedPhase, probe: CurveProbe, check) -> None:
        """curve:<phase>: the training phase's learning-curve evaluations, one measured window per
        point, recorded after the training phase (they are not training: issue 17)."""
        curve = PlannedPhase(curve_phase_name(phase.name), PhaseKind.CURVE, phase.tasks, phase.lang)
        self.ctx.events.emit(PhaseStart(curve.name, curve.kind.value, probe.n_points))
        probe.tally.check = check
        self._end(
            curve,
            probe.meter,
            probe.tally,
            tasks=list(phase.tasks),
            info={
                "of_phase": phase.name,
                "points": probe.n_points,
                "windows": probe.meter.windows,
                "split": probe.split,
                "batch_size": probe.batch_size,
                "langs": sorted(probe.held_out),
            },
        )

    def _curve_probe(self, phase: PlannedPhase, head: str):
        """A learning-curve probe for the target and few-shot phases (measure.curve_points > 0)."""
        points = self.spec.measure.curve_points if self.spec.measure.enabled else 0
        if points <= 0 or phase.kind not in (PhaseKind.TARGET, PhaseKind.FEW_SHOT) or self.data is None:
            return None
        lang = phase.lang if phase.kind == PhaseKind.FEW_SHOT else None
        sets = self.data.curve_sets(self.spec, lang)
        if not sets:
            return None
        held_out = {code: encode(exs, self.tokenizer, self.spec.hparams.max_seq_len) for code, exs in sets.items()}
        # The pipeline so far: every completed training phase, but not another language's few-shot phase.
        base = pipeline_costs(self.completed, exclude=lambda p: p.kind == PhaseKind.FEW_SHOT.value)
        return CurveProbe(
            self.ctx,
            self.model,
            phase.name,
            head,
            "validation",
            held_out,
            points,
            self.spec.eval_batch_size,
            base,
            self._meter(),
        )

    def _eval_phase(
        self, phase: PlannedPhase, task: str, split: str, examples: list, head: str, extra_info: dict | None = None
    ) -> list[dict]:
        lang = phase.lang or "en"
        encoded = encode(examples, self.tokenizer, self.spec.hparams.max_seq_len)
        check = self.warmer.eval(phase.name, encoded, head, self.spec.eval_batch_size)  # untimed
        meter = self._begin(phase, math.ceil(len(encoded) / self.spec.eval_batch_size))
        with meter:
            tally, rows = evaluate(self.ctx, self.model, encoded, head, self.spec.eval_batch_size)
        tally.check = check
        correct = sum(r["correct"] for r in rows)
        labelled = sum(1 for r in rows if r["label"] >= 0)
        accuracy = correct / labelled if labelled else None
        for r in rows:
            self.job.predictions.write(
                Prediction(
                    phase.name, task, lang, split, r["idx"], r["pred"], r["label"], r["scores"], r["correct"]
                ).to_dict()
            )
        self._end(
            phase,
            meter,
            tally,
            tasks=[task],
            info={
                "split": split,
                "batch_size": self.spec.eval_batch_size,
                "ties": sum(1 for r in rows if r.get("tie")),
                **(extra_info or {}),
            },
            extra_costs={"query_flops": encoder_query_flops(encoder_dims(self.ctx), encoded, head)},
        )
        self.ctx.events.emit(EvalResult(phase.name, task, lang, split, accuracy, labelled, correct))
        _log(f"{phase.name}: accuracy {accuracy if accuracy is None else round(accuracy, 4)} on {labelled} examples")
        return rows

    def _inference_bench(self, phase: PlannedPhase, examples: list, head: str) -> None:
        encoded = encode(examples, self.tokenizer, self.spec.hparams.max_seq_len)
        meter = self._begin(phase, None)
        with meter:
            extra, facts = inference_bench(self.ctx, self.model, encoded, head, self.spec)
        self._end(phase, meter, None, tasks=[], extra_costs=extra, info=facts)

    def _intermediate_phase(
        self, phase: PlannedPhase, data: RunData, reused: dict, reused_meta: dict | None, last: bool
    ) -> None:
        """An intermediate phase: recorded as reused from the saved encoder, or trained (and the
        encoder saved after the last one when the spec asks)."""
        if reused_meta is not None:
            self._reused_phase(
                reused.get(phase.name) or {"phase": phase.name, "kind": phase.kind.value, "tasks": list(phase.tasks)},
                reused_meta,
            )
            return
        self._train_phase(
            phase,
            {t: data.intermediate[t] for t in phase.tasks},
            self.spec.intermediate_hparams,
            validate=lambda: self._span_validation(phase, data),
        )
        if last and self.spec.save_encoder:
            self._save_checkpoint()
        self._phase_done_checkpoint(phase, self._last_ckpt)

    def _span_validation(self, phase: PlannedPhase, data: RunData) -> dict:
        """The validation of the phase's span-extraction tasks (SQuAD): exact match and F1 with
        the official normalisation (tasks/squad.py), measured in its own window after training
        (its costs stand in the record's info, ``validation``, not in the training phase's
        figures). With one span task the phase's ``accuracy`` is its exact match (docs/tasks.md)."""
        spans = [t for t in phase.tasks if get_task(t).head == SPAN and data.intermediate_eval.get(t)]
        if not spans:
            return {}
        hp, batch_size = self.spec.intermediate_hparams, self.spec.eval_batch_size
        out: dict[str, dict] = {}
        for task in spans:
            examples = data.intermediate_eval[task]
            encoded = encode(examples, self.tokenizer, hp.max_seq_len, offsets=True)
            check = self.warmer.eval(phase.name, encoded, SPAN_HEAD, batch_size)  # untimed
            meter = self._meter()
            with meter:
                tally, rows = evaluate_spans(
                    self.ctx, self.model, examples, encoded, batch_size, get_task(task).with_negative
                )
            n = len(rows)
            em = sum(r["exact_match"] for r in rows) / n if n else None
            f1 = sum(r["f1"] for r in rows) / n if n else None
            costs = meter.costs()
            out[task] = {
                "split": "validation",
                "metric": "exact_match",
                "exact_match": em,
                "f1": f1,
                "n": n,
                "exact": sum(r["exact_match"] for r in rows),
                "answerable": sum(1 for r in rows if r["answerable"]),
                "null_predictions": sum(1 for r in rows if r["null"]),
                "windows": len(encoded),
                "batch_size": batch_size,
                "wall_s": costs["wall_s"].value,
                "flops_analytic": tally.flops_analytic,
                "flops_measured": check.cost(tally.flops_analytic).to_dict(),
                "tokens_padded": tally.tokens_padded,
            }
            _log(
                f"{phase.name}: {task} validation exact match {em if em is None else round(em, 4)}, F1 "
                f"{f1 if f1 is None else round(f1, 4)} on {n} questions ({len(encoded)} windows)"
            )
        facts: dict = {"validation": out}
        if len(out) == 1:
            only = next(iter(out.values()))
            facts.update(accuracy=only["exact_match"], exact_match=only["exact_match"], f1=only["f1"])
        return facts

    def _save_checkpoint(self) -> None:
        path = self.job.files.intermediate_checkpoint
        phases = [p.to_dict() for p in self.completed if p.kind == PhaseKind.INTERMEDIATE.value]
        save_checkpoint(
            path,
            self.model,
            self.tokenizer,
            {
                "key": self.spec.intermediate_key(),
                "run_id": self.job.files.run_id,
                "run_dir": str(self.job.run_dir.resolve()),
                "phases": phases,
            },
        )
        self.ctx.events.emit(
            CheckpointSaved(
                phases[-1]["phase"] if phases else None,
                str(path.relative_to(self.job.run_dir)),
                self.spec.intermediate_key(),
            )
        )
        _log(f"saved the encoder after the intermediate phase(s) to {path}")

    def _save_target_checkpoint(self) -> None:
        """The model after the target phase, its English validation, collapse retries and learning
        curve, saved for the runs of the same target key (RunSpec.target_key; runner/shared.py),
        with everything they record of those phases: the phase records (intermediate ones
        included, reused ones still naming where they were incurred), eval:en's results and
        predictions, the collapse checks and the curve points. phase.json is written last: a
        consumer may start once it is there."""
        path = self.job.files.target_checkpoint
        names = {p.phase for p in self.completed}
        events = [e for e in read_jsonl(self.job.files.events) if e.get("phase") in names]
        predictions = [r for r in read_jsonl(self.job.files.predictions) if r.get("phase") in names]
        key = self.spec.target_key()
        save_checkpoint(
            path,
            self.model,
            self.tokenizer,
            {
                "kind": TARGET_CHECKPOINT,
                "key": key,
                "run_id": self.job.files.run_id,
                "run_dir": str(self.job.run_dir.resolve()),
                "phases": [p.to_dict() for p in self.completed],
                **{field: [e for e in events if e.get("type") == kind] for field, kind in SHARED_EVENTS.items()},
                "predictions": predictions,
            },
        )
        last = next((p.phase for p in reversed(self.completed) if p.kind == PhaseKind.TARGET.value), None)
        self.ctx.events.emit(CheckpointSaved(last, str(path.relative_to(self.job.run_dir)), key, TARGET_CHECKPOINT))
        _log(f"saved the model after the target phase to {path}")

    def _reused_target(self, meta: dict) -> None:
        """The phases up to the target phase's (intermediate, target attempts, eval:en, curve) as
        the producer recorded them, each recorded here as reused, with what came with it: eval:en's
        results and predictions (the same rows), the collapse checks, the curve points."""
        by_phase: dict[str, list[dict]] = {}
        for field, kind in SHARED_EVENTS.items():
            if kind == "curve_point" and not self.records_curves:
                continue
            for e in meta.get(field) or []:
                if isinstance(e, dict):  # a collapse check comes after the evaluation it judged
                    by_phase.setdefault(str(e.get("eval_phase") or e.get("phase")), []).append(e)
        rows: dict[str, list[dict]] = {}
        for r in meta.get("predictions") or []:
            if isinstance(r, dict):
                rows.setdefault(str(r.get("phase")), []).append(r)
        for rec in meta.get("phases") or []:
            if not isinstance(rec, dict) or "phase" not in rec:
                continue
            if rec.get("kind") == PhaseKind.CURVE.value and not self.records_curves:
                continue  # this method records no learning curve (translate-test)
            self._reused_phase(rec, meta)
            name = str(rec["phase"])
            for row in rows.get(name, []):
                self.job.predictions.write(row)
            for obj in by_phase.get(name, []):
                event = parse_event({**obj, "t": 0.0})
                if event is not None:
                    self.ctx.events.emit(event)
                if isinstance(event, EvalResult):
                    _log(f"{event.phase}: accuracy {event.accuracy} on {event.n} examples (reused)")
        _log(f"phases up to the target phase reused from {meta.get('run_id')}")

    def _reused_phase(self, rec: dict, meta: dict) -> None:
        """The record of a phase this run did not execute: its cost was counted where it was
        incurred (``meta``'s run, or where the producer's own record of it says, when the producer
        reused it too)."""
        if isinstance(rec.get("reused_from"), dict):
            again = PhaseEnd.from_dict({**rec, "t": 0.0})
            self.ctx.events.emit(PhaseStart(again.phase, again.kind, None))
            self.completed.append(cast(PhaseEnd, self.ctx.events.emit(again)))
            return
        reason = f"reused: counted in {meta.get('run_id')}"
        recorded = rec.get("costs")
        original = recorded if isinstance(recorded, dict) else {}
        costs = {
            name: Cost.missing(str(c.get("unit") or "") if isinstance(c, dict) else "", reason)
            for name, c in original.items()
        }
        name, kind = str(rec["phase"]), str(rec.get("kind") or PhaseKind.INTERMEDIATE.value)
        self.ctx.events.emit(PhaseStart(name, kind, None))
        record = self.ctx.events.emit(
            PhaseEnd(
                name,
                kind,
                [str(t) for t in rec.get("tasks") or []],
                rec.get("lang") if isinstance(rec.get("lang"), str) else None,
                ReusedFrom(meta.get("run_id"), meta.get("run_dir"), name),
                costs,
                {"reused": True, "original_costs": original},
            )
        )
        assert isinstance(record, PhaseEnd)
        self.completed.append(record)


def _resumed_costs(costs: dict[str, Cost], ckpt: Checkpointer) -> dict:
    """A checkpointed phase's costs over all its attempts (``costs``: this attempt's window, changed
    in place): the time figures (wall_s, device_hours) are what the phase took in every attempt,
    the stretches lost to interruptions included (paid for: the run's cost counts them), with
    ``useful_s`` the part that made the result; cpu_s and energy_j are the useful windows'; the
    counts (examples, steps, tokens, FLOPs) are the result's work, the same as an uninterrupted
    phase's. The lost work stands apart (lost_wall_s, lost_steps, lost_flops), and so does the
    time spent writing checkpoints (checkpoint_s, outside every window). Returns the info's facts."""
    earlier = ckpt.earlier
    this_wall = costs["wall_s"].value or 0.0
    useful = float(earlier.get("wall_s", 0.0)) + this_wall
    lost_s = sum(float(lost.get("lost_s") or 0.0) for lost in ckpt.lost)
    wall = useful + lost_s
    devices = costs["devices"].value or 1
    device_type = costs["devices"].extra.get("device_type")
    costs["wall_s"] = Cost.measured(wall, "s", "wall_clock", useful_s=useful, attempts=ckpt.attempt)
    costs["device_hours"] = Cost.measured(wall * devices / 3600.0, "h", "wall_clock", device_type=device_type)
    if costs["cpu_s"].value is not None:
        costs["cpu_s"] = Cost.measured(float(earlier.get("cpu_s", 0.0)) + costs["cpu_s"].value, "s", "process_time")
    energy = costs["energy_j"]
    if "energy_j" in earlier and energy.value is not None:
        before = earlier["energy_j"]
        costs["energy_j"] = (
            Cost.measured(before + energy.value, "J", energy.source or "", lost_excluded=bool(ckpt.lost))
            if before is not None
            else Cost.missing("J", "an earlier attempt's energy was not measured")
        )
    costs["lost_wall_s"] = Cost.measured(lost_s, "s", "wall_clock", interruptions=len(ckpt.lost))
    steps = [lost.get("lost_steps") for lost in ckpt.lost]
    flops = [lost.get("lost_flops") for lost in ckpt.lost]
    costs["lost_steps"] = (
        Cost.measured(sum(int(n or 0) for n in steps), "count", "counted")
        if None not in steps
        else Cost.missing("count", "a killed attempt left no progress event after its checkpoint")
    )
    costs["lost_flops"] = (
        Cost.measured(sum(float(f or 0) for f in flops), "FLOP", "analytic")
        if None not in flops
        else Cost.missing("FLOP", "a killed attempt's work after its last checkpoint was not counted")
    )
    costs["checkpoint_s"] = Cost.measured(ckpt.checkpoint_s, "s", "wall_clock")
    return {"resumed": {"attempts": ckpt.attempt, "lost": ckpt.lost}} if ckpt.restored is not None else {}


# The tie rule of a learning-rate sweep: the highest selection accuracy wins; among equal ones the
# smallest learning rate (the smallest change to the post-target model; docs/methods.md).
TIE_RULE = "highest selection accuracy; ties: the smallest learning rate"


class Sweep:
    """A language's learning-rate sweep: every trial's selection score and the best model so far."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.trials: list[dict] = []
        self.best: dict | None = None
        self.best_state: dict = {}

    def add(self, phase: str, lr: float, correct: int, model) -> None:
        trial = {"phase": phase, "learning_rate": lr, "correct": correct, "accuracy": correct / self.items}
        self.trials.append(trial)
        best = self.best
        if best is None or (correct, -lr) > (best["correct"], -best["learning_rate"]):
            self.best, self.best_state = trial, _snapshot(model)

    def record(self) -> dict:
        """What eval:<lang>'s info says of the selection."""
        assert self.best is not None
        return {
            "selected_phase": self.best["phase"],
            "selected_lr": self.best["learning_rate"],
            "selection_items": self.items,
            "split": "validation",
            "tie_rule": TIE_RULE,
            "trials": self.trials,
        }


def _snapshot(model) -> dict:
    """The model's weights (on the CPU, so a GPU holds one copy) and which heads it has."""
    return {
        "heads": set(model.heads.keys()),
        "state": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
    }


def _restore(model, snap: dict) -> None:
    """Back to a snapshot: heads created since are dropped (the next phase makes them afresh)."""
    for key in [k for k in model.heads.keys() if k not in snap["heads"]]:
        del model.heads[key]
    model.load_state_dict(snap["state"])
