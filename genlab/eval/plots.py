"""Plots of a saved comparison: pure functions from a run's `metrics.json` dict to figures.

Nothing here generates or scores text. `draw_all(metrics, out_dir)` redraws every plot from the
saved numbers alone (what `genlab plot RUN_DIR` does); each `plot_*` function returns a
matplotlib `Figure` (or None when its data is missing) for a notebook user to show or restyle.

The figures are built on `matplotlib.figure.Figure` directly, never through pyplot: no global
figure registry, no backend switch, nothing to close for other users of matplotlib. Files are
rendered with the Agg (PNG) and SVG canvases. Font sizes are set on the artists themselves, so a
user's style sheet cannot shrink them below 9 pt.

The metrics.json schema (every section may be missing or empty; the plots that need it are then
skipped, and numbers may be null or NaN, which are left out):

    {
      "run": {"name": "first", "seed": 1, "samples": 4,
              "sampling": {"temperature": 0.8, "top_k": 40, ...},
              "sweep": {"temperature": [0.5, 1.0, 1.5]} or null},
      "backends": ["markov:novel", "llama:models/novel-llm.gguf"],   # order fixes each colour
      "style": [                                                     # one row per backend and temperature
        {"backend": "markov:novel", "temperature": 0.8,
         "distinct_1": 0.41, "distinct_2": 0.8, "distinct_3": 0.93, "self_bleu_4": 0.2,
         "zipf": 1.05, "repetition_rate": 0.0, "sentence_length_mean": 14.2, "mattr": 0.7,
         "novel_4gram_share": 0.3, "longest_copy_mean": 9.5, "longest_copy_max": 30, ...},
        ...,
        {"backend": "human", "temperature": null, ...same keys...}],  # the human reference text
      "perplexity": [{"backend": "markov:novel", "bits_per_byte": 1.8, ...}, ...],
      "orders": [{"order": 1, "bits_per_byte": 2.25, "longest_copy_mean": 3.1,
                  "novel_4gram_share": 0.8}, ...],                   # Markov chains of order 1..6
      "rank_frequency": {"markov:novel": [120, 80, 44, ...], "human": [...]},  # word counts, descending
      "sentence_lengths": {"markov:novel": [12, 7, 30, ...], "human": [...]}   # words per sentence
    }

Colours: `backend_colours` gives every backend one colour (matplotlib's tab10 in the order of
"backends", its grey skipped) used by every plot; the human text is always near-black and
labelled "human text". A backend is "Markov" when its name starts with "markov:"; every other
backend (llama:, server:, an alias) is drawn as an LLM.

Plot files (each as .png and .svg), in `PLOTS` order:

    bits_per_byte            bits per byte on the eval text, one bar per backend
    perplexity_vs_order      bits per byte vs Markov order, each LLM a dashed horizontal line
    zipf                     word rank-frequency, log-log, every backend and the human text
    sentence_lengths         distributions of words per sentence
    distinct_n               distinct-1/2/3, grouped bars, at the run's base temperature
    metrics_vs_temperature   one small panel per style metric vs temperature (sweeps only; a
                             sweep of another setting, run.sweep = {"top_k": [...]}, is drawn
                             against that setting, and "base temperature" reads "base top_k")
    copy_vs_order            longest copied run vs Markov order, each LLM a dashed line
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from genlab.atomic import replacing

__all__ = [
    "FORMATS",
    "HUMAN",
    "HUMAN_COLOUR",
    "PLOTS",
    "backend_colours",
    "backend_labels",
    "base_setting",
    "draw_all",
    "plot_bits_per_byte",
    "plot_copy_vs_order",
    "plot_distinct_n",
    "plot_metrics_vs_temperature",
    "plot_perplexity_vs_order",
    "plot_sentence_lengths",
    "plot_zipf",
    "save_figure",
    "swept_setting",
]

HUMAN = "human"
HUMAN_LABEL = "human text"
HUMAN_COLOUR = "#222222"
FORMATS = ("png", "svg")

_FIGSIZE = (7.0, 4.5)  # inches; at 120 dpi a PNG of 840 x 540 pixels
_DPI = 120
_TITLE_SIZE = 12
_LABEL_SIZE = 10
_TICK_SIZE = 9
_LEGEND_SIZE = 9
_NOTE_SIZE = 9

# tab10 without its grey (index 7), which would read as the human text.
_PALETTE = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]
_EXTRA_COLOUR_MAPS = ("Dark2", "Set1")
# boxplot(orientation=...) arrived in matplotlib 3.10, which deprecates vert=.
_HORIZONTAL = ({"orientation": "horizontal"}
               if tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit()) >= (3, 10)
               else {"vert": False})  # beyond 9 backends (rare): still distinct, still fixed


# -- small helpers -----------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A finite float, or None for anything else (null, NaN, inf, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _rows(metrics: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The list-of-dict section `key` (rows without a backend/order name are kept; callers check)."""
    section = metrics.get(key) if isinstance(metrics, Mapping) else None
    if not isinstance(section, list):
        return []
    return [row for row in section if isinstance(row, Mapping)]


