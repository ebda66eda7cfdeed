"""Untimed work before a phase's meter starts (issue 17): the warm-up, the fit probe, the FLOP check.

On a GPU the first pass at a shape pays one-time costs: lazy kernel loading, cuBLAS handles and
workspace, the caching allocator growing. Whichever phase ran first would carry them — a direct
run's target phase, where an intermediate run's intermediate phase absorbs them — and a few-second
COPA phase would read 30-100% slow against the direct arm. So before a phase's meter starts,
``Warmer`` runs one plain pass at each shape the phase will use that this process has not run yet
(mode, head, rows, sequence bucket, precision), plus one AdamW step on a scratch tensor; the
seconds are recorded as a ``warmup`` event (the run's ``warmup_s``), in no phase.

In the same untimed stretch it chooses the micro-batch (the GPU fit probe, once per phase shape,
no longer inside the phase's time while its FLOPs were not counted: MFU understated) and runs
torch's FlopCounterMode once per new shape, beside the analytic count of the same pass
(``measure.flops.FlopCheck``): the phase's ``flops_measured`` is its analytic FLOPs times that
ratio, and no counted step slows a timed window any more (a counted step cost 4-6x a plain one).

None of this touches the run's randomness (a forked RNG) or its weights (no optimiser step on the
model; gradients are cleared after): a run trains the same with the warm-up as without.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..measure.flops import FlopCheck, count_flops, train_flops
from ..rundir import Warmup
from ..spec import HParams, MeasureOpts
from .batching import Batch, Encoded, choice_scores, collate
from .cache import CACHE
from .loops import JobContext, TrainTask, choose_micro_batch, forward_flops, micro_backward

OFF = "measure.warmup = false: no untimed pass before the phases (the behaviour before issue 17)"
NOT_COUNTED = "FLOP counting off (measure.enabled = false or flop_sample_steps = 0)"


def seq_bucket(length: int) -> int:
    """The sequence bucket of a padded length: the power of two at or above it (8 at least).
    Kernels are chosen per shape; one pass at the longest length of each bucket a phase uses loads
    the kernels of its lengths without a pass at every length."""
    return max(8, 1 << max(0, int(length) - 1).bit_length())


@dataclass(frozen=True)
class Shape:
    """A distinct shape of work: its one-time costs are paid once per process."""

    mode: str  # "train" (forward and backward) | "eval" (forward, no gradients)
    head: str
    rows: int  # examples per pass: the micro-batch (train) or the evaluation batch
    bucket: int  # seq_bucket of the padded length
    precision: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "head": self.head,
            "rows": self.rows,
            "bucket": self.bucket,
            "precision": self.precision,
        }


def bucket_batches(data: list[Encoded], rows: int) -> list[tuple[int, list[int]]]:
    """(bucket, indices) for each sequence bucket in ``data``: the ``rows`` longest examples of the
    bucket, the largest shape a pass of that bucket takes."""
    by_bucket: dict[int, list[int]] = {}
    for i, e in enumerate(data):
        by_bucket.setdefault(seq_bucket(e.length), []).append(i)
    out = []
    for bucket in sorted(by_bucket):
        idxs = sorted(by_bucket[bucket], key=lambda i: data[i].length, reverse=True)[: max(1, rows)]
        out.append((bucket, idxs))
    return out


@dataclass
class WarmState:
    """What a process has warmed for one model architecture on one device: the shapes run and their
    FLOP checks, the micro-batches chosen, whether the optimiser's kernels are loaded."""

    checks: dict[Hashable, FlopCheck] = field(default_factory=dict)
    micro: dict[Any, tuple[int, str]] = field(default_factory=dict)
    optimizer_warm: bool = False


# Config fields that name a model or its tokens but do not shape its computation.
_NOT_ARCHITECTURE = (
    "_name_or_path",
    "_commit_hash",
    "transformers_version",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "architectures",
)


