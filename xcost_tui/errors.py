"""User-facing errors.

Every error a user can cause (a bad spec, a missing file, an unknown task) is an
``XcostError`` whose message says what is wrong, where, and what to do about it.
The CLI prints the message without a traceback and exits with the error's ``exit_code``.

A path the operating system refused (a full disk, a read-only file system, a file where a folder
should be, no permission) is a ``WriteError`` in ONE shape for every command, made by
``path_error``: "<problem> <path>: <what to do>", exit 1 for a full disk (transient: free space and
run the command again) and 2 for a path the user must change.
"""

from __future__ import annotations

import errno as _errno
import os
from pathlib import Path


class XcostError(Exception):
    """A problem the user can fix; the message is meant to be read by a person."""

    exit_code: int = 2  # what the command line exits with (cli.main)


class SpecError(XcostError):
    """A run spec or plan has a missing, unknown or ill-typed field."""


class DataError(XcostError):
    """A data set could not be loaded: missing file, malformed row, hub failure."""


class RunDirError(XcostError):
    """A run directory whose files cannot be read as a run (a status.json that is not an object, ...)."""


class WriteError(XcostError):
    """A file of a run or the store could not be written: "no space left on <path>", "read-only: <path>".

    ``exit_code`` is 1 for a full disk (it passes once space is freed), 2 for a path to change."""

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


# ---- a path the operating system refused ------------------------------------------------------

# A full disk or quota: transient, the same command passes once space is freed.
FULL_DISK = frozenset({_errno.ENOSPC, _errno.EDQUOT})
# The refusals of a write: a full disk, and the paths a user must change.
REFUSALS = FULL_DISK | {_errno.EROFS, _errno.EACCES, _errno.EPERM, _errno.ENOTDIR, _errno.EEXIST}


def _file_in_the_way(path: str) -> str | None:
    """The file that stands where ``path`` or one of its parent folders should be a folder."""
    here = Path(path)
    return next((str(p) for p in (here, *here.parents) if p.is_file()), None)


def describe_os_error(exc: OSError | WriteError, path: Path | str) -> str:
    """The problem and the path, in the words a user acts on: "no space left on <path>"."""
    code = exc.errno
    if code == _errno.ENOSPC:
        return f"no space left on {path}"
    if code == _errno.EDQUOT:
        return f"disk quota exceeded on {path}"
    if code == _errno.EROFS:
        return f"read-only: {path}"
    if code in (_errno.EACCES, _errno.EPERM):
        return f"permission denied: {path}"
    if code in (_errno.ENOTDIR, _errno.EEXIST):  # a file where a folder should be (mkdir, open below it)
        blocker = _file_in_the_way(str(path))
        if blocker is not None and blocker != str(path):
            return f"not a folder: {blocker} is a file, in the way of {path}"
        return f"not a folder: {path} is a file"
    if code == _errno.EISDIR:
        return f"a folder, not a file: {path}"
    if code == _errno.ENOENT:
        return f"no such file or folder: {path}"
    return f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}"


def path_error(
    exc: OSError | WriteError, path: Path | str | None = None, *, retry: str | None = None, fix: str | None = None
) -> WriteError:
    """The one shape of a refused path: "<problem> <path>: <what to do>".

    ``retry`` is the command to run again once space is freed (a full disk, exit 1); ``fix`` says
    how to give another path (every other problem, exit 2), e.g. "give --out a folder you can
    write to". ``exc`` is the OSError, or a WriteError that carries its errno."""
    if isinstance(exc, WriteError) and exc.errno is None:  # already in words, with no cause to name
        return exc
    where = str(path if path is not None else (getattr(exc, "filename", None) or getattr(exc, "path", None) or "?"))
    if exc.errno in FULL_DISK:
        todo = f"free space and run `{retry}` again" if retry else "free space and try again"
    else:
        todo = fix or "choose a folder you can write to"
    return _refused(f"{describe_os_error(exc, where)}: {todo}", exc.errno, where)


def write_error(exc: OSError, path: Path | str) -> WriteError:
    """The refused write as a WriteError saying the problem and the path ("no space left on
    <path>"), for a writer below the commands; the caller says what follows (``path_error`` adds
    what to do, for a command)."""
    return _refused(describe_os_error(exc, path), exc.errno, str(path))


def _refused(message: str, code: int | None, where: str) -> WriteError:
    err = WriteError(message)
    err.errno, err.path = code, where
    err.exit_code = 1 if code in FULL_DISK else 2
    return err


def os_error_from_text(text: str) -> OSError | None:
    """The OSError another library reported in words only (DuckDB: 'Could not write file "<path>":
    No space left on device'), with the quoted path when there is one; None when it is none of the
    refusals ``describe_os_error`` names."""
    for code in sorted(REFUSALS):
        if os.strerror(code) in text:
            start = text.find('"')
            end = text.find('"', start + 1)
            filename = text[start + 1 : end] if 0 <= start < end else None
            return OSError(code, os.strerror(code), filename)
    return None
