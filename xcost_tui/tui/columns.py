"""The columns of the Runs table: which leaderboard column, its header, its formatter."""

from __future__ import annotations

from dataclasses import dataclass

from .. import XCOPA_LANGS
from .. import format as fmt


@dataclass(frozen=True)
class Col:
    key: str  # leaderboard column
    label: str
    kind: str  # a key of fmt.FORMATTERS
    numeric: bool = False
    help: str = ""
    width: int = 5

    @property
    def cell_width(self) -> int:
        return max(self.width, len(self.label) + 2)  # room for the sort arrow

    def render(self, value) -> str:
        return fmt.FORMATTERS[self.kind](value)


LANG_COLS = {lang: Col(f"acc_{lang}", lang, "acc", True, f"XCOPA {lang} test accuracy (%)") for lang in XCOPA_LANGS}

HEAD = [
    Col("model", "model", "text", width=17, help="model id"),
    Col("method", "method", "text", width=12),
    Col("intermediate", "interm.", "text", width=13, help="intermediate task(s)"),
    Col("k", "k", "int", True, "few-shot examples per language", 3),
    Col("seed", "seed", "int", True),
    Col("status", "status", "text", width=9),
    Col("avg_accuracy", "avg", "acc", True, "mean XCOPA accuracy over the evaluated languages (%)"),
]
TAIL = [
    Col("train_device_hours", "dev-h", "hours", True, "training device-hours incurred in this run", 8),
    Col("train_flops", "FLOPs", "flops", True, "training FLOPs (analytic)"),
    Col("train_energy_j", "energy", "energy", True, "training energy (NULL when not measurable)", 8),
    Col("peak_train_mem_bytes", "peak mem", "bytes", True, "peak training memory", 8),
    Col("latency_p50_s", "lat p50", "seconds", True, "batch-1 inference latency, median", 8),
]
EXTRA = [
    Col("run_id", "run", "text", width=24),
    Col("name", "name", "text", width=16),
    Col("en_accuracy", "en", "acc", True, "English COPA validation accuracy (%)"),
    Col("transfer_gap", "gap", "acc", True, "en − avg (points)"),
    Col("amortised_train_device_hours", "amort dev-h", "hours", True),
    Col("amortised_train_flops", "amort FLOPs", "flops", True),
    Col("amortised_train_energy_j", "amort energy", "energy", True),
    Col("total_device_hours", "total dev-h", "hours", True),
    Col("latency_p95_s", "lat p95", "seconds", True),
    Col("peak_infer_mem_bytes", "infer mem", "bytes", True),
    Col("duration_s", "duration", "seconds", True),
    Col("started", "started", "text", width=19),
]
BY_KEY = {c.key: c for c in [*HEAD, *LANG_COLS.values(), *TAIL, *EXTRA]}

# the columns the `c` key cycles through ("sort by a compute column")
COMPUTE_SORTS = [c.key for c in TAIL]


def visible_columns(langs: list[str] | tuple[str, ...]) -> list[Col]:
    return [*HEAD, *(LANG_COLS[lang] for lang in XCOPA_LANGS if lang in langs), *TAIL]


def default_descending(key: str) -> bool:
    """Accuracy: best first. Costs: cheapest first. Text: A→Z."""
    col = BY_KEY.get(key)
    return bool(col and col.kind == "acc")
