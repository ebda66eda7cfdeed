"""The GPU check of issue 17: what the job's cost figures look like on a real GPU, in one short call.

Run it through ``scripts/gpu-check.sh`` (it sets the environment; docs/gpu-validation.md says how,
and what each figure means). Models get RANDOM weights from the published configs of XLM-R large
and XGLM-564M (nothing is read from the hub: the check runs offline, as on a compute node), the
data are synthetic COPA-shaped items (two choices of 30-40 tokens), and every measurement goes
through the project's own code: ``EncoderWithHeads``, ``loops.train``, ``loops.micro_backward``,
the analytic FLOPs of ``measure/flops.py``, the peaks of ``measure/mfu.py``, ``EnergyMeter``,
``MemoryProbe``, the NVML boundary and the ICL scorer, so the check measures what the job measures.

Each section is guarded: one that fails records its error and the next one runs; a time budget
skips what is left with the reason. Every figure is a ``Cost`` (value, unit, source, or null with
the reason). ``--dry-run`` runs every section on a CPU with tiny shapes in seconds (the CI test).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import XGLMConfig, XGLMForCausalLM, XLMRobertaConfig, XLMRobertaModel

from xcost_tui.job.batching import Encoded, collate
from xcost_tui.job.causal import DTYPES, train_tiny_gpt2_tokenizer
from xcost_tui.job.device import pick_device
from xcost_tui.job.icl import CausalScorer, encode_prompts
from xcost_tui.job.loops import Device, JobContext, TrainTask, forward_flops, micro_backward, train
from xcost_tui.job.model import EncoderWithHeads
from xcost_tui.job.phases import seed_everything
from xcost_tui.measure import nvml
from xcost_tui.measure.energy import EnergyMeter
from xcost_tui.measure.env import collect_env, package_version
from xcost_tui.measure.flops import DecoderDims, EncoderDims, count_flops, train_flops
from xcost_tui.measure.memory import MemoryProbe
from xcost_tui.measure.mfu import mfu, peak_flops
from xcost_tui.rundir.cost import Cost
from xcost_tui.rundir.events import EventWriter
from xcost_tui.spec import HParams, MeasureOpts
from xcost_tui.tasks.converters import copa_context
from xcost_tui.tasks.examples import MCExample
from xcost_tui.tasks.prompts import build_prompt

SCHEMA_VERSION = 1
DEFAULT_BUDGET_S = 420.0
NO_CUDA = "no CUDA device (dry run on a CPU)"

# The published configs (docs/gpu-validation.md cites the hub pages): only the shapes, no weights.
XLMR_LARGE = dict(
    vocab_size=250002,
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
    max_position_embeddings=514,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
XGLM_564M = dict(
    vocab_size=256008,
    d_model=1024,
    num_layers=24,
    attention_heads=16,
    ffn_dim=4096,
    max_position_embeddings=2048,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
# The dry run's: the same architectures, tiny (2 layers, hidden 64), so every section runs on a CPU in seconds.
TINY_ENCODER = {**XLMR_LARGE, "vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2}
TINY_ENCODER.update(num_attention_heads=2, intermediate_size=128)
TINY_DECODER = {**XGLM_564M, "vocab_size": 1000, "d_model": 64, "num_layers": 2, "attention_heads": 2, "ffn_dim": 128}


@dataclass(frozen=True)
class Shapes:
    """What one check runs: the flagship's shapes on a GPU, tiny ones in a dry run."""

    encoder: dict[str, Any]
    decoder: dict[str, Any]
    batches: tuple[int, ...] = (16, 32)  # direct's effective batch (xtreme-xcopa: 32) and half of it
    few_shot_batch: int = 4  # FewShotHParams' batch (k = 4)
    warm_steps: int = 12  # the first phase's steps (the cold first step, then steady state)
    mfu_steps: int = 25  # per batch size; the first 3 are left out of the MFU window
    flop_repeats: int = 3  # plain and counted steps each, the median taken
    energy_window_s: float = 10.0
    icl_items: int = 24
    icl_shots: int = 4
    seq_tokens: tuple[int, int] = (30, 40)  # COPA's (premise, choice) pair is about this long in XLM-R's tokens


