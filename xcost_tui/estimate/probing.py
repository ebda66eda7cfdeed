"""The estimate's probe: ``python -m xcost_tui.estimate.worker probe`` (worker.py).

One fresh process per kind of run, started as the job starts (the run's data, its tokenizer, the
model built with random weights from its config), then each planned phase in the job's order: a
few optimiser steps of the training loop itself (``loops.train``) on synthetic examples of the
phase's shapes, inside the job's own ``PhaseMeter`` (so time, the process's or the CUDA
allocator's peak memory and energy are measured as a phase measures them); evaluation and the
inference benchmark replayed on synthetic examples of the exact lengths (``loops.evaluate``,
``bench.inference_bench``). On a GPU the micro-batch is the job's own choice
(``loops.choose_micro_batch``) and the largest that fits is searched with the job's test
(``loops._fits``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import statistics
import threading
import time
import traceback
from typing import Any

import torch

from ..errors import XcostError
from ..job.batching import Encoded
from ..job.bench import inference_bench
from ..job.data import RunData, load_run_data
from ..job.device import pick_device
from ..job.loops import JobContext, TrainTask, _fits, choose_micro_batch, evaluate, train
from ..job.model import TINY_DIMS, EncoderWithHeads, build_tiny_encoder, train_tiny_tokenizer
from ..job.phases import seed_everything
from ..measure.flops import EncoderDims
from ..measure.timer import PhaseMeter
from ..methods import METHOD_TABLE
from ..rundir import EventWriter
from ..spec import TINY_ENCODERS, PhaseKind, RunSpec
from ..tasks import all_texts
from . import configs
from .counting import flops_of
from .memory import largest_fitting_micro
from .protocol import emit, note


def _synthetic(n: int, choices: int, length: int, lang: str = "en") -> list:
    """``n`` encoded examples of ``choices`` sequences of ``length`` tokens (token 5: any id in the
    vocabulary; the cost of a step does not depend on which)."""
    seq = [5] * length
    return [Encoded([list(seq) for _ in range(choices)], 0, i, lang) for i in range(n)]


def _from_lengths(pairs: list, lang: str = "en") -> list:
    return [Encoded([[5] * int(L) for _ in range(int(c))], 0, i, lang) for i, (c, L) in enumerate(pairs)]


class Prober:
    """One kind of run, started as its job starts, then probed phase by phase in the job's order."""

    def __init__(self, request: dict):
        self.request = request
        self.opts = request.get("options") or {}

    def start(self) -> None:
        """What the job does before its first phase: seed, device, data, tokenizer, model."""
        self.spec = spec = RunSpec.from_dict(self.request["spec"], where="probe spec")
        seed_everything(spec.seed)
        self.device = device = pick_device(spec.device)
        try:
            self.data: RunData | None = load_run_data(spec)
        except Exception as exc:  # noqa: BLE001 - the probe goes on; the run's data footprint is then missing
            self.data = None
            note(
                f"probe: the run's data could not be loaded ({str(exc).splitlines()[0][:200]}); "
                f"its memory then leaves the data out"
            )
        shape_cfg = self.request.get("model_config") or {}
        if spec.model in TINY_ENCODERS:
            texts = [t for _, exs in self.data.tokenizer_lists(spec) for t in all_texts(exs)] if self.data else []
            vocab = {**TINY_DIMS, **spec.tiny_model_dims}["vocab_size"]
            if not texts:
                texts = [f"w{i}" for i in range(vocab)]
            tokenizer = train_tiny_tokenizer(texts, vocab)
            encoder = build_tiny_encoder(tokenizer, spec.tiny_model_dims, spec.seed)
            pad = tokenizer.pad_token_id
        else:
            encoder, pad = _from_config(spec.model, shape_cfg)
        self.model = EncoderWithHeads(encoder)
        self.model.to(device.torch_device)
        shape = configs.shape_from_config(spec.model, shape_cfg or encoder.config.to_dict(), "probe")
        self.ctx = JobContext(
            device=device,
            events=EventWriter(os.devnull),
            measure=spec.measure,
            dims=EncoderDims(shape.hidden, shape.layers, shape.heads, shape.intermediate),
            pad_id=pad if pad is not None else 1,
            cancel=threading.Event(),
            log=lambda m: None,
            memory_now=lambda: (None, None, None),
        )

    def meter(self):
        d = self.ctx.device
        meter = PhaseMeter(d.type, str(d.torch_device), d.nvml_indices, enabled_memory=self.spec.measure.enabled)
        if self.spec.measure.enabled:
            self.ctx.memory_now = lambda: meter.memory.current()
        return meter

    def timed(self, fn, *args, **kw) -> tuple[float, int | None, float | None, Any]:
        """(wall s, peak memory B, energy J, result) of ``fn`` inside a PhaseMeter, as a phase is measured."""
        meter = self.meter()
        with meter:
            result = fn(*args, **kw)
        costs = meter.costs()
        self.ctx.memory_now = lambda: (None, None, None)
        return meter.wall, costs["peak_mem_bytes"].value, costs["energy_j"].value, result

    # ---- phases -------------------------------------------------------------------------------
    def train_phase(self, p: dict, first: bool) -> dict:
        spec = self.spec
        hp = getattr(spec, p["section"])
        for t in p["tasks"]:
            self.model.ensure_head(t["head"])
        top = [TrainTask(t["name"], t["head"], _from_lengths(t["top"])) for t in p["tasks"]]
        # the job's choice of micro-batch, on the phase's longest examples (a search only on a GPU)
        t0 = time.perf_counter()
        micro, micro_source = choose_micro_batch(self.ctx, self.model, top, hp)
        choose_s = time.perf_counter() - t0 if micro_source == "probed" else 0.0
        batch = hp.batch_size
        k = math.ceil(batch / micro)
        main = max(p["tasks"], key=lambda t: t.get("weight", 0))
        choices = int(main["choices"])
        points = sorted({int(x) for x in p["points"]})
        budget_s = float(self.opts.get("step_budget_s") or 0.3)
        out: dict[str, Any] = {
            "micro": micro,
            "micro_source": micro_source,
            "k": k,
            "choose_s": choose_s,
            "points": [],
            "peak_mem_bytes": None,
            "energy_j_per_s": None,
        }
        peaks: list[int] = []
        energy_rate = []

        def run(L: int, steps: int, b: int, m: int, measure=None) -> float:
            data = _synthetic(steps * b, choices, L)
            h = dataclasses.replace(
                hp, max_steps=steps, batch_size=b, micro_batch_size=m, grad_accum=None, min_steps=None
            )
            saved = self.ctx.measure
            if measure is not None:
                self.ctx.measure = measure
            try:
                wall, peak, energy, _ = self.timed(
                    train, self.ctx, self.model, p["name"], [TrainTask(main["name"], main["head"], data)], h, spec.seed
                )
            finally:
                self.ctx.measure = saved
            if peak is not None:
                peaks.append(int(peak))
            if energy is not None and wall > 0:
                energy_rate.append(energy / wall)
            return wall

        warm_first = None
        for j, L in enumerate(reversed(points)):  # the longest first: the worst case of memory, then the others
            t_a = run(L, 2, batch, micro)
            if first and j == 0:
                warm_first = t_a
                t_a = run(L, 2, batch, micro)
            est = max(t_a / 2, 1e-4)
            n = int(min(40, max(3, math.ceil(budget_s / est))))
            reps = 3 if t_a < 1.0 else 1
            a_s, b_s = [t_a], []
            for r in range(reps):
                if r:
                    a_s.append(run(L, 2, batch, micro))
                b_s.append(run(L, 2 + n, batch, micro))
            # the median of the repeats: a forecast is of a typical run, and the job's own phases are
            # measured once each, with what a run meets (the sampler beside it, caches, the OS); the
            # least of them forecast 30-50% low on the demo plan (docs/benchmarks.md)
            ta, tb = statistics.median(a_s), statistics.median(b_s)
            t_step = max((tb - ta) / n, 1e-6)
            point = {
                "length": L,
                "head": main["head"],
                "choices": choices,
                "n_examples": micro,
                "n_seqs": micro * choices,
                "flops": flops_of(self.ctx.dims, main["head"], micro * choices, L, True),
                "t_step": t_step,
                "fixed": max(ta - 2 * t_step, 0.0),
                "steps_a": 2,
                "steps_b": 2 + n,
                "reps": reps,
            }
            if k > 1 and j == 0:  # one micro-batch per step: the optimiser's share apart from the micro-batches'
                t1a = statistics.median(run(L, 2, micro, micro) for _ in range(max(1, reps // 2)))
                t1b = statistics.median(run(L, 2 + n, micro, micro) for _ in range(max(1, reps // 2)))
                t_step1 = max((t1b - t1a) / n, 1e-6)
                t_micro = max((t_step - t_step1) / (k - 1), 1e-6)
                point.update(t_opt=max(t_step1 - t_micro, 0.0), t_micro=t_micro)
            if j == 0 and p.get("flop_samples", 1) > 1 and self.spec.measure.enabled:
                t0a = run(L, 2, batch, micro, dataclasses.replace(self.spec.measure, flop_sample_steps=0))
                point["sample_extra"] = max(ta - t0a, 0.0)
            if warm_first is not None and j == 0:
                point["warmup"] = max(warm_first - ta, 0.0)
            out["points"].append(point)
        out["peak_mem_bytes"] = max(peaks) if peaks else None
        out["energy_j_per_s"] = statistics.median(energy_rate) if energy_rate else None
        # the largest micro-batch that fits: the job's own test on a GPU (its longest examples)
        if self.device.type == "cuda":
            out["max_micro"] = largest_fitting_micro(batch, lambda m: _fits(self.ctx, self.model, top, m))
            out["memory_total_bytes"] = int(torch.cuda.get_device_properties(self.device.torch_device).total_memory)
        else:
            import psutil

            out["memory_total_bytes"] = int(psutil.virtual_memory().total)
        return out

    def replay(self, fn, *args) -> dict:
        """Runs a phase's code twice on its synthetic examples: the median time and energy (a typical
        run, as the probe's steps), the higher peak."""
        walls, peaks, energies = [], [], []
        for _ in range(int(self.opts.get("replays") or 2)):
            wall, peak, energy, _ = self.timed(fn, *args)
            walls.append(wall)
            peaks.append(peak)
            energies.append(energy)
        known = [p for p in peaks if p is not None]
        measured = [e for e in energies if e is not None]
        return {
            "wall_s": statistics.median(walls),
            "peak_mem_bytes": max(known) if known else None,
            "energy_j": statistics.median(measured) if len(measured) == len(energies) else None,
            "walls": walls,
        }

    def eval_phase(self, p: dict) -> dict:
        data = _from_lengths(p["lengths"], p.get("lang") or "en")
        return self.replay(evaluate, self.ctx, self.model, data, p["head"], p["batch_size"])

    def bench_phase(self, p: dict) -> dict:
        data = _from_lengths(p["lengths"])
        return self.replay(inference_bench, self.ctx, self.model, data, p["head"], self.spec)

    def run(self) -> dict:
        t_start = time.monotonic()
        self.start()
        start_s = time.monotonic() - t_start
        results: dict[str, Any] = {}
        first_train = True
        base_state = None
        for p in self.request["phases"]:
            t0 = time.monotonic()
            if p.get("reused"):
                continue
            if p["kind"] in ("intermediate", "target", "few-shot", "few-shot-trial"):
                if p["kind"] in ("few-shot", "few-shot-trial") and base_state is not None:
                    self.model.load_state_dict(base_state)
                res = self.train_phase(p, first_train)
                first_train = False
                if (
                    p["kind"] == "target"
                    and METHOD_TABLE[self.spec.method].per_language_phase == PhaseKind.FEW_SHOT.value
                ):
                    base_state = copy.deepcopy(self.model.state_dict())  # as the job keeps it
            elif p["kind"] == "eval":
                res = self.eval_phase(p)
            else:
                if base_state is not None:
                    self.model.load_state_dict(base_state)
                res = self.bench_phase(p)
            res["probe_s"] = round(time.monotonic() - t0, 3)
            results[p["name"]] = res
            note(f"probe {self.request.get('label', '')}: {p['name']} in {res['probe_s']:.1f} s")
        d = self.device
        return {
            "event": "probe",
            "phases": results,
            "start_s": round(start_s, 3),
            "device": {"type": d.type, "name": d.name, "precision": d.precision, "count": d.count},
            "seconds": round(time.monotonic() - t_start, 3),
        }


def _from_config(model: str, config: dict):
    """The encoder of ``model`` with random weights from its config (no weights downloaded), as
    ``job/model.py`` ``load_pretrained`` builds it (no pooler)."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(config)
    model_type = cfg.pop("model_type", None)
    if not model_type:
        raise ValueError(f"model {model!r}: its config has no model_type")
    for key in ("architectures", "transformers_version", "_name_or_path"):
        cfg.pop(key, None)
    hf_config = AutoConfig.for_model(model_type, **cfg)
    try:
        encoder = AutoModel.from_config(hf_config, add_pooling_layer=False)
    except TypeError:
        encoder = AutoModel.from_config(hf_config)
    return encoder, getattr(hf_config, "pad_token_id", None)


def probe_main(request: dict) -> int:
    try:
        out = Prober(request).run()
    except Exception as exc:  # noqa: BLE001 - said to the supervisor, which reports it
        msg = str(exc) if isinstance(exc, XcostError) else f"{type(exc).__name__}: {exc}"
        emit(
            {
                "event": "failed",
                "error": msg,
                "traceback": None if isinstance(exc, XcostError) else traceback.format_exc(),
            }
        )
        emit({"event": "done"})
        return 1
    emit(out)
    emit({"event": "done"})
    return 0
