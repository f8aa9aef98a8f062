"""The figures that score the backends against Markov chains: bits per byte on the eval text,
bits per byte by Markov order, and the longest run copied from the training text by order,
each LLM a horizontal line in its colour and dash pattern, labelled at its right end. Every
number with an interval in metrics.json is drawn with it: error bars on bars and points, a
band around each horizontal line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from genlab.eval.plots.intervals import (BAR_ERROR_COLOUR, Bounds, band_across, error_bars, interval_note,
                                         with_interval)
from genlab.eval.plots.labels import label_line_ends, short_label
from genlab.eval.plots.look import (NOTE_SIZE, Look, dress, figure_legend, figure_title, is_markov, new_figure,
                                    short_number)
from genlab.eval.plots.reading import HUMAN, bounds, number, section_rows, style_at_base

WITH_LINE_LABELS = (8.2, 4.5)  # room on the right for the labels at the lines' ends

# -- 1. bits per byte --------------------------------------------------------------------------


def plot_bits_per_byte(metrics: Mapping[str, Any]) -> Figure | None:
    """Horizontal bars: bits per byte of each backend on the eval text (from "perplexity"), with
    the interval over the eval text's paragraphs as an error bar."""
    look = Look(metrics)
    values: dict[str, tuple[float, Bounds]] = {}
    for row in section_rows(metrics, "perplexity"):
        name, bpb = row.get("backend"), number(row.get("bits_per_byte"))
        if isinstance(name, str) and bpb is not None and name not in values:
            values[name] = (bpb, bounds(row, "bits_per_byte"))
    if not values:
        return None
    names = look.sort(values)
    fig = new_figure((7.0, max(2.6, 1.6 + 0.5 * len(names))))
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]  # first backend on top
    shown = False
    for y, name in zip(ys, names):
        value, interval = values[name]
        ax.barh(y, value, height=0.6, color=look.colour(name), label=look.label(name))
        shown |= error_bars(ax, [y], [interval], BAR_ERROR_COLOUR, horizontal=True)
        ax.annotate(with_interval(value, interval, 3), xy=(max(value, interval[1] if interval else value), y),
                    xytext=(5, 0), textcoords="offset points", va="center", fontsize=NOTE_SIZE)
    ax.set_yticks(ys, [look.label(n) for n in names])
    right = max(max(v, b[1] if b else v) for v, b in values.values())
    ax.set_xlim(0, right * (1.5 if shown else 1.15) or 1)  # room for the value (and interval) labels
    figure_title(fig, "Bits per byte on the eval text (lower is better)", metrics)
    dress(ax, None,
           "bits per byte (bits/byte, lower is better)", None)
    ax.grid(False, axis="y")
    figure_legend(fig, title=interval_note(metrics, "error bars") if shown else None)  # inside, it would cover a bar
    return fig


# -- the by-order figures ----------------------------------------------------------------------


def by_order(metrics: Mapping[str, Any], key: str) -> tuple[list[float], list[float], list[Bounds]]:
    """(orders, values, intervals) of metric `key` of the Markov chains by order, orders ascending."""
    points: dict[float, tuple[float, Bounds]] = {}
    for row in section_rows(metrics, "orders"):
        order, value = number(row.get("order")), number(row.get(key))
        if order is not None and value is not None:
            points.setdefault(order, (value, bounds(row, key)))
    xs = sorted(points)
    return xs, [points[x][0] for x in xs], [points[x][1] for x in xs]


def order_series(ax: Axes, look: Look, xs: Sequence[float], ys: Sequence[float], intervals: Sequence[Bounds]) -> bool:
    """The Markov chains by order, with an error bar at each order that has an interval."""
    colour = look.markov_colour()
    ax.plot(xs, ys, marker="o", linewidth=2, markersize=6, color=colour, label="Markov chain, by order", zorder=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)
    return error_bars(ax, xs, intervals, colour)


Reference = tuple[str, float, Bounds]  # (backend or "human", value, interval)


