"""How one value is written, for the app and the headless mode: short, fixed-width friendly, '–' for NULL.

Which formatter a column uses is named once, in the presentation catalogue (``present.py``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

NULL = "–"

_SI = [(1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]


def _missing(v: Any) -> bool:
    return v is None or _nan(v)


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def si(v: float | None, unit: str = "", digits: int = 3) -> str:
    if v is None or _nan(v):
        return NULL
    a = abs(v)
    for scale, prefix in _SI:
        if a >= scale:
            return f"{v / scale:.{digits}g}{prefix}{unit}"
    if a and a < 1e-3:
        return f"{v:.2g}{unit}"
    return f"{v:.{digits}g}{unit}"


def acc(v: float | None) -> str:
    """Accuracy as a percentage with one decimal: 0.6234 → '62.3'."""
    return NULL if v is None or _nan(v) else f"{100 * v:.1f}"


def hours(v: float | None) -> str:
    if v is None or _nan(v):
        return NULL
    if v == 0:
        return "0"
    if v < 0.01:
        return f"{v:.2e}"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def flops(v: float | None) -> str:
    return si(v)


def energy(v: float | None) -> str:
    return si(v, "J")


def nbytes(v: float | None) -> str:
    if v is None or _nan(v):
        return NULL
    a = float(v)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(a) < 1024 or unit == "T":
            return f"{a:.0f}{unit}" if unit == "B" else f"{a:.1f}{unit}"
        a /= 1024
    return f"{a:.1f}T"  # pragma: no cover


def seconds(v: float | None) -> str:
    """Short durations: 0.004 → '4.0ms', 75 → '1m15s', 7300 → '2h02m'."""
    if v is None or _nan(v):
        return NULL
    if v < 1:
        return f"{v * 1000:.1f}ms"
    if v < 60:
        return f"{v:.1f}s"
    m, s = divmod(int(round(v)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(int(round(v / 60)), 60)  # to the nearest minute, as the line above is to the second
    return f"{h}h{m:02d}m"


def integer(v: Any) -> str:
    return NULL if _missing(v) else str(int(v))


def text(v: Any) -> str:
    if _missing(v):
        return NULL
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v)) or NULL
    return str(v)


def number(v: Any) -> str:
    if _missing(v):
        return NULL
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def rate(v: float | None) -> str:
    return si(v, "/s")


def pct(v: float | None) -> str:
    """A signed relative difference: 0.11 -> '+11%', -0.034 -> '-3.4%'."""
    if v is None or _nan(v):
        return NULL
    return f"{100 * v:+.1f}%" if round(abs(v), 3) < 0.1 else f"{100 * v:+.0f}%"


def plain_si(v: float | None) -> str:
    """A bare SI-prefixed figure, for headers that carry the unit ('ex/s'): 1234 → '1.23k'."""
    return si(v)


FORMATTERS: dict[str, Callable[[Any], str]] = {
    "acc": acc, "hours": hours, "flops": flops, "energy": energy, "bytes": nbytes, "seconds": seconds,
    "int": integer, "text": text, "number": number, "rate": rate, "si": plain_si, "pct": pct,
}
