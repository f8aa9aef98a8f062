"""Drawing how far a number could move: a metric's bootstrap interval as error bars at points
and bars, as a band along a line, or as a band around a horizontal reference line.

Each helper draws the interval itself, from its low to its high bound, whatever the point
estimate (a percentile interval need not be centred on it, and need not even hold it). A
missing interval (None) draws nothing, so a metrics.json from before intervals draws as it did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes

from genlab.eval.plots.reading import interval_level

Bounds = tuple[float, float] | None

BAND_ALPHA = 0.15
BAR_ERROR_COLOUR = "#222222"  # on a filled bar the bar's own colour would vanish


def error_bars(ax: Axes, positions: Sequence[float], intervals: Sequence[Bounds], colour: str, *,
               horizontal: bool = False, zorder: float = 4) -> bool:
    """Capped bars from each interval's low to its high bound at `positions` (x, or y when
    `horizontal`); False when no interval was there to draw."""
    pairs = [(p, b) for p, b in zip(positions, intervals) if b is not None]
    if not pairs:
        return False
    at = [p for p, _ in pairs]
    middles = [(lo + hi) / 2 for _, (lo, hi) in pairs]
    halves = [(hi - lo) / 2 for _, (lo, hi) in pairs]
    style: dict[str, Any] = {"fmt": "none", "ecolor": colour, "elinewidth": 1.3, "capsize": 3.5,
                             "capthick": 1.3, "zorder": zorder, "label": "_nolegend_"}
    if horizontal:
        ax.errorbar(middles, at, xerr=halves, **style)
    else:
        ax.errorbar(at, middles, yerr=halves, **style)
    return True


def band_along(ax: Axes, xs: Sequence[float], intervals: Sequence[Bounds], colour: str) -> bool:
    """A translucent band between the bounds along a series; a point whose neighbours have no
    interval (nothing to join) gets an error bar instead. False when nothing was drawn."""
    runs: list[list[tuple[float, tuple[float, float]]]] = [[]]
    for x, b in zip(xs, intervals):
        if b is None:
            runs.append([])
        else:
            runs[-1].append((x, b))
    drawn = False
    for run in runs:
        if len(run) == 1:
            drawn |= error_bars(ax, [run[0][0]], [run[0][1]], colour)
        elif run:
            ax.fill_between([x for x, _ in run], [lo for _, (lo, _) in run], [hi for _, (_, hi) in run],
                            color=colour, alpha=BAND_ALPHA, linewidth=0, zorder=1, label="_nolegend_")
            drawn = True
    return drawn


def band_across(ax: Axes, interval: Bounds, colour: str) -> bool:
    """A translucent band the width of the axes around a horizontal reference line."""
    if interval is None:
        return False
    ax.axhspan(interval[0], interval[1], color=colour, alpha=BAND_ALPHA, linewidth=0, zorder=1,
               label="_nolegend_")
    return True


def with_interval(value: float, interval: Bounds, digits: int) -> str:
    """"2.310 [2.24–2.37]" for a label, as report.md writes it (the bounds as precise as their
    spread warrants, the value one digit more); the value alone at `digits` decimals without."""
    # findings reads metrics through plots.reading, so it is imported here, not above
    from genlab.eval.findings import places, span

    if interval is None:
        return f"{value:.{digits}f}"
    return f"{value:.{min(digits, places(interval, digits) + 1)}f} {span(interval, digits)}"


def interval_note(metrics: Mapping[str, Any], what: str = "bars and bands") -> str:
    """What the drawn intervals are, for a legend title: "bars and bands: 95% bootstrap intervals"."""
    return f"{what}: {interval_level(metrics) * 100:g}% bootstrap intervals"


def bracket_note(metrics: Mapping[str, Any], what: str) -> str:
    """What the bracketed numbers of a legend are: "mean [95% bootstrap interval]"."""
    return f"{what} [{interval_level(metrics) * 100:g}% bootstrap interval]"