FULL = Shapes(XLMR_LARGE, XGLM_564M)
DRY = Shapes(TINY_ENCODER, TINY_DECODER, warm_steps=4, mfu_steps=4, flop_repeats=2, energy_window_s=0.5, icl_items=6)

# Every section's figure names, the same in a dry run and on a GPU (the CI test checks them).
SECTIONS: dict[str, tuple[str, ...]] = {
    name: tuple(keys.split())
    for name, keys in {
        "warmup": "cuda_init_s model_to_device_s first_step_s warm_step_s second_phase_first_step_s one_time_cost_s "
        "cold_over_warm",
        "mfu": "b16 b32",
        "flop_counting": "plain_step_s counted_step_s overhead counted_flops analytic_flops counted_over_analytic",
        "energy": "nvml_energy_j integrated_power_j nvml_over_integrated mean_power_w short_window_energy_j",
        "memory": "direct_peak_b few_shot_host_snapshot_peak_b few_shot_device_snapshot_peak_b device_snapshot_extra_b",
        "icl_lmeval": "fp32 bf16",
    }.items()
}


# ---- pure helpers (tests/scripts/test_gpu_check.py) ----------------------------------------------


def ratio(num: Cost, den: Cost, unit: str = "ratio") -> Cost:
    """num / den, null with the first reason where either is null or the denominator is 0."""
    for c in (num, den):
        if c.value is None:
            return Cost.missing(unit, c.reason or "not measured")
    if not den.value:
        return Cost.missing(unit, "the denominator is 0")
    return Cost.measured(num.value / den.value, unit, "derived")  # type: ignore[operator]


def integrate_power(samples: list[tuple[float, float]], t0: float, t1: float) -> float | None:
    """Joules over [t0, t1] from (time, watts) samples: the trapezoid rule between samples, each edge
    held at its nearest sample's power (NVML reports a running average, so no better edge exists).
    None without a sample inside the window."""
    inside = sorted((t, w) for t, w in samples if t0 <= t <= t1)
    if not inside:
        return None
    joules = inside[0][1] * (inside[0][0] - t0) + inside[-1][1] * (t1 - inside[-1][0])
    for (ta, wa), (tb, wb) in zip(inside, inside[1:]):
        joules += (wa + wb) / 2 * (tb - ta)
    return joules


def seconds(value: float) -> Cost:
    return Cost.measured(value, "s", "perf_counter")


def median_s(values: list[float]) -> Cost:
    return (
        Cost.measured(statistics.median(values), "s", "perf_counter", n=len(values))
        if values
        else Cost.missing("s", "no steps timed")
    )


# ---- the shared pieces: device, data, the encoder -----------------------------------------------


@dataclass
class State:
    device: Device
    shapes: Shapes
    ctx: JobContext
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    model: EncoderWithHeads | None = None
    build_s: float = 0.0
    cuda_init_s: float = 0.0  # pick_device and the first allocation: the CUDA context's start
    to_device_s: float = 0.0

    @property
    def gpu(self) -> bool:
        return self.device.type == "cuda"

    def encoder(self) -> EncoderWithHeads:
        """XLM-R (random weights) with the multiple-choice head, on the device: built once, on the
        host first and then moved, as the job loads a model."""
        if self.model is None:
            t = time.perf_counter()
            torch.manual_seed(0)
            model = EncoderWithHeads(XLMRobertaModel(XLMRobertaConfig(**self.shapes.encoder), add_pooling_layer=False))
            model.ensure_head("mc")
            self.build_s = time.perf_counter() - t
            t = time.perf_counter()
            model.to(self.device.torch_device)
            self.device.synchronize()
            self.to_device_s = time.perf_counter() - t
            self.model = model
            self.ctx.dims = EncoderDims.from_hf_config(model.encoder.config)
        return self.model

    def copa(self, n: int) -> list[Encoded]:
        """``n`` COPA-shaped items: two (premise, choice) sequences each of 30-40 random tokens."""
        vocab = int(self.shapes.encoder["vocab_size"])
        lo, hi = self.shapes.seq_tokens

        def seq() -> list[int]:
            return [0] + [self.rng.randrange(5, vocab) for _ in range(self.rng.randint(lo, hi) - 2)] + [2]

        return [Encoded([seq(), seq()], self.rng.randrange(2), f"syn-{i}", "en") for i in range(n)]

    def free(self) -> None:
        gc.collect()
        if self.gpu:
            torch.cuda.empty_cache()


