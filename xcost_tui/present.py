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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
    Column("method", "method", "text", width=12, help="direct, intermediate, few-shot, icl, translate-test"),
    Column("intermediate", "interm.", "text", width=13, help="intermediate task(s)"),
    Column("k", "k", "int", True, "few-shot examples per language (icl: demonstrations per prompt)", 3),
    Column("seed", "seed", "int", True, "random seed"),
    Column("status", "status", "text", width=9, help="succeeded, failed, running, cancelled"),
]
# Whether the target phase the run went on with collapsed (English validation at chance, or >= 90% one
# answer: xcost_tui/collapse.py); '–' when nothing was judged. Shown beside the status.
COLLAPSED = Column(
    "collapsed",
    "coll",
    "flag",
    width=4,
    help="collapsed: the target phase's English validation was at chance or one answer "
    "(xcost_tui/collapse.py); '–' not judged",
    name="collapsed",
)
TARGET_ATTEMPTS = Column(
    "target_attempts",
    "tries",
    "int",
    True,
    "target phases trained (more than 1 after a collapse was retried)",
    5,
    "",
    "target attempts",
)
AVG_ACCURACY = _acc("avg_accuracy", "avg", "mean XCOPA accuracy over the evaluated languages", "average XCOPA accuracy")
EN_ACCURACY = _acc("en_accuracy", "en", "English COPA validation accuracy", "English COPA accuracy")
LANG_ACCURACY = {
    lang: _acc(f"acc_{lang}", lang, f"XCOPA {lang} test accuracy", f"XCOPA {lang} accuracy") for lang in XCOPA_LANGS
}
COSTS = [
    Column(
        "train_device_hours",
        "dev-h",
        "hours",
        True,
        "training device-hours of the full pipeline (a reused intermediate phase included)",
        8,
        "device-hours",
        "training device-hours (full pipeline)",
    ),
    Column(
        "train_flops",
        "FLOPs",
        "flops",
        True,
        "training FLOPs of the full pipeline (analytic)",
        5,
        "FLOPs",
        "training FLOPs (full pipeline)",
    ),
    Column(
        "train_energy_j",
        "energy",
        "energy",
        True,
        "training energy of the full pipeline (NULL when not measurable)",
        8,
        "J",
        "training energy (full pipeline)",
    ),
    Column("peak_train_mem_bytes", "peak mem", "bytes", True, "peak training memory", 8, "B", "peak training memory"),
    Column(
        "latency_p50_s",
        "lat p50",
        "seconds",
        True,
        "batch-1 inference latency, median",
        8,
        "s",
        "inference latency p50",
    ),
]
N_LANGS = Column("n_langs", "langs", "int", True, "XCOPA languages the average covers (of those planned)", 5)
OTHER = [
    Column("run_id", "run id", "text", width=24, help="the run's id (its directory under store/runs)"),
    N_LANGS,
    Column("n_langs_planned", "planned", "int", True, "XCOPA languages the run's spec plans to evaluate", 7),
    Column(
        "complete",
        "complete",
        "text",
        width=8,
        help="succeeded with every planned language evaluated: only these runs are ranked by default",
    ),
    Column("name", "name", "text", width=16, help="the experiment's name in the plan"),
    EN_ACCURACY,
    Column("transfer_gap", "gap", "acc", True, "en − avg", 5, "points", "transfer gap"),
    Column(
        "own_train_device_hours",
        "own dev-h",
        "hours",
        True,
        "training device-hours incurred in this run (a reused phase not included)",
        9,
        "device-hours",
    ),
    Column("own_train_flops", "own FLOPs", "flops", True, "training FLOPs incurred in this run", 9, "FLOPs"),
    Column("own_train_energy_j", "own energy", "energy", True, "training energy incurred in this run", 10, "J"),
    Column(
        "intermediate_device_hours",
        "inter dev-h",
        "hours",
        True,
        "the intermediate phase's part of the full pipeline's device-hours",
        11,
        "device-hours",
    ),
    Column(
        "total_device_hours", "total dev-h", "hours", True, "device-hours of every phase of the run", 11, "device-hours"
    ),
    Column("latency_p95_s", "lat p95", "seconds", True, "batch-1 inference latency, 95th percentile", 8, "s"),
    Column(
        "peak_infer_mem_bytes",
        "infer mem",
        "bytes",
        True,
        "peak inference memory above the inference phase's start (what inference added)",
        9,
        "B",
        "inference memory increase",
    ),
    Column(
        "peak_infer_mem_abs_bytes",
        "infer mem abs",
        "bytes",
        True,
        "absolute peak memory during the inference phase (training's leftovers included on a CPU)",
        13,
        "B",
        "inference memory, absolute",
    ),
    Column(
        "peak_mem_lifetime_bytes",
        "run peak mem",
        "bytes",
        True,
        "the job process's peak memory over the whole run, start-up included",
        12,
        "B",
        "run peak memory",
    ),
    TARGET_ATTEMPTS,
    Column("duration_s", "duration", "seconds", True, "wall time of the run", 8, "s"),
    Column("started", "started", "text", width=19, help="when the run started"),
    Column(
        "contended_phases",
        "contended",
        "int",
        True,
        "phases measured beside other work (CPU or GPU contention; docs/measurement.md)",
        9,
    ),
    Column("executor", "executor", "text", width=8, help="local or slurm"),
    Column("executor_job_id", "job", "text", width=10, help="the SLURM job id"),
    Column("executor_state", "SLURM state", "text", width=11, help="how SLURM says the job ended"),
    Column("node", "node", "text", width=12, help="the node or host the job ran on"),
]
# Per-query cost (docs/methods.md, "Per-query cost"): what answering one XCOPA query costs, the
# figures the verdict's break-even divides by. FLOPs and latency are of a query answered alone.
QUERY_COSTS = [
    Column(
        "query_flops",
        "q FLOPs",
        "flops",
        True,
        "FLOPs of one query answered alone (translate-test: translation included when measured)",
        7,
        "FLOPs",
        "FLOPs per query",
    ),
    Column(
        "query_latency_p50_s",
        "q lat p50",
        "seconds",
        True,
        "latency of one query at batch 1, median",
        9,
        "s",
        "query latency p50",
    ),
    Column(
        "query_latency_p95_s",
        "q lat p95",
        "seconds",
        True,
        "latency of one query at batch 1, 95th percentile",
        9,
        "s",
        "query latency p95",
    ),
    Column(
        "query_energy_j",
        "q energy",
        "energy",
        True,
        "evaluation energy per query (NULL when not measurable)",
        8,
        "J",
        "energy per query",
    ),
    Column(
        "query_peak_mem_bytes",
        "q mem",
        "bytes",
        True,
        "peak memory answering queries at batch 1",
        8,
        "B",
        "memory per query",
    ),
    Column(
        "query_prompt_tokens",
        "q tokens",
        "number",
        True,
        "tokens the model reads per query (icl: the prompt)",
        8,
        "tokens",
        "prompt tokens per query",
    ),
    Column(
        "query_context_tokens_max",
        "ctx max",
        "int",
        True,
        "longest icl prompt in tokens",
        7,
        "tokens",
        "longest prompt",
    ),
    Column("translations", "transl.", "text", width=12, help="translate-test: published, or the MT model"),
]
LEADERBOARD: dict[str, Column] = {
    c.key: c for c in [*IDENTITY, COLLAPSED, AVG_ACCURACY, *LANG_ACCURACY.values(), *COSTS, *OTHER, *QUERY_COSTS]
}


