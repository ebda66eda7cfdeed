"""``xcost-tui report``: the verdict of a plan (or of the runs a SQL condition picks) as files.

    xcost-tui report demo --out report/              the configurations of a plan
    xcost-tui report --where "model LIKE '%large'" --out report/
    xcost-tui report --out report/                   every configuration in the store

writes ``report.md``, a self-contained ``report.html`` (figures embedded, no external
resource), ``table.tex`` (booktabs), the figures as SVG and PDF, and the underlying tables as
CSV and Parquet. Every number is the verdict's (``xcost_tui.verdict.api``); docs/report.md
describes the files. matplotlib is imported only when the figures are drawn.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..stats.thresholds import DEFAULT_DELTA
from ..store.interruptible import Stopped, interruptible
from ..store.query import Cancel
from . import figures, render
from .data import ReportData, gather
from .select import ReportError, Selection, everything, from_plan, from_where, resolve_baseline

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ReportError", "ReportResult", "report_command", "write_report"]

TABLES = (
    "configurations",
    "accuracy",
    "comparisons",
    "break_even",
    "cost_to_reach",
    "learning_curves",
    "mt_quality",
    "runs",
    "environment",
    "flags",
)


@dataclass
class ReportResult:
    out: Path
    files: list[str]
    data: ReportData
    seconds: dict[str, float] = field(default_factory=dict)  # gather, figures, tables, documents


def out_folder(out: Path | str) -> Path:
    """--out as a folder. An empty one is refused: ``Path("")`` is the current folder, where the
    report's files would replace any of the same names."""
    if not str(out).strip():
        raise ReportError("--out is empty: give a folder for the report's files, e.g. --out report/")
    return Path(out)


def check_out(out: Path) -> None:
    """--out must be a folder we can write (made when missing): said before any work is done."""
    blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ReportError(f"--out {out}: {blocker} is a file, not a folder: give a folder for the report's files")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".xcost-report-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReportError(
            f"--out {out}: cannot write there ({exc.strerror or exc}): give a folder you can write to"
        ) from None


def _write(out: Path, name: str, data: bytes) -> None:
    """Each file whole or not at all: written beside its name, then renamed into place."""
    path = out / name
    tmp = out / f".{name}.tmp"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"--out {out}: cannot write {name} ({exc.strerror or exc})") from None


def _csv_ready(table: pa.Table) -> pa.Table:
    """CSV has no lists: a list cell is written as its items joined by ';'."""
    import pyarrow as pa

    cols = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            col = pa.array(
                [None if v is None else ";".join("" if x is None else str(x) for x in v) for v in col.to_pylist()],
                pa.string(),
            )
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def _table_bytes(table: pa.Table) -> dict[str, bytes]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = {}
    sink = pa.BufferOutputStream()
    pacsv.write_csv(_csv_ready(table), sink)
    out["csv"] = sink.getvalue().to_pybytes()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    out["parquet"] = sink.getvalue().to_pybytes()
    return out