class StepClock:
    """``loops.train``'s ``on_step``: the time and the analytic FLOPs so far after chosen steps (all
    steps when ``at`` is None), the device synchronised there only (a sync at every step would stop
    the CPU from running ahead of the GPU, which the job's loop lets it do)."""

    def __init__(self, device: Device, at: set[int] | None = None):
        self.device, self.at = device, at
        self.marks: dict[int, tuple[float, int, int]] = {}

    def start(self) -> None:
        self.device.synchronize()
        self.marks = {0: (time.perf_counter(), 0, 0)}

    def __call__(self, step: int, total: int, tally: Any) -> float:
        if self.at is None or step in self.at:
            self.device.synchronize()
            self.marks[step] = (time.perf_counter(), tally.flops_analytic, tally.flops_nonpad)
        return 0.0  # the clock's own time is not left out of anything

    def step_times(self) -> list[float]:
        keys = sorted(self.marks)
        return [self.marks[b][0] - self.marks[a][0] for a, b in zip(keys, keys[1:])]


def run_train(state: State, phase: str, batch: int, steps: int, clock: StepClock):
    """``loops.train`` as the job calls it (bf16 autocast on a GPU, fused AdamW, length grouping, one
    micro-batch per step), measurement off (no FLOP sampling: the plain step)."""
    model = state.encoder()
    hp = HParams(batch_size=batch, micro_batch_size=batch, max_steps=steps, warmup_ratio=0.0)
    task = TrainTask("copa", "mc", state.copa(batch * min(steps, 8)))
    clock.start()
    # the micro-batch is fixed: the job's fit probe runs before a phase's window, not in it
    return train(state.ctx, model, phase, [task], hp, seed=0, on_step=clock, micro=(batch, "set"))


# ---- the sections ---------------------------------------------------------------------------------


