"""Which catalogue columns the Runs table shows, in what order, and how they become PageColumns.

The columns themselves (header, formatter, width, help, unit) live in the presentation
catalogue, ``xcost_tui.present``, shared with the headless mode; this module only picks.
"""

from __future__ import annotations

from .. import XCOPA_LANGS
from ..present import AVG_ACCURACY, COLLAPSED, COSTS, IDENTITY, LANG_ACCURACY, LEADERBOARD, Column
from .widgets.pagetable import PageColumn

HEAD: list[Column] = [*IDENTITY, COLLAPSED, AVG_ACCURACY]
TAIL: list[Column] = list(COSTS)
BY_KEY: dict[str, Column] = LEADERBOARD  # every column a run can be sorted by

# the columns the `c` key cycles through ("sort by a compute column")
COMPUTE_SORTS = [c.key for c in TAIL]


def visible_columns(langs: list[str] | tuple[str, ...]) -> list[Column]:
    return [*HEAD, *(LANG_ACCURACY[lang] for lang in XCOPA_LANGS if lang in langs), *TAIL]


def cell_width(col: Column) -> int:
    """Room for the header's sort arrow ('avg ▼') as well as the values."""
    return max(col.width, len(col.header) + 2)


def page_column(col: Column, sortable: bool = True) -> PageColumn:
    """The PageTable column of a catalogue column (a sortable one leaves room for the arrow)."""
    return PageColumn(col.key, col.header, cell_width(col) if sortable else col.width, col.numeric)


def default_descending(key: str) -> bool:
    """Accuracy: best first. Costs: cheapest first. Text: A→Z."""
    col = BY_KEY.get(key)
    return bool(col and col.higher_is_better)
