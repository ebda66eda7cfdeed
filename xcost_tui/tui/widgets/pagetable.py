"""PageTable: a light table for one page of rows (Line API), built for fast re-sorts.

Textual's DataTable measures and renders every cell through Rich, which costs ~0.1–0.3 s per
repaint of a wide page on a slow machine. This widget holds rows as pre-formatted strings
with fixed column widths, renders only the visible lines as plain segments, and keeps the
header fixed. It has a row cursor, header clicks (sorting), row selection (enter / a second
click), horizontal and vertical scrolling; the first ``fixed`` columns (an identifying column)
stay in view when the others scroll sideways.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

SEP = 1  # spaces between columns


@dataclass(frozen=True)
class PageColumn:
    key: str
    label: str
    width: int
    numeric: bool = False


def fit(text: str, width: int, right: bool = False) -> str:
    """Pad or cut ``text`` to exactly ``width`` cells ('…' marks a cut)."""
    n = cell_len(text)
    if n > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - n)
    return pad + text if right else text + pad


class PageTable(ScrollView, can_focus=True):
    """``set_page(columns, keys, rows, styles=None, sort=(key, descending), fixed=0)``; ``rows[i][j]``
    is a str. The first ``fixed`` columns do not scroll horizontally."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "Top", show=False),
        Binding("end", "cursor_to(-1)", "Bottom", show=False),
        Binding("left", "scroll_cols(-1)", "Left", show=False),
        Binding("right", "scroll_cols(1)", "Right", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    COMPONENT_CLASSES = {
        "pagetable--header",
        "pagetable--sorted",
        "pagetable--cursor",
        "pagetable--even-row",
    }

    DEFAULT_CSS = """
    PageTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .pagetable--header { text-style: bold; background: $panel; color: $foreground; }
        & > .pagetable--sorted { text-style: bold reverse; background: $panel; color: $accent; }
        & > .pagetable--even-row { background: $surface-lighten-1 50%; }
        & > .pagetable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .pagetable--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True)

    class RowSelected(Message):
        def __init__(self, table: PageTable, key: str, index: int) -> None:
            super().__init__()
            self.table, self.key, self.index = table, key, index

        @property
        def control(self) -> PageTable:
            return self.table

    class CursorMoved(Message):
        def __init__(self, table: PageTable, key: str | None, index: int) -> None:
            super().__init__()
            self.table, self.key, self.index = table, key, index

        @property
        def control(self) -> PageTable:
            return self.table

    class HeaderClicked(Message):
        def __init__(self, table: PageTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> PageTable:
            return self.table

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[PageColumn] = []
        self.keys: list[str] = []
        self.rows: list[list[str]] = []
        self.cell_styles: list[list[str | None]] | None = None
        self.sort: tuple[str, bool] | None = None
        self._lines: list[str] = []  # each row pre-joined (without styles)
        self._header = ""
        self._offsets: list[int] = []
        self._style_cache: dict[str, Style] = {}
        self.fixed = 0  # leading columns that stay in view when scrolling sideways
        self._fixed_width = 0  # their cells and separators

    # ---- data --------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_key(self) -> str | None:
        return self.keys[self.cursor_row] if self.keys and 0 <= self.cursor_row < len(self.keys) else None

    def set_page(
        self,
        columns: Sequence[PageColumn],
        keys: Sequence[str],
        rows: Sequence[Sequence[str]],
        styles: Sequence[Sequence[str | None]] | None = None,
        sort: tuple[str, bool] | None = None,
        cursor: int = 0,
        fixed: int = 0,
    ) -> None:
        self.columns = list(columns)
        self.fixed = max(0, min(fixed, len(self.columns)))
        self.keys = [str(k) for k in keys]
        self.rows = [list(r) for r in rows]
        self.cell_styles = [list(s) for s in styles] if styles is not None else None
        self.sort = sort
        self._offsets = []
        x = 0
        for col in self.columns:
            self._offsets.append(x)
            x += col.width + SEP
        width = max(0, x - SEP)
        self._fixed_width = self._offsets[self.fixed] if self.fixed < len(self._offsets) else (x if self.fixed else 0)
        self._header = " ".join(fit(self._label(c), c.width, c.numeric) for c in self.columns)
        self._lines = [
            " ".join(fit(cell, c.width, c.numeric) for cell, c in zip(row, self.columns)) for row in self.rows
        ]
        self.virtual_size = Size(width, len(self.rows) + 1)
        self.cursor_row = max(0, min(cursor, len(self.rows) - 1))
        self.refresh()

    def _label(self, col: PageColumn) -> str:
        if self.sort and self.sort[0] == col.key:
            return f"{col.label} {'▼' if self.sort[1] else '▲'}"
        return col.label

    # ---- rendering ---------------------------------------------------------------------------
    def _style(self, name: str | None) -> Style:
        if not name:
            return Style()
        style = self._style_cache.get(name)
        if style is None:
            style = self._style_cache[name] = Style.parse(name)
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache.clear()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            segments = [Segment(self._header, base + self.get_component_rich_style("pagetable--header"))]
            if self.sort and self.columns:
                # re-style the sorted column's header cell
                idx = next((i for i, c in enumerate(self.columns) if c.key == self.sort[0]), None)
                if idx is not None:
                    start, w = self._offsets[idx], self.columns[idx].width
                    head = base + self.get_component_rich_style("pagetable--header")
                    segments = [
                        Segment(self._header[:start], head),
                        Segment(
                            self._header[start : start + w], head + self.get_component_rich_style("pagetable--sorted")
                        ),
                        Segment(self._header[start + w :], head),
                    ]
            return self._crop(segments, scroll_x, width, base + self.get_component_rich_style("pagetable--header"))
        row = scroll_y + y - 1
        if row >= len(self._lines):
            return Strip.blank(width, base)
        if row == self.cursor_row:
            line_style = base + self.get_component_rich_style("pagetable--cursor")
        elif row % 2 == 1:
            line_style = base + self.get_component_rich_style("pagetable--even-row")
        else:
            line_style = base
        line = self._lines[row]
        cell_styles = self.cell_styles[row] if self.cell_styles is not None and row != self.cursor_row else None
        if cell_styles and any(cell_styles):
            segments = []
            pos = 0
            for i, col in enumerate(self.columns):
                name = cell_styles[i] if i < len(cell_styles) else None
                if name:
                    start = self._offsets[i]
                    if start > pos:
                        segments.append(Segment(line[pos:start], line_style))
                    segments.append(Segment(line[start : start + col.width], line_style + self._style(name)))
                    pos = start + col.width
            if pos < len(line):
                segments.append(Segment(line[pos:], line_style))
        else:
            segments = [Segment(line, line_style)]
        return self._crop(segments, scroll_x, width, line_style)

    def _crop(self, segments: list[Segment], scroll_x: int, width: int, fill: Style) -> Strip:
        strip = Strip(segments)
        fixed = min(self._fixed_width, width)
        if not fixed or not scroll_x:
            return strip.crop_extend(scroll_x, scroll_x + width, fill)
        # the fixed columns, then the rest from where the scroll has got to
        return Strip.join(
            [strip.crop_extend(0, fixed, fill), strip.crop_extend(fixed + scroll_x, scroll_x + width, fill)]
        )

    # ---- cursor ------------------------------------------------------------------------------
    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        if old != new:
            self.post_message(self.CursorMoved(self, self.cursor_key, new))

    def _scroll_to_cursor(self) -> None:
        visible = self._visible_rows()
        row = self.cursor_row
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= self.scroll_y + visible:
            self.scroll_to(y=row - visible + 1, animate=False, immediate=True)

    def move_cursor(self, row: int) -> None:
        if self.rows:
            self.cursor_row = max(0, min(row, len(self.rows) - 1))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_cursor_page(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step * self._visible_rows())

    def action_cursor_to(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.rows) - 1)

    def _scroll_offsets(self) -> list[int]:
        """Where each scrolling column starts, in scroll_x units (0 for the first after the fixed ones)."""
        return [o - self._fixed_width for o in self._offsets[self.fixed :]]

    def action_scroll_cols(self, step: int) -> None:
        # jump to the next/previous column boundary
        x = self.scroll_x
        offsets = self._scroll_offsets()
        if step > 0:
            target = next((o for o in offsets if o > x), x)
        else:
            target = max((o for o in offsets if o < x), default=0)
        self.scroll_to(x=target, animate=False)

    def scroll_to_column(self, key: str) -> None:
        """Scroll horizontally so that column ``key`` is in view (e.g. the one just sorted by)."""
        idx = next((i for i, c in enumerate(self.columns) if c.key == key), None)
        if idx is None or idx < self.fixed:
            return
        start = self._offsets[idx] - self._fixed_width
        end = start + self.columns[idx].width
        view = self.scrollable_content_region.width - self._fixed_width
        if start < self.scroll_x:
            self.scroll_to(x=start, animate=False, immediate=True)
        elif end > self.scroll_x + view:
            # the first column boundary that brings it in: no column is drawn cut at the left
            need = end - view + 1
            target = min((o for o in self._scroll_offsets() if o >= need), default=need)
            self.scroll_to(x=max(0, min(target, start)), animate=False, immediate=True)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key, self.cursor_row))

    def column_at(self, x: int) -> PageColumn | None:
        for col, start in zip(self.columns, self._offsets):
            if start <= x < start + col.width + SEP:
                return col
        return None

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x, y = offset
        if y == 0:
            col = self.column_at(x if x < self._fixed_width else x + int(self.scroll_x))
            if col is not None:
                self.post_message(self.HeaderClicked(self, col.key))
            return
        row = int(self.scroll_y) + y - 1
        if 0 <= row < len(self.rows):
            if row == self.cursor_row or event.chain >= 2:  # a double click opens it too
                self.cursor_row = row
                self.action_select()
            else:
                self.cursor_row = row
        event.stop()
