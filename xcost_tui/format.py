"""How one value is written, for the app and the headless mode: short, fixed-width friendly, '–' for NULL.

Which formatter a column uses is named once, in the presentation catalogue (``present.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

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


def flag(v: Any) -> str:
    """A yes/no fact: 'yes', 'no', '–' when unknown (NULL)."""
    if _missing(v):
        return NULL
    return "yes" if v else "no"


_FIGURE = re.compile(r"^([+-]?\d+)\.(\d+)(e[+-]\d+)?(\D*)$")


def fit_figure(text: str, width: int) -> str:
    """A written figure shortened to ``width`` characters by rounding its mantissa, never by
    cutting it: '2.28e-04' at 7 → '2.3e-04', at 5 → '2e-04'; '476.8M' at 5 → '477M'. The
    exponent and the unit stay. Text that fits, or has no decimals to drop, comes back as it
    is (a table then cuts it with '…', visibly)."""
    m = _FIGURE.match(text)
    if len(text) <= width or not m:
        return text
    whole, decimals, exp, unit = m.groups()
    value = Decimal(f"{whole}.{decimals}")
    for d in range(len(decimals) - 1, -1, -1):
        mantissa, e = value.quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP), exp or ""
        if exp and abs(mantissa) >= 10:  # 9.96e-04 rounded up: 1.0e-03, not '10e-04'
            mantissa, e = (mantissa / 10).quantize(Decimal(1).scaleb(-d)), f"e{int(exp[1:]) + 1:+03d}"
        out = f"{mantissa}{e}{unit}"
        if len(out) <= width:
            return out
    return text


FORMATTERS: dict[str, Callable[[Any], str]] = {
    "acc": acc,
    "hours": hours,
    "flops": flops,
    "energy": energy,
    "bytes": nbytes,
    "seconds": seconds,
    "int": integer,
    "text": text,
    "number": number,
    "rate": rate,
    "si": plain_si,
    "flag": flag,
    "pct": pct,
}


# ---- axes ------------------------------------------------------------------------------------------
# A chart's ticks are written like the tables' cells (SI prefixes, units, ms for latency), but all
# ticks of one axis share one precision, fine enough to tell neighbours apart, and never "-0".

_BIN = [(2**40, "T"), (2**30, "G"), (2**20, "M"), (2**10, "K")]


def nice_step(span: float, n: int = 5) -> float:
    """The 1-2-2.5-5 step that cuts ``span`` into the number of intervals closest to ``n``
    (on a tie, the larger step)."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, n)
    mag = 10.0 ** math.floor(math.log10(raw))
    steps = [m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0)]
    return min(reversed(steps), key=lambda step: abs(span / step - n))


def linear_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round values within [lo, hi], about ``n`` of them (-0.0 written as 0)."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo + 0.0]
    step = nice_step(hi - lo, n)
    start = math.ceil(lo / step - 1e-9)
    out = []
    k = start
    while k * step <= hi + step * 1e-9:
        v = round(k * step, 12)
        out.append(0.0 if v == 0 else v)
        k += 1
    return out


def log_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Powers of ten within [lo, hi] (lo > 0), with 2× and 5× between when there are few."""
    if lo <= 0 or hi <= 0:
        raise ValueError("a log axis needs positive values")
    if hi < lo:
        lo, hi = hi, lo
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    decades = [10.0**e for e in range(first, last + 1)]
    for mults in ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0)):
        vals = [d * m for d in decades for m in mults if lo * (1 - 1e-9) <= d * m <= hi * (1 + 1e-9)]
        if len(vals) >= min(n, 3):
            break
    return vals or [lo, hi]


def _decimals(step: float) -> int:
    """Decimals that tell ticks ``step`` apart (2.5 → 1, 0.02 → 2)."""
    if step <= 0 or not math.isfinite(step):
        return 0
    d = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step * 10**d, 6) % 1:  # 2.5, 0.25: one digit more
        d += 1
    return min(d, 12)


def _fixed(v: float, d: int) -> str:
    text = f"{v:.{d}f}"
    return "0" if float(text) == 0 else text


def tick_labels(values: list[float], kind: str, log: bool = False) -> list[str]:
    """The labels of one axis' ticks. ``kind``: 'percent' (values already in %), 'hours'
    (device-hours), 'flops', 'energy' (J), 'bytes', 'ms' (seconds written in ms, or s from 1 s),
    'number'. A log axis writes each tick on its own (3 significant digits)."""
    if not values:
        return []
    if log:
        return [_one_tick(v, kind) for v in values]
    step = min((abs(b - a) for a, b in zip(values, values[1:]) if b != a), default=abs(values[0]) or 1.0)
    big = max(abs(v) for v in values)
    if kind in ("flops", "energy", "si"):
        unit = "J" if kind == "energy" else ""
        # the prefix of the largest tick, or the one below when that would write it as "1.0k"
        scale, prefix = next(((s, p) for s, p in _SI if big >= 2 * s), (1.0, ""))
        if big < 1 and kind == "energy" and big >= 1e-3:
            scale, prefix = 1e-3, "m"
        d = _decimals(step / scale)
        return [f"{_fixed(v / scale, d)}{prefix}{unit}" if v else f"0{unit}" for v in values]
    if kind == "bytes":
        scale, prefix = next(((s, p) for s, p in _BIN if big >= s), (1.0, "B"))
        d = _decimals(step / scale) if scale > 1 else 0
        return [f"{_fixed(v / scale, d)}{prefix}" if v else "0" for v in values]
    if kind == "ms":
        if big >= 1:
            d = _decimals(step)
            return [f"{_fixed(v, d)}s" if v else "0" for v in values]
        d = _decimals(step * 1000)
        return [f"{_fixed(v * 1000, d)}ms" if v else "0" for v in values]
    if kind == "hours" and big < 1e-4:
        return [f"{v:.1e}" if v else "0" for v in values]
    return [_fixed(v, _decimals(step)) for v in values]


def _one_tick(v: float, kind: str) -> str:
    if kind in ("flops", "si"):
        return si(v)
    if kind == "energy":
        return si(v, "J") if v >= 1e-3 else f"{v:.1e}J"
    if kind == "bytes":
        return nbytes(v)
    if kind == "ms":
        return f"{v * 1000:.3g}ms" if v < 1 else f"{v:.3g}s"
    if kind == "percent":
        return f"{v:.3g}"
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.1e}"


def axis_ticks(lo: float, hi: float, kind: str, n: int = 5, log: bool = False) -> tuple[list[float], list[str]]:
    """(tick values, their labels) for an axis over [lo, hi] (see ``tick_labels``). Memory
    ticks fall on round binary figures (1G = 2**30 B), the others on round decimal ones."""
    if log:
        values = log_ticks(lo, hi, n)
        return values, tick_labels(values, kind, log=True)
    if kind == "bytes":
        big = max(abs(lo), abs(hi))
        scale = next((s for s, _ in _BIN if big >= s), 1.0)
        values = [v * scale for v in linear_ticks(lo / scale, hi / scale, n)]
    else:
        values = linear_ticks(lo, hi, n)
    return values, tick_labels(values, kind)
