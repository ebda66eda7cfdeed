"""Modal dialogs: yes/no confirmation, the quit-with-running-runs choice, pickers, help."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection


class ConfirmModal(ModalScreen[bool]):
    """A question with Yes / No; dismisses with True or False. y/n/escape work too."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class QuitModal(ModalScreen[str]):
    """Quitting while runs execute: dismisses with 'leave', 'cancel' or 'stay'."""

    BINDINGS = [
        Binding("l", "choose('leave')", "Leave running"),
        Binding("c", "choose('cancel')", "Cancel runs"),
        Binding("escape,s", "choose('stay')", "Stay"),
    ]

    def __init__(self, n_running: int, n_queued: int = 0) -> None:
        super().__init__(classes="dialog-screen")
        self.n_running = n_running
        self.n_queued = n_queued

    def compose(self) -> ComposeResult:
        runs = "1 run is" if self.n_running == 1 else f"{self.n_running} runs are"
        queued = f", {self.n_queued} more queued" if self.n_queued else ""
        with Vertical(classes="dialog"):
            yield Label(f"{runs} executing{queued}.", classes="dialog-question")
            yield Label(
                "Leave them running: they carry on in their own processes and the next start of "
                "xcost-tui shows them live again"
                + (" (queued runs do not start)" if self.n_queued else "")
                + ". Or cancel them.",
                classes="dialog-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Leave running (l)", id="leave", variant="primary")
                yield Button("Cancel runs (c)", id="cancel", variant="error")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")


class PickModal(ModalScreen[str | None]):
    """Pick one of many (value, label) with a filter box; dismisses with the value or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: Iterable[tuple[str, str]], current: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(self.title_text, classes="dialog-question")
            yield Input(placeholder="type to filter, enter to pick", id="pick-filter")
            yield OptionList(id="pick-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _matches(self, needle: str) -> list[tuple[str, str]]:
        needle = needle.strip().lower()
        if not needle:
            return self.choices
        exact = [c for c in self.choices if needle in (c[0].lower(), c[1].lower())]
        starts = [
            c
            for c in self.choices
            if c not in exact and (c[1].lower().startswith(needle) or c[0].lower().startswith(needle))
        ]
        rest = [
            c
            for c in self.choices
            if c not in exact and c not in starts and (needle in c[0].lower() or needle in c[1].lower())
        ]
        return exact + starts + rest

    def _fill(self, needle: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        matches = self._matches(needle)
        options.add_options(
            [Option(f"{label}  [dim]{value}[/]" if label != value else value, id=value) for value, label in matches]
        )
        if matches:
            index = 0
            if not needle and self.current is not None:
                index = next((i for i, (v, _) in enumerate(matches) if v == self.current), 0)
            options.highlighted = index

    @on(Input.Changed, "#pick-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#pick-filter")
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_key(self, event) -> None:
        # up/down in the filter box move the highlighted option
        if event.key in ("up", "down") and self.query_one(Input).has_focus:
            options = self.query_one(OptionList)
            options.action_cursor_up() if event.key == "up" else options.action_cursor_down()
            event.stop()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MultiPickModal(ModalScreen[list[str] | None]):
    """Tick several of many (the languages shown); space toggles, a all, n none, enter applies."""

    BINDINGS = [
        Binding("enter", "apply", "Apply", priority=True),
        Binding("a", "all(True)", "All"),
        Binding("n", "all(False)", "None"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, choices: Iterable[tuple[str, str]], selected: Iterable[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = list(choices)
        self.selected = set(selected)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(self.title_text, classes="dialog-question")
            yield SelectionList[str](
                *(Selection(label, value, value in self.selected) for value, label in self.choices)
            )
            yield Label("space toggles · a all · n none · enter applies · esc cancels", classes="dialog-text")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_all(self, on_: bool) -> None:
        sel = self.query_one(SelectionList)
        sel.select_all() if on_ else sel.deselect_all()

    def action_apply(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))

    def action_cancel(self) -> None:
        self.dismiss(None)


KEYS_HELP: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Everywhere",
        [
            ("1 2 3 4 5", "Runs · Live · Launch · Compare · SQL (also R L P C S from any table)"),
            ("F1  ?", "this help"),
            ("ctrl+p", "command palette"),
            ("q  ctrl+q", "quit (asks first if runs execute)"),
            ("tab / shift+tab", "move focus"),
            ("esc", "back / close a dialog"),
        ],
    ),
    (
        "Runs",
        [
            ("enter / click row", "open the run's detail"),
            ("s", "sort by a column (type to filter)"),
            ("click a header", "sort by that column (again: reverse)"),
            ("< >", "sort by the previous / next column"),
            ("a", "sort by average accuracy"),
            ("c", "cycle the compute columns as sort key"),
            ("r", "reverse the order"),
            ("/", "search text"),
            ("f", "filters (method, model, status)"),
            ("x", "clear filters"),
            ("l", "languages shown"),
            ("u", "only runs measured without contention (the mark *); again: every run"),
            ("A", "rank every run (default: complete runs first, then failed/partial)"),
            ("] n / [ p", "next / previous page"),
            ("g / G", "first / last page"),
            ("e / E", "export all rows (sort + filter) to CSV / Parquet"),
            ("ctrl+r", "reload"),
        ],
    ),
    ("Run detail", [("esc / backspace", "back"), ("tab", "switch tab"), ("ctrl+r", "reload")]),
    (
        "Live",
        [
            ("↑ ↓", "pick the run the charts show"),
            ("k", "cancel the run (asks first)"),
            ("space", "pause / resume the charts"),
        ],
    ),
    (
        "Launch",
        [
            ("o", "open the plan in the path box"),
            ("enter (on path)", "load"),
            ("ctrl+s", "start the queue"),
            ("+ / -", "parallelism"),
        ],
    ),
    (
        "Compare",
        [
            ("f g v c", "views: Frontier · Languages · Verdict · Curves"),
            ("x / m", "next cost measure / pick one (training device-hours, FLOPs, energy, memory, per-query)"),
            ("b", "baseline every configuration is compared with (computed on demand)"),
            ("d", "δ: how close counts as similar accuracy"),
            ("n", "amortisation N of the intermediate phase"),
            ("l", "learning curve: language and phase"),
            ("enter", "the configuration's runs (on Runs)"),
            ("e", "save the view as SVG"),
            ("ctrl+r", "reload"),
        ],
    ),
    (
        "SQL",
        [
            ("ctrl+r  F5", "run the query"),
            ("ctrl+g", "cancel the running query"),
            ("esc / i", "leave the editor (then 1-5 switch screens) / back to the editor"),
        ],
    ),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for section, keys in KEYS_HELP:
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key, what)
        with Vertical(classes="dialog help"):
            yield Label("xcost-tui keys  (esc closes)", classes="dialog-question")
            with VerticalScroll():
                yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
