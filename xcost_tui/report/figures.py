"""The report's figures, drawn with matplotlib (imported here only: the CLI and the app never pay for it).

Each function returns a ``Figure`` or None (nothing to draw, said by the caller). No pyplot: a
bare ``matplotlib.figure.Figure`` saves to SVG and PDF without a GUI backend or global state.
Each configuration family has one marker and one colour in every figure.
"""

from __future__ import annotations

import math
from typing import Any

from .. import XCOPA_LANGS
from ..verdict.api import Estimate
from .data import ReportData

# Colour-blind-safe (Okabe–Ito) colours and distinct markers per configuration family.
FAMILY_STYLE: dict[str, tuple[str, str]] = {
    "direct": ("o", "#0072B2"),
    "intermediate": ("s", "#E69F00"),
    "few-shot": ("^", "#009E73"),
    "intermediate+few-shot": ("D", "#CC79A7"),
    "icl": ("P", "#D55E00"),
    "translate-test": ("X", "#56B4E9"),
}
OTHER_STYLE = ("v", "#777777")
FRONTIER_COLOUR = "#000000"
# Within one family, configurations of a figure are told apart by their line style.
LINESTYLES = ("-", "--", ":", "-.")

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "svg.fonttype": "path",
    "svg.hashsalt": "xcost-tui",
    "pdf.fonttype": 42,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def _legend_below(ax: Any) -> None:
    """The legend under the axes, in as many columns as its labels' length allows."""
    labels = ax.get_legend_handles_labels()[1]
    longest = max((len(x) for x in labels), default=0)
    ncol = 1 if longest > 60 else 2 if longest > 28 else 3
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=ncol, frameon=False)


def style(family: str) -> tuple[str, str]:
    return FAMILY_STYLE.get(family, OTHER_STYLE)


def _figure(width: float = 7.0, height: float = 4.2) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _plain_formatter() -> Any:
    """Device-hours as plain numbers (0.003, 0.0035, 12): an SI prefix would read "3 m" (metres? minutes?)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: f"{x:.3g}")


def _percent(ax: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))


def clean_log_ticks(axis: Any, values: list[float] | None = None) -> None:
    """A log axis whose tick labels cannot overlap: matplotlib's default also labels minor ticks
    (2x10^-1, 3x10^-1, ...) when the axis spans a decade or two, and those labels collide. Over
    two decades or more (or when ``values`` are not given): powers of ten only, at most 9 labels.
    Over less, where one power of ten may be all the axis holds: 1, 2 and 5 times each, written
    plainly (0.2, 0.5, 1, 2, 5). Minor ticks stay, unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, NullFormatter

    pos = [x for x in values or [] if x > 0]
    short = len(pos) >= 2 and math.log10(max(pos) / min(pos)) < 2
    if short:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
        axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.3g}"))
    else:
        axis.set_major_locator(LogLocator(base=10, numticks=9))
        axis.set_major_formatter(LogFormatterSciNotation(base=10))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
    axis.set_minor_formatter(NullFormatter())


def _log_if_spread(ax: Any, values: list[float], axis: str = "x") -> bool:
    pos = [x for x in values if x > 0]
    if len(pos) >= 2 and max(pos) / min(pos) > 20:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        clean_log_ticks(ax.xaxis if axis == "x" else ax.yaxis, pos)
        return True
    return False


def _cost_axis(ax: Any, values: list[float], label: str) -> None:
    """A cost x axis: log scale when the costs spread over more than 20×, SI prefixes otherwise."""
    log = _log_if_spread(ax, values)
    ax.set_xlabel(f"{label}{' (log scale)' if log else ''}")
    if not log:
        ax.xaxis.set_major_formatter(_plain_formatter())


def _cost_label(d: ReportData) -> str:
    if d.cost_key.startswith("amortised"):
        return (
            f"training {d.hours_word}, full pipeline, intermediate phase amortised over "
            f"{d.verdict.amortise_n:g} target tasks"
        )
    return f"training {d.hours_word}, full pipeline (reused intermediate phase included)"


def _common_estimate(avg: Any, mean: float, differs: bool) -> Any:
    """The point at the common-language mean, with the average's interval only where the two are
    the same mean (the configuration evaluated exactly the common languages)."""
    if differs or avg.value is None:
        return Estimate(mean, None, None)
    return Estimate(mean, avg.low, avg.high)


