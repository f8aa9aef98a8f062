"""How every plot looks: one colour and one label per backend (fixed by its position in the
run, so all plots agree), font sizes, and the figure, axes and legend set-up they share.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot: no global
figure registry, nothing to close for other users of matplotlib. Font sizes are set on the
artists themselves, so a user's style sheet cannot shrink them below 9 pt. The human text is
always near-black, labelled "human text"; a backend named "markov:..." is a Markov chain, every
other one is drawn as an LLM. Besides its colour each backend has its own marker and, for a
horizontal reference line, its own dash pattern, so two series that coincide stay apart in the
legend and on the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from genlab.eval.plots.reading import HUMAN, plain, run_name, section_rows, section_series

HUMAN_LABEL = "human text"
HUMAN_COLOUR = "#222222"

FIGSIZE = (7.0, 4.5)  # inches; at 120 dpi a PNG of 840 x 540 pixels
DPI = 120
TITLE_SIZE = 12
LABEL_SIZE = 10
TICK_SIZE = 9
LEGEND_SIZE = 9
NOTE_SIZE = 9
NOTE_COLOUR = "#555555"

# tab10 without its grey (index 7), which would read as the human text.
_PALETTE = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]
_EXTRA_COLOUR_MAPS = ("Dark2", "Set1")  # beyond 9 backends (rare): still distinct, still fixed
# a marker per backend, by position (the human text has none: it is a line)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">")
# a line pattern per backend's series, by position: a line under another shows in its gaps
SERIES_DASHES: tuple[Any, ...] = ("-", (0, (5, 2)), (0, (7, 2, 1.5, 2)), (0, (2, 1.5)), (0, (10, 2, 2, 2, 2, 2)))
# a dash pattern per LLM reference line, by position among the LLMs; dotted (":") is the human's
REFERENCE_DASHES: tuple[Any, ...] = ("--", "-.", (0, (7, 2, 1, 2, 1, 2)), (0, (12, 3)), (0, (4, 1.5, 4, 1.5, 1, 1.5)))
HUMAN_DASHES = ":"
# boxplot(orientation=...) arrived in matplotlib 3.10, which deprecates vert=.
HORIZONTAL = ({"orientation": "horizontal"}
              if tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit()) >= (3, 10)
              else {"vert": False})


def is_markov(name: str) -> bool:
    return name.startswith("markov:")


def backend_order(metrics: Mapping[str, Any]) -> list[str]:
    """Backends in colour order: "backends" first, then any other name the sections mention."""
    names: list[str] = []

    def add(name: Any) -> None:
        if isinstance(name, str) and name != HUMAN and name not in names:
            names.append(name)

    listed = metrics.get("backends") if isinstance(metrics, Mapping) else None
    for name in listed if isinstance(listed, list) else []:
        add(name)
    for key in ("perplexity", "style"):
        for row in section_rows(metrics, key):
            add(row.get("backend"))
    for key in ("rank_frequency", "sentence_lengths"):
        for name in section_series(metrics, key):
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


class Look:
    """Colours and labels of one metrics dict (one per plot call)."""

    def __init__(self, metrics: Mapping[str, Any]):
        self.order = backend_order(metrics)
        self.colours = backend_colours(self.order)
        self.labels = backend_labels(self.order)

    def colour(self, name: str) -> str:
        return self.colours.get(name, HUMAN_COLOUR if name == HUMAN else "#7f7f7f")

    def label(self, name: str) -> str:
        return plain(self.labels.get(name, name))

    def rank(self, name: str) -> int:
        return self.order.index(name) if name in self.order else len(self.order)

    def marker(self, name: str) -> str:
        return MARKERS[self.rank(name) % len(MARKERS)]

    def series_style(self, name: str) -> dict[str, Any]:
        """Line and marker of `name`'s series where series may coincide: its own marker, hollow,
        larger for earlier backends (one outline rings the next) and its own line pattern."""
        rank = self.rank(name)
        return {"marker": self.marker(name), "markersize": max(4.5, 7.5 - 1.5 * rank), "markerfacecolor": "none",
                "markeredgewidth": 1.4, "linestyle": SERIES_DASHES[rank % len(SERIES_DASHES)],
                "color": self.colour(name)}

    def dashes(self, name: str) -> Any:
        """The dash pattern of `name`'s horizontal reference line: the human text dotted, the
        LLMs each their own pattern, the first LLM plain dashes."""
        if name == HUMAN:
            return HUMAN_DASHES
        llms = [n for n in self.order if not is_markov(n)]
        rank = llms.index(name) if name in llms else len(llms)
        return REFERENCE_DASHES[rank % len(REFERENCE_DASHES)]

    def sort(self, names: Iterable[str]) -> list[str]:
        """Backends in colour order, the human text last."""
        names = list(dict.fromkeys(names))
        rank = {n: i for i, n in enumerate(self.order)}
        return sorted(names, key=lambda n: (n == HUMAN, rank.get(n, len(rank))))

    def markov_colour(self) -> str:
        """The colour of the Markov-by-order series: the run's Markov backend's colour when it has
        exactly one, else a colour no backend uses."""
        markov = [n for n in self.order if is_markov(n)]
        if len(markov) == 1:
            return self.colours[markov[0]]
        return backend_colours([*self.order, "\0order sweep"])["\0order sweep"]


def new_figure(size: tuple[float, float] | None = None) -> Figure:
    return Figure(figsize=size or FIGSIZE, dpi=DPI, layout="constrained")


def title_text(what: str, metrics: Mapping[str, Any], width: float) -> str:
    """`what` and the run's name on one line when they fit `width` inches at the title size, else
    the name on a line of its own (a long name would run off the figure)."""
    run = run_name(metrics)
    if len(what + run) * TITLE_SIZE * 0.56 / 72 <= width:
        return what + run
    return f"{what}\n{run.removeprefix(' — ')}"


def axes_title(fig: Figure, what: str, metrics: Mapping[str, Any]) -> str:
    """A title for the one axes of `fig`, which spans most of its width."""
    return title_text(what, metrics, 0.8 * fig.get_figwidth())


def figure_title(fig: Figure, what: str, metrics: Mapping[str, Any]) -> None:
    """A title centred on the figure, for axes narrowed by long tick or line-end labels (centred
    on such axes a title runs off the figure's edge) or for a grid of panels."""
    fig.suptitle(title_text(what, metrics, 0.95 * fig.get_figwidth()), fontsize=TITLE_SIZE)


def dress(ax: Axes, title: str | None, xlabel: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.set_axisbelow(True)


def axes_legend(ax: Axes, **kwargs: Any) -> None:
    kwargs.setdefault("fontsize", LEGEND_SIZE)
    kwargs.setdefault("framealpha", 0.9)
    legend = ax.legend(**kwargs)
    if legend.get_title().get_text():
        legend.get_title().set_fontsize(LEGEND_SIZE)


def figure_legend(fig: Figure, handles: Sequence[Any] | None = None,
                   labels: Sequence[str] | None = None, title: str | None = None) -> None:
    """A legend below the axes (never covering data), as many columns as fit the figure width;
    `title` (what the error bars mean) above its entries."""
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
    per_row = int(fig.get_figwidth() * DPI / 9)
    widest = max(len(label) for label in labels) + 7
    ncols = max(1, min(len(labels), per_row // widest))
    legend = fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=LEGEND_SIZE,
                        title=title, title_fontsize=LEGEND_SIZE)
    legend.get_title().set_color(NOTE_COLOUR)


def short_number(value: float) -> str:
    """A short number for labels: 3 significant digits."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
