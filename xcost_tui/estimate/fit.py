"""``plan check``'s memory warnings: will each run's training steps fit the device it will run on?

A run that ``plan estimate`` forecast is judged by its newest forecast (the peak the probe measured,
or the profile's analytic step). Any other run by the analytic step memory (``memory.py``) of its
longest possible micro-batch (``max_seq_len`` tokens) on this machine's device: GPU 0 as NVML sees
it, or the machine's memory for a CPU run. Each warning names the setting to change. Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..measure import nvml
from ..measure.heads import SPAN_HEAD
from ..rundir.forecast import latest_run_forecasts
from ..spec import PhaseKind
from ..tasks.registry import SPAN, get_task
from . import assumptions
from .configs import model_shape
from .memory import FIT_SHARE, fits_analytic, largest_fitting_micro, step_memory

GIB = 2**30


def local_devices() -> dict[str, Any]:
    """{"cuda": (name, total bytes) or None, "cpu": (name, total bytes)}: what a run started here would use."""
    out: dict[str, Any] = {"cuda": None}
    try:
        if nvml.nvml_available()[0] and nvml.device_count() > 0:
            info = nvml.value(nvml.memory_info(0))
            name = nvml.value(nvml.device_name(0))
            if info is not None:
                out["cuda"] = (name or "GPU 0", int(info.total))
    except Exception:  # noqa: BLE001 - no NVML: no GPU to check against
        out["cuda"] = None
    try:
        import psutil

        out["cpu"] = ("this machine's memory", int(psutil.virtual_memory().total))
    except Exception:  # noqa: BLE001
        out["cpu"] = None
    return out


def _sections(spec) -> list[tuple[str, str, Any, list[str]]]:
    """(phase name, hparams section, hparams, tasks) of each training phase the run trains itself."""
    out = []
    for p in spec.phase_plan():
        if p.kind == PhaseKind.INTERMEDIATE:
            out.append((p.name, "intermediate_hparams", spec.intermediate_hparams, list(p.tasks)))
        elif p.kind == PhaseKind.TARGET:
            out.append((p.name, "hparams", spec.hparams, [spec.target]))
        elif p.kind in (PhaseKind.FEW_SHOT, PhaseKind.FEW_SHOT_TRIAL):
            out.append((p.name, "few_shot_hparams", spec.few_shot_hparams, ["xcopa"]))
    seen, unique = set(), []
    for entry in out:  # few-shot phases of every language share one setting: one warning
        key = (entry[1], tuple(entry[3]))
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def analytic_warnings(spec, devices: dict[str, Any], label: str) -> list[str]:
    use_gpu = spec.device != "cpu" and devices.get("cuda") is not None
    dev = devices.get("cuda") if use_gpu else devices.get("cpu")
    if dev is None:
        return []
    name, total = dev
    precision = "bf16" if use_gpu else "fp32"
    try:
        shape = model_shape(spec.model, spec.tiny_model_dims)
    except Exception:  # noqa: BLE001 - no config here: plan estimate says so
        return []
    out = []
    for phase, section, hp, tasks in _sections(spec):
        if not spec.uses_intermediate and section == "intermediate_hparams":
            continue
        choices = max(assumptions.assumed_choices(t) for t in tasks)
        # the heads the phase trains (the span head's activations read every token: memory.py)
        heads = {"mc": 1, **({SPAN_HEAD: 2} if any(get_task(t).head == SPAN for t in tasks) else {})}
        fits = fits_analytic(shape, choices, hp.max_seq_len, precision, total, heads)
        largest = largest_fitting_micro(hp.batch_size, fits)
        set_micro = min(hp.micro_batch_size, hp.batch_size) if hp.micro_batch_size else None
        micro = set_micro or (None if use_gpu else min(8, hp.batch_size))
        need = step_memory(shape, (micro or 1) * choices, hp.max_seq_len, precision, heads).total
        where = f"{label} {phase}"
        dev_text = f"{total / GIB:.0f} GiB ({name})"
        hint = "; `xcost-tui plan estimate` measures the real lengths"
        if largest is None:
            out.append(
                f"warning: {where} may not fit: one example of {hp.max_seq_len} tokens needs about "
                f"{need / GIB:.1f} GiB (analytic), more than {FIT_SHARE:.0%} of {dev_text}; set "
                f"{section}.max_seq_len lower, or run it on a device with more memory{hint}"
            )
        elif micro is not None and micro > largest:
            out.append(
                f"warning: {where} may not fit: micro-batches of {micro} examples of {hp.max_seq_len} "
                f"tokens (its max_seq_len) need about {need / GIB:.1f} GiB (analytic), more than "
                f"{FIT_SHARE:.0%} of {dev_text}; set {section}.micro_batch_size = {largest}"
                + (" (or leave it unset on a GPU: the job then picks it)" if set_micro else "")
                + hint
            )
    return out


def memory_warnings(
    specs: list, store: str | os.PathLike | None = None, labels: dict[str, str] | None = None
) -> list[str]:
    """One line per training phase that will not fit, naming the setting to change."""
    labels = labels or {}
    forecasts = {}
    if store is not None and Path(store).is_dir():
        try:
            forecasts = latest_run_forecasts(store, [s.run_id() for s in specs])
        except Exception:  # noqa: BLE001 - an unreadable forecast file: judge analytically
            forecasts = {}
    devices: dict[str, Any] | None = None
    out: list[str] = []
    for spec in specs:
        rid = spec.run_id()
        label = labels.get(rid) or spec.name or rid
        found = forecasts.get(rid)
        if found is not None:
            fc, run = found
            for p in run.phases:
                if p.fits is False:
                    why = "; ".join(n for n in p.notes if "fit" in n) or "does not fit"
                    out.append(
                        f"warning: {label} {p.phase} ({fc.mode} forecast {fc.forecast_id} on "
                        f"{fc.device.get('name')}): {why}"
                    )
            continue
        if devices is None:
            devices = local_devices()
        out += analytic_warnings(spec, devices, label)
    return out