def frontier(d: ReportData) -> Any | None:
    """Accuracy over the common languages (d.common) against training cost, one point per
    configuration, the frontier of configurations drawn through the ones nothing beats on both.
    The average's 95% interval is drawn where the configuration evaluated exactly the common
    languages (there it is the same mean); a † configuration has no interval for this mean."""
    configs = d.verdict.configurations
    raw = [(cid, configs[cid].costs.get(d.cost_key), d.common.means.get(cid)) for cid in d.shown]
    pts = [
        (cid, x, _common_estimate(configs[cid].avg, y, d.common.differs(cid)))
        for cid, x, y in raw
        if x is not None and y is not None
    ]
    if not pts:
        return None
    fig = _figure(7.0, 4.6)
    ax = fig.add_subplot()
    families: dict[str, list[tuple[float, Any]]] = {}
    for cid, x, est in pts:
        families.setdefault(configs[cid].family, []).append((x, est))
    for fam in sorted(families, key=lambda f: (list(FAMILY_STYLE).index(f) if f in FAMILY_STYLE else 99, f)):
        marker, colour = style(fam)
        xs = [x for x, _ in families[fam]]
        ys = [e.value for _, e in families[fam]]
        lo = [max(0.0, e.value - e.low) if e.low is not None else 0.0 for _, e in families[fam]]
        hi = [max(0.0, e.high - e.value) if e.high is not None else 0.0 for _, e in families[fam]]
        ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            fmt=marker,
            color=colour,
            ecolor=colour,
            elinewidth=1,
            capsize=2.5,
            markersize=6,
            markeredgecolor="white",
            markeredgewidth=0.5,
            label=f"{fam} ({len(xs)})",
            alpha=0.9,
        )
    front = [(configs[c].costs[d.cost_key], d.common.means[c]) for c in d.frontier]
    if len(front) >= 2:
        ax.step(
            [x for x, _ in front],
            [y for _, y in front],
            where="post",
            color=FRONTIER_COLOUR,
            linewidth=1.2,
            label="frontier of configurations",
            zorder=1,
        )
    elif front:
        ax.plot(
            [front[0][0]],
            [front[0][1]],
            marker="o",
            markersize=11,
            markerfacecolor="none",
            color=FRONTIER_COLOUR,
            linestyle="none",
            label="frontier of configurations",
        )
    if len(pts) <= 12:
        for cid, x, est in pts:
            ax.annotate(
                d.label(cid) + d.common.mark(cid), (x, est.value), textcoords="offset points", xytext=(5, 4), fontsize=7
            )
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":", label="chance (50%)")
    _cost_axis(ax, [x for _, x, _ in pts], _cost_label(d))
    ax.set_ylabel(f"XCOPA accuracy, {len(d.common.langs)} common languages")
    _percent(ax)
    ax.set_title("Cost–accuracy frontier of configurations")
    _legend_below(ax)
    return fig


def languages(d: ReportData) -> Any | None:
    """Accuracy per language (95% intervals) of the figure's configurations, chance at 50%."""
    configs = d.verdict.configurations
    ids = [cid for cid in d.figure_configs if configs[cid].accuracy]
    langs = [lang for lang in ("en", *XCOPA_LANGS) if any(lang in configs[c].accuracy for c in ids)]
    if not ids or not langs:
        return None
    fig = _figure(min(10.0, max(6.0, 0.5 * len(langs) * max(1, len(ids)) ** 0.5 + 2)), 4.6)
    ax = fig.add_subplot()
    width = 0.8 / len(ids)
    seen: dict[str, int] = {}
    for i, cid in enumerate(ids):
        c = configs[cid]
        marker, colour = style(c.family)
        k = seen.get(c.family, 0)
        seen[c.family] = k + 1
        xs, ys, lo, hi = [], [], [], []
        for j, lang in enumerate(langs):
            est = c.accuracy.get(lang)
            if est is None or est.value is None:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(est.value)
            lo.append(max(0.0, est.value - est.low) if est.low is not None else 0.0)
            hi.append(max(0.0, est.high - est.value) if est.high is not None else 0.0)
        bars = ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            fmt=marker,
            color=colour,
            ecolor=colour,
            elinewidth=1,
            capsize=2,
            markersize=5,
            markerfacecolor=colour if k == 0 else "white",
            label=d.label(cid),
        )
        bars[-1][0].set_linestyle(LINESTYLES[k % len(LINESTYLES)])
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":", label="chance (50%)")
    if "en" in langs and len(langs) > 1:
        ax.axvline(0.5, color="#cccccc", linewidth=0.8)
    ax.set_xticks(range(len(langs)), [("en (COPA)" if lang == "en" else lang) for lang in langs])
    ax.set_xlim(-0.6, len(langs) - 0.4)
    ax.set_ylabel("accuracy (95% interval)")
    ax.set_xlabel("language (English: COPA validation; the others: XCOPA test)")
    _percent(ax)
    ax.set_title("Accuracy per language")
    _legend_below(ax)
    return fig