def warm_key(ctx: JobContext, model: nn.Module) -> tuple[Any, ...]:
    """What a process's warmed shapes are valid for: the model's architecture (its class and config:
    two models of one shape differ), the device and precision, and what the warm-up counts. An
    encoder with task heads never multiplies by its vocabulary (an embedding lookup, no output
    projection): its vocabulary size (the built-in tokenizer's, trained per run) is left out."""
    config: Any = getattr(model, "config", None) or getattr(getattr(model, "encoder", None), "config", None)
    if hasattr(config, "to_dict"):
        fields = {k: v for k, v in config.to_dict().items() if k not in _NOT_ARCHITECTURE}
        if hasattr(model, "heads"):
            fields.pop("vocab_size", None)
        arch = json.dumps(fields, sort_keys=True, default=str)
    else:
        arch = repr(config)
    m = ctx.measure
    return (
        "warmup",
        type(model).__qualname__,
        arch,
        str(ctx.device.torch_device),
        ctx.device.precision,
        m.warmup,
        m.enabled,
        m.flop_sample_steps > 0,
    )


class Warmer:
    """One per run: the shapes run so far and their FLOP checks (the encoder's, icl's and
    translate-test's, each keyed by its own shape), and the micro-batches chosen. In a warm worker
    they are the process's, shared by its runs of the same architecture (job/cache.py): the one-time
    costs are the process's, paid once. The seconds spent are the ``warmup`` events' (record_warmup)."""

    def __init__(self, ctx: JobContext, model: nn.Module):
        self.ctx, self.model = ctx, model
        self.enabled = ctx.measure.warmup  # and whether FLOPs are counted: phase_check(ctx.measure)
        self.state: WarmState = CACHE.shared(warm_key(ctx, model), WarmState)
        self.checks = self.state.checks
        self.micro = self.state.micro

    # ---- before a training phase -------------------------------------------------------------
    def train(self, phase: str, tasks: list[TrainTask], hp: HParams) -> tuple[tuple[int, str], FlopCheck]:
        """(micro-batch and how it was chosen, the FLOP check of the phase's shapes)."""
        ctx, model = self.ctx, self.model
        t0 = time.perf_counter()
        model.train()  # the probe's and the passes' memory is training's (dropout masks included)
        key = (
            tuple((t.head, max((e.length for e in t.data), default=0), len(t.data)) for t in tasks),
            (hp.batch_size, hp.micro_batch_size, hp.grad_accum),
        )
        if key not in self.micro:
            self.micro[key] = choose_micro_batch(ctx, model, tasks, hp)
        micro = self.micro[key]
        loss_fn = nn.CrossEntropyLoss()

        def one(batch: Batch) -> int:
            return train_flops(forward_flops(ctx, batch))

        def run(batch: Batch) -> None:
            micro_backward(model, batch, 1.0, loss_fn, ctx.device)

        new, check = self._passes("train", [(t.head, t.data) for t in tasks], micro[0], run, one)
        model.zero_grad(set_to_none=True)
        if self.enabled and not self.state.optimizer_warm:
            self._warm_optimizer()
        self._record(phase, t0, new, check, {"micro_batch_size": micro[0], "micro_batch_source": micro[1]})
        return micro, check

    # ---- before an evaluation (a phase, or a training phase's curve evaluations) ----------------
    def eval(self, phase: str, data: list[Encoded], head: str, batch_size: int) -> FlopCheck:
        ctx, model = self.ctx, self.model
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()

        def run(batch: Batch) -> None:
            with ctx.device.autocast():
                choice_scores(model(batch.input_ids, batch.attention_mask, batch.head), batch)

        with torch.inference_mode():
            new, check = self._passes("eval", [(head, data)], batch_size, run, lambda b: forward_flops(ctx, b))
        model.train(was_training)
        self._record(phase, t0, new, check, {"batch_size": batch_size})
        return check

    # ---- the passes ----------------------------------------------------------------------------
    def _passes(
        self,
        mode: str,
        sets: list[tuple[str, list[Encoded]]],
        rows: int,
        run: Callable[[Batch], None],
        analytic: Callable[[Batch], int],
    ) -> tuple[list[Shape], FlopCheck]:
        """A plain pass (the warm-up) and a counted one (the FLOP check) at each new shape; the
        FLOP check of the shapes run before is reused."""
        check, count = phase_check(self.ctx.measure)
        if not self.enabled:
            return [], check
        new: list[Shape] = []
        device = self.ctx.device
        with _forked_rng(device.torch_device):
            for head, data in sets:
                for bucket, idxs in bucket_batches(data, rows):
                    shape = Shape(mode, head, len(idxs), bucket, device.precision)
                    if shape not in self.checks:
                        batch = collate([data[i] for i in idxs], head, self.ctx.pad_id).to(device.torch_device)

                        def once(batch: Batch = batch) -> int:
                            run(batch)
                            return analytic(batch)

                        shape_check = FlopCheck(reason=check.reason)
                        plain_then_counted(once, shape_check, count)  # the one-time costs land here
                        self.checks[shape] = shape_check
                        new.append(shape)
                    check.merge(self.checks[shape])
        return new, check

    def _warm_optimizer(self) -> None:
        """One AdamW step on a scratch tensor: the optimiser's kernels load here, not in the first
        training step (the model's weights are not touched)."""
        p = torch.zeros(16, device=self.ctx.device.torch_device, requires_grad=True)
        p.grad = torch.ones_like(p)
        try:
            opt = torch.optim.AdamW([p], lr=1e-3, fused=True)
        except (RuntimeError, TypeError, ValueError):
            opt = torch.optim.AdamW([p], lr=1e-3, foreach=True)
        opt.step()
        self.state.optimizer_warm = True

    def _record(self, phase: str, t0: float, new: list[Shape], check: FlopCheck, info: dict[str, Any]) -> None:
        record_warmup(self.ctx, phase, t0, new, check, {**info, "enabled": self.enabled})


