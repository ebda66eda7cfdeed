"""TextPanel: long wrapped text (the Verdict panel's sentences) rendered line by line.

A Static holding a few hundred wrapped paragraphs re-wraps all of them on every layout pass
(seconds for 200 configurations on a slow machine). This widget wraps once per width (Rich's
``Text.wrap``), keeps the lines as Strips, and draws only the visible ones (the Line API), so
scrolling and switching views cost the lines on screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class TextPanel(ScrollView, can_focus=True):
    """``update(text)``: a Rich Text (newlines separate paragraphs); ``plain`` is its text."""

    DEFAULT_CSS = """
    TextPanel {
        height: 1fr;
        padding: 0 1;
        background: $surface;
        scrollbar-gutter: stable;  /* a scrollbar that appears does not change the width: one wrap */
    }
    """

    BINDINGS = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()
        self._strips: list[Strip] = []
        self._width = -1

    @property
    def plain(self) -> str:
        return self._text.plain

    @property
    def text(self) -> Text:
        return self._text

    def update(self, text: Text) -> None:
        self._text = text
        self._width = -1  # wrapped when next drawn, at the width it is drawn at
        self.refresh()

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._width:
            return
        self._width = width
        console = self.app.console
        lines = self._text.wrap(console, width, overflow="fold")
        self._strips = [Strip(list(line.render(console)), line.cell_len) for line in lines]
        self.virtual_size = Size(width, len(self._strips))

    def on_resize(self) -> None:
        self._wrap()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        self._wrap()
        row = int(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self._strips):
            return Strip.blank(width, base)
        return self._strips[row].apply_style(base).crop_extend(0, width, base)