def write_report(
    store: Path | str,
    out: Path | str,
    selection: Selection | None = None,
    *,
    baseline: str | None = None,
    delta: float = DEFAULT_DELTA,
    amortise_n: float = 1.0,
    include_contended: bool = False,
) -> ReportResult:
    """Gathers the verdict of ``selection`` (default: every configuration) and writes the report's files."""
    store, out = Path(store), out_folder(out)
    check_out(out)
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    if baseline is not None:
        baseline = resolve_baseline(store, baseline)
    d = gather(
        store,
        selection or everything(),
        baseline=baseline,
        delta=delta,
        amortise_n=amortise_n,
        include_contended=include_contended,
    )
    seconds["gather"] = time.perf_counter() - t

    t = time.perf_counter()
    try:
        drawn = figures.render(d)
    except ImportError as exc:
        raise ReportError(
            f"the report's figures need matplotlib, which is not installed ({exc}): "
            f"pip install 'matplotlib>=3.8' (a dependency of xcost-tui)"
        ) from None
    payload: dict[str, bytes] = {}
    figs: dict[str, tuple[bytes | None, str]] = {}
    for name, (fig, title) in drawn.items():
        if fig is None:
            figs[name] = (None, title)
            continue
        saved = figures.save(fig)
        payload[f"{name}.svg"], payload[f"{name}.pdf"] = saved["svg"], saved["pdf"]
        figs[name] = (saved["svg"], title)
    seconds["figures"] = time.perf_counter() - t

    t = time.perf_counter()
    for name in TABLES:
        for ext, data in _table_bytes(d.tables[name]).items():
            payload[f"{name}.{ext}"] = data
    seconds["tables"] = time.perf_counter() - t

    t = time.perf_counter()
    files = ["report.md", "report.html", "table.tex", *payload]
    blocks = render.document(d, figs, files)
    payload = {
        "report.md": render.markdown(blocks).encode(),
        "report.html": render.to_html(blocks).encode(),
        "table.tex": render.latex_table(d).encode(),
        **payload,
    }
    for name, data in payload.items():
        _write(out, name, data)
    seconds["documents"] = time.perf_counter() - t
    return ReportResult(out, list(payload), d, seconds)


def _where_selection(store: Path, where: str, timeout_s: float | None) -> Selection:
    """``from_where``, stopped by ctrl-c or after ``timeout_s`` (``Stopped``): the condition is SQL
    a person typed, and while it runs it holds the store open (a live ingest waits)."""
    cancel = Cancel()
    return interruptible(lambda: from_where(store, where, cancel=cancel), cancel, timeout_s)


def report_command(
    store: Path,
    out: Path | str,
    *,
    plan: str | None = None,
    where: str | None = None,
    baseline: str | None = None,
    delta_points: float = 100 * DEFAULT_DELTA,
    amortise_n: float = 1.0,
    include_contended: bool = False,
    timeout_s: float | None = None,
) -> int:
    """The ``xcost-tui report`` subcommand: prints what it wrote, in a few lines. ``timeout_s``
    stops the --where condition's query after that many seconds (exit 124); ctrl-c while it runs
    cancels it (exit 130)."""
    if plan is not None and where is not None:
        raise ReportError(
            "report takes a plan or --where, not both: a plan selects its configurations, --where "
            "those of the runs it matches"
        )
    if timeout_s is not None and where is None:
        raise ReportError("--timeout limits the --where condition's query: give it with --where")
    out = out_folder(out)
    check_out(out)
    if plan is not None:
        selection = from_plan(plan)
    elif where is not None:
        try:
            selection = _where_selection(store, where, timeout_s)
        except Stopped as stop:
            if stop.why == "timeout":
                print(
                    f"xcost-tui: error: the --where condition ran longer than --timeout {timeout_s:g} s and "
                    f"was stopped; no report was written",
                    file=sys.stderr,
                )
            else:
                print("xcost-tui: report cancelled (no report was written)", file=sys.stderr)
            return stop.exit_code
    else:
        selection = everything()
    result = write_report(
        store,
        out,
        selection,
        baseline=baseline,
        delta=delta_points / 100,
        amortise_n=amortise_n,
        include_contended=include_contended,
    )
    d = result.data
    n_figs = sum(1 for f in result.files if f.endswith(".svg"))
    print(
        f"report: {d.selection.how}; {len(d.selected)} configuration(s) with succeeded runs, "
        f"{sum(1 for c in d.comparisons if c.lang == 'avg')} comparison(s), {len(d.flags)} flag(s)"
    )
    for s in d.sentences[:10]:
        print(f"  {s}")
    if len(d.sentences) > 10:
        print(f"  ... and {len(d.sentences) - 10} more in the report")
    for f in d.flags:
        if f.kind == "no-predictions":  # a blank accuracy needs its reason where it is first seen
            print(f"  note: {f.text}")
    print(
        f"wrote {out}/: report.html, report.md, table.tex, {n_figs} figure(s) as SVG and PDF, "
        f"{len(TABLES)} tables as CSV and Parquet"
    )
    return 0
