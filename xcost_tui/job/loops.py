"""Training and evaluation loops, with the counting that cost figures need.

The loops count what the hardware actually did (examples, padded and non-padded tokens,
analytic FLOPs of each exact batch shape). Nothing runs under FlopCounterMode here: its per-op
Python would slow the timed window (issue 17); the second, independent FLOP figure comes from
an untimed counted pass before the phase (job/warmup.py, ``Tally.check``). Everything else
(time, memory, energy) is measured by the PhaseMeter around the loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..measure.flops import (
    EncoderDims,
    FlopCheck,
    encoder_forward_flops,
    encoder_forward_flops_unpadded,
    train_flops,
)
from ..measure.heads import SPAN_HEAD, head_flops, head_flops_unpadded
from ..rundir.events import EventWriter, Progress
from ..spec import HParams, MeasureOpts
from ..tasks.squad import WindowLogits, best_answer
from ..tasks.squad import score as squad_score
from .batching import Batch, Encoded, batch_order, choice_scores, collate, sorted_batches
from .resume import Checkpointer, rng_states, set_rng_states


class Cancelled(Exception):
    """Raised at the next batch boundary after SIGTERM/SIGINT."""


@dataclass
class Device:
    torch_device: torch.device
    type: str  # "cpu" | "cuda"
    name: str
    count: int  # devices this run uses
    precision: str  # fp32 | bf16 | fp16
    nvml_indices: list[int] = field(default_factory=list)  # the run's GPUs in NVML's numbering (energy)
    nvml_reason: str | None = None  # why nvml_indices is empty on a GPU (not found in NVML, a MIG instance)

    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.type, dtype=dtype)

    def synchronize(self) -> None:
        if self.type == "cuda":
            torch.cuda.synchronize(self.torch_device)


@dataclass
class JobContext:
    device: Device
    events: EventWriter
    measure: MeasureOpts
    dims: EncoderDims | None  # the encoder's; None in an icl run, whose model is a decoder (job/icl.py)
    pad_id: int
    cancel: threading.Event
    log: Callable[[str], None]
    memory_now: Callable[[], tuple]  # () -> (bytes, peak_bytes, source); set per phase

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()


@dataclass
class Tally:
    """What a phase processed; the arithmetic of its cost figures starts here."""

    examples: int = 0
    steps: int = 0
    tokens_nonpad: int = 0
    tokens_padded: int = 0
    flops_analytic: int = 0  # of the padded shapes: what the hardware multiplied
    flops_nonpad: int = 0  # of the non-pad tokens only (each sequence unpadded): the model's useful work, MFU's
    check: FlopCheck | None = None  # FlopCounterMode's untimed cross-check of this phase's shapes (job/warmup.py)
    step_losses: list[float] = field(
        default_factory=list
    )  # a training phase's mean loss per optimiser step (collapse.py)

    def add_batch(self, batch: Batch, flops: int, flops_nonpad: int = 0) -> None:
        self.examples += batch.n_examples
        self.tokens_nonpad += batch.tokens_nonpad
        self.tokens_padded += batch.tokens_padded
        self.flops_analytic += flops
        self.flops_nonpad += flops_nonpad

    def merge(self, other: Tally) -> None:
        """Adds another tally's counts (a phase measured in pieces: the curve's evaluations)."""
        self.examples += other.examples
        self.steps += other.steps
        self.tokens_nonpad += other.tokens_nonpad
        self.tokens_padded += other.tokens_padded
        self.flops_analytic += other.flops_analytic
        self.flops_nonpad += other.flops_nonpad


@dataclass
class TrainTask:
    name: str
    head: str
    data: list[Encoded]


def encoder_dims(ctx: JobContext) -> EncoderDims:
    """The encoder's dims, which every encoder FLOP count reads; an icl run has none (its decoder's
    FLOPs are counted by job/icl.py), so asking for them there is a bug, said as one."""
    if ctx.dims is None:
        raise RuntimeError("an encoder FLOP count in a run without an encoder (icl's decoder has no EncoderDims)")
    return ctx.dims


def forward_flops(ctx: JobContext, batch: Batch) -> int:
    """Analytic forward FLOPs of the padded batch (every row at the batch's length)."""
    dims = encoder_dims(ctx)
    return encoder_forward_flops(dims, batch.n_seqs, batch.seq_len) + head_flops(
        dims.hidden, batch.n_seqs, batch.seq_len, batch.head
    )


def forward_flops_nonpad(ctx: JobContext, batch: Batch) -> int:
    """Analytic forward FLOPs of the batch's sequences each at its own length (no padding): useful work."""
    lengths = [len(s) for ex in batch.examples for s in ex.seqs]
    dims = encoder_dims(ctx)
    return encoder_forward_flops_unpadded(dims, lengths) + head_flops_unpadded(dims.hidden, lengths, batch.head)


DEFAULT_MICRO_BATCH = 8  # examples per forward pass on a CPU, or anywhere micro_batch_size is unset and no probe runs


def plan_steps(tasks: list[TrainTask], hp: HParams) -> tuple[int, int]:
    """(optimiser steps in total, epochs to iterate) for the phase.

    An optimiser step takes ``hp.batch_size`` examples of one task (the last group of each task
    in an epoch takes what is left). ``max_steps`` fixes the count; otherwise ``epochs`` of steps,
    but at least ``min_steps`` (few examples would otherwise give too few updates to move the model).
    """
    per_epoch = max(1, sum(math.ceil(len(t.data) / hp.batch_size) for t in tasks))
    if hp.max_steps is not None:
        total = hp.max_steps
    else:
        total = max(1, math.ceil(per_epoch * hp.epochs), hp.min_steps or 0)
    return total, max(1, math.ceil(total / per_epoch))


def micro_batch_of(hp: HParams) -> int | None:
    """The micro-batch the settings fix (None: automatic), never more than the effective batch."""
    if hp.micro_batch_size is not None:
        return min(hp.micro_batch_size, hp.batch_size)
    if hp.grad_accum is not None:  # an HParams built in Python with the old key
        return math.ceil(hp.batch_size / hp.grad_accum)
    return None


def step_groups(
    tasks: list[TrainTask], hp: HParams, rng: random.Random, group_by_length: bool = True
) -> list[tuple[TrainTask, list[int]]]:
    """One epoch's optimiser steps: (task, example indices), ``hp.batch_size`` examples each and
    the rest in a short last group per task; several tasks' groups are interleaved. The groups
    depend on the effective batch and the seed only, never on the micro-batch."""
    schedule = [
        (t, idxs)
        for t in tasks
        for idxs in batch_order([e.length for e in t.data], hp.batch_size, rng, group_by_length)
    ]
    if len(tasks) > 1:
        rng.shuffle(schedule)
    return schedule


def split_micro(idxs: list[int], lengths: list[int], micro: int) -> list[list[int]]:
    """A group's examples in micro-batches of at most ``micro``, longest first (least padding)."""
    order = sorted(idxs, key=lambda i: lengths[i], reverse=True)
    return [order[i : i + micro] for i in range(0, len(order), micro)]


def micro_backward(
    model: nn.Module,
    batch: Batch,
    weight: float,
    loss_fn: nn.Module,
    device: Device,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """Forward and backward of one micro-batch, its mean loss scaled by ``weight`` (its share of
    the step's examples), so that the gradients summed over a step's micro-batches are exactly the
    gradient of the mean loss over all its examples, whatever the split and however short the
    last group. Returns the scaled loss (detached)."""
    with device.autocast():
        logits = model(batch.input_ids, batch.attention_mask, batch.head)
    if batch.head == SPAN_HEAD:
        loss = span_loss(logits, batch.labels, loss_fn) * weight
    else:
        scores = choice_scores(logits, batch)
        loss = loss_fn(scores.to(torch.promote_types(scores.dtype, torch.float32)), batch.labels) * weight
    if scaler is not None:
        scaler.scale(loss).backward()
    else:
        loss.backward()
    return loss.detach()


def span_loss(logits: torch.Tensor, labels: torch.Tensor, loss_fn: nn.Module) -> torch.Tensor:
    """``XLMRobertaForQuestionAnswering``'s loss: the mean of the start and the end token's cross
    entropy over the window's positions (``labels``: (n, 2) start and end)."""
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return (loss_fn(logits[..., 0], labels[:, 0]) + loss_fn(logits[..., 1], labels[:, 1])) / 2


def accumulate(
    model: nn.Module,
    batches: list[Batch],
    loss_fn: nn.Module,
    device: Device,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """The gradient of one optimiser step, built from its micro-batches (left in ``.grad``);
    returns the step's mean loss."""
    n = sum(b.n_examples for b in batches)
    losses = [micro_backward(model, b, b.n_examples / n, loss_fn, device, scaler) for b in batches]
    return torch.stack(losses).sum()


def choose_micro_batch(ctx: JobContext, model: nn.Module, tasks: list[TrainTask], hp: HParams) -> tuple[int, str]:
    """(micro-batch, how it was chosen): the user's value; on a CPU the default (8, at most the
    effective batch); on a GPU the largest of batch, batch/2, ... whose worst case (the longest
    examples) fits next to the optimiser's state."""
    fixed = micro_batch_of(hp)
    if fixed is not None:
        return fixed, "set"
    if ctx.device.type != "cuda":
        return min(DEFAULT_MICRO_BATCH, hp.batch_size), "default"
    return largest_fitting(hp.batch_size, lambda m: _fits(ctx, model, tasks, m)), "probed"


def largest_fitting(batch: int, fits: Callable[[int], bool]) -> int:
    """The first of batch, ceil(batch/2), ... , 1 that ``fits``; 1 when none does (the phase then
    fails on its first step with the device's own out-of-memory error, which says how much)."""
    m = batch
    while m > 1:
        if fits(m):
            return m
        m = math.ceil(m / 2)
    return 1


def _fits(ctx: JobContext, model: nn.Module, tasks: list[TrainTask], micro: int) -> bool:
    """One forward/backward of the ``micro`` longest examples of each task, in a forked RNG (the
    run's randomness is untouched) and with the gradients cleared after; True when it ran and left
    room for AdamW's two moments of every trained parameter."""
    device = ctx.device
    loss_fn = nn.CrossEntropyLoss()
    params = [p for p in model.parameters() if p.requires_grad]
    state_bytes = 2 * sum(p.numel() * 4 for p in params)  # exp_avg and exp_avg_sq, fp32
    total = torch.cuda.get_device_properties(device.torch_device).total_memory
    try:
        with torch.random.fork_rng(devices=[device.torch_device]):
            torch.cuda.reset_peak_memory_stats(device.torch_device)
            for task in tasks:
                longest = sorted(range(len(task.data)), key=lambda i: task.data[i].length, reverse=True)[:micro]
                batch = collate([task.data[i] for i in longest], task.head, ctx.pad_id).to(device.torch_device)
                micro_backward(model, batch, 1.0, loss_fn, device)
            device.synchronize()
            peak = torch.cuda.max_memory_allocated(device.torch_device)
        return peak + state_bytes <= 0.9 * total
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


def _optimizer(model: nn.Module, hp: HParams, head_keys: set[str]) -> torch.optim.Optimizer:
    decay: list[Any] = []  # torch parameters
    no_decay: list[Any] = []
    for name, param in model.named_parameters():
        if name.startswith("heads.") and name.split(".")[1] not in head_keys:
            continue  # heads of other tasks are not trained in this phase
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name or name.endswith(".bias") else decay).append(param)
    groups = [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # The fused kernel updates every tensor in one call (CPU and CUDA in torch >= 2.4); the
    # per-tensor loop it replaces was a fifth of a tiny-xlmr step on a CPU.
    try:
        return torch.optim.AdamW(groups, lr=hp.learning_rate, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=hp.learning_rate, foreach=True)


def grad_scaler(device: Device) -> torch.amp.GradScaler | None:
    """fp16 needs loss scaling (its 5-bit exponent underflows small gradients); bf16 and fp32 do not."""
    return torch.amp.GradScaler(device.type) if device.precision == "fp16" else None


def train(
    ctx: JobContext,
    model: nn.Module,
    phase: str,
    tasks: list[TrainTask],
    hp: HParams,
    seed: int,
    group_by_length: bool = True,
    on_step: Callable[[int, int, Tally], float] | None = None,
    micro: tuple[int, str] | None = None,
    order_key: str | None = None,
    checkpoint: Checkpointer | None = None,
) -> tuple[Tally, dict]:
    """Fine-tunes on one task, or several mixed (steps of all tasks interleaved, so each task is
    sampled in proportion to its size). Each optimiser step takes ``hp.batch_size`` examples
    (``step_groups``), run in micro-batches (``choose_micro_batch``) whose gradients add up to the
    step's exact mean (``accumulate``). ``on_step(step, total_steps, tally)`` runs after every
    optimiser step (learning-curve evaluations) and returns the seconds it took, which the
    throughput windows leave out. ``micro``: the micro-batch and how it was chosen, when the
    caller chose it before the phase's window (job/warmup.py: the fit probe is not the phase's
    time); else chosen here. ``order_key``: what seeds the example order besides ``seed`` (default
    the phase's name; a learning-rate sweep's trials share their language's). ``checkpoint``: the
    phase's resume checkpoints (job/resume.py): written at step boundaries when due and when a
    signal stops the phase; a restored one continues the phase where it was, bit for bit. Returns
    the tally and facts for the phase record."""
    from transformers import get_linear_schedule_with_warmup

    total_steps, epochs = plan_steps(tasks, hp)
    model.train()  # before the probe: its memory is that of training (dropout masks included)
    micro_size, micro_source = micro if micro is not None else choose_micro_batch(ctx, model, tasks, hp)
    optimizer = _optimizer(model, hp, {t.head for t in tasks})
    scheduler = get_linear_schedule_with_warmup(optimizer, int(hp.warmup_ratio * total_steps), total_steps)
    scaler = grad_scaler(ctx.device)
    rng = random.Random(f"{seed}:{order_key or phase}")
    tally = Tally()
    loss_fn = nn.CrossEntropyLoss()
    device = ctx.device

    step = micro_n = 0
    loss_sum = torch.zeros((), device=device.torch_device)
    loss_count = 0
    # every step's loss stays on the device until the phase ends: one .item() per step would
    # synchronise the GPU at each step
    step_values: list[torch.Tensor] = []
    epoch = 0
    max_micro_per_step = 0
    short_steps = 0
    skip = 0  # groups of the first epoch already done (a resumed phase)
    restored = checkpoint.restored if checkpoint is not None else None
    if restored is not None:
        st = restored.state
        optimizer.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        if scaler is not None and st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        step, micro_n, loss_count = st["step"], st["micro_n"], st["loss_count"]
        max_micro_per_step, short_steps = st["max_micro_per_step"], st["short_steps"]
        loss_sum = st["loss_sum"].to(device.torch_device)
        step_values = [v.to(device.torch_device) for v in st["step_values"]]
        for name, value in st["tally"].items():
            setattr(tally, name, value)
        epoch, skip = st["epoch"] - 1, st["next_n"]
        rng.setstate(st["epoch_rng"])
        set_rng_states(st["rng"])
    last_report = time.monotonic()
    window_start, window_examples, window_tokens = last_report, 0, 0
    t_start = time.monotonic()
    done = False

    def state(epoch_rng, next_n: int, at: dict) -> dict:
        """What a resume checkpoint holds of the loop at a step's boundary (``at``: the counts then)."""
        return {
            "model": model.state_dict(),
            "heads": list(model.heads.keys()),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "epoch": epoch,
            "next_n": next_n,
            "epoch_rng": epoch_rng,
            "step_values": [v.detach().cpu() for v in step_values],
            "loss_sum": loss_sum.detach().cpu().clone(),  # unchanged inside a step: added at its end
            **at,
        }

    def marks() -> dict:
        """The loop's counts and the random states now, read at every step's start when
        checkpointing: a signal in the middle of a step saves the step's start, and by then the
        step's forward passes (dropout) have drawn from the random states, so they are copied
        before it (tens of microseconds a step, no device synchronisation)."""
        return {
            "step": step,
            "micro_n": micro_n,
            "loss_count": loss_count,
            "max_micro_per_step": max_micro_per_step,
            "short_steps": short_steps,
            "tally": {
                k: getattr(tally, k)
                for k in ("examples", "steps", "tokens_nonpad", "tokens_padded", "flops_analytic", "flops_nonpad")
            },
            "rng": rng_states(),
        }

    while not done:
        epoch += 1
        epoch_rng = rng.getstate()
        schedule = step_groups(tasks, hp, rng, group_by_length)
        for n, (task, group) in enumerate(schedule):
            if n < skip:
                continue
            at_start = marks() if checkpoint is not None else None
            step_t0 = time.monotonic()
            lengths = [e.length for e in task.data]
            parts = split_micro(group, lengths, micro_size)
            max_micro_per_step = max(max_micro_per_step, len(parts))
            short_steps += len(group) < hp.batch_size
            step_loss = torch.zeros((), device=device.torch_device)
            for idxs in parts:
                if checkpoint is not None and ctx.cancel.is_set():
                    assert at_start is not None
                    lost = {
                        "lost_s": time.monotonic() - step_t0,
                        "lost_steps": 0,
                        "lost_flops": tally.flops_analytic - at_start["tally"]["flops_analytic"],
                    }
                    checkpoint.interrupted(state(epoch_rng, n, at_start), step, lost)
                ctx.check_cancel()
                batch = collate([task.data[i] for i in idxs], task.head, ctx.pad_id).to(device.torch_device)
                micro_n += 1
                weight = len(idxs) / len(group)
                flops = train_flops(forward_flops(ctx, batch))
                loss = micro_backward(model, batch, weight, loss_fn, device, scaler)
                tally.add_batch(batch, flops, train_flops(forward_flops_nonpad(ctx, batch)))
                step_loss += loss
                window_examples += batch.n_examples
                window_tokens += batch.tokens_nonpad
            if scaler is not None:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_sum += step_loss
            loss_count += 1
            step_values.append(step_loss)
            if on_step is not None:
                spent = on_step(step, total_steps, tally)
                window_start += spent
                last_report += spent
            now = time.monotonic()
            if ctx.measure.enabled and (now - last_report >= ctx.measure.progress_every_s or step == total_steps):
                mem, peak, source = ctx.memory_now()
                elapsed = max(now - window_start, 1e-9)
                ctx.events.emit(
                    Progress(
                        phase,
                        step,
                        total_steps,
                        epoch=round(epoch - 1 + (n + 1) / len(schedule), 3),
                        loss=float(loss_sum.item()) / max(loss_count, 1),
                        lr=scheduler.get_last_lr()[0],
                        examples_per_s=window_examples / elapsed,
                        tokens_per_s=window_tokens / elapsed,
                        mem_bytes=mem,
                        peak_mem_bytes=peak,
                        mem_source=source,
                    )
                )
                loss_sum.zero_()
                loss_count = 0
                last_report = window_start = now
                window_examples = window_tokens = 0
            if step >= total_steps:
                done = True
                break
            if checkpoint is not None:
                if checkpoint.due(step):
                    tally.steps = step
                    spent = checkpoint.save(state(epoch_rng, n + 1, marks()), step)
                    window_start += spent
                    last_report += spent
                checkpoint.after_step(step)
        skip = 0
    tally.steps = step
    tally.step_losses = torch.stack(step_values).float().cpu().tolist() if step_values else []
    ctx.log(
        f"{phase}: {step} steps of {hp.batch_size} examples (micro-batches of {micro_size}), "
        f"{tally.examples} examples in {time.monotonic() - t_start:.1f}s"
    )
    return tally, {
        "steps": step,
        "total_steps": total_steps,
        "epochs": epoch,
        "seed": seed,
        "batch_size": hp.batch_size,
        "micro_batch_size": micro_size,
        "micro_batch_source": micro_source,
        "grad_accum": max_micro_per_step,
        "micro_batches": micro_n,
        "short_steps": short_steps,
        # what the phase paid for reproducibility (issue 17): cuBLAS is deterministic only with a
        # fixed workspace (CUBLAS_WORKSPACE_CONFIG, set by the job before CUDA starts)
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "min_steps": hp.min_steps,
        "learning_rate": hp.learning_rate,
        "warmup_ratio": hp.warmup_ratio,
        "weight_decay": hp.weight_decay,
        "recipe": hp.recipe,
    }


@torch.inference_mode()
def score(
    ctx: JobContext,
    model: nn.Module,
    data: list[Encoded],
    head: str,
    batch_size: int,
    tally: Tally | None = None,
) -> list[list[float]]:
    """Scores of every choice of every example, in the order of ``data``."""
    model.eval()
    scores: list[list[float] | None] = [None] * len(data)
    for idxs in sorted_batches([e.length for e in data], batch_size):
        ctx.check_cancel()
        batch = collate([data[i] for i in idxs], head, ctx.pad_id).to(ctx.device.torch_device)

        def forward(batch=batch):
            with ctx.device.autocast():
                return choice_scores(model(batch.input_ids, batch.attention_mask, batch.head), batch).float()

        out = forward()
        if tally is not None:
            tally.add_batch(batch, forward_flops(ctx, batch), forward_flops_nonpad(ctx, batch))
            tally.steps += 1
        rows = out.cpu().tolist()
        for i, row, ex in zip(idxs, rows, batch.examples):
            scores[i] = row[: len(ex.seqs)] if head == "mc" else row
    return scores  # type: ignore[return-value]


@torch.inference_mode()
def span_logits(
    ctx: JobContext, model: nn.Module, data: list[Encoded], batch_size: int, tally: Tally | None = None
) -> list[tuple[list[float], list[float]]]:
    """(start logits, end logits) of every window in ``data``, in its order, cut to the window's
    own length (the padding's logits are never candidates)."""
    model.eval()
    out: list[tuple[list[float], list[float]] | None] = [None] * len(data)
    for idxs in sorted_batches([e.length for e in data], batch_size):
        ctx.check_cancel()
        batch = collate([data[i] for i in idxs], SPAN_HEAD, ctx.pad_id).to(ctx.device.torch_device)
        with ctx.device.autocast():
            logits = model(batch.input_ids, batch.attention_mask, SPAN_HEAD).float()
        if tally is not None:
            tally.add_batch(batch, forward_flops(ctx, batch), forward_flops_nonpad(ctx, batch))
            tally.steps += 1
        rows = logits.cpu().tolist()
        for i, row in zip(idxs, rows):
            n = data[i].length
            out[i] = ([r[0] for r in row[:n]], [r[1] for r in row[:n]])
    return out  # type: ignore[return-value]


def evaluate_spans(
    ctx: JobContext, model: nn.Module, examples: list, data: list[Encoded], batch_size: int, with_negative: bool
) -> tuple[Tally, list[dict]]:
    """SQuAD's evaluation: every window scored, each example's answer chosen over its windows
    (tasks/squad.py ``best_answer``: n-best 20, at most 30 tokens, v2.0's null answer), then exact
    match and F1 against its gold answers with the official normalisation. ``data``: the windows of
    ``examples`` encoded with offsets. One row per example."""
    tally = Tally()
    logits = span_logits(ctx, model, data, batch_size, tally)
    windows: dict[int, list[WindowLogits]] = {}
    for enc, (start, end) in zip(data, logits):
        assert enc.offsets is not None, "span evaluation needs the windows' offsets (encode(..., offsets=True))"
        windows.setdefault(enc.source, []).append(WindowLogits(start, end, enc.offsets))
    rows = []
    for pos, ex in enumerate(examples):
        answer = best_answer(ex.context, windows.get(pos, []), with_negative=with_negative)
        em, f1 = squad_score(ex.answers, answer.text)
        rows.append(
            {
                "idx": ex.idx,
                "prediction": answer.text,
                "answers": list(ex.answers),
                "answerable": ex.answerable,
                "null": answer.is_null,
                "exact_match": em,
                "f1": f1,
                "windows": len(windows.get(pos, [])),
            }
        )
    return tally, rows


def evaluate(
    ctx: JobContext, model: nn.Module, data: list[Encoded], head: str, batch_size: int
) -> tuple[Tally, list[dict]]:
    """Scores and predictions of ``data``."""
    tally = Tally()
    scores = score(ctx, model, data, head, batch_size, tally)
    rows = []
    for ex, sc in zip(data, scores):
        pred, tied = pick_choice(sc, ex.idx)
        rows.append(
            {
                "idx": ex.idx,
                "pred": pred,
                "label": ex.label,
                "scores": sc,
                "correct": bool(pred == ex.label),
                "tie": tied,
            }
        )
    return tally, rows


def pick_choice(scores: list[float], key: object) -> tuple[int, bool]:
    """(the predicted choice, whether the top score was tied). The scores are the head's fp32
    logits (``EncoderWithHeads`` runs its heads in fp32, so bf16 rounding makes no ties); a tie
    that remains is broken by a hash of the example's id, not towards choice 0 (``max`` would
    always pick the first, and COPA's labels are balanced, so that would bias every tied item
    towards one answer)."""
    best = max(scores)
    top = [i for i, s in enumerate(scores) if s == best]
    if len(top) == 1:
        return top[0], False
    h = int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:4], "little")
    return top[h % len(top)], True
