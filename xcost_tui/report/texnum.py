"""One number format per column of ``table.tex``, chosen from the column's range, for siunitx's
``S`` columns (which align the numbers on their decimal marker).

A column whose values fit fixed notation with at most four decimals is written so (two
significant digits of its smallest value), scaled by a power of ten named in its header when its
numbers are large or tiny (training FLOPs 9.5 and 31 under "$10^{15}$"); a wider one is written in scientific notation
throughout (``1.2e-3``, which siunitx prints as 1.2 x 10^-3). Pure: no LaTeX is compiled here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_DECIMALS = 4  # fixed notation needs more than this to show the smallest value: scientific


@dataclass(frozen=True)
class NumberColumn:
    """How every value of one column is written: ``scale`` (a power of ten the header names, 0:
    none) and ``decimals`` in fixed notation, or scientific notation (``sci``)."""

    sci: bool
    scale: int
    decimals: int
    int_digits: int
    exp_digits: int = 1
    exp_negative: bool = False

    def cell(self, x: float | None) -> str:
        """The value as siunitx input; '{--}' (braced: text, not a number) when missing."""
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "{--}"
        if self.sci:
            if x == 0:
                return "0"
            e = math.floor(math.log10(abs(x)))
            m = round(x / 10**e, 1)
            if abs(m) >= 10:  # 9.96e-3 rounds to 10.0e-3: 1.0e-2
                m, e = m / 10, e + 1
            return f"{m:.1f}e{e}"
        return f"{x / 10**self.scale:.{self.decimals}f}"

    @property
    def table_format(self) -> str:
        """siunitx's ``table-format``: the widest number the column holds (reserves its space)."""
        if self.sci:
            return f"1.1e{'-' if self.exp_negative else ''}{self.exp_digits}"
        return f"{self.int_digits}.{self.decimals}"

    @property
    def header_scale(self) -> str:
        """'$10^{15}$' for a scaled column, '' otherwise."""
        return f"$10^{{{self.scale}}}$" if self.scale else ""


def column_format(values: list[float | None]) -> NumberColumn:
    """The one format for a column holding ``values`` (None: missing; zero: written as 0)."""
    pos = [abs(x) for x in values if x is not None and not (isinstance(x, float) and math.isnan(x)) and x != 0]
    if not pos:
        return NumberColumn(False, 0, 0, 1)
    lo, hi = min(pos), max(pos)
    top = math.floor(math.log10(hi))
    # device-hours 0.004 to 12 stay unscaled; FLOPs (1e15) are scaled to 1-999 under their power of ten
    scale = 0 if -3 <= top < 3 else 3 * math.floor(top / 3)
    # two significant digits of the smallest value, as decimals after scaling
    decimals = max(0, 1 - math.floor(math.log10(lo / 10**scale)))
    if decimals <= MAX_DECIMALS:
        int_digits = max(1, math.floor(math.log10(hi / 10**scale)) + 1)
        # 999.96 at one decimal rounds to 1000.0: one digit more
        if round(hi / 10**scale, decimals) >= 10**int_digits:
            int_digits += 1
        return NumberColumn(False, scale, decimals, int_digits)
    exps = [math.floor(math.log10(x)) for x in pos]
    return NumberColumn(
        True,
        0,
        1,
        1,
        exp_digits=max(len(str(abs(x))) for e in exps for x in (e, e + 1)),  # rounding may lift e by one
        exp_negative=any(e < 0 for e in exps),
    )