def _series(metrics: Mapping[str, Any], key: str) -> dict[str, list[float]]:
    """The {backend: [numbers]} section `key`, non-finite values dropped, empty series dropped."""
    section = metrics.get(key) if isinstance(metrics, Mapping) else None
    if not isinstance(section, Mapping):
        return {}
    out = {}
    for name, values in section.items():
        if isinstance(values, (list, tuple)):
            numbers = [v for v in map(_num, values) if v is not None]
            if numbers:
                out[str(name)] = numbers
    return out


def _is_markov(name: str) -> bool:
    return name.startswith("markov:")


def _backend_order(metrics: Mapping[str, Any]) -> list[str]:
    """Backends in colour order: "backends" first, then any other name the sections mention."""
    names: list[str] = []

    def add(name: Any) -> None:
        if isinstance(name, str) and name != HUMAN and name not in names:
            names.append(name)

    listed = metrics.get("backends") if isinstance(metrics, Mapping) else None
    for name in listed if isinstance(listed, list) else []:
        add(name)
    for key in ("perplexity", "style"):
        for row in _rows(metrics, key):
            add(row.get("backend"))
    for key in ("rank_frequency", "sentence_lengths"):
        for name in _series(metrics, key):
            add(name)
    return names


def backend_colours(backends: Iterable[str]) -> dict[str, str]:
    """One colour ("#rrggbb") per backend, by position in `backends`, plus "human" (near-black).

    The colour depends only on the backend's position, so every plot of one run agrees, and a
    redraw gives the same colours. A "human" entry in `backends` keeps the human colour and does
    not use up a palette slot.
    """
    palette = list(_PALETTE)
    for cmap in _EXTRA_COLOUR_MAPS:
        palette += matplotlib.colormaps[cmap].colors
    palette = [mcolors.to_hex(c) for c in palette]
    out: dict[str, str] = {}
    slot = 0
    for name in backends:
        if name == HUMAN or name in out:
            continue
        out[name] = palette[slot % len(palette)]
        slot += 1
    out[HUMAN] = HUMAN_COLOUR
    return out


def backend_labels(backends: Iterable[str]) -> dict[str, str]:
    """Display names: "human" -> "human text"; "llama:models/novel-llm.gguf" -> "llama:novel-llm.gguf"
    (the file name, unless two backends would then share a label, when the full name stays)."""
    names = [n for n in dict.fromkeys(backends) if n != HUMAN]

    def short(name: str) -> str:
        kind, sep, rest = name.partition(":")
        if sep and ("/" in rest or os.sep in rest):
            return f"{kind}:{Path(rest).name}"
        return name

    shorts = {n: short(n) for n in names}
    counts: dict[str, int] = {}
    for s in shorts.values():
        counts[s] = counts.get(s, 0) + 1
    out = {n: (s if counts[s] == 1 else n) for n, s in shorts.items()}
    out[HUMAN] = HUMAN_LABEL
    return out


