"""Direct labels at the right end of horizontal reference lines, nudged apart when lines lie
close: two LLMs at 3.67 and 3.72 on an axis running to 80 are one line on the page, and only
their labels (and dash patterns) tell the reader that both are there."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.transforms import ScaledTranslation

from genlab.eval.plots.look import NOTE_SIZE

LONGEST_LABEL = 24  # characters of a backend's name at a line end; the legend holds the whole
NUDGED = 0.004  # a label moved further than this (axes fraction) gets a leader line to its line


def spread(targets: Sequence[float], gap: float, low: float = 0.0, high: float = 1.0) -> list[float]:
    """Heights for labels that want `targets`: each at least `gap` from its neighbour, the order
    kept, each crowded group centred on its targets' mean and kept within [low, high]."""
    order = sorted(range(len(targets)), key=lambda i: (targets[i], i))
    groups: list[list[int]] = []

    def start(group: list[int]) -> float:
        centre = sum(targets[i] for i in group) / len(group)
        first = centre - (len(group) - 1) * gap / 2
        return max(low, min(first, high - (len(group) - 1) * gap))

    for i in order:
        groups.append([i])
        while len(groups) > 1 and start(groups[-2]) + len(groups[-2]) * gap > start(groups[-1]) + 1e-12:
            upper = groups.pop()
            groups[-1].extend(upper)
    heights = [0.0] * len(targets)
    for group in groups:
        first = start(group)
        for k, i in enumerate(group):
            heights[i] = first + k * gap
    return heights


def short_label(text: str) -> str:
    return text if len(text) <= LONGEST_LABEL else text[:LONGEST_LABEL - 1] + "…"


def label_line_ends(ax: Axes, lines: Sequence[tuple[float, str, str]]) -> None:
    """Write each (y value, text, colour) just right of the axes at its line's height, nudged
    apart so no two overlap. Call it last: the heights are read from the axes' final limits."""
    ax.get_ylim()  # the limits grow to the data lazily; without this a line outside the rest is misplaced
    to_axes = ax.transScale + ax.transLimits
    wanted = []
    for y, text, colour in lines:
        frac = float(to_axes.transform((0.0, y))[1])
        if frac == frac and abs(frac) != float("inf"):  # a line a log axis cannot show has no label
            wanted.append((frac, text, colour))
    if not wanted:
        return
    fig = ax.get_figure()
    # the axes end up about 60% of the figure's height (title above, legend below)
    gap = 1.35 * NOTE_SIZE / (0.6 * fig.get_figheight() * 72)
    heights = spread([f for f, _, _ in wanted], gap)
    right = ax.transAxes + ScaledTranslation(6 / 72, 0, fig.dpi_scale_trans)  # 6 points right of the frame
    for (frac, text, colour), height in zip(wanted, heights):
        leader = ({"arrowstyle": "-", "color": colour, "linewidth": 0.8, "shrinkA": 0, "shrinkB": 2}
                  if abs(height - frac) > NUDGED else None)
        ax.annotate(text, xy=(1.0, frac), xycoords="axes fraction", xytext=(1.0, height), textcoords=right,
                    va="center", ha="left", fontsize=NOTE_SIZE, color=colour, arrowprops=leader,
                    annotation_clip=False)
