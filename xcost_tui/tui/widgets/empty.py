"""A panel shown in place of a table when the store cannot answer: what happened, what to do."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from ...errors import StoreCorrupt, StoreLocked, StoreMissing, StoreSchemaMismatch

# The panel for each kind of store error (errors.py); any other error is "error".
KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (StoreMissing, "missing"),
    (StoreLocked, "locked"),
    (StoreSchemaMismatch, "schema"),
    (StoreCorrupt, "corrupt"),
)


def classify(exc: BaseException) -> str:
    """'missing', 'locked', 'schema', 'corrupt' or 'error', by the exception's type."""
    for kind_type, kind in KINDS:
        if isinstance(exc, kind_type):
            return kind
    return "error"


TITLES = {
    "missing": "No results store yet",
    "empty": "The store has no runs yet",
    "nomatch": "No runs match the filters",
    "locked": "The store is locked",
    "schema": "The store is from another version of xcost-tui",
    "corrupt": "The store file is damaged",
    "error": "The store could not be read",
    "loading": "Loading…",
    "no runs": "Nothing running",
    "no configuration": "No succeeded run yet",
}

HINTS = {
    "missing": "Press 3 (Launch) to run a plan, or build the store from run directories with "
    "`xcost-tui ingest --store {store}`.",
    "empty": "Press 3 (Launch) to run a plan; finished runs appear here. "
    "Run directories made elsewhere: `xcost-tui ingest --store {store} DIR...`.",
    "nomatch": "Press x to clear the filters, or / to change the search.",
    "locked": "Another process holds the database (an ingest, an open `duckdb` shell). "
    "The app retries on its own; ctrl+r retries now.",
    "schema": "Quit and run `xcost-tui ingest --store {store}` to rebuild it from the run directories "
    "(nothing is lost: run directories are the source of truth).",
    "corrupt": "Quit, delete the file and run `xcost-tui ingest --store {store}` to rebuild it from the run "
    "directories (nothing is lost: run directories are the source of truth).",
    "error": "ctrl+r retries.",
    "loading": "",
    "no configuration": "Compare aggregates the succeeded runs of each configuration. Press 1 (Runs) to see the "
    "runs there are, 3 (Launch) to run a plan.",
}


class EmptyState(Static):
    """Title + message + hint; ``show(kind, message)`` updates it."""

    DEFAULT_CSS = """
    EmptyState { padding: 1 2; height: 1fr; width: 1fr; }
    """

    def __init__(self, store: Path | str | None = None, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.store = store
        self.kind = "loading"
        self.message = ""

    def show(self, kind: str, message: str = "") -> None:
        self.kind, self.message = kind, message
        parts = [Text(TITLES.get(kind, kind), style="bold")]
        if message:
            parts += [Text(""), Text(message)]
        hint = HINTS.get(kind, "").format(store=self.store)
        if hint:
            parts += [Text(""), Text(hint, style="italic")]
        self.update(Group(*parts))

    def show_error(self, exc: BaseException) -> None:
        self.show(classify(exc), str(exc))