def reference_lines(ax: Axes, look: Look, references: Sequence[Reference], digits: int) -> bool:
    """Each reference a horizontal line in its colour and dash pattern with a band for its
    interval; the legend gives value and interval."""
    shown = False
    for name, value, interval in references:
        colour = look.colour(name)
        ax.axhline(value, color=colour, linestyle=look.dashes(name), linewidth=1.8, zorder=2,
                   label=f"{look.label(name)} ({with_interval(value, interval, digits)})")
        shown |= band_across(ax, interval, colour)
    return shown


def label_references(ax: Axes, look: Look, references: Sequence[Reference]) -> None:
    label_line_ends(ax, [(value, f"{short_label(look.label(name))} {short_number(value)}", look.colour(name))
                         for name, value, _ in references])


# -- 2. perplexity vs order --------------------------------------------------------------------


def plot_perplexity_vs_order(metrics: Mapping[str, Any]) -> Figure | None:
    """Bits per byte of Markov chains of order 1..n (from "orders"), each non-Markov backend of
    "perplexity" a horizontal line in its colour and dash pattern."""
    xs, ys, intervals = by_order(metrics, "bits_per_byte")
    if not xs:
        return None
    look = Look(metrics)
    references: list[Reference] = []
    for row in section_rows(metrics, "perplexity"):
        name, bpb = row.get("backend"), number(row.get("bits_per_byte"))
        if isinstance(name, str) and not is_markov(name) and name != HUMAN and bpb is not None \
                and name not in {r[0] for r in references}:
            references.append((name, bpb, bounds(row, "bits_per_byte")))
    fig = new_figure(WITH_LINE_LABELS if references else None)
    ax = fig.add_subplot()
    shown = order_series(ax, look, xs, ys, intervals)
    shown |= reference_lines(ax, look, references, 3)
    figure_title(fig, "Bits per byte vs Markov order (lower is better)", metrics)
    dress(ax, None,
           "Markov chain order (tokens of context)", "bits per byte on eval text (bits/byte)")
    label_references(ax, look, references)
    figure_legend(fig, title=interval_note(metrics) if shown else None)  # an LLM line may cross any part of the axes
    return fig


# -- 7. longest copy vs order ------------------------------------------------------------------


def plot_copy_vs_order(metrics: Mapping[str, Any]) -> Figure | None:
    """Mean longest copied run (words found verbatim in the training text) of Markov chains of
    order 1..n (from "orders"); each LLM's value at the base temperature (from "style") a line in
    its colour and dash pattern, the human reference a dotted line. Log y axis when the values
    span more than a factor of 30."""
    xs, ys, intervals = by_order(metrics, "longest_copy_mean")
    if not xs:
        return None
    look = Look(metrics)
    rows, note = style_at_base(metrics)
    references: list[Reference] = []
    for name in look.sort(rows):
        value = number(rows[name].get("longest_copy_mean"))
        if value is not None and not is_markov(name):
            references.append((name, value, bounds(rows[name], "longest_copy_mean")))
    fig = new_figure(WITH_LINE_LABELS if references else None)
    ax = fig.add_subplot()
    shown = order_series(ax, look, xs, ys, intervals)
    shown |= reference_lines(ax, look, references, 2)
    values = ys + [value for _, value, _ in references]
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 30 and min(values) > 0:
        ax.set_yscale("log")
        ylabel = "longest copied run (mean, words, log scale)"
    else:
        ax.set_ylim(bottom=0)
        ylabel = "longest copied run (mean, words)"
    llm_lines = any(name != HUMAN for name, _, _ in references)
    figure_title(fig, "Longest run copied from the training text", metrics)
    dress(ax, None,
           "Markov chain order (tokens of context)" + (f"; LLM lines at {note}" if llm_lines else ""), ylabel)
    label_references(ax, look, references)
    figure_legend(fig, title=interval_note(metrics) if shown else None)  # the lines may sit at any height
    return fig
