"""The one "did you mean ...?" helper: every message about an unknown name suggests the closest
valid one the same way (a key of a spec or plan, a task, a language, a method, a column).

Plain standard library: the supervisor, the store and the job all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: object, choices: Iterable[str], cutoff: float = 0.5) -> str | None:
    """The valid name closest to ``name``, or None when nothing is close enough.

    ``name`` may be any value a user wrote (a number where a task belongs, None): it is compared
    as text, so the helper itself never raises.
    """
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=cutoff)
    return match[0] if match else None


def did_you_mean(name: object, choices: Iterable[str], cutoff: float = 0.5) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid name, or ``""``: ready to put right after
    the name in a message, e.g. ``f"unknown task {name!r}{did_you_mean(name, TASKS)}; ..."``."""
    match = closest(name, choices, cutoff)
    return f" (did you mean {match!r}?)" if match is not None else ""