def section_warmup(state: State) -> dict[str, Cost]:
    """The first training steps of a fresh process against steady state. A phase's first step also
    pays for its own optimiser's state (AdamW allocates it at the first step), whichever phase it
    is: the one-time CUDA cost (lazy kernel loading, cuBLAS handles and workspace, allocator growth)
    that only the first phase carries, and an untimed warm-up removes, is the first phase's first
    step less the second phase's."""
    cuda_init = seconds(state.cuda_init_s) if state.gpu else Cost.missing("s", NO_CUDA)
    state.encoder()
    n = state.shapes.warm_steps
    big = max(state.shapes.batches)
    first = StepClock(state.device)
    run_train(state, "warmup:first", big, n, first)
    second = StepClock(state.device)
    run_train(state, "warmup:second", big, max(2, n // 2), second)
    times = first.step_times()
    warm = median_s(times[3:] or times[1:])
    cold = seconds(times[0])
    second_first = seconds(second.step_times()[0])
    one_time = Cost.measured(times[0] - second_first.value, "s", "derived")  # type: ignore[operator]
    return {
        "cuda_init_s": cuda_init,
        "model_to_device_s": Cost.measured(state.to_device_s, "s", "perf_counter", host_build_s=state.build_s),
        "first_step_s": Cost.measured(times[0], "s", "perf_counter", step_times_s=[round(x, 5) for x in times]),
        "warm_step_s": warm,
        "second_phase_first_step_s": second_first,
        "one_time_cost_s": one_time,
        "cold_over_warm": ratio(cold, warm),
    }


def section_mfu(state: State) -> dict[str, dict[str, Cost]]:
    """MFU of bf16 training at the flagship's batches: the analytic FLOPs of the steady-state steps
    (padded: what the hardware multiplied; non-pad: the job's MFU numerator) over their time and the
    data-sheet peak."""
    out: dict[str, dict[str, Cost]] = {}
    skip, n = 3, max(state.shapes.mfu_steps, 4)
    peak, why = peak_flops(state.device.name, state.device.precision, state.device.type)
    for b in state.shapes.batches:
        clock = StepClock(state.device, {skip, n})
        run_train(state, f"mfu:b{b}", b, n, clock)
        (t0, f0, u0), (t1, f1, u1) = clock.marks[skip], clock.marks[n]
        secs = t1 - t0
        fig = {
            "step_s": Cost.measured(secs / (n - skip), "s", "perf_counter", steps=n - skip),
            "flops_per_step": Cost.measured((f1 - f0) / (n - skip), "FLOP", "analytic"),
            "tflops_per_s": Cost.measured((f1 - f0) / secs / 1e12, "TFLOP/s", "analytic"),
        }
        for key, flops in (("mfu_padded", f1 - f0), ("mfu_nonpad", u1 - u0)):
            fig[key] = mfu(flops, secs, peak) if state.gpu else Cost.missing("ratio", NO_CUDA)
            if state.gpu and peak is None:
                fig[key] = Cost.missing("ratio", why or "peak unknown")
        out[f"b{b}"] = fig
    return out


def section_flop_counting(state: State) -> dict[str, Cost]:
    """One training micro-step under torch's FlopCounterMode against a plain one (same batch), and
    the FLOPs it counts against the analytic count."""
    model = state.encoder()
    model.train()
    batch = collate(state.copa(max(state.shapes.batches)), "mc", 1).to(state.device.torch_device)
    loss_fn = nn.CrossEntropyLoss()
    plain: list[float] = []
    counted: list[float] = []
    measured = 0
    for _ in range(state.shapes.flop_repeats):
        for times, counting in ((plain, False), (counted, True)):
            state.device.synchronize()
            t = time.perf_counter()
            if counting:
                _, measured = count_flops(micro_backward, model, batch, 1.0, loss_fn, state.device)
            else:
                micro_backward(model, batch, 1.0, loss_fn, state.device)
            state.device.synchronize()
            times.append(time.perf_counter() - t)
            model.zero_grad(set_to_none=True)
    analytic = Cost.measured(train_flops(forward_flops(state.ctx, batch)), "FLOP", "analytic", seq_len=batch.seq_len)
    counted_flops = (
        Cost.measured(measured, "FLOP", "flop_counter")
        if measured
        else Cost.missing("FLOP", "FlopCounterMode counted nothing")
    )
    plain_s, counted_s = median_s(plain), median_s(counted)
    return {
        "plain_step_s": plain_s,
        "counted_step_s": counted_s,
        "overhead": ratio(counted_s, plain_s),
        "counted_flops": counted_flops,
        "analytic_flops": analytic,
        "counted_over_analytic": ratio(counted_flops, analytic),
    }


class PowerSampler:
    """NVML's power reading every ``every_s`` in a thread: [(perf_counter, watts)]."""

    def __init__(self, index: int, every_s: float = 0.05):
        self.index, self.every_s = index, every_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-check-power", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            w = nvml.power_w(self.index)
            if w is not nvml.NA:
                self.samples.append((time.perf_counter(), float(w)))  # type: ignore[arg-type]
            self._stop.wait(self.every_s)

    def __enter__(self) -> PowerSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _busy(state: State, until: float, batch) -> None:
    """Training micro-steps until ``until`` (perf_counter), the device synchronised at the end."""
    model, loss_fn = state.encoder(), nn.CrossEntropyLoss()
    while time.perf_counter() < until:
        micro_backward(model, batch, 1.0, loss_fn, state.device)
        model.zero_grad(set_to_none=True)
    state.device.synchronize()


def section_energy(state: State, deadline: float) -> dict[str, Cost]:
    """NVML's total-energy counter over a window of training against the integral of its power
    readings over the same window; and the counter over one short window (~0.1 s, an eval phase's
    length on an H100), where its update interval makes it coarse or zero."""
    batch = collate(state.copa(max(state.shapes.batches)), "mc", 1).to(state.device.torch_device)
    window = max(0.2, min(state.shapes.energy_window_s, deadline - time.monotonic() - 30))
    index = state.device.nvml_indices[0] if state.device.nvml_indices else None
    sampler = PowerSampler(index if index is not None else 0)
    meter = EnergyMeter(state.device.type, state.device.nvml_indices, gpu_reason=state.device.nvml_reason)
    if state.gpu and index is not None:
        with sampler:
            time.sleep(0.2)  # a sample before the window opens
            with meter:
                t0 = time.perf_counter()
                _busy(state, t0 + window, batch)
                t1 = time.perf_counter()
            time.sleep(0.2)
    else:
        with meter:
            t0 = time.perf_counter()
            _busy(state, t0 + window, batch)
            t1 = time.perf_counter()
    short = EnergyMeter(state.device.type, state.device.nvml_indices, gpu_reason=state.device.nvml_reason)
    with short:
        _busy(state, time.perf_counter() + 0.1, batch)
    if not state.gpu:
        return {
            k: Cost.missing("J" if k.endswith("_j") else "ratio" if "over" in k else "W", NO_CUDA)
            for k in SECTIONS["energy"]
        }
    joules = integrate_power(sampler.samples, t0, t1)
    integrated = (
        Cost.measured(joules, "J", "nvml_power", samples=len(sampler.samples), window_s=t1 - t0)
        if joules is not None
        else Cost.missing(
            "J", "no NVML power reading in the window" if index is not None else str(state.device.nvml_reason)
        )
    )
    energy = meter.cost()
    return {
        "nvml_energy_j": energy,
        "integrated_power_j": integrated,
        "nvml_over_integrated": ratio(energy, integrated),
        "mean_power_w": ratio(energy, seconds(t1 - t0), "W"),
        "short_window_energy_j": short.cost(),
    }


def section_memory(state: State) -> dict[str, Cost]:
    """CUDA peak memory (``max_memory_allocated``) of a direct-shaped training phase (batch 32) and of
    a few-shot-shaped one (batch 4) with the target phase's weights kept for the next language: on
    the host (issue 17) and on the device (before it)."""
    model = state.encoder()
    probe_device = str(state.device.torch_device)
    peaks: dict[str, Cost] = {}

    def measured(name: str, batch: int, snapshot: dict | None) -> None:
        state.free()
        with MemoryProbe(probe_device) as probe:
            if snapshot is not None:
                model.load_state_dict(snapshot)
            run_train(state, f"memory:{name}", batch, 3, StepClock(state.device, set()))
        peaks[name] = probe.cost() if state.gpu else Cost.missing("B", NO_CUDA)

    measured("direct", max(state.shapes.batches), None)
    host = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    measured("few_shot_host", state.shapes.few_shot_batch, host)
    del host
    on_device = copy.deepcopy(model.state_dict())
    measured("few_shot_device", state.shapes.few_shot_batch, on_device)
    del on_device
    dev, host_peak = peaks["few_shot_device"], peaks["few_shot_host"]
    missing = next((c for c in (dev, host_peak) if c.value is None), None)
    extra = (
        Cost.missing("B", missing.reason or "not measured")
        if missing is not None
        else Cost.measured(dev.value - host_peak.value, "B", "torch.cuda")  # type: ignore[operator]
    )
    return {
        "direct_peak_b": peaks["direct"],
        "few_shot_host_snapshot_peak_b": peaks["few_shot_host"],
        "few_shot_device_snapshot_peak_b": peaks["few_shot_device"],
        "device_snapshot_extra_b": extra,
    }


_WORDS = "the man woman child dog rain sun door window glass water bread car road ran fell broke opened closed laughed cried ate slept bought lost found".split()


def _icl_items(rng: random.Random, n: int) -> list[MCExample]:
    def sentence(k: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(k)).capitalize() + "."

    return [
        MCExample(
            i, copa_context(sentence(9), rng.choice(("cause", "effect"))), (sentence(6), sentence(6)), rng.randrange(2)
        )
        for i in range(n)
    ]


def section_icl_lmeval(state: State) -> dict[str, dict[str, Cost]]:
    """The ICL scorer (KV cache, shared demonstrations, batches) against lm-evaluation-harness's
    ``HFLM.loglikelihood`` on an XGLM-shaped model with random weights, k = 0 and k = 4 prompts:
    the largest log-likelihood difference and how often both pick the same choice."""
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
    except Exception as exc:  # noqa: BLE001 - a missing reference is a reason, not a failure
        reason = f"lm-eval is not importable ({type(exc).__name__}: {exc}); carry its wheel (docs/gpu-validation.md)"
        return {
            p: {"max_abs_diff": Cost.missing("nats", reason), "same_choice": Cost.missing("ratio", reason)}
            for p in SECTIONS["icl_lmeval"]
        }
    state.model = None  # the encoder's memory back before the decoder is built
    state.free()
    rng = random.Random(1)
    items, pool = _icl_items(rng, state.shapes.icl_items), _icl_items(rng, state.shapes.icl_shots)
    texts = [t for e in items + pool for t in (e.context, *e.choices)]
    tokenizer = train_tiny_gpt2_tokenizer(texts, min(2000, int(state.shapes.decoder["vocab_size"])))
    prompts = [build_prompt(e, "en", pool[:k]) for k in (0, state.shapes.icl_shots) for e in items]
    torch.manual_seed(0)
    config = XGLMConfig(**state.shapes.decoder)
    host = XGLMForCausalLM(config)  # built once on the host; each precision gets a copy on the device
    out: dict[str, dict[str, Cost]] = {}
    for precision in SECTIONS["icl_lmeval"]:
        if precision != "fp32" and not state.gpu:
            out[precision] = {
                "max_abs_diff": Cost.missing("nats", NO_CUDA),
                "same_choice": Cost.missing("ratio", NO_CUDA),
            }
            continue
        model = copy.deepcopy(host).to(DTYPES[precision]).to(state.device.torch_device).eval()
        t = time.perf_counter()
        scorer = CausalScorer(
            model, DecoderDims.from_hf_config(config), tokenizer.pad_token_id, state.device.torch_device
        )
        ours = [scorer.score(encode_prompts(tokenizer, prompts[i : i + len(items)], "en"), 8) for i in (0, len(items))]
        ours_s = time.perf_counter() - t
        lm = HFLM(pretrained=model, tokenizer=tokenizer, device=str(state.device.torch_device), batch_size=8)
        requests = [
            Instance("loglikelihood", {}, (p.context, c), j) for p in prompts for j, c in enumerate(p.continuations)
        ]
        t = time.perf_counter()
        theirs = [ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True)]
        theirs_s = time.perf_counter() - t
        flat = [ll for block in ours for row in block for ll in row]
        pairs = list(zip(flat[0::2], flat[1::2], theirs[0::2], theirs[1::2]))
        same = sum((a > b) == (c > d) for a, b, c, d in pairs)
        out[precision] = {
            "max_abs_diff": Cost.measured(
                max(abs(x - y) for x, y in zip(flat, theirs)), "nats", "lm_eval", queries=len(pairs)
            ),
            "same_choice": Cost.measured(same / len(pairs), "ratio", "lm_eval", ours_s=ours_s, lm_eval_s=theirs_s),
        }
        del model, lm, scorer
        state.free()
    return out


# ---- the report ------------------------------------------------------------------------------------


def as_json(x: Any) -> Any:
    if isinstance(x, Cost):
        return x.to_dict()
    if isinstance(x, dict):
        return {k: as_json(v) for k, v in x.items()}
    return x


def render_markdown(report: dict[str, Any]) -> str:
    """The ``gpu-validation.md`` fragment: one table per section, every figure with its unit and
    source, or the reason it is null."""
    env = report["environment"]
    lines = [
        f"### GPU check of {report['started']} on {env.get('device_name')}",
        "",
        f"Commit `{env.get('git_commit')}`, torch {env.get('torch')}, transformers {env.get('transformers')}, "
        f"lm-eval {env.get('lm_eval')}, precision {env.get('precision')}, "
        f"CUBLAS_WORKSPACE_CONFIG={env.get('CUBLAS_WORKSPACE_CONFIG')}, {report['elapsed_s']:.0f} s of a "
        f"{report['budget_s']:.0f} s budget{' (dry run: tiny shapes on a CPU)' if report['dry_run'] else ''}.",
    ]
    for name, sec in report["sections"].items():
        lines += ["", f"#### {name} ({sec['status']}, {sec['seconds']:.1f} s)", ""]
        if sec["status"] != "ok":
            lines.append(f"Not measured: {sec.get('error') or sec.get('reason')}")
            continue
        lines += ["| figure | value | unit | source or reason |", "|---|---|---|---|"]
        for key, fig in _flatten(sec["figures"]):
            value = fig["value"]
            shown = "null" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"| {key} | {shown} | {fig['unit']} | {fig['reason'] if value is None else fig['source']} |")
    return "\n".join(lines) + "\n"


