"""The figures of writing style: word rank-frequency (Zipf), sentence lengths, distinct n-grams,
and every style metric against the swept sampling setting.

The Zipf and sentence-length figures draw distributions, which have no interval; the one number
each summarises them by (the Zipf exponent s, the mean sentence length) is given in the legend
with its interval. Distinct-n bars carry error bars, the sweep panels a band per backend."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from genlab.eval.plots.intervals import (BAR_ERROR_COLOUR, band_across, band_along, bracket_note, error_bars,
                                         interval_note, with_interval)
from genlab.eval.plots.look import (HORIZONTAL, HUMAN_COLOUR, HUMAN_LABEL, LABEL_SIZE, NOTE_SIZE, TICK_SIZE, Look,
                                    axes_legend, axes_title, dress, figure_legend, figure_title, new_figure)
from genlab.eval.plots.reading import (HUMAN, bounds, number, section_rows, section_series,
                                       style_at_base, swept_setting)


# -- 3. Zipf -----------------------------------------------------------------------------------


def plot_zipf(metrics: Mapping[str, Any]) -> Figure | None:
    """Word rank-frequency on log-log axes, one line per backend and the human text, with a grey
    guide of Zipf's law (slope -1) through the top count. The legend gives each one's fitted
    Zipf exponent s at the base setting (from "style"), with its interval when there is one."""
    series = {n: [v for v in vs if v > 0] for n, vs in section_series(metrics, "rank_frequency").items()}
    series = {n: vs for n, vs in series.items() if vs}
    if not series:
        return None
    look = Look(metrics)
    rows, _ = style_at_base(metrics)
    fig = new_figure()
    ax = fig.add_subplot()
    shown = False
    for name in look.sort(series):
        counts = series[name]
        human = name == HUMAN
        label = look.label(name)
        exponent = number(rows.get(name, {}).get("zipf"))
        if exponent is not None:
            interval = bounds(rows[name], "zipf")
            shown |= interval is not None
            label = f"{label} (s = {with_interval(exponent, interval, 2)})"
        ax.loglog(range(1, len(counts) + 1), counts, color=look.colour(name), label=label,
                  linewidth=2.2 if human else 1.6, zorder=3 if human else 2)
    top = max(vs[0] for vs in series.values())
    longest = max(len(vs) for vs in series.values())
    if longest > 1:
        ax.loglog([1, longest], [top, top / longest], color="#999999", linestyle=":", linewidth=1.4,
                  label="Zipf's law (slope −1)", zorder=1)
    dress(ax, axes_title(fig, "Word rank-frequency (Zipf plot)", metrics),
           "word rank (1 = most frequent, log scale)", "occurrences of the word (count, log scale)")
    axes_legend(ax, loc="lower left", title=bracket_note(metrics, "s: Zipf exponent") if shown else None)
    return fig


# -- 4. sentence lengths -----------------------------------------------------------------------


def plot_sentence_lengths(metrics: Mapping[str, Any]) -> Figure | None:
    """Distributions of words per sentence: overlaid step histograms (share of sentences) for up
    to four series, horizontal box plots beyond that (steps would tangle). The histogram x axis
    stops at the 99th percentile of all sentences; longer ones count in the last bin."""
    series = {n: [v for v in vs if v > 0] for n, vs in section_series(metrics, "sentence_lengths").items()}
    series = {n: vs for n, vs in series.items() if vs}
    if not series:
        return None
    look = Look(metrics)
    names = look.sort(series)
    rows, _ = style_at_base(metrics)
    # the mean with its interval from "style" (the same sentences), else worked out here
    means = {n: (sum(series[n]) / len(series[n]), None) for n in names}
    for name in names:
        value = number(rows.get(name, {}).get("sentence_length_mean"))
        interval = bounds(rows.get(name, {}), "sentence_length_mean")
        if value is not None and interval is not None:
            means[name] = (value, interval)
    note = bracket_note(metrics, "mean") if any(b for _, b in means.values()) else None
    title = "Sentence length"
    xlabel = "sentence length (words per sentence)"

    def label(name: str) -> str:
        vs = series[name]
        return f"{look.label(name)} (mean {with_interval(*means[name], 1)}, n={len(vs):,})"

    if len(names) > 4:
        fig = new_figure((7.0, max(3.2, 1.6 + 0.45 * len(names))))
        ax = fig.add_subplot()
        ordered = names[::-1]  # first backend on top
        box = ax.boxplot([series[n] for n in ordered], **HORIZONTAL, patch_artist=True,
                         widths=0.6, showfliers=True, flierprops={"markersize": 3, "alpha": 0.4},
                         medianprops={"color": "white", "linewidth": 1.6})
        for patch, name in zip(box["boxes"], ordered):
            patch.set_facecolor(look.colour(name))
            patch.set_edgecolor(look.colour(name))
        ax.set_yticks(range(1, len(ordered) + 1), [look.label(n) for n in ordered])
        dress(ax, axes_title(fig, title, metrics), xlabel, None)
        ax.grid(False, axis="y")
        figure_legend(fig, [Patch(facecolor=look.colour(n)) for n in names], [label(n) for n in names], title=note)
        return fig

    everything = sorted(v for vs in series.values() for v in vs)
    cap = max(everything[min(len(everything) - 1, int(0.99 * len(everything)))], 2.0)
    width = max(1.0, math.ceil(cap / 30))
    edges = [0.5 + i * width for i in range(math.ceil(cap / width) + 1)]
    fig = new_figure()
    ax = fig.add_subplot()
    for name in names:
        vs = [min(v, edges[-1] - 0.5 * width) for v in series[name]]  # overflow into the last bin
        human = name == HUMAN
        ax.hist(vs, bins=edges, histtype="step", weights=[1 / len(vs)] * len(vs), color=look.colour(name),
                linewidth=2.2 if human else 1.6, label=label(name), zorder=3 if human else 2)
    ax.set_xlim(0, edges[-1])
    ax.set_ylim(bottom=0)
    dress(ax, axes_title(fig, title, metrics), f"{xlabel}; last bin: ≥ {edges[-2] + 0.5:g}",
           f"share of sentences (per {width:g}-word bin)")
    figure_legend(fig, title=note)  # below: the overflow bin can rise anywhere on the right
    return fig


# -- 5. distinct-n -----------------------------------------------------------------------------


def plot_distinct_n(metrics: Mapping[str, Any]) -> Figure | None:
    """Grouped bars: distinct-1/2/3 of each backend and the human text at the base temperature,
    each with its interval as an error bar."""
    rows, note = style_at_base(metrics)
    keys = [f"distinct_{n}" for n in (1, 2, 3)]
    values = {n: [number(r.get(k)) for k in keys] for n, r in rows.items()}
    values = {n: vs for n, vs in values.items() if any(v is not None for v in vs)}
    if not values:
        return None
    look = Look(metrics)
    names = look.sort(values)
    fig = new_figure()
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    shown = False
    top = 0.0
    for i, name in enumerate(names):
        xs = [g + (i - (len(names) - 1) / 2) * width for g in range(len(keys))]
        heights = [v if v is not None else 0.0 for v in values[name]]
        intervals = [bounds(rows[name], k) if v is not None else None for k, v in zip(keys, values[name])]
        ax.bar(xs, heights, width=width * 0.92, color=look.colour(name), label=look.label(name))
        shown |= error_bars(ax, xs, intervals, BAR_ERROR_COLOUR)
        ends = [max(h, b[1] if b else h) for h, b in zip(heights, intervals)]
        top = max(top, *ends)
        if len(names) <= 4:
            for x, end, v in zip(xs, ends, values[name]):
                ax.annotate(f"{v:.2f}" if v is not None else "n/a", xy=(x, end), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=NOTE_SIZE)
    ax.set_xticks(range(len(keys)), ["distinct-1\n(words)", "distinct-2\n(word pairs)", "distinct-3\n(word triples)"])
    ax.set_ylim(0, max(1.0, top) * 1.08)
    dress(ax, axes_title(fig, f"Distinct n-grams at {note}", metrics), None,
           "distinct n-grams / all n-grams (share)")
    ax.grid(False, axis="x")
    figure_legend(fig, title=interval_note(metrics, "error bars") if shown else None)
    return fig


# -- 6. metrics vs temperature -----------------------------------------------------------------

# metric -> (panel title, y-axis label with unit)
SWEEP_METRICS: dict[str, tuple[str, str]] = {
    "distinct_2": ("distinct-2", "distinct / all word pairs"),
    "self_bleu_4": ("self-BLEU-4 (lower: more varied)", "BLEU score (0–1)"),
    "repetition_rate": ("repetition rate", "share of samples in a loop"),
    "novel_4gram_share": ("novel 4-grams", "share not in training text"),
    "longest_copy_mean": ("longest copied run", "words (mean per sample)"),
    "zipf": ("Zipf coefficient", "exponent s (slope)"),
    "sentence_length_mean": ("sentence length", "words (mean)"),
    "mattr": ("MATTR (type/token ratio)", "ratio (50-word window)"),
}


def _sweep(metrics: Mapping[str, Any], key: str) -> dict[str, dict[float, Mapping[str, Any]]]:
    """{backend: {value of setting `key`: style row}} for the non-human rows with that setting."""
    out: dict[str, dict[float, Mapping[str, Any]]] = {}
    for row in section_rows(metrics, "style"):
        name, t = row.get("backend"), number(row.get(key))
        if isinstance(name, str) and name != HUMAN and t is not None:
            out.setdefault(name, {}).setdefault(t, row)
    return out


def plot_metrics_vs_temperature(metrics: Mapping[str, Any]) -> Figure | None:
    """A grid of small panels, one per style metric present, metric vs temperature (one line per
    backend, each its own marker, with a band for its interval), the human value a dotted black
    line with its band. None unless some backend has more than one
    temperature. A run sweeping another setting (run.sweep = {"top_k": [...]}) is drawn against
    that setting instead (same file name)."""
    key = swept_setting(metrics)
    sweep = _sweep(metrics, key)
    if not any(len(temps) > 1 for temps in sweep.values()):
        return None
    human = next((r for r in section_rows(metrics, "style") if r.get("backend") == HUMAN), {})
    present = [m for m in SWEEP_METRICS
               if any(number(r.get(m)) is not None for temps in sweep.values() for r in temps.values())]
    if not present:
        return None
    look = Look(metrics)
    names = look.sort(sweep)
    cols = min(4, len(present)) if len(present) != 4 else 2
    rows = math.ceil(len(present) / cols)
    fig = new_figure((3.1 * cols + 0.4, 2.7 * rows + 1.0))
    axes = fig.subplots(rows, cols, squeeze=False)
    xlabel = "temperature" if key == "temperature" else f"{key} (sampling setting)"
    shown = False
    for i, metric in enumerate(present):
        ax = axes[i // cols][i % cols]
        title, unit = SWEEP_METRICS[metric]
        for name in names:
            pts = sorted((t, number(r.get(metric)), bounds(r, metric)) for t, r in sweep[name].items())
            pts = [(t, v, b) for t, v, b in pts if v is not None]
            if pts:
                ax.plot([t for t, _, _ in pts], [v for _, v, _ in pts], **look.series_style(name), linewidth=1.6,
                        label=look.label(name), zorder=3)
                shown |= band_along(ax, [t for t, _, _ in pts], [b for _, _, b in pts], look.colour(name))
        value = number(human.get(metric))
        if value is not None:
            interval = bounds(human, metric)
            ax.axhline(value, color=HUMAN_COLOUR, linestyle=look.dashes(HUMAN), linewidth=1.6, label=HUMAN_LABEL)
            shown |= band_across(ax, interval, HUMAN_COLOUR)
            low, high = interval or (value, value)
            lo, hi = ax.get_ylim()  # keep the human line off the frame when it is the extreme value
            pad = 0.06 * ((max(hi, high) - min(lo, low)) or abs(value) or 1.0)
            ax.set_ylim(min(lo, low - pad), max(hi, high + pad))
        dress(ax, None, xlabel if i + cols >= len(present) else None, unit)
        ax.set_title(title, fontsize=LABEL_SIZE)
        ax.yaxis.label.set_size(TICK_SIZE)
        ax.xaxis.label.set_size(TICK_SIZE)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    for j in range(len(present), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    figure_legend(fig, title=interval_note(metrics) if shown else None)
    what = "sampling temperature" if key == "temperature" else key
    figure_title(fig, f"Style metrics vs {what}", metrics)
    return fig