def phase_check(measure: MeasureOpts) -> tuple[FlopCheck, bool]:
    """(a phase's FLOP check before its untimed passes, whether they count FLOPs): the check says
    why nothing is counted when measurement or the warm-up is off."""
    count = measure.enabled and measure.flop_sample_steps > 0
    check = FlopCheck(reason=None if count else NOT_COUNTED)
    if not measure.warmup:
        check.reason = OFF
    return check, count


def record_warmup(
    ctx: JobContext, phase: str, t0: float, new: list[Shape], check: FlopCheck, info: dict[str, Any]
) -> None:
    """The untimed stretch that began at ``t0`` (perf_counter) before ``phase``, as a ``warmup``
    event (every runner's: encoder phases, icl, translate-test)."""
    if new:
        # FlopCounterMode's per-op bookkeeping leaves garbage behind: collected here, untimed,
        # not by a collection inside the phase's window (young generations: it is recent)
        gc.collect(1)
    ctx.device.synchronize()
    seconds = time.perf_counter() - t0
    ctx.events.emit(Warmup(phase, seconds, [s.to_dict() for s in new], flop_check_dict(check), info))
    if new:
        ctx.log(f"{phase}: warm-up of {len(new)} new shape(s) in {seconds:.2f}s (untimed)")


@contextlib.contextmanager
def _forked_rng(device: torch.device) -> Iterator[None]:
    """The passes draw dropout masks from a fork of the RNG: the run's randomness is untouched."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


# ---- for methods whose passes are not the encoder's (icl's scorer, translate-test's generate) ----
def plain_then_counted(run: Callable[[], int], check: FlopCheck, count: bool) -> None:
    """One untimed pass at a new shape: ``run()`` does it and returns its analytic FLOPs. Once plain
    (the one-time costs land here), then, when ``count``, once under FlopCounterMode, recorded in
    ``check`` beside the analytic FLOPs of that same pass (job/icl.py, job/translate.py)."""
    run()
    if count:
        analytic, counted = count_flops(run)
        check.record(counted, analytic)


def flop_check_dict(check: FlopCheck) -> dict[str, Any]:
    """A FlopCheck as the ``warmup`` event's ``flop_check`` holds it."""
    return {
        "counted": check.counted,
        "analytic": check.analytic,
        "passes": check.passes,
        "ratio": check.ratio,
        "reason": check.reason,
    }
