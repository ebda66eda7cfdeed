"""Training and evaluation loops, with the counting that cost figures need.

The loops count what the hardware actually did (examples, padded and non-padded tokens,
analytic FLOPs of each exact batch shape) and sample a few steps under FlopCounterMode for
the second, independent FLOP figure. Everything else (time, memory, energy) is measured by
the PhaseMeter around the loop.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..measure.flops import EncoderDims, FlopSampler, count_flops, encoder_forward_flops, head_forward_flops, train_flops
from ..rundir.events import EventWriter, Progress
from ..spec import HParams, MeasureOpts
from .batching import Batch, Encoded, batch_order, choice_scores, collate, sorted_batches


class Cancelled(Exception):
    """Raised at the next batch boundary after SIGTERM/SIGINT."""


@dataclass
class Device:
    torch_device: torch.device
    type: str  # "cpu" | "cuda"
    name: str
    count: int  # devices this run uses
    precision: str  # fp32 | bf16 | fp16
    nvml_indices: list[int] = field(default_factory=list)

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
    dims: EncoderDims
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
    flops_analytic: int = 0
    sampler: FlopSampler | None = None

    def add_batch(self, batch: Batch, flops: int) -> None:
        self.examples += batch.n_examples
        self.tokens_nonpad += batch.tokens_nonpad
        self.tokens_padded += batch.tokens_padded
        self.flops_analytic += flops


@dataclass
class TrainTask:
    name: str
    head: str
    data: list[Encoded]


def forward_flops(ctx: JobContext, batch: Batch) -> int:
    n_out = 1 if batch.head == "mc" else int(batch.head[3:])
    return (encoder_forward_flops(ctx.dims, batch.n_seqs, batch.seq_len)
            + head_forward_flops(ctx.dims.hidden, batch.n_seqs, n_out))


def plan_steps(tasks: list[TrainTask], hp: HParams) -> tuple[int, int]:
    """(optimiser steps in total, epochs to iterate) for the phase."""
    micro_per_epoch = sum(math.ceil(len(t.data) / hp.batch_size) for t in tasks)
    per_epoch = max(1, math.ceil(micro_per_epoch / hp.grad_accum))
    if hp.max_steps is not None:
        return hp.max_steps, max(1, math.ceil(hp.max_steps / per_epoch))
    total = max(1, math.ceil(per_epoch * hp.epochs))
    return total, max(1, math.ceil(hp.epochs))


def _optimizer(model: nn.Module, hp: HParams, head_keys: set[str]) -> torch.optim.Optimizer:
    decay, no_decay = [], []
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


def train(ctx: JobContext, model: nn.Module, phase: str, tasks: list[TrainTask], hp: HParams, seed: int,
          group_by_length: bool = True) -> tuple[Tally, dict]:
    """Fine-tunes on one task, or several mixed (batches of all tasks interleaved, so each task is
    sampled in proportion to its size). Returns the tally and facts for the phase record."""
    from transformers import get_linear_schedule_with_warmup

    total_steps, epochs = plan_steps(tasks, hp)
    model.train()
    optimizer = _optimizer(model, hp, {t.head for t in tasks})
    scheduler = get_linear_schedule_with_warmup(optimizer, int(hp.warmup_ratio * total_steps), total_steps)
    scaler = torch.amp.GradScaler("cuda") if ctx.device.precision == "fp16" else None
    rng = random.Random(f"{seed}:{phase}")
    tally = Tally()
    if ctx.measure.enabled:
        tally.sampler = FlopSampler.for_phase(total_steps * hp.grad_accum, ctx.measure.flop_sample_steps)
    loss_fn = nn.CrossEntropyLoss()
    device = ctx.device

    def micro_step(batch: Batch) -> torch.Tensor:
        with device.autocast():
            logits = model(batch.input_ids, batch.attention_mask, batch.head)
            loss = loss_fn(choice_scores(logits, batch).float(), batch.labels) / hp.grad_accum
        if scaler is not None:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        return loss.detach()

    step = micro = 0
    loss_sum = torch.zeros((), device=device.torch_device)
    loss_count = 0
    last_report = time.monotonic()
    window_start, window_examples, window_tokens = last_report, 0, 0
    t_start = time.monotonic()
    epoch = 0
    done = False
    while not done:
        epoch += 1
        schedule = [(t, idxs) for t in tasks
                    for idxs in batch_order([e.length for e in t.data], hp.batch_size, rng, group_by_length)]
        if len(tasks) > 1:
            rng.shuffle(schedule)
        for n, (task, idxs) in enumerate(schedule):
            ctx.check_cancel()
            batch = collate([task.data[i] for i in idxs], task.head, ctx.pad_id).to(device.torch_device)
            micro += 1
            flops = train_flops(forward_flops(ctx, batch))
            if tally.sampler is not None and tally.sampler.should_sample(micro):
                loss, measured = count_flops(micro_step, batch)
                tally.sampler.record(measured, batch.tokens_padded)
            else:
                loss = micro_step(batch)
            tally.add_batch(batch, flops)
            loss_sum += loss
            loss_count += 1
            window_examples += batch.n_examples
            window_tokens += batch.tokens_nonpad
            last_in_epoch = n == len(schedule) - 1
            if micro % hp.grad_accum == 0 or last_in_epoch:
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
                now = time.monotonic()
                if ctx.measure.enabled and (now - last_report >= ctx.measure.progress_every_s or step == total_steps):
                    mem, peak, source = ctx.memory_now()
                    elapsed = max(now - window_start, 1e-9)
                    ctx.events.emit(Progress(
                        phase, step, total_steps, epoch=round(epoch - 1 + (n + 1) / len(schedule), 3),
                        loss=float(loss_sum.item()) * hp.grad_accum / max(loss_count, 1),
                        lr=scheduler.get_last_lr()[0],
                        examples_per_s=window_examples / elapsed, tokens_per_s=window_tokens / elapsed,
                        mem_bytes=mem, peak_mem_bytes=peak, mem_source=source,
                    ))
                    loss_sum.zero_()
                    loss_count = 0
                    last_report = window_start = now
                    window_examples = window_tokens = 0
                if step >= total_steps:
                    done = True
                    break
    tally.steps = step
    ctx.log(f"{phase}: {step} steps, {tally.examples} examples in {time.monotonic() - t_start:.1f}s")
    return tally, {"steps": step, "total_steps": total_steps, "epochs": epoch,
                   "batch_size": hp.batch_size, "grad_accum": hp.grad_accum, "learning_rate": hp.learning_rate}


@torch.inference_mode()
def score(ctx: JobContext, model: nn.Module, data: list[Encoded], head: str, batch_size: int,
          sampler: FlopSampler | None = None, tally: Tally | None = None) -> list[list[float]]:
    """Scores of every choice of every example, in the order of ``data``."""
    model.eval()
    scores: list[list[float] | None] = [None] * len(data)
    for b, idxs in enumerate(sorted_batches([e.length for e in data], batch_size), 1):
        ctx.check_cancel()
        batch = collate([data[i] for i in idxs], head, ctx.pad_id).to(ctx.device.torch_device)

        def forward(batch=batch):
            with ctx.device.autocast():
                return choice_scores(model(batch.input_ids, batch.attention_mask, batch.head), batch).float()

        if sampler is not None and sampler.should_sample(b):
            out, measured = count_flops(forward)
            sampler.record(measured, batch.tokens_padded)
        else:
            out = forward()
        if tally is not None:
            tally.add_batch(batch, forward_flops(ctx, batch))
            tally.steps += 1
        rows = out.cpu().tolist()
        for i, row, ex in zip(idxs, rows, batch.examples):
            scores[i] = row[: len(ex.seqs)] if head == "mc" else row
    return scores  # type: ignore[return-value]


def evaluate(ctx: JobContext, model: nn.Module, data: list[Encoded], head: str, batch_size: int) -> tuple[Tally, list[dict]]:
    tally = Tally()
    n_batches = math.ceil(len(data) / batch_size)
    if ctx.measure.enabled:
        tally.sampler = FlopSampler.for_phase(n_batches, ctx.measure.flop_sample_steps)
    scores = score(ctx, model, data, head, batch_size, tally.sampler, tally)
    rows = []
    for ex, sc in zip(data, scores):
        pred = max(range(len(sc)), key=sc.__getitem__)
        rows.append({"idx": ex.idx, "pred": pred, "label": ex.label, "scores": sc,
                     "correct": bool(pred == ex.label)})
    return tally, rows
