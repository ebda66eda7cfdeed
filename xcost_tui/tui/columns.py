"""Which catalogue columns the Runs table shows, in what order, and how they become PageColumns.

The columns themselves (header, formatter, width, help, unit) live in the presentation
catalogue, ``xcost_tui.present``, shared with the headless mode; this module only picks, and
writes the two cells made of several leaderboard columns: the identifying ``run`` cell (name and
the start of the id's hash; it stays in view when the table scrolls sideways) and ``langs``
(languages the average covers, of those planned).

The order is chosen for an 80-column terminal: the run, its average accuracy and the training
device-hours come first, so the first paint at 80x24 answers "how good, at what cost" before
any sideways scrolling; what identifies the configuration and the other costs follow.
"""

from __future__ import annotations

from typing import Any

from .. import XCOPA_LANGS
from .. import format as fmt
from ..present import (
    AVG_ACCURACY,
    COLLAPSED,
    CONTENDED_FIGURES,
    CONTENDED_MARK,
    COSTS,
    IDENTITY,
    LANG_ACCURACY,
    LEADERBOARD,
    N_LANGS,
    RUN,
    Column,
    fit_label,
    langs_cell,
    run_label,
)
from .widgets.pagetable import PageColumn

FIXED: list[Column] = [RUN]  # stays in view when scrolling sideways
PRIMARY_COST: Column = COSTS[0]  # training device-hours: the cost shown beside the accuracy
_STATUS = next(c for c in IDENTITY if c.key == "status")
HEAD: list[Column] = [
    *FIXED,
    AVG_ACCURACY,
    PRIMARY_COST,
    N_LANGS,
    _STATUS,
    COLLAPSED,
    *(c for c in IDENTITY if c is not _STATUS),
]
TAIL: list[Column] = [c for c in COSTS if c is not PRIMARY_COST]
BY_KEY: dict[str, Column] = {**LEADERBOARD, RUN.key: RUN}  # every column a run can be sorted by
SORT_KEYS = {RUN.key: "run_id"}  # a shown column sorted by another leaderboard column
# leaderboard columns the composed cells are written from
SOURCES = {RUN.key: ("run_id", "name"), N_LANGS.key: ("n_langs", "n_langs_planned")}

# the columns the `c` key cycles through ("sort by a compute column")
COMPUTE_SORTS = [c.key for c in COSTS]


def visible_columns(langs: list[str] | tuple[str, ...]) -> list[Column]:
    return [*HEAD, *(LANG_ACCURACY[lang] for lang in XCOPA_LANGS if lang in langs), *TAIL]


def fetched_columns(cols: list[Column]) -> list[str]:
    """The leaderboard columns a page of ``cols`` needs (run_id, complete and contended always: the
    ranking's dimming and the contention mark)."""
    out = ["run_id", "complete", "contended"]
    for c in cols:
        for key in SOURCES.get(c.key, (c.key,)):
            if key not in out:
                out.append(key)
    return out


def column_cells(col: Column, data: Any) -> list[str]:
    """The cells of one column for an Arrow page of the leaderboard."""
    if col.key == RUN.key:
        return [
            fit_label(run_label(rid, name), col.width)
            for rid, name in zip(data.column("run_id").to_pylist(), data.column("name").to_pylist())
        ]
    if col.key == N_LANGS.key:
        return [
            langs_cell(n, planned)
            for n, planned in zip(data.column("n_langs").to_pylist(), data.column("n_langs_planned").to_pylist())
        ]
    if col.numeric:  # a figure too long for its column loses digits, never its exponent or unit
        return [fmt.fit_figure(col.cell(v), col.width) for v in data.column(col.key).to_pylist()]
    return [col.cell(v) for v in data.column(col.key).to_pylist()]


def sort_key(key: str) -> str:
    return SORT_KEYS.get(key, key)


def cell_width(col: Column) -> int:
    """Room for the header's sort arrow ('avg ▼') as well as the values, and for the contention
    mark after a figure contention moves ('2.28e-04*': the mark must not push the value out)."""
    mark = len(CONTENDED_MARK) if col.key in CONTENDED_FIGURES else 0
    return max(col.width + mark, len(col.header) + 2)


def page_column(col: Column, sortable: bool = True) -> PageColumn:
    """The PageTable column of a catalogue column (a sortable one leaves room for the arrow)."""
    return PageColumn(col.key, col.header, cell_width(col) if sortable else col.width, col.numeric)


def default_descending(key: str) -> bool:
    """Accuracy: best first. Costs: cheapest first. Text: A→Z."""
    col = BY_KEY.get(key)
    return bool(col and col.higher_is_better)