def column(key: str) -> Column:
    """A leaderboard column; KeyError names the key when it is not in the catalogue."""
    return LEADERBOARD[key]


def cell(key: str, value: Any) -> str:
    return LEADERBOARD[key].cell(value)


# ---- figures of one phase (the store's ``phases`` table, and a running phase on Live) -------

EXAMPLES_PER_S = Column("examples_per_s", "ex/s", "si", True, "training examples per second", 7, "examples/s")
TOKENS_PER_S = Column("tokens_per_s", "tok/s", "si", True, "training tokens per second", 7, "tokens/s")
PHASES = [
    Column(
        "phase",
        "phase",
        "text",
        width=16,
        help="intermediate:<task>, target:copa, few-shot:<lang>, eval:<lang>, inference-bench",
    ),
    Column("wall_s", "wall", "seconds", True, "wall time of the phase", 7, "s"),
    Column("device_hours", "dev-h", "hours", True, "device-hours of the phase", 8, "device-hours"),
    Column("flops_analytic", "FLOPs", "flops", True, "FLOPs, analytic count", 5, "FLOPs"),
    Column("flops_measured", "FLOPs meas", "flops", True, "FLOPs, measured (torch FLOP counter)", 10, "FLOPs"),
    Column("energy_j", "energy", "energy", True, "energy (NULL when not measurable)", 8, "J"),
    Column("peak_mem_bytes", "peak mem", "bytes", True, "absolute peak memory of the phase", 8, "B"),
    Column("peak_mem_increase_bytes", "mem +", "bytes", True, "peak memory above the phase's start", 8, "B"),
    EXAMPLES_PER_S,
    TOKENS_PER_S,
    Column("mfu", "MFU", "number", True, "model FLOPs utilisation (fraction of the device's peak)", 5),
    Column("latency_p50_s", "lat p50", "seconds", True, "batch-1 inference latency, median", 8, "s"),
    Column("reused_from_run", "reused from", "text", width=24, help="the run whose phase this one reused"),
    # from the newest forecast of the phase (``xcost-tui plan estimate``; the store's forecast_error view)
    Column(
        "forecast_device_hours",
        "fc dev-h",
        "hours",
        True,
        "device-hours the newest forecast gave the phase",
        8,
        "device-hours",
        "forecast device-hours",
    ),
    Column(
        "device_hours_error",
        "fc err",
        "pct",
        True,
        "forecast / measured device-hours - 1 (+10%: forecast high)",
        6,
        "%",
        "forecast error",
    ),
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

# ---- contention: the flag wherever a phase's (or a run's) time or energy is shown -------------

CONTENDED_MARK = "*"
CONTENDED_LEGEND = (
    '* contended: measured while other processes shared the job\'s CPUs or GPUs (docs/measurement.md, "Contention")'
)
# the figures that move with contention (the mark goes on them)
CONTENDED_FIGURES = frozenset(
    {
        "wall_s",
        "device_hours",
        "energy_j",
        "examples_per_s",
        "tokens_per_s",
        "mfu",
        "latency_p50_s",
        "latency_p95_s",
        "train_device_hours",
        "train_energy_j",
        "amortised_train_device_hours",
        "amortised_train_energy_j",
        "total_device_hours",
        "duration_s",
    }
)


def mark_contended(text: str, contended: object) -> str:
    """A figure's text with the contention mark when its phase (or run) was flagged."""
    return f"{text}{CONTENDED_MARK}" if contended is True and text != fmt.NULL else text


def contended_cells(columns: Iterable[Column], cells_: list[str], contended: object) -> list[str]:
    """One row's cells with the mark on the figures contention moves."""
    return [mark_contended(c, contended) if col.key in CONTENDED_FIGURES else c for col, c in zip(columns, cells_)]


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
# shown after LIVE's columns when any run executes on SLURM
LIVE_JOB = Column("where", "job", "text", width=26, help="its SLURM job, state and node (pending: why)")

# ---- the identifying cells of the Runs table -----------------------------------------------------

# Stays in view when the table scrolls sideways: the run's name in the plan and the start of the
# hash its id ends with, so that two runs differing only in a hyper-parameter never look the same.
RUN = Column(
    "run", "run", "text", width=22, help="the run's name in the plan (or its id) and the start of its id's hash"
)
RUN_HASH_CHARS = 6


def run_label(run_id: Any, name: Any = None) -> str:
    """'siqa-copa·3f2a9c': the name (or the id without its hash) and the hash's first 6 characters."""
    rid = str(run_id or "")
    head, _, digest = rid.rpartition("-")
    hashed = bool(head) and len(digest) >= 8 and all(ch in "0123456789abcdef" for ch in digest)
    if not hashed:
        return str(name) + "·" + rid if name and str(name) != rid else rid or fmt.NULL
    label = str(name) if name else head
    return f"{label}·{digest[:RUN_HASH_CHARS]}"


def fit_label(text: str, width: int) -> str:
    """A run label cut in its name, never in its hash ('very-long-na…·3f2a9c')."""
    if len(text) <= width:
        return text
    head, sep, digest = text.rpartition("·")
    if sep and len(digest) + 2 <= width:
        room = width - len(digest) - 1
        tail = head[head.rfind("-") :] if "-" in head and len(head) - head.rfind("-") <= 4 else ""  # '-s0'
        if tail and room - len(tail) >= 4:
            return head[: room - len(tail) - 1] + "…" + tail + "·" + digest
        return head[: room - 1] + "…·" + digest
    return text[: width - 1] + "…"


def langs_cell(n: Any, planned: Any) -> str:
    """'11/11', '2/11': the languages an average covers, of those planned."""
    if n is None:
        return fmt.NULL
    return f"{int(n)}/{int(planned)}" if planned is not None else str(int(n))


# ---- Compare: configurations ---------------------------------------------------------------------

N_RUNS = Column("n_runs", "runs", "int", True, "succeeded runs of the method", 5)
CONFIG_LABEL = Column(
    "label",
    "configuration",
    "text",
    width=26,
    help="the configuration: model, method, intermediate tasks, k, recipe (seeds aggregated)",
)
CONFIG_RUNS = Column("n_runs", "runs", "int", True, "succeeded runs of the configuration (seeds × shot draws)", 4)


@dataclass(frozen=True)
class FamilyStyle:
    """How a configuration family is drawn: a marker and a colour, distinct for each family.
    Colours are hex RGB, which plotext (as an (r, g, b) tuple), Textual, Rich and matplotlib all read."""

    family: str
    marker: str
    color: str  # '#rrggbb'

    @property
    def rgb(self) -> tuple[int, int, int]:
        return int(self.color[1:3], 16), int(self.color[3:5], 16), int(self.color[5:7], 16)


# The Okabe-Ito palette (distinguishable with the common colour-vision deficiencies) and one marker
# shape per family, so that a family reads without colour too.
FAMILY_STYLES: dict[str, FamilyStyle] = {
    s.family: s
    for s in (
        FamilyStyle("direct", "●", "#56b4e9"),
        FamilyStyle("intermediate", "■", "#e69f00"),
        FamilyStyle("few-shot", "▲", "#009e73"),
        FamilyStyle("intermediate+few-shot", "◆", "#cc79a7"),
        FamilyStyle("icl", "+", "#f0e442"),
        FamilyStyle("translate-test", "x", "#d55e00"),
    )
}
OTHER_FAMILY = FamilyStyle("?", "o", "#999999")
# The frontier line: a colour no family has.
FRONTIER_COLOR = "#f5f5f5"
INTERVAL_BAR = "│"


def family_style(family: Any) -> FamilyStyle:
    return FAMILY_STYLES.get(str(family), OTHER_FAMILY)


@dataclass(frozen=True)
class Measure:
    """A cost Compare can put on its x axis: the configuration's figure (``configurations`` view),
    the one with the intermediate phase amortised over N target tasks, the learning curves' cost
    column, and which phases' ``<figure>_reason`` says why it is NULL."""

    key: str  # verdict ConfigurationRow.costs key
    header: str  # short: the picker, the bar
    name: str  # the axis label, with its unit where the ticks do not write it
    tick: str  # format.tick_labels kind
    column: Column  # a table cell of the figure
    amortised: str | None = None  # the key when N > 1
    curve: str | None = None  # learning_curves' cumulative cost column
    figure: str = ""  # phases' figure whose <figure>_reason explains a NULL
    phase_kinds: tuple[str, ...] = ("intermediate", "target", "few-shot")
    per_query: bool = False

    def key_for(self, amortise_n: float) -> str:
        return self.amortised if self.amortised and amortise_n != 1 else self.key

    def axis_label(self, amortise_n: float = 1.0) -> str:
        if self.amortised and amortise_n != 1:
            return f"{self.name}, intermediate phase amortised over {amortise_n:g} tasks"
        return self.name


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "train_device_hours",
            "device-hours",
            "training device-hours (full pipeline)",
            "hours",
            LEADERBOARD["train_device_hours"],
            "amortised_train_device_hours",
            "cum_train_device_hours",
            "device_hours",
        ),
        Measure(
            "train_flops",
            "FLOPs",
            "training FLOPs (full pipeline)",
            "flops",
            LEADERBOARD["train_flops"],
            "amortised_train_flops",
            "cum_train_flops",
            "flops_analytic",
        ),
        Measure(
            "train_energy_j",
            "energy",
            "training energy (full pipeline)",
            "energy",
            LEADERBOARD["train_energy_j"],
            "amortised_train_energy_j",
            "cum_train_energy_j",
            "energy_j",
        ),
        Measure(
            "peak_train_mem_bytes",
            "peak memory",
            "peak training memory",
            "bytes",
            LEADERBOARD["peak_train_mem_bytes"],
            figure="peak_mem_bytes",
        ),
        Measure(
            "query_latency_p50_s",
            "latency",
            "inference latency per query, p50 (batch 1)",
            "ms",
            LEADERBOARD["query_latency_p50_s"],
            figure="latency_p50_s",
            phase_kinds=("inference-bench",),
            per_query=True,
        ),
        Measure(
            "query_flops",
            "FLOPs/query",
            "inference FLOPs per query",
            "flops",
            LEADERBOARD["query_flops"],
            figure="flops_analytic",
            phase_kinds=("eval",),
            per_query=True,
        ),
        Measure(
            "query_energy_j",
            "energy/query",
            "inference energy per query",
            "energy",
            LEADERBOARD["query_energy_j"],
            figure="energy_j",
            phase_kinds=("eval",),
            per_query=True,
        ),
    )
}

