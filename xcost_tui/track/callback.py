"""``XcostCallback``: Hugging Face Trainer's hooks measure a training phase of a measured run.

    with measured_run(store="store", method="direct", model="xlm-roberta-base", seed=1) as run:
        trainer = Trainer(..., callbacks=[XcostCallback(run)])
        trainer.train()        # one phase, target:copa: opened at on_train_begin, closed at on_train_end

This module imports transformers (the callback's base class): it runs in the user's own process,
which has loaded it already; ``xcost_tui.track`` itself does not import it (docs/architecture.md).

What it records beside the phase meter's figures (xcost_tui/track/run.py): the optimiser steps
(``state.global_step``), the examples (``state.epoch`` x the training set's length, else steps x
the effective batch), the input tokens when Trainer counts them (``include_num_input_tokens_seen``:
"non_padding" gives ``tokens_nonpad``, "all" ``tokens_padded``), a progress event per Trainer log,
and Trainer's own FLOP estimate ``state.total_flos`` as ``flops_trainer_estimate`` (source
``trainer_total_flos``: 6 x non-embedding parameters x input tokens, padding included; never
the tool's ``flops_analytic``, which stays null with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from transformers import TrainerCallback

from ..rundir.cost import Cost
from .run import MeasuredPhase, MeasuredRun

TRAINER_STATE = "trainer_state"  # a count read from Trainer's state
TRAINER_FLOS = "trainer_total_flos"  # Trainer's estimate: 6 x non-embedding parameters x input tokens
FLOS_FORMULA = "6 x non-embedding parameters x input tokens (padding included): Trainer.floating_point_ops"
# The arguments of TrainingArguments kept in the phase's info (what the trainer ran with).
ARGS_KEPT = (
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "warmup_ratio",
    "weight_decay",
    "max_grad_norm",
    "lr_scheduler_type",
    "optim",
    "bf16",
    "fp16",
    "seed",
    "world_size",
)


class XcostCallback(TrainerCallback):
    """Measures ``trainer.train()`` as the phase ``phase`` (default ``target:copa``) of ``run``."""

    def __init__(self, run: MeasuredRun, phase: str | None = None, *, kind: str | None = None):
        self.run = run
        self.phase_name = phase or f"target:{run.spec.target}"
        self.kind = kind
        self.phase: MeasuredPhase | None = None
        self._dataset_len: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        loader = kwargs.get("train_dataloader")
        try:
            self._dataset_len = len(loader.dataset) if loader is not None else None
        except TypeError:  # an iterable dataset has no length
            self._dataset_len = None
        self.phase = self.run.open_phase(self.phase_name, self.kind, total_steps=state.max_steps or None)
        self.phase.info["trainer_args"] = {k: _plain(getattr(args, k, None)) for k in ARGS_KEPT}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.phase is None or not logs or "loss" not in logs:
            return
        self.phase.progress(
            state.global_step,
            state.max_steps or None,
            loss=_float(logs.get("loss")),
            lr=_float(logs.get("learning_rate")),
        )

    def on_train_end(self, args, state, control, **kwargs):
        phase = self.phase
        if phase is None:
            return
        self.phase = None
        phase.count_source = TRAINER_STATE
        phase.steps = int(state.global_step)
        effective = args.train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
        if self._dataset_len is not None and state.epoch is not None:
            phase.examples = round(float(state.epoch) * self._dataset_len)
            phase.info["examples_from"] = "state.epoch x the training set's length"
        else:
            phase.examples = phase.steps * effective
            phase.info["examples_from"] = "steps x the effective batch (a smaller last batch counts as full)"
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        counting = str(getattr(args, "include_num_input_tokens_seen", "no"))
        if tokens and counting == "non_padding":
            phase.tokens = tokens
        elif tokens:
            phase.tokens_padded = tokens
        phase.info.update(effective_batch=effective, epochs=state.epoch, tokens_counted=counting)
        flos = float(getattr(state, "total_flos", 0) or 0)
        phase.add_cost(
            "flops_trainer_estimate",
            Cost.measured(flos, "FLOP", TRAINER_FLOS, formula=FLOS_FORMULA)
            if flos > 0
            else Cost.missing("FLOP", "Trainer counted no FLOPs (its model has no num_parameters or main input)"),
        )
        self.run.close_phase(phase)


def predictions_from(output: Any, idx: Iterable[Any]) -> list[tuple[Any, int, int, list[float]]]:
    """``run.record_eval``'s rows from ``trainer.predict``'s output (logits per choice, label ids)
    and the items' ids in the same order: (idx, argmax, label, the logits as scores)."""
    logits: Sequence[Any] = output.predictions
    labels: Sequence[Any] = output.label_ids
    rows = []
    for i, (scores, label) in zip(idx, zip(logits, labels, strict=True), strict=True):
        values = [float(s) for s in scores]
        rows.append((i, max(range(len(values)), key=values.__getitem__), int(label), values))
    return rows


def _float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _plain(v: Any) -> Any:
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