class _Look:
    """Colours and labels of one metrics dict (one per plot call)."""

    def __init__(self, metrics: Mapping[str, Any]):
        self.order = _backend_order(metrics)
        self.colours = backend_colours(self.order)
        self.labels = backend_labels(self.order)

    def colour(self, name: str) -> str:
        return self.colours.get(name, HUMAN_COLOUR if name == HUMAN else "#7f7f7f")

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def sort(self, names: Iterable[str]) -> list[str]:
        """Backends in colour order, the human text last."""
        names = list(dict.fromkeys(names))
        rank = {n: i for i, n in enumerate(self.order)}
        return sorted(names, key=lambda n: (n == HUMAN, rank.get(n, len(rank))))

    def markov_colour(self) -> str:
        """The colour of the Markov-by-order series: the run's Markov backend's colour when it has
        exactly one, else a colour no backend uses."""
        markov = [n for n in self.order if _is_markov(n)]
        if len(markov) == 1:
            return self.colours[markov[0]]
        return backend_colours([*self.order, "\0order sweep"])["\0order sweep"]


def _figure(size: tuple[float, float] = _FIGSIZE) -> Figure:
    return Figure(figsize=size, dpi=_DPI, layout="constrained")


def _dress(ax: Axes, title: str | None, xlabel: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title, fontsize=_TITLE_SIZE)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=_LABEL_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=_LABEL_SIZE)
    ax.tick_params(labelsize=_TICK_SIZE)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.set_axisbelow(True)


def _legend(ax: Axes, **kwargs: Any) -> None:
    kwargs.setdefault("fontsize", _LEGEND_SIZE)
    kwargs.setdefault("framealpha", 0.9)
    legend = ax.legend(**kwargs)
    if legend.get_title().get_text():
        legend.get_title().set_fontsize(_LEGEND_SIZE)