# ---- run status ----------------------------------------------------------------------------------

# Rich style strings, one per state a run (or a plan's row on Launch) can be in.
STATUS_STYLES: dict[str, str] = {
    "planned": "",
    "queued": "cyan",
    "waiting": "cyan",
    "running": "yellow",
    "pending": "cyan",  # submitted; SLURM holds it back (resources, priority, a dependency)
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


COLLAPSED_STYLE = "bold red"


def cell_style(key: str, value: Any) -> str | None:
    """The style of one cell from its raw value: a status in its colour, a collapsed run in red."""
    if key == "status":
        return status_style(value)
    if key == COLLAPSED.key and value is True:
        return COLLAPSED_STYLE
    return None


def collapse_text(collapsed: bool | None, attempts: int | None) -> str:
    """'collapsed yes (2 target attempts)', 'collapsed no', or '' when nothing was judged: the flag
    as the end lines and the run detail say it."""
    if collapsed is None:
        return ""
    text = f"{COLLAPSED.name} {COLLAPSED.cell(collapsed)}"
    if attempts is not None and attempts > 1:
        text += f" ({attempts} {TARGET_ATTEMPTS.name})"
    return text


def cells(columns: Iterable[Column], values: Iterable[Any]) -> list[str]:
    """One row: each value written by its column."""
    return [c.cell(v) for c, v in zip(columns, values, strict=True)]