def _flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, dict]]:
    rows: list[tuple[str, dict]] = []
    for key, fig in figures.items():
        if "unit" in fig:
            rows.append((prefix + key, fig))
        else:
            rows += _flatten(fig, f"{prefix}{key}.")
    return rows


def run_sections(
    state: State, budget_s: float, started: float, after: Callable[[dict], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Every section in turn, guarded, under the budget; ``after(sections so far)`` hears after each
    (the report is written then, so a call killed at its limit still leaves what was measured)."""
    deadline = started + budget_s
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("warmup", lambda: section_warmup(state)),  # first: it is the fresh process's first CUDA work
        ("mfu", lambda: section_mfu(state)),
        ("flop_counting", lambda: section_flop_counting(state)),
        ("energy", lambda: section_energy(state, deadline)),
        ("memory", lambda: section_memory(state)),
        ("icl_lmeval", lambda: section_icl_lmeval(state)),
    ]
    out: dict[str, dict[str, Any]] = {}
    for name, fn in steps:
        rec: dict[str, Any] = {"status": "ok", "seconds": 0.0, "reason": None, "error": None, "figures": None}
        t = time.monotonic()
        if t >= deadline:
            rec.update(status="skipped", reason=f"the time budget ({budget_s:.0f} s) was spent before this section")
        else:
            try:
                rec["figures"] = as_json(fn())
            except Exception as exc:  # noqa: BLE001 - one failing section must not cost the others
                rec.update(
                    status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:]
                )
            finally:
                state.free()
        rec["seconds"] = time.monotonic() - t
        out[name] = rec
        print(f"gpu-check: {name}: {rec['status']} in {rec['seconds']:.1f} s {rec['error'] or ''}", flush=True)
        if after is not None:
            after(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU, every section, in seconds (CI)")
    p.add_argument(
        "--out", type=Path, default=Path("gpu-check-out"), help="folder for gpu-check.json and gpu-validation.md"
    )
    p.add_argument(
        "--budget-s", type=float, default=DEFAULT_BUDGET_S, help="skip the sections left after this many seconds"
    )
    args = p.parse_args(argv)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts, as the job sets it
    started_wall = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    shapes = DRY if args.dry_run else FULL
    if args.dry_run:
        # The dry run checks code paths, not speed: one thread stays quick on a shared CI machine,
        # where two threads contending with other work ran it several times slower.
        torch.set_num_threads(1)
    t = time.perf_counter()
    device = pick_device("cpu") if args.dry_run else pick_device("auto")
    torch.empty(1, device=device.torch_device)
    device.synchronize()
    cuda_init_s = time.perf_counter() - t
    seed_everything(0)  # the job's seeds and deterministic mode (job/phases.py)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = JobContext(
            device,
            EventWriter(Path(tmp) / "events.jsonl"),
            MeasureOpts(enabled=False),
            EncoderDims(1, 1, 1, 1),  # set when the encoder is built
            1,  # XLM-R's <pad>
            threading.Event(),
            lambda msg: print(f"gpu-check: {msg}", flush=True),
            lambda: (None, None, None),
        )
        env = collect_env(device.type, device.name, device.count, device.precision)
        env.update(
            lm_eval=package_version("lm_eval"), CUBLAS_WORKSPACE_CONFIG=os.environ.get("CUBLAS_WORKSPACE_CONFIG")
        )
        env["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()

        def write(sections: dict[str, dict[str, Any]]) -> None:
            report = {
                "schema": SCHEMA_VERSION,
                "dry_run": args.dry_run,
                "started": started_wall,
                "budget_s": args.budget_s,
                "elapsed_s": time.monotonic() - started,
                "complete": list(sections) == list(SECTIONS),
                "shapes": asdict(shapes),
                "environment": env,
                "sections": sections,
            }
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "gpu-check.json").write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
            (args.out / "gpu-validation.md").write_text(render_markdown(report), encoding="utf-8")

        if device.type != "cuda" and not args.dry_run:
            reason = "torch sees no CUDA device (use --dry-run on a CPU)"
            sections = {n: {"status": "skipped", "seconds": 0.0, "reason": reason, "figures": None} for n in SECTIONS}
            write(sections)
        else:
            sections = run_sections(State(device, shapes, ctx, cuda_init_s=cuda_init_s), args.budget_s, started, write)
        ctx.events.close()
    print(f"gpu-check: wrote {args.out / 'gpu-check.json'} and {args.out / 'gpu-validation.md'}", flush=True)
    failed = [n for n, s in sections.items() if s["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
