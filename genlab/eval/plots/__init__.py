"""Plots of a saved comparison: pure functions from a run's metrics.json dict to figures.

Nothing here generates or scores text. `draw_all(metrics, out_dir)` redraws every plot from the
saved numbers alone (what `genlab plot RUN_DIR` does); each `plot_*` function returns a
matplotlib `Figure` (or None when its data is missing) for a notebook user to show or restyle.
Files are rendered with the Agg (PNG) and SVG canvases, each replaced atomically.

Plot files (each as .png and .svg), in `PLOTS` order:

    bits_per_byte            bits per byte on the eval text, one bar per backend
    perplexity_vs_order      bits per byte vs Markov order, each LLM a horizontal line
    zipf                     word rank-frequency, log-log, every backend and the human text
    sentence_lengths         distributions of words per sentence
    distinct_n               distinct-1/2/3, grouped bars, at the run's base temperature
    metrics_vs_temperature   one small panel per style metric vs temperature (sweeps only; a
                             sweep of another setting, run.sweep = {"top_k": [...]}, is drawn
                             against that setting, and "base temperature" reads "base top_k")
    copy_vs_order            longest copied run vs Markov order, each LLM a horizontal line

Every number with an interval in metrics.json is drawn with it (genlab.eval.plots.intervals):
error bars on bars and points, bands along series and around horizontal lines; the Zipf and
sentence-length legends give the exponent and the mean with theirs. Without intervals (an older
metrics.json, or `compare --bootstrap 0`) the plots are drawn without. Horizontal lines are
labelled at their right end, nudged apart when they nearly coincide (genlab.eval.plots.labels).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from genlab.atomic import replacing
from genlab.errors import cannot
from genlab.eval.plots.look import DPI, HUMAN_COLOUR, backend_colours, backend_labels
from genlab.eval.plots.reading import HUMAN, base_setting, swept_setting
from genlab.eval.plots.scores import plot_bits_per_byte, plot_copy_vs_order, plot_perplexity_vs_order
from genlab.eval.plots.style import plot_distinct_n, plot_metrics_vs_temperature, plot_sentence_lengths, plot_zipf

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

FORMATS = ("png", "svg")


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
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return path


def draw_all(metrics: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw every plot whose data `metrics` holds into `out_dir` as NAME.png and NAME.svg; return
    the paths written, in `PLOTS` order. A plot without data is skipped, and its files from an
    earlier draw are removed, so the folder always matches `metrics`. Redrawing is safe at any
    moment: every file is replaced atomically."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict loaded from metrics.json, not {type(metrics).__name__}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot("create", out_dir, exc) from None
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