def curves(d: ReportData) -> Any | None:
    """Held-out accuracy against cumulative training cost (the full pipeline) during the target phase."""
    configs = d.verdict.configurations
    ids = [cid for cid in d.figure_configs if len(d.curves.get(cid, [])) >= 1]
    if not ids:
        return None
    fig = _figure(7.0, 4.4)
    ax = fig.add_subplot()
    seen: dict[str, int] = {}
    every: list[float] = []
    for cid in ids:
        c = configs[cid]
        marker, colour = style(c.family)
        k = seen.get(c.family, 0)
        seen[c.family] = k + 1
        xs = [x for x, _ in d.curves[cid]]
        every += xs
        spread = d.curve_spread.get(cid, [])
        if spread:  # the range over its runs (seeds, shot draws) at each point: a band
            ax.fill_between(
                [p.cost for p in spread],
                [p.lowest for p in spread],
                [p.highest for p in spread],
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
        ax.plot(
            xs,
            [y for _, y in d.curves[cid]],
            marker=marker,
            markersize=4,
            color=colour,
            linestyle=LINESTYLES[k % len(LINESTYLES)],
            linewidth=1.2,
            label=d.label(cid),
        )
    targets = {d.verdict.cost_to_reach[c][0] for c in ids if c in d.verdict.cost_to_reach}
    for t in sorted(x for x in targets if x is not None):
        ax.axhline(t, color="#666666", linewidth=0.7, linestyle="--")
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":", label="chance (50%)")
    _cost_axis(ax, every, f"cumulative training {d.hours_word} of the full pipeline (reused intermediate included)")
    ax.set_ylabel("held-out accuracy (XCOPA validation)")
    _percent(ax)
    title = "Learning curves: accuracy against training cost"
    if targets:
        title += "\n(dashed: the baselines' final accuracy; bands: lowest to highest run)"
    elif any(d.curve_spread.get(c) for c in ids):
        title += "\n(bands: lowest to highest run)"
    ax.set_title(title)
    _legend_below(ax)
    return fig


def break_even(d: ReportData, max_pairs: int = 4) -> Any | None:
    """Total device-hours (training + queries × per-query cost) against the number of queries
    served, for each comparison whose costs are measured; where the totals cross, N* is marked."""
    configs = d.verdict.configurations
    rows = [
        r
        for r in d.tables["break_even"].to_pylist()
        if r["measure"] == "device_hours" and None not in (r["train_a"], r["train_b"], r["query_a"], r["query_b"])
    ]
    if not rows:
        return None
    drawn_configs = set(d.figure_configs)
    rows.sort(key=lambda r: (r["config_id"] not in drawn_configs, r["verdict"] != "crosses", d.label(r["config_id"])))
    rows = rows[:max_pairs]
    crossings = [r["queries"] for r in rows if r["queries"]]
    top = max([1e6, *(10 * q for q in crossings)])
    top = 10 ** math.ceil(math.log10(top))
    import numpy as np

    n = np.logspace(0, math.log10(top), 200)
    fig = _figure(7.0, 4.4)
    ax = fig.add_subplot()
    drawn: set[str] = set()
    seen: dict[str, int] = {}
    solid = [ls for ls in LINESTYLES if ls != "--"]
    for r in rows:
        for cid, train, query, baseline in (
            (r["baseline_id"], r["train_b"], r["query_b"], True),
            (r["config_id"], r["train_a"], r["query_a"], False),
        ):
            if cid in drawn:
                continue
            drawn.add(cid)
            fam = configs[cid].family
            marker, colour = style(fam)
            k = seen.get(fam, 0)
            seen[fam] = k + 1
            ax.plot(
                n,
                train + n * query,
                color=colour,
                linestyle="--" if baseline else solid[k % len(solid)],
                linewidth=1.2,
                marker=marker,
                markevery=(10 * (k + 1), 40),
                markersize=4,
                label=d.label(cid) + (" (baseline)" if baseline else ""),
            )
        if r["queries"]:
            q = r["queries"]
            ax.plot([q], [r["train_a"] + q * r["query_a"]], marker="o", color="black", markersize=5)
            ax.annotate(
                f"N* = {q:,.0f}",
                (q, r["train_a"] + q * r["query_a"]),
                textcoords="offset points",
                xytext=(5, -10),
                fontsize=7,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    clean_log_ticks(ax.xaxis)
    clean_log_ticks(ax.yaxis)
    ax.set_xlabel("queries served (XCOPA items scored, log scale)")
    ax.set_ylabel(f"total {d.hours_word}: training + queries (log scale)")
    ax.set_title("Break-even: total cost against queries served")
    _legend_below(ax)
    return fig


FIGURES = {
    "frontier": (frontier, "Cost–accuracy frontier"),
    "languages": (languages, "Accuracy per language"),
    "curves": (curves, "Learning curves"),
    "break_even": (break_even, "Break-even"),
}


def render(d: ReportData) -> dict[str, tuple[Any | None, str]]:
    """name -> (figure or None, title); matplotlib's rc settings of the report applied."""
    import matplotlib

    out = {}
    with matplotlib.rc_context(RC):
        for name, (fn, title) in FIGURES.items():
            out[name] = (fn(d), title)
    return out


def save(fig: Any) -> dict[str, bytes]:
    """SVG and PDF bytes of a figure (no dates in the files: the same figure gives the same bytes)."""
    import io

    import matplotlib

    out = {}
    with matplotlib.rc_context(RC):
        for fmt, meta in (("svg", {"Date": None}), ("pdf", {"CreationDate": None, "ModDate": None})):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, metadata=meta)
            out[fmt] = buf.getvalue()
            fig.set_layout_engine("none")  # laid out once by the first save: the PDF keeps those positions
    return out
