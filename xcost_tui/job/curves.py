"""Learning curves: held-out accuracy at regular points of a training phase, against the run's
cumulative training cost (a reused intermediate phase included).

``CurveProbe`` is called by the training loop after every optimiser step (``train(on_step=...)``)
and evaluates at ``points`` evenly spaced steps. The evaluations are not training: the training
phase's meter is paused around each (``PhaseMeter.paused``), so no figure of the training phase
holds them (wall, device-hours, CPU, energy, peak memory, contention), and they are measured by a
meter of their own, one window per point, recorded as the phase ``curve:<phase>`` after the
training phase ends (issue 17). Their wall time is also returned to the loop, so its throughput
windows skip it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from ..measure.timer import PhaseMeter
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
    """The curve of one training phase. ``meter`` measures the evaluations (one window each);
    ``start(train_meter)`` names the training phase's meter, paused around each evaluation."""

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
        meter: PhaseMeter,
    ):
        self.ctx, self.model, self.phase, self.head, self.split = ctx, model, phase, head, split
        self.held_out, self.points, self.batch_size, self.base = held_out, points, batch_size, base
        self.meter = meter
        self.tally = Tally()  # what the evaluations processed, all points together
        self.spent_s = 0.0  # wall time the training phase was paused for, all points together
        self.n_points = 0
        self.train_meter: PhaseMeter | None = None
        self._at: set[int] | None = None

    @property
    def labelled(self) -> dict[str, list[Encoded]]:
        """The held-out items with a label (k = 100 may draw every validation item as shots)."""
        return {lang: [e for e in data if e.label >= 0] for lang, data in self.held_out.items()}

    def start(self, train_meter: PhaseMeter) -> None:
        """The phase's training starts now, measured by ``train_meter``."""
        self.train_meter = train_meter

    def __call__(self, step: int, total_steps: int, tally: Tally) -> float:
        if self._at is None:
            self._at = set(curve_steps(total_steps, self.points))
        if step not in self._at or self.train_meter is None:
            return 0.0
        t0 = time.perf_counter()
        with self.train_meter.paused():
            accuracy, n, flops, spent = self._evaluate()
            self.n_points += 1
            train = self.train_meter
            dh, fl, en = (self.base.get(k) for k in ("device_hours", "flops_analytic", "energy_j"))
            energy = train.energy_cost().value
            self.ctx.events.emit(
                CurvePoint(
                    self.phase,
                    self.n_points,
                    step,
                    total_steps,
                    self.split,
                    accuracy,
                    n,
                    # the training phase's own figures so far: its meter's closed windows, evaluations left out
                    cum_train_device_hours=None if dh is None else dh + train.wall * train.devices / 3600.0,
                    cum_train_flops=None if fl is None else fl + tally.flops_analytic,
                    cum_train_energy_j=None if en is None or energy is None else en + float(energy),
                    eval_wall_s=spent,
                    eval_flops=float(flops),
                )
            )
        # what the loop leaves out of its throughput windows: the pause, the point's event included
        paused = time.perf_counter() - t0
        self.spent_s += paused
        return paused

    def _evaluate(self) -> tuple[dict[str, float | None], dict[str, int], int, float]:
        """(accuracy and items per language, FLOPs, seconds) of one point, inside its meter window."""
        accuracy: dict[str, float | None] = {}
        n: dict[str, int] = {}
        flops = 0
        wall_before = self.meter.wall
        with self.meter:
            for lang, labelled in self.labelled.items():
                n[lang] = len(labelled)
                if not labelled:
                    accuracy[lang] = None  # none left (k = 100 draws every validation item)
                    continue
                counted = Tally()
                scores = score(self.ctx, self.model, labelled, self.head, self.batch_size, counted)
                self.tally.merge(counted)
                flops += counted.flops_analytic
                correct = sum(
                    1 for e, sc in zip(labelled, scores) if max(range(len(sc)), key=sc.__getitem__) == e.label
                )
                accuracy[lang] = correct / len(labelled)
            self.model.train()  # score() put the model in eval mode; training goes on
        return accuracy, n, flops, self.meter.wall - wall_before

    def info(self) -> dict[str, Any]:
        """What the training phase's record says of its curve (the curve phase has the figures)."""
        return {
            "curve_points": self.n_points,
            "curve_phase": curve_phase_name(self.phase) if self.n_points else None,
            "curve_eval_wall_s": self.meter.wall,
            "curve_eval_flops": self.tally.flops_analytic,
            "energy_includes_curve_evals": False,
        }


def curve_phase_name(phase: str) -> str:
    """The phase that holds a training phase's curve evaluations: curve:target:copa, curve:few-shot:it."""
    return f"curve:{phase}"
