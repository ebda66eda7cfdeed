"""Terminal charts (textual-plotext), imported only by the screens that draw them."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

# Compare draws configuration families with the markers and colours of present.FAMILY_STYLES.


class Chart(PlotextPlot):
    """A PlotextPlot that is redrawn from series with one call: ``show(title, series, ...)``.

    ``series``: (label, xs, ys, color, yside) tuples; an empty list shows ``empty`` as the title.
    """

    def show(
        self,
        title: str,
        series: Sequence[tuple[str, Sequence[float], Sequence[float], str, str]],
        *,
        xlabel: str = "",
        ylabel: str = "",
        empty: str = "no data yet",
    ) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn = False
        for label, xs, ys, color, yside in series:
            pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
            if not pts:
                continue
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label, color=color, yside=yside, marker="braille")
            drawn = True
        plt.title(title if drawn else f"{title}: {empty}")
        if xlabel:
            plt.xlabel(xlabel)
        if ylabel:
            plt.ylabel(ylabel)
        self.refresh()
