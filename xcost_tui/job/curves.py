"""Learning curves: held-out accuracy at regular points of a training phase, against the run's
cumulative training cost (a reused intermediate phase included).

``CurveProbe`` is called by the training loop after every optimiser step (``train(on_step=...)``)
and evaluates at ``points`` evenly spaced steps. The evaluations are not training: their wall
time is returned to the loop (so throughput windows skip it) and subtracted from the phase's
wall time and device-hours by the phase runner; their FLOPs are recorded apart. Energy counters
cannot be paused, so a phase's energy includes them (said in the phase's info).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from ..rundir import CurvePoint, PhaseEnd
from .batching import Encoded
from .loops import JobContext, Tally, score


def curve_steps(total_steps: int, points: int) -> list[int]:
    """The steps at which a curve of ``points`` points evaluates (the last one at the end)."""
    if points <= 0 or total_steps <= 0:
        return []
    return sorted({max(1, math.ceil(total_steps * i / points)) for i in range(1, points + 1)})


def pipeline_costs(
    completed: list[PhaseEnd], exclude: Callable[[PhaseEnd], bool] = lambda p: False
) -> dict[str, float | None]:
    """Training cost of the phases completed so far: own costs, or a reused phase's original
    costs (its ``info.original_costs``). ``exclude``: phases that are not part of this pipeline
    (another language's few-shot phase)."""
    totals: dict[str, float | None] = {"device_hours": 0.0, "flops_analytic": 0.0, "energy_j": 0.0}
    for p in completed:
        if p.kind not in ("intermediate", "target", "few-shot") or exclude(p):
            continue
        original = p.info.get("original_costs") if p.reused_from is not None else None
        for name in totals:
            if original is not None:
                c = original.get(name) if isinstance(original, dict) else None
                value = c.get("value") if isinstance(c, dict) else None
            else:
                value = p.value(name)
            current = totals[name]
            totals[name] = None if current is None or value is None else current + float(value)
    return totals


class CurveProbe:
    def __init__(
        self,
        ctx: JobContext,
        model: torch.nn.Module,
        phase: str,
        head: str,
        split: str,
        held_out: dict[str, list[Encoded]],
        points: int,
        batch_size: int,
        base: dict[str, float | None],
    ):
        self.ctx, self.model, self.phase, self.head, self.split = ctx, model, phase, head, split
        self.held_out, self.points, self.batch_size, self.base = held_out, points, batch_size, base
        self.spent_s = 0.0  # wall time of the evaluations so far
        self.eval_flops = 0
        self.n_points = 0
        self._t0 = time.perf_counter()
        self._at: set[int] | None = None

    def start(self) -> None:
        """The phase's training starts now (the clock for its cumulative device-hours)."""
        self._t0 = time.perf_counter()

    def __call__(self, step: int, total_steps: int, tally: Tally) -> float:
        if self._at is None:
            self._at = set(curve_steps(total_steps, self.points))
        if step not in self._at:
            return 0.0
        device = self.ctx.device
        device.synchronize()
        t0 = time.perf_counter()
        accuracy: dict[str, float | None] = {}
        n: dict[str, int] = {}
        flops = 0
        for lang, data in self.held_out.items():
            labelled = [e for e in data if e.label >= 0]
            n[lang] = len(labelled)
            if not labelled:
                accuracy[lang] = None  # none left (k = 100 draws every validation item)
                continue
            counted = Tally()
            scores = score(self.ctx, self.model, labelled, self.head, self.batch_size, None, counted)
            flops += counted.flops_analytic
            correct = sum(1 for e, sc in zip(labelled, scores) if max(range(len(sc)), key=sc.__getitem__) == e.label)
            accuracy[lang] = correct / len(labelled)
        self.model.train()  # score() put the model in eval mode; training goes on
        device.synchronize()
        spent = time.perf_counter() - t0
        self.eval_flops += flops
        self.n_points += 1
        wall = time.perf_counter() - self._t0 - self.spent_s - spent
        dh, fl, en = (self.base.get(k) for k in ("device_hours", "flops_analytic", "energy_j"))
        self.ctx.events.emit(
            CurvePoint(
                self.phase,
                self.n_points,
                step,
                total_steps,
                self.split,
                accuracy,
                n,
                cum_train_device_hours=None if dh is None else dh + wall * device.count / 3600.0,
                cum_train_flops=None if fl is None else fl + tally.flops_analytic,
                cum_train_energy_j=None,  # energy counters are read at phase ends only
                eval_wall_s=spent,
                eval_flops=float(flops),
            )
        )
        # what the phase leaves out of its time: the evaluation and the writing of its event (an
        # fsync'd line), neither of which is training
        spent = time.perf_counter() - t0
        self.spent_s += spent
        return spent

    def info(self) -> dict[str, Any]:
        return {
            "curve_points": self.n_points,
            "curve_eval_wall_s": self.spent_s,
            "curve_eval_flops": self.eval_flops,
            "energy_includes_curve_evals": self.n_points > 0,
        }
