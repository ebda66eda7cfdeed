"""The tolerant field readers: one JSON value in, the typed value or its empty value out.

Every reader of a file one room writes and another reads (events, records, status.json, the
spec and environment that ingest maps to rows, forecast files) reads its fields through these,
so an old or damaged file is read as far as it goes and never crashes a reader: a field of the
wrong type becomes None (or [], {}), a number that is not finite becomes None.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any


def as_str(v: Any) -> str | None:
    """A string; a number or a flag as its text; None for None, an object or a list."""
    if v is None or isinstance(v, (dict, list)):
        return None
    return v if isinstance(v, str) else str(v)


def as_str_or_empty(v: Any) -> str:
    """A string that must be there: ``as_str``, with "" for nothing."""
    return as_str(v) or ""


def as_float(v: Any) -> float | None:
    """A finite number (an int as a float); None for anything else (a flag is not a number)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def as_int(v: Any) -> int | None:
    """A finite number rounded to an int that fits 64 bits; None for anything else."""
    f = as_float(v)
    return int(round(f)) if f is not None and abs(f) < 9.2e18 else None


def as_bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def as_strs_or_none(v: Any) -> list[str] | None:
    """A list of strings (one string is a list of one; null items are left out); None when the
    value is neither a list nor a string (absent: the caller can tell "none" from "not said")."""
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v if x is not None]
    return None


def as_strs(v: Any) -> list[str]:
    """``as_strs_or_none``, with [] for a value that is not a list."""
    return as_strs_or_none(v) or []


def as_dict(v: Any) -> dict[str, Any]:
    return {str(k): x for k, x in v.items()} if isinstance(v, dict) else {}


def floats_by_key(v: Any) -> dict[str, float | None]:
    return {str(k): as_float(x) for k, x in v.items()} if isinstance(v, dict) else {}


def ints_by_key(v: Any) -> dict[str, int]:
    return {str(k): i for k, x in v.items() if (i := as_int(x)) is not None} if isinstance(v, dict) else {}


def as_timestamp(t: Any) -> datetime | None:
    """A unix time (seconds) as a naive UTC datetime, as the store's TIMESTAMP columns hold it;
    None for anything that is not a positive number."""
    if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0:
        return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)
    return None
