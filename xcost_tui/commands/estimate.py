"""``xcost-tui plan estimate PLAN``: the forecast as a table (rich), JSON or CSV, stored in the store.

Progress goes to stderr, so ``--format json|csv`` on stdout is the data alone. The forecast is
written to ``<store>/forecasts/<id>.json`` and read into the store's ``forecasts`` table (unless
``--no-save``); a store that cannot take it (read-only, full) is a warning after the forecast.
Exit 0, or 2 for a bad plan or a forecast that could not be made, with the message.

The table's closing lines say how the runs were assumed to execute (warm workers: how many and
why, or one process per run), the device-hours in and outside the phases (the start-up share), the
shared target phases, and the saving against the old way (one process per run, none shared).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TextIO

from .. import format as fmt
from .. import present
from ..errors import WriteError, XcostError, path_error
from ..estimate.profiles import get_profile
from ..estimate.run import estimate_plan
from ..measure import nvml
from ..plan import load_plan
from ..rundir.forecast import DEFAULT_SAFETY, PlanForecast, phase_row, save_forecast, slurm_time


def estimate_command(
    plan: str,
    *,
    data_dir: str | None = None,
    device_profile: str | None = None,
    efficiency: float | None = None,
    slots: int | None = None,
    workers: int | None = None,
    process_per_run: bool = False,
    fmt_name: str = "table",
    phases: bool = False,
    store: str = "store",
    save: bool = True,
    safety: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        loaded = load_plan(plan, data_dir=data_dir)
        profile = get_profile(device_profile, efficiency) if device_profile else None
        if efficiency is not None and profile is None:
            raise XcostError(
                "--efficiency applies to a projection: give --device-profile NAME with it "
                "(without a profile the probe measures the local device)"
            )
        if workers is not None and process_per_run:
            raise XcostError("--workers and --process-per-run exclude each other: warm workers, or one process per run")
        n_slots = slots or workers or default_slots(profile)
        # [executor] process_per_run, where the plan has that setting (the runner's old way)
        ppr = process_per_run or bool(getattr(loaded.executor, "process_per_run", False))
        fc = estimate_plan(
            loaded,
            profile=profile,
            slots=n_slots,
            out=err,
            safety=DEFAULT_SAFETY if safety is None else safety,
            workers=workers or n_slots,
            workers_reason=workers_reason(workers, slots, profile, n_slots),
            process_per_run=ppr,
        )
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=err, flush=True)
        return 2
    saved = None
    unsaved: list[str] = []  # said after the forecast: a store that takes no writes costs no forecast
    if save:
        saved = _save(fc, Path(store), unsaved)
    if fmt_name == "json":
        json.dump(fc.to_dict(), out, indent=1, default=str)
        out.write("\n")
    elif fmt_name == "csv":
        out.write(to_csv(fc))
    else:
        print_forecast(fc, out, phases=phases, saved=saved)
    out.flush()
    for warning in unsaved:
        print(f"xcost-tui: warning: {warning}", file=err, flush=True)
    return 0


def default_slots(profile) -> int:
    """Runs at once: one per local GPU (as the headless runner does), one on a CPU or a profile."""
    if profile is not None:
        return 1
    try:
        count = nvml.device_count() if hasattr(nvml, "device_count") else 0
    except Exception:  # noqa: BLE001 - no NVML: a CPU machine
        count = 0
    return max(1, int(count or 0))


def workers_reason(workers: int | None, slots: int | None, profile, n: int) -> str:
    """Why the forecast assumed that many warm workers (one per device)."""
    if workers:
        return f"--workers {workers}"
    if slots:
        return f"one per parallel slot (--slots {slots})"
    if profile is not None:
        return f"one per device of the {profile.name} profile, which has one GPU (--workers N for more)"
    return f"one per local GPU ({n})" if n > 1 else "one for the local device (--workers N for more)"


def _save(fc: PlanForecast, store: Path, warnings: list[str]) -> Path | None:
    """The forecast's file in the store, then the store's forecasts table; what failed goes to
    ``warnings`` (a refused path in the one shape, errors.path_error), never the forecast."""
    try:
        path = save_forecast(store, fc)
    except (WriteError, OSError) as exc:
        refused = path_error(exc, fix="give --store a folder you can write to")
        warnings.append(f"the forecast was not saved: {refused}, or use --no-save")
        return None
    try:
        # deferred: pulls in duckdb, pyarrow and numpy (start-up cost), which --no-save never needs
        from ..store.ingest import ingest

        ingest(store, [])
    except Exception as exc:  # noqa: BLE001 - the file is the source of truth; `xcost-tui ingest` retries
        said = str(exc) if isinstance(exc, XcostError) else f"{type(exc).__name__}: {exc}"
        warnings.append(
            f"{path} written, but the store's forecasts table was not updated ({said}); "
            f"`xcost-tui ingest --store {store}` retries"
        )
    return path


# ---- output ---------------------------------------------------------------------------------------

CSV_FIELDS = (
    "forecast_id",
    "mode",
    "device",
    "run_id",
    "run_name",
    "method",
    "model",
    "seed",
    "phase",
    "kind",
    "examples",
    "steps",
    "micro_batch_size",
    "micro_batch_source",
    "micro_batches",
    "tokens_nonpad",
    "tokens_padded",
    "flops",
    "wall_s",
    "device_hours",
    "energy_j",
    "peak_mem_bytes",
    "max_micro_batch",
    "fits",
    "time_source",
    "lengths_source",
    "counts_source",
    "assumed",
    "shared_from",
    "run_suggested_time_s",
    "notes",
)


def to_csv(fc: PlanForecast) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for run, p in fc.phases():
        row = phase_row(run, p)
        row.update(forecast_id=fc.forecast_id, mode=fc.mode, device=fc.device.get("name"), notes="; ".join(p.notes))
        w.writerow(row)
    return buf.getvalue()


def run_notes(fc: PlanForecast) -> list[tuple[str, list[str]]]:
    """Each distinct note of the runs once, with the runs it concerns (a missing data set is one note)."""
    by: dict[str, list[str]] = {}
    for run in fc.runs:
        for note in run.notes:
            by.setdefault(note, []).append(run.name or run.run_id)
    return list(by.items())


def _fits_text(v: bool | None) -> str:
    return "–" if v is None else ("yes" if v else "NO")


def print_forecast(fc: PlanForecast, out: TextIO, *, phases: bool = False, saved: Path | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    plain = not getattr(out, "isatty", lambda: False)()
    console = Console(file=out, width=200 if plain else None, no_color=plain, highlight=False)
    cols = present.FORECAST
    where = (
        f"projected onto {fc.device.get('label')}"
        if fc.mode == "profile"
        else f"probed on {fc.device.get('name')} ({fc.device.get('type')}, {fc.device.get('precision')})"
    )
    title = f"forecast of plan {fc.plan} ({fc.plan_label}): {len(fc.runs)} runs, {where}"
    table = Table(title=Text(title), title_justify="left")
    for c in cols:
        table.add_column(c.title, justify="right" if c.numeric else "left", no_wrap=c.key in ("run_id",))
    for i, run in enumerate(fc.runs, 1):
        values = {
            "n": i,
            "name": run.name,
            "run_id": run.run_id,
            "examples": run.total("examples"),
            "tokens_padded": run.total("tokens_padded"),
            "flops": run.total("flops"),
            "device_hours": run.total("device_hours"),
            "wall_s": run.wall_s,
            "energy_j": run.total("energy_j"),
            "peak_mem_bytes": run.peak_mem_bytes,
            "fits": _fits_text(run.fits),
            "time_limit": slurm_time(run.suggested_time_s) if run.suggested_time_s else None,
            "assumed": "assumed" if run.assumed else "",
        }
        table.add_row(
            *(
                Text(
                    c.cell(values.get(c.key))
                    if c.key not in ("fits", "time_limit", "assumed")
                    else fmt.text(values.get(c.key))
                )
                for c in cols
            )
        )
        if phases:
            for p in run.phases:
                shared = f" (reused from {p.shared_from})" if p.shared else ""
                pv = {
                    "n": "",
                    "name": f"  {p.phase}{shared}",
                    "run_id": "",
                    "examples": p.examples,
                    "tokens_padded": p.tokens_padded,
                    "flops": p.flops,
                    "device_hours": p.device_hours,
                    "wall_s": p.wall_s,
                    "energy_j": p.energy_j,
                    "peak_mem_bytes": p.peak_mem_bytes,
                    "fits": "" if p.fits is None else _fits_text(p.fits),
                    "time_limit": "",
                    "assumed": "assumed" if p.assumed else "",
                }
                table.add_row(
                    *(
                        Text(
                            c.cell(pv.get(c.key))
                            if c.key not in ("fits", "time_limit", "assumed", "n", "name", "run_id")
                            else str(pv.get(c.key) or ""),
                            style="dim",
                        )
                        for c in cols
                    )
                )
    console.print(table)

    totals = Table(title=Text("totals (a shared phase counted once)"), title_justify="left")
    for c in present.FORECAST_TOTALS:
        totals.add_column(c.title, justify="right" if c.numeric else "left")
    for label, groups in (
        ("by phase kind", fc.totals("kind")),
        ("by method", fc.totals("method")),
        ("overall", fc.totals()),
    ):
        for name, g in groups.items():
            row = {"group": f"{label}: {name}" if label != "overall" else "overall", **g}
            totals.add_row(*(Text(c.cell(row.get(c.key))) for c in present.FORECAST_TOTALS))
    console.print(totals)
    say = lambda s: console.print(s, markup=False, highlight=False)  # noqa: E731
    for line in execution_lines(fc):
        say(line)
    say(
        f"plan wall time on {fc.slots} parallel slot{'s' if fc.slots != 1 else ''} (--slots, --workers): "
        f"{fmt.seconds(fc.makespan_s())} (runs that reuse an encoder or a target phase start after the run "
        f"that trains it)"
    )
    say(
        f"suggested SLURM --time per run: the forecast x {fc.safety:g}, rounded up to minutes (column 'time'); "
        f"the SLURM executor uses it when the plan sets none"
    )
    for run, p in fc.phases():
        if p.fits is False:
            say(f"warning: {run.name or run.run_id} {p.phase}: " + "; ".join(n for n in p.notes if "fit" in n))
    if fc.probes:
        slow = max(
            (
                (pr["label"], name, s)
                for pr in fc.probes
                for name, s in (pr.get("phases") or {}).items()
                if s is not None
            ),
            key=lambda t: t[2],
            default=None,
        )
        say(
            f"probes: {len(fc.probes)} kind{'s' if len(fc.probes) != 1 else ''} of run, "
            + ", ".join(f"{pr['label']} {pr.get('seconds') or 0:.1f} s" for pr in fc.probes)
            + (f"; the longest phase probe: {slow[0]} {slow[1]} {slow[2]:.1f} s" if slow else "")
        )
    for note in fc.notes:
        say(f"note: {note}")
    for note, names in run_notes(fc):
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        say(f"note: {note} ({len(names)} run{'s' if len(names) != 1 else ''}: {shown})")
    say(
        f"estimate made in {fc.seconds:.1f} s"
        + (f"; stored in {saved} and the store's forecasts table" if saved else "")
    )


def _h(hours: float) -> str:
    return f"{hours:.2f} h"


def execution_lines(fc: PlanForecast) -> list[str]:
    """How the runs were assumed to execute, the device-hours in and outside the phases, the shared
    target phases and the saving against the old way."""
    ex = fc.execution
    now = fc.summary()
    out = []
    if ex.process_per_run:
        out.append(
            f"execution: one process per run ({ex.process_starts} start-ups, each with its model's load; "
            f"--process-per-run or [executor] process_per_run)"
        )
    else:
        link = (
            f"at {ex.host_to_device_bytes_per_s / 1e9:.3g} GB/s"
            if ex.host_to_device_bytes_per_s
            else "(no device copy)"
        )
        out.append(
            f"execution: {ex.workers} warm worker{'s' if ex.workers != 1 else ''}, {ex.workers_reason}. Each starts "
            f"once ({fmt.seconds(ex.worker_start_s)}, with its first model's load) and loads the plan's "
            f"{ex.distinct_models} distinct model{'s' if ex.distinct_models != 1 else ''} once each "
            f"({ex.model_loads} load{'s' if ex.model_loads != 1 else ''} in all); {ex.restores} runs restore a fresh "
            f"model from host RAM {link}, + {ex.run_overhead_s or 0:g} s per run"
        )
    if ex.shared_target_runs:
        out.append(
            f"shared target phases: {ex.shared_target_runs} run{'s' if ex.shared_target_runs != 1 else ''} "
            f"reuse{'s' if ex.shared_target_runs == 1 else ''} another run's post-target model "
            f"({ex.shared_target_phases} phases they no longer train: target, eval:en and the intermediate phases "
            f"before them; counted once at the producer); {ex.checkpoint_reads} checkpoint reads, "
            f"{ex.checkpoint_writes} writes"
        )
    share = now.startup_share
    out.append(
        f"device-hours: {_h(now.phases_h)} in phases + {_h(now.startup_h)} outside them (start-ups, loads, "
        f"restores, checkpoints) = {_h(now.total_h)}" + (f"; start-up share {share:.1%}" if share is not None else "")
    )
    saving = fc.saving()
    if saving is not None:
        old = fc.compared[0]
        hours, frac = saving
        out.append(
            f"saving: {_h(hours)}"
            + (f" ({frac:.0%})" if frac is not None else "")
            + f" against {old.label}: {_h(old.total_h)} = {_h(old.phases_h)} in phases + {_h(old.startup_h)} "
            f"outside them ({old.process_starts} process start-ups and model loads)"
        )
        for other in fc.compared[1:]:
            out.append(f"  {other.label}: {_h(other.total_h)} (start-up share {other.startup_share or 0:.0%})")
    return out
