"""The figures that score the backends against Markov chains: bits per byte on the eval text,
bits per byte by Markov order, and the longest run copied from the training text by order,
each LLM a dashed horizontal line in its colour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from genlab.eval.plots.look import (HUMAN_COLOUR, HUMAN_LABEL, NOTE_SIZE, Look, dress, figure_legend, is_markov,
                                    new_figure, short_number)
from genlab.eval.plots.reading import HUMAN, number, run_name, section_rows, style_at_base


# -- 1. bits per byte --------------------------------------------------------------------------


def plot_bits_per_byte(metrics: Mapping[str, Any]) -> Figure | None:
    """Horizontal bars: bits per byte of each backend on the eval text (from "perplexity")."""
    look = Look(metrics)
    values: dict[str, float] = {}
    for row in section_rows(metrics, "perplexity"):
        name, bpb = row.get("backend"), number(row.get("bits_per_byte"))
        if isinstance(name, str) and bpb is not None and name not in values:
            values[name] = bpb
    if not values:
        return None
    names = look.sort(values)
    fig = new_figure((7.0, max(2.6, 1.6 + 0.5 * len(names))))
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]  # first backend on top
    for y, name in zip(ys, names):
        bars = ax.barh(y, values[name], height=0.6, color=look.colour(name), label=look.label(name))
        ax.bar_label(bars, labels=[f"{values[name]:.3f}"], padding=4, fontsize=NOTE_SIZE)
    ax.set_yticks(ys, [look.label(n) for n in names])
    ax.set_xlim(0, max(values.values()) * 1.15 or 1)
    dress(ax, f"Bits per byte on the eval text (lower is better){run_name(metrics)}",
           "bits per byte (bits/byte, lower is better)", None)
    ax.grid(False, axis="y")
    figure_legend(fig)  # below the axes: inside, it would cover a bar or its value label
    return fig


# -- 2. perplexity vs order --------------------------------------------------------------------


def by_order(metrics: Mapping[str, Any], key: str) -> tuple[list[float], list[float]]:
    points = {}
    for row in section_rows(metrics, "orders"):
        order, value = number(row.get("order")), number(row.get(key))
        if order is not None and value is not None:
            points.setdefault(order, value)
    xs = sorted(points)
    return xs, [points[x] for x in xs]


def order_axis(ax: Axes, xs: Sequence[float]) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)


def plot_perplexity_vs_order(metrics: Mapping[str, Any]) -> Figure | None:
    """Bits per byte of Markov chains of order 1..n (from "orders"), each non-Markov backend of
    "perplexity" a dashed horizontal line in its colour."""
    xs, ys = by_order(metrics, "bits_per_byte")
    if not xs:
        return None
    look = Look(metrics)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(xs, ys, marker="o", linewidth=2, markersize=6, color=look.markov_colour(),
            label="Markov chain, by order")
    seen = set()
    for row in section_rows(metrics, "perplexity"):
        name, bpb = row.get("backend"), number(row.get("bits_per_byte"))
        if not isinstance(name, str) or is_markov(name) or name == HUMAN or bpb is None or name in seen:
            continue
        seen.add(name)
        ax.axhline(bpb, linestyle="--", linewidth=1.8, color=look.colour(name),
                   label=f"{look.label(name)} ({bpb:.3f})")
    order_axis(ax, xs)
    dress(ax, f"Bits per byte vs Markov order (lower is better){run_name(metrics)}",
           "Markov chain order (tokens of context)", "bits per byte on eval text (bits/byte)")
    figure_legend(fig)  # below: an LLM line may cross any part of the axes
    return fig

# -- 7. longest copy vs order ------------------------------------------------------------------


def plot_copy_vs_order(metrics: Mapping[str, Any]) -> Figure | None:
    """Mean longest copied run (words found verbatim in the training text) of Markov chains of
    order 1..n (from "orders"); each LLM's value at the base temperature (from "style") a dashed
    line in its colour, the human reference a dotted line. Log y axis when the values span more
    than a factor of 30."""
    xs, ys = by_order(metrics, "longest_copy_mean")
    if not xs:
        return None
    look = Look(metrics)
    rows, note = style_at_base(metrics)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(xs, ys, marker="o", linewidth=2, markersize=6, color=look.markov_colour(),
            label="Markov chain, by order")
    lines = []
    for name in look.sort(rows):
        value = number(rows[name].get("longest_copy_mean"))
        if value is None or is_markov(name):
            continue
        lines.append(value)
        if name == HUMAN:
            ax.axhline(value, color=HUMAN_COLOUR, linestyle=":", linewidth=1.8,
                       label=f"{HUMAN_LABEL} ({short_number(value)})")
        else:
            ax.axhline(value, color=look.colour(name), linestyle="--", linewidth=1.8,
                       label=f"{look.label(name)} ({short_number(value)})")
    positive = [v for v in ys + lines if v > 0]
    if positive and max(positive) / min(positive) > 30 and min(ys + lines) > 0:
        ax.set_yscale("log")
        ylabel = "longest copied run (mean, words, log scale)"
    else:
        ax.set_ylim(bottom=0)
        ylabel = "longest copied run (mean, words)"
    order_axis(ax, xs)
    title = "Longest run copied from the training text"
    dress(ax, f"{title}{run_name(metrics)}",
           f"Markov chain order (tokens of context); LLM lines at {note}", ylabel)
    figure_legend(fig)  # below: the horizontal lines may sit at any height
    return fig