def _figure_legend(fig: Figure, handles: Sequence[Any] | None = None,
                   labels: Sequence[str] | None = None) -> None:
    """A legend below the axes (never covering data), as many columns as fit the figure width."""
    if handles is None:
        handles, labels = [], []
        for ax in fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
    if not handles:
        return
    # about 9 px per character at 9 pt and 120 dpi, plus the handle and the gap
    per_row = int(fig.get_figwidth() * _DPI / 9)
    widest = max(len(label) for label in labels) + 7
    ncols = max(1, min(len(labels), per_row // widest))
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=_LEGEND_SIZE)


def _fmt(value: float) -> str:
    """A short number for labels: 3 significant digits."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _run(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    run = metrics.get("run") if isinstance(metrics, Mapping) else None
    return run if isinstance(run, Mapping) else {}


def _run_name(metrics: Mapping[str, Any]) -> str:
    name = _run(metrics).get("name")
    return f" — run {name}" if isinstance(name, str) and name else ""


def swept_setting(metrics: Mapping[str, Any]) -> str:
    """The sampling setting the style rows vary: the key of run.sweep (`genlab compare --sweep
    top_k=...` sweeps top_k), "temperature" when the run does not sweep."""
    sweep = _run(metrics).get("sweep")
    if isinstance(sweep, Mapping):
        for key in sweep:
            if isinstance(key, str) and key:
                return key
    return "temperature"


def base_setting(metrics: Mapping[str, Any]) -> tuple[str, float | None]:
    """(setting, value) the single-setting plots (distinct-n, LLM lines of copy_vs_order) use: the
    swept setting at run.sampling's value when some style row has it, else at the first value the
    style rows have (None without any)."""
    key = swept_setting(metrics)
    values = [v for v in (_num(r.get(key)) for r in _rows(metrics, "style") if r.get("backend") != HUMAN)
              if v is not None]
    sampling = _run(metrics).get("sampling")
    wanted = _num(sampling.get(key)) if isinstance(sampling, Mapping) else None
    if wanted is not None and any(math.isclose(v, wanted, abs_tol=1e-9) for v in values):
        return key, wanted
    return key, values[0] if values else wanted


def _style_at_base(metrics: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """({backend: style row} at the base setting, a note naming it). The human row is taken
    whatever its setting; a backend with no row at the base value falls back to its first row."""
    key, base = base_setting(metrics)
    chosen: dict[str, dict[str, Any]] = {}
    exact: set[str] = set()
    for row in _rows(metrics, "style"):
        name = row.get("backend")
        if not isinstance(name, str):
            continue
        v = _num(row.get(key))
        at_base = name == HUMAN or (v is not None and base is not None and math.isclose(v, base, abs_tol=1e-9))
        if at_base and name not in exact:
            chosen[name] = dict(row)
            exact.add(name)
        elif name not in chosen:
            chosen[name] = dict(row)
    return chosen, f"{key} {base:g}" if base is not None else f"base {key}"


# -- 1. bits per byte --------------------------------------------------------------------------


def plot_bits_per_byte(metrics: Mapping[str, Any]) -> Figure | None:
    """Horizontal bars: bits per byte of each backend on the eval text (from "perplexity")."""
    look = _Look(metrics)
    values: dict[str, float] = {}
    for row in _rows(metrics, "perplexity"):
        name, bpb = row.get("backend"), _num(row.get("bits_per_byte"))
        if isinstance(name, str) and bpb is not None and name not in values:
            values[name] = bpb
    if not values:
        return None
    names = look.sort(values)
    fig = _figure((7.0, max(2.6, 1.6 + 0.5 * len(names))))
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]  # first backend on top
    for y, name in zip(ys, names):
        bars = ax.barh(y, values[name], height=0.6, color=look.colour(name), label=look.label(name))
        ax.bar_label(bars, labels=[f"{values[name]:.3f}"], padding=4, fontsize=_NOTE_SIZE)
    ax.set_yticks(ys, [look.label(n) for n in names])
    ax.set_xlim(0, max(values.values()) * 1.15 or 1)
    _dress(ax, f"Bits per byte on the eval text (lower is better){_run_name(metrics)}",
           "bits per byte (bits/byte, lower is better)", None)
    ax.grid(False, axis="y")
    _figure_legend(fig)  # below the axes: inside, it would cover a bar or its value label
    return fig


# -- 2. perplexity vs order --------------------------------------------------------------------


def _by_order(metrics: Mapping[str, Any], key: str) -> tuple[list[float], list[float]]:
    points = {}
    for row in _rows(metrics, "orders"):
        order, value = _num(row.get("order")), _num(row.get(key))
        if order is not None and value is not None:
            points.setdefault(order, value)
    xs = sorted(points)
    return xs, [points[x] for x in xs]


def _order_axis(ax: Axes, xs: Sequence[float]) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)


def plot_perplexity_vs_order(metrics: Mapping[str, Any]) -> Figure | None:
    """Bits per byte of Markov chains of order 1..n (from "orders"), each non-Markov backend of
    "perplexity" a dashed horizontal line in its colour."""
    xs, ys = _by_order(metrics, "bits_per_byte")
    if not xs:
        return None
    look = _Look(metrics)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(xs, ys, marker="o", linewidth=2, markersize=6, color=look.markov_colour(),
            label="Markov chain, by order")
    seen = set()
    for row in _rows(metrics, "perplexity"):
        name, bpb = row.get("backend"), _num(row.get("bits_per_byte"))
        if not isinstance(name, str) or _is_markov(name) or name == HUMAN or bpb is None or name in seen:
            continue
        seen.add(name)
        ax.axhline(bpb, linestyle="--", linewidth=1.8, color=look.colour(name),
                   label=f"{look.label(name)} ({bpb:.3f})")
    _order_axis(ax, xs)
    _dress(ax, f"Bits per byte vs Markov order (lower is better){_run_name(metrics)}",
           "Markov chain order (tokens of context)", "bits per byte on eval text (bits/byte)")
    _figure_legend(fig)  # below: an LLM line may cross any part of the axes
    return fig


# -- 3. Zipf -----------------------------------------------------------------------------------


def plot_zipf(metrics: Mapping[str, Any]) -> Figure | None:
    """Word rank-frequency on log-log axes, one line per backend and the human text, with a grey
    guide of Zipf's law (slope -1) through the top count."""
    series = {n: [v for v in vs if v > 0] for n, vs in _series(metrics, "rank_frequency").items()}
    series = {n: vs for n, vs in series.items() if vs}
    if not series:
        return None
    look = _Look(metrics)
    fig = _figure()
    ax = fig.add_subplot()
    for name in look.sort(series):
        counts = series[name]
        human = name == HUMAN
        ax.loglog(range(1, len(counts) + 1), counts, color=look.colour(name), label=look.label(name),
                  linewidth=2.2 if human else 1.6, zorder=3 if human else 2)
    top = max(vs[0] for vs in series.values())
    longest = max(len(vs) for vs in series.values())
    if longest > 1:
        ax.loglog([1, longest], [top, top / longest], color="#999999", linestyle=":", linewidth=1.4,
                  label="Zipf's law (slope −1)", zorder=1)
    _dress(ax, f"Word rank-frequency (Zipf plot){_run_name(metrics)}",
           "word rank (1 = most frequent, log scale)", "occurrences of the word (count, log scale)")
    _legend(ax, loc="lower left")
    return fig


# -- 4. sentence lengths -----------------------------------------------------------------------


def plot_sentence_lengths(metrics: Mapping[str, Any]) -> Figure | None:
    """Distributions of words per sentence: overlaid step histograms (share of sentences) for up
    to four series, horizontal box plots beyond that (steps would tangle). The histogram x axis
    stops at the 99th percentile of all sentences; longer ones count in the last bin."""
    series = {n: [v for v in vs if v > 0] for n, vs in _series(metrics, "sentence_lengths").items()}
    series = {n: vs for n, vs in series.items() if vs}
    if not series:
        return None
    look = _Look(metrics)
    names = look.sort(series)
    title = f"Sentence length{_run_name(metrics)}"
    xlabel = "sentence length (words per sentence)"

    def label(name: str) -> str:
        vs = series[name]
        return f"{look.label(name)} (mean {sum(vs) / len(vs):.1f}, n={len(vs):,})"

    if len(names) > 4:
        fig = _figure((7.0, max(3.2, 1.6 + 0.45 * len(names))))
        ax = fig.add_subplot()
        ordered = names[::-1]  # first backend on top
        box = ax.boxplot([series[n] for n in ordered], **_HORIZONTAL, patch_artist=True,
                         widths=0.6, showfliers=True, flierprops={"markersize": 3, "alpha": 0.4},
                         medianprops={"color": "white", "linewidth": 1.6})
        for patch, name in zip(box["boxes"], ordered):
            patch.set_facecolor(look.colour(name))
            patch.set_edgecolor(look.colour(name))
        ax.set_yticks(range(1, len(ordered) + 1), [look.label(n) for n in ordered])
        _dress(ax, title, xlabel, None)
        ax.grid(False, axis="y")
        _figure_legend(fig, [Patch(facecolor=look.colour(n)) for n in names], [label(n) for n in names])
        return fig

    everything = sorted(v for vs in series.values() for v in vs)
    cap = max(everything[min(len(everything) - 1, int(0.99 * len(everything)))], 2.0)
    width = max(1.0, math.ceil(cap / 30))
    edges = [0.5 + i * width for i in range(math.ceil(cap / width) + 1)]
    fig = _figure()
    ax = fig.add_subplot()
    for name in names:
        vs = [min(v, edges[-1] - 0.5 * width) for v in series[name]]  # overflow into the last bin
        human = name == HUMAN
        ax.hist(vs, bins=edges, histtype="step", weights=[1 / len(vs)] * len(vs), color=look.colour(name),
                linewidth=2.2 if human else 1.6, label=label(name), zorder=3 if human else 2)
    ax.set_xlim(0, edges[-1])
    ax.set_ylim(bottom=0)
    _dress(ax, title, f"{xlabel}; last bin: ≥ {edges[-2] + 0.5:g}",
           f"share of sentences (per {width:g}-word bin)")
    _figure_legend(fig)  # below: the overflow bin can rise anywhere on the right
    return fig


# -- 5. distinct-n -----------------------------------------------------------------------------


def plot_distinct_n(metrics: Mapping[str, Any]) -> Figure | None:
    """Grouped bars: distinct-1/2/3 of each backend and the human text at the base temperature."""
    rows, note = _style_at_base(metrics)
    keys = [f"distinct_{n}" for n in (1, 2, 3)]
    values = {n: [_num(r.get(k)) for k in keys] for n, r in rows.items()}
    values = {n: vs for n, vs in values.items() if any(v is not None for v in vs)}
    if not values:
        return None
    look = _Look(metrics)
    names = look.sort(values)
    fig = _figure()
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [g + (i - (len(names) - 1) / 2) * width for g in range(len(keys))]
        heights = [v if v is not None else 0.0 for v in values[name]]
        bars = ax.bar(xs, heights, width=width * 0.92, color=look.colour(name), label=look.label(name))
        if len(names) <= 4:
            ax.bar_label(bars, labels=[f"{v:.2f}" if v is not None else "n/a" for v in values[name]],
                         padding=2, fontsize=_NOTE_SIZE)
    ax.set_xticks(range(len(keys)), ["distinct-1\n(words)", "distinct-2\n(word pairs)", "distinct-3\n(word triples)"])
    top = max((v for vs in values.values() for v in vs if v is not None), default=1.0)
    ax.set_ylim(0, max(1.0, top) * 1.08)
    _dress(ax, f"Distinct n-grams at {note}{_run_name(metrics)}", None,
           "distinct n-grams / all n-grams (share)")
    ax.grid(False, axis="x")
    _figure_legend(fig)
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
    for row in _rows(metrics, "style"):
        name, t = row.get("backend"), _num(row.get(key))
        if isinstance(name, str) and name != HUMAN and t is not None:
            out.setdefault(name, {}).setdefault(t, row)
    return out


def plot_metrics_vs_temperature(metrics: Mapping[str, Any]) -> Figure | None:
    """A grid of small panels, one per style metric present, metric vs temperature (one line per
    backend), the human value a dotted black line. None unless some backend has more than one
    temperature. A run sweeping another setting (run.sweep = {"top_k": [...]}) is drawn against
    that setting instead (same file name)."""
    key = swept_setting(metrics)
    sweep = _sweep(metrics, key)
    if not any(len(temps) > 1 for temps in sweep.values()):
        return None
    human = next((r for r in _rows(metrics, "style") if r.get("backend") == HUMAN), {})
    present = [m for m in SWEEP_METRICS
               if any(_num(r.get(m)) is not None for temps in sweep.values() for r in temps.values())]
    if not present:
        return None
    look = _Look(metrics)
    names = look.sort(sweep)
    cols = min(4, len(present)) if len(present) != 4 else 2
    rows = math.ceil(len(present) / cols)
    fig = _figure((3.1 * cols + 0.4, 2.7 * rows + 1.0))
    axes = fig.subplots(rows, cols, squeeze=False)
    xlabel = "temperature" if key == "temperature" else f"{key} (sampling setting)"
    for i, metric in enumerate(present):
        ax = axes[i // cols][i % cols]
        title, unit = SWEEP_METRICS[metric]
        for name in names:
            pts = sorted((t, _num(r.get(metric))) for t, r in sweep[name].items())
            pts = [(t, v) for t, v in pts if v is not None]
            if pts:
                ax.plot([t for t, _ in pts], [v for _, v in pts], marker="o", markersize=4, linewidth=1.6,
                        color=look.colour(name), label=look.label(name))
        value = _num(human.get(metric))
        if value is not None:
            ax.axhline(value, color=HUMAN_COLOUR, linestyle=":", linewidth=1.6, label=HUMAN_LABEL)
            lo, hi = ax.get_ylim()  # keep the human line off the frame when it is the extreme value
            pad = 0.06 * ((max(hi, value) - min(lo, value)) or abs(value) or 1.0)
            ax.set_ylim(min(lo, value - pad), max(hi, value + pad))
        _dress(ax, None, xlabel if i + cols >= len(present) else None, unit)
        ax.set_title(title, fontsize=_LABEL_SIZE)
        ax.yaxis.label.set_size(_TICK_SIZE)
        ax.xaxis.label.set_size(_TICK_SIZE)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    for j in range(len(present), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    _figure_legend(fig)
    what = "sampling temperature" if key == "temperature" else key
    fig.suptitle(f"Style metrics vs {what}{_run_name(metrics)}", fontsize=_TITLE_SIZE)
    return fig


# -- 7. longest copy vs order ------------------------------------------------------------------


def plot_copy_vs_order(metrics: Mapping[str, Any]) -> Figure | None:
    """Mean longest copied run (words found verbatim in the training text) of Markov chains of
    order 1..n (from "orders"); each LLM's value at the base temperature (from "style") a dashed
    line in its colour, the human reference a dotted line. Log y axis when the values span more
    than a factor of 30."""
    xs, ys = _by_order(metrics, "longest_copy_mean")
    if not xs:
        return None
    look = _Look(metrics)
    rows, note = _style_at_base(metrics)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(xs, ys, marker="o", linewidth=2, markersize=6, color=look.markov_colour(),
            label="Markov chain, by order")
    lines = []
    for name in look.sort(rows):
        value = _num(rows[name].get("longest_copy_mean"))
        if value is None or _is_markov(name):
            continue
        lines.append(value)
        if name == HUMAN:
            ax.axhline(value, color=HUMAN_COLOUR, linestyle=":", linewidth=1.8,
                       label=f"{HUMAN_LABEL} ({_fmt(value)})")
        else:
            ax.axhline(value, color=look.colour(name), linestyle="--", linewidth=1.8,
                       label=f"{look.label(name)} ({_fmt(value)})")
    positive = [v for v in ys + lines if v > 0]
    if positive and max(positive) / min(positive) > 30 and min(ys + lines) > 0:
        ax.set_yscale("log")
        ylabel = "longest copied run (mean, words, log scale)"
    else:
        ax.set_ylim(bottom=0)
        ylabel = "longest copied run (mean, words)"
    _order_axis(ax, xs)
    title = "Longest run copied from the training text"
    _dress(ax, f"{title}{_run_name(metrics)}",
           f"Markov chain order (tokens of context); LLM lines at {note}", ylabel)
    _figure_legend(fig)  # below: the horizontal lines may sit at any height
    return fig


# -- drawing everything ------------------------------------------------------------------------

PLOTS: dict[str, Callable[[Mapping[str, Any]], Figure | None]] = {
    "bits_per_byte": plot_bits_per_byte,
    "perplexity_vs_order": plot_perplexity_vs_order,
    "zipf": plot_zipf,
    "sentence_lengths": plot_sentence_lengths,
    "distinct_n": plot_distinct_n,
    "metrics_vs_temperature": plot_metrics_vs_temperature,
    "copy_vs_order": plot_copy_vs_order,
}


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write `fig` to `path` (format from the suffix: .png or .svg) atomically: rendered to a
    temporary file beside it, then renamed, so an interrupted redraw never leaves half a file.
    Output is reproducible: no timestamps, fixed SVG ids."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot save a plot as {path.name}: use .png or .svg")
    with replacing(path) as tmp:
        if fmt == "svg":
            # SVG element ids are salted with a random uuid unless svg.hashsalt is set.
            with matplotlib.rc_context({"svg.hashsalt": "genlab"}):
                fig.savefig(tmp, format="svg", metadata={"Date": None})
        else:
            fig.savefig(tmp, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def draw_all(metrics: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw every plot whose data `metrics` holds into `out_dir` as NAME.png and NAME.svg; return
    the paths written, in `PLOTS` order. A plot without data is skipped, and its files from an
    earlier draw are removed, so the folder always matches `metrics`. Redrawing is safe at any
    moment: every file is replaced atomically."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict loaded from metrics.json, not {type(metrics).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, draw in PLOTS.items():
        fig = draw(metrics)
        if fig is None:
            for fmt in FORMATS:
                (out_dir / f"{name}.{fmt}").unlink(missing_ok=True)
            continue
        try:
            for fmt in FORMATS:
                written.append(save_figure(fig, out_dir / f"{name}.{fmt}"))
        finally:
            fig.clear()  # drop the artists now; a pyplot-free Figure has nothing else to close
    return written
