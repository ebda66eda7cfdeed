"""User-facing errors.

Every error a user can cause (a bad spec, a missing file, an unknown task) is an
``XcostError`` whose message says what is wrong, where, and what to do about it.
The CLI prints the message without a traceback and exits non-zero.
"""


class XcostError(Exception):
    """A problem the user can fix; the message is meant to be read by a person."""


class SpecError(XcostError):
    """A run spec or plan has a missing, unknown or ill-typed field."""


class DataError(XcostError):
    """A data set could not be loaded: missing file, malformed row, hub failure."""


class RunDirError(XcostError):
    """A run directory whose files cannot be read as a run (a status.json that is not an object, ...)."""


class WriteError(XcostError):
    """A file of a run or the store could not be written: "no space left on <path>", "read-only: <path>"."""

    errno: int | None = None
    path: str | None = None


class UnknownTaskError(SpecError):
    """A task name that is not in the task registry."""


class ModelError(XcostError):
    """A model id or path that cannot be loaded."""


class StoreError(XcostError):
    """The results database is missing, locked or from another schema version."""


# The kinds of StoreError a front end tells apart (the app's empty-state panel branches on them).


class StoreMissing(StoreError):
    """There is no results database yet at the store's path."""


class StoreLocked(StoreError):
    """Another process (or another connection of this one) holds the database past the wait."""


class StoreSchemaMismatch(StoreError):
    """The database is from another schema version of xcost-tui, or is not an xcost-tui store."""


class StoreCorrupt(StoreError):
    """The database file is damaged (truncated, overwritten, not a DuckDB file): delete and rebuild it."""
