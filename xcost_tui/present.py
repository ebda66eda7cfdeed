"""The presentation catalogue: every column the app and the headless mode show, and the colour
of every run status, named once.

A figure must read the same wherever it appears: the Runs table, the run detail, Live and
Compare in the app, and the final leaderboard and the end-of-run lines of ``--headless``.
So each column is one ``Column`` here (its key, header, how a value is written, alignment,
help, width, unit), and every front end renders a value with ``Column.cell``; the text
itself comes from ``format.py`` ('–' for NULL, accuracy in %, SI prefixes, binary bytes,
short durations).

Core side: this module imports neither Textual nor Rich (styles are Rich style strings, which
both Textual's widgets and Rich's console parse), nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from . import XCOPA_LANGS
from . import format as fmt

# Formatters whose text carries the unit ("1.2kJ", "3.4G", "4.0ms", "30/s"): a header needs no "(J)".
WRITES_UNIT = frozenset({"energy", "bytes", "seconds", "rate", "pct"})
# Kinds whose unit is what the column is named after ("dev-h" counts device-hours, "FLOPs" FLOPs).
NAMES_UNIT = frozenset({"hours", "flops"})


@dataclass(frozen=True)
class Column:
    key: str  # the column's name in the store (leaderboard view, phases table) or in a Live row
    header: str  # short: table headers are narrow at 80 columns
    kind: str  # how a value is written: a key of format.FORMATTERS
    numeric: bool = False  # right-aligned
    help: str = ""  # one line for a new user
    width: int = 5  # cells the app gives it; longer text is cut with '…'
    unit: str = ""  # the unit of the written figure ("%", "J", "s"); '' for text and counts
    name: str = ""  # the long name (an axis label); the header when empty

    def cell(self, value: Any) -> str:
        """The text of one value, the same in the app and the headless mode."""
        return fmt.FORMATTERS[self.kind](value)

    @property
    def title(self) -> str:
        """The header with the unit where neither the header nor the cell says it: 'avg (%)'."""
        if self.unit and self.kind not in WRITES_UNIT | NAMES_UNIT:
            return f"{self.header} ({self.unit})"
        return self.header

    @property
    def label(self) -> str:
        """The long name with its unit (an axis has bare numbers): 'training energy (J)'."""
        name = self.name or self.header
        return f"{name} ({self.unit})" if self.unit and self.kind not in NAMES_UNIT else name

    @property
    def higher_is_better(self) -> bool:
        """Accuracy sorts best first; costs cheapest first; text A→Z."""
        return self.kind == "acc"


def _acc(key: str, header: str, help: str, name: str = "") -> Column:
    return Column(key, header, "acc", True, help, 5, "%", name)


# ---- the leaderboard (the store's ``leaderboard`` view) -------------------------------------

IDENTITY = [
    Column("model", "model", "text", width=17, help="model id"),
    Column("method", "method", "text", width=12, help="direct, intermediate, few-shot"),
    Column("intermediate", "interm.", "text", width=13, help="intermediate task(s)"),
    Column("k", "k", "int", True, "few-shot examples per language", 3),
    Column("seed", "seed", "int", True, "random seed"),
    Column("status", "status", "text", width=9, help="succeeded, failed, running, cancelled"),
]
AVG_ACCURACY = _acc("avg_accuracy", "avg", "mean XCOPA accuracy over the evaluated languages",
                    "average XCOPA accuracy")
EN_ACCURACY = _acc("en_accuracy", "en", "English COPA validation accuracy", "English COPA accuracy")
LANG_ACCURACY = {lang: _acc(f"acc_{lang}", lang, f"XCOPA {lang} test accuracy", f"XCOPA {lang} accuracy")
                 for lang in XCOPA_LANGS}
COSTS = [
    Column("train_device_hours", "dev-h", "hours", True, "training device-hours incurred in this run", 8,
           "device-hours", "training device-hours"),
    Column("train_flops", "FLOPs", "flops", True, "training FLOPs (analytic)", 5, "FLOPs", "training FLOPs"),
    Column("train_energy_j", "energy", "energy", True, "training energy (NULL when not measurable)", 8, "J",
           "training energy"),
    Column("peak_train_mem_bytes", "peak mem", "bytes", True, "peak training memory", 8, "B",
           "peak training memory"),
    Column("latency_p50_s", "lat p50", "seconds", True, "batch-1 inference latency, median", 8, "s",
           "inference latency p50"),
]
OTHER = [
    Column("run_id", "run id", "text", width=24, help="the run's id (its directory under store/runs)"),
    Column("name", "name", "text", width=16, help="the experiment's name in the plan"),
    EN_ACCURACY,
    Column("transfer_gap", "gap", "acc", True, "en − avg", 5, "points", "transfer gap"),
    Column("amortised_train_device_hours", "amort dev-h", "hours", True,
           "device-hours with a reused phase's cost shared among its users", 11, "device-hours"),
    Column("amortised_train_flops", "amort FLOPs", "flops", True,
           "FLOPs with a reused phase's cost shared among its users", 11, "FLOPs"),
    Column("amortised_train_energy_j", "amort energy", "energy", True,
           "energy with a reused phase's cost shared among its users", 12, "J"),
    Column("total_device_hours", "total dev-h", "hours", True, "device-hours of every phase of the run", 11,
           "device-hours"),
    Column("latency_p95_s", "lat p95", "seconds", True, "batch-1 inference latency, 95th percentile", 8, "s"),
    Column("peak_infer_mem_bytes", "infer mem", "bytes", True, "peak inference memory", 9, "B"),
    Column("duration_s", "duration", "seconds", True, "wall time of the run", 8, "s"),
    Column("started", "started", "text", width=19, help="when the run started"),
]
LEADERBOARD: dict[str, Column] = {c.key: c for c in [*IDENTITY, AVG_ACCURACY, *LANG_ACCURACY.values(), *COSTS,
                                                      *OTHER]}


def column(key: str) -> Column:
    """A leaderboard column; KeyError names the key when it is not in the catalogue."""
    return LEADERBOARD[key]


def cell(key: str, value: Any) -> str:
    return LEADERBOARD[key].cell(value)


# ---- figures of one phase (the store's ``phases`` table, and a running phase on Live) -------

EXAMPLES_PER_S = Column("examples_per_s", "ex/s", "si", True, "training examples per second", 7, "examples/s")
TOKENS_PER_S = Column("tokens_per_s", "tok/s", "si", True, "training tokens per second", 7, "tokens/s")
PHASES = [
    Column("phase", "phase", "text", width=16, help="intermediate:<task>, target:copa, few-shot:<lang>, "
                                                    "eval:<lang>, inference-bench"),
    Column("wall_s", "wall", "seconds", True, "wall time of the phase", 7, "s"),
    Column("device_hours", "dev-h", "hours", True, "device-hours of the phase", 8, "device-hours"),
    Column("flops_analytic", "FLOPs", "flops", True, "FLOPs, analytic count", 5, "FLOPs"),
    Column("flops_measured", "FLOPs meas", "flops", True, "FLOPs, measured (torch FLOP counter)", 10, "FLOPs"),
    Column("energy_j", "energy", "energy", True, "energy (NULL when not measurable)", 8, "J"),
    Column("peak_mem_bytes", "peak mem", "bytes", True, "peak memory of the phase", 8, "B"),
    EXAMPLES_PER_S,
    TOKENS_PER_S,
    Column("mfu", "MFU", "number", True, "model FLOPs utilisation (fraction of the device's peak)", 5),
    Column("latency_p50_s", "lat p50", "seconds", True, "batch-1 inference latency, median", 8, "s"),
    Column("reused_from_run", "reused from", "text", width=24, help="the run whose phase this one reused"),
    # from the newest forecast of the phase (``xcost-tui plan estimate``; the store's forecast_error view)
    Column("forecast_device_hours", "fc dev-h", "hours", True, "device-hours the newest forecast gave the phase", 8,
           "device-hours", "forecast device-hours"),
    Column("device_hours_error", "fc err", "pct", True, "forecast / measured device-hours - 1 (+10%: forecast high)",
           6, "%", "forecast error"),
]

# ---- a plan's forecast (``xcost-tui plan estimate``) ------------------------------------------------

FORECAST = [
    Column("n", "#", "int", True, "the run's place in the plan", 3),
    Column("name", "name", "text", width=24, help="the experiment's name in the plan"),
    Column("run_id", "run id", "text", width=24, help="the run's id"),
    Column("examples", "examples", "int", True, "examples processed (training and evaluation)", 8),
    Column("tokens_padded", "tokens", "si", True, "tokens processed, padding included", 7),
    Column("flops", "FLOPs", "flops", True, "analytic FLOPs", 6, "FLOPs"),
    Column("device_hours", "dev-h", "hours", True, "forecast device-hours", 8, "device-hours"),
    Column("wall_s", "wall", "seconds", True, "forecast wall time, start-up included", 7, "s"),
    Column("energy_j", "energy", "energy", True, "forecast energy (NULL when not measurable)", 8, "J"),
    Column("peak_mem_bytes", "peak mem", "bytes", True, "peak memory of a step", 8, "B"),
    Column("fits", "fits", "text", width=4, help="every training step fits the device's memory"),
    Column("time_limit", "time", "text", width=10, help="suggested SLURM --time: the forecast x the safety factor"),
    Column("assumed", "counted", "text", width=7, help="assumed: split sizes or lengths not measured"),
]
FORECAST_TOTALS = [
    Column("group", "group", "text", width=28, help="phase kind, method, or the whole plan"),
    Column("phases", "phases", "int", True, "phases counted (a shared phase once)", 6),
    Column("device_hours", "dev-h", "hours", True, "forecast device-hours", 8, "device-hours"),
    Column("flops", "FLOPs", "flops", True, "analytic FLOPs", 6, "FLOPs"),
    Column("energy_j", "energy", "energy", True, "forecast energy (NULL when not measurable)", 8, "J"),
    Column("wall_s", "wall", "seconds", True, "sum of forecast phase wall times", 7, "s"),
]

# ---- the Live table (one row per run of the runner) ------------------------------------------

ETA = Column("eta", "ETA", "seconds", True, "time left in the phase, from its step rate", 7, "s", "phase ETA")
LIVE = [
    Column("run", "run", "text", width=24, help="the run's name, or its id"),
    Column("status", "status", "text", width=9, help="queued, waiting, running, cancelling, succeeded, ..."),
    Column("phase", "phase", "text", width=16, help="the phase running now"),
    Column("phases", "phases", "text", True, "phases done / planned", 6),
    Column("step", "step", "text", True, "step / total steps of the phase", 9),
    ETA,
    Column("loss", "loss", "number", True, "training loss (latest)", 7),
    EXAMPLES_PER_S,
    TOKENS_PER_S,
    Column("mem", "mem", "bytes", True, "memory the job allocated (torch.cuda or the process)", 7, "B"),
    Column("cpu", "cpu%", "int", True, "CPU % of the job's process tree", 5),
    Column("rss", "rss", "bytes", True, "resident memory of the job's process tree", 7, "B"),
    AVG_ACCURACY,
]

# ---- grids of Compare --------------------------------------------------------------------------

N_RUNS = Column("n_runs", "runs", "int", True, "succeeded runs of the method", 5)

# ---- run status ----------------------------------------------------------------------------------

# Rich style strings, one per state a run (or a plan's row on Launch) can be in.
STATUS_STYLES: dict[str, str] = {
    "planned": "",
    "queued": "cyan",
    "waiting": "cyan",
    "running": "yellow",
    "cancelling": "yellow",
    "succeeded": "green",
    "skipped": "dim green",  # had already succeeded; not run again
    "failed": "red",
    "cancelled": "dim",
    "unknown": "dim",
}


def status_style(status: object) -> str | None:
    """The style of a status ('running', a RunStatus, 'skipped', ...); None for anything else."""
    return STATUS_STYLES.get(str(status)) or None


def cells(columns: Iterable[Column], values: Iterable[Any]) -> list[str]:
    """One row: each value written by its column."""
    return [c.cell(v) for c, v in zip(columns, values, strict=True)]
