"""Plots a reader can read (issue 18, point 4): every metric drawn with its interval, lines that
coincide kept apart, the run named once in each title."""

from __future__ import annotations

import copy
import io
import random
import re

import numpy as np
import pytest
from matplotlib import colors as mcolors
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation

from genlab.eval import plots
from genlab.eval.plots.labels import spread

MARKOV = "markov:novel-train"
LLAMA = "llama:models/novel-llm.gguf"
SMOL = "smollm2"
BACKENDS = [MARKOV, LLAMA, SMOL]
TEMPS = [0.5, 0.8, 1.2]
STYLE_KEYS = ["distinct_1", "distinct_2", "distinct_3", "self_bleu_4", "repetition_rate", "novel_4gram_share",
              "longest_copy_mean", "zipf", "sentence_length_mean", "mattr"]


def around(value: float, rng: random.Random, width: float) -> list[float]:
    """An interval about `value`, lopsided as percentile intervals are."""
    return [value - width * rng.uniform(0.3, 0.7), value + width * rng.uniform(0.3, 0.7)]


def realistic_metrics() -> dict:
    """A metrics.json as the schema gives it: a chain, a small llama and SmolLM2 at three
    temperatures beside the human text, Markov orders 1-6, a run folder called "run", and the
    two LLMs' longest copies 3.67 and 3.72 (the lines that lay on top of each other)."""
    rng = random.Random(18)
    base = {
        MARKOV: dict(distinct_1=0.42, distinct_2=0.76, distinct_3=0.9, self_bleu_4=0.28, repetition_rate=0.0,
                     novel_4gram_share=0.22, longest_copy_mean=20.5, zipf=0.84, sentence_length_mean=9.2, mattr=0.82),
        LLAMA: dict(distinct_1=0.3, distinct_2=0.62, distinct_3=0.78, self_bleu_4=0.25, repetition_rate=0.0,
                    novel_4gram_share=0.95, longest_copy_mean=3.67, zipf=0.98, sentence_length_mean=7.5, mattr=0.72),
        SMOL: dict(distinct_1=0.33, distinct_2=0.67, distinct_3=0.82, self_bleu_4=0.15, repetition_rate=0.07,
                   novel_4gram_share=0.99, longest_copy_mean=3.72, zipf=0.92, sentence_length_mean=10.7, mattr=0.66),
    }
    sentences = {name: [max(1, round(rng.gammavariate(4, base[name]["sentence_length_mean"] / 4))) for _ in range(300)]
                 for name in BACKENDS}
    for name in BACKENDS:  # the same sentences give the style row's mean at the base temperature
        base[name]["sentence_length_mean"] = sum(sentences[name]) / len(sentences[name])
    style = []
    for name in BACKENDS:
        for t in TEMPS:
            shift = (t - 0.8) * 0.1
            row = {"backend": name, "setting": f"temperature={t:g}", "temperature": t, "samples": 27}
            for key, value in base[name].items():
                row[key] = value * (1 + shift)
            row["interval"] = {k: around(row[k], rng, 0.08 * max(abs(row[k]), 0.02)) for k in STYLE_KEYS}
            row["interval"]["repetition_rate"] = None  # undefined: drawn without
            style.append(row)
    human = {"backend": "human", "setting": "", "temperature": None, "samples": 27,
             **dict(distinct_1=0.45, distinct_2=0.78, distinct_3=0.92, self_bleu_4=0.08, repetition_rate=0.0,
                    novel_4gram_share=0.93, longest_copy_mean=6.15, zipf=0.86, sentence_length_mean=12.0, mattr=0.78)}
    sentences["human"] = [max(1, round(rng.gammavariate(4, 3))) for _ in range(500)]
    human["sentence_length_mean"] = sum(sentences["human"]) / len(sentences["human"])
    human["interval"] = {k: around(human[k], rng, 0.06 * max(human[k], 0.02)) for k in STYLE_KEYS}
    style.append(human)
    orders = []
    for k, bpb, copied in [(1, 2.6, 4.4), (2, 2.1, 9.8), (3, 1.95, 20.5), (4, 2.05, 42.0), (5, 2.2, 58.6),
                           (6, 2.3, 75.2)]:
        orders.append({"order": k, "bits_per_byte": bpb, "longest_copy_mean": copied, "novel_4gram_share": 0.5 / k,
                       "interval": {"bits_per_byte": around(bpb, rng, 0.05), "novel_4gram_share": None,
                                    "longest_copy_mean": around(copied, rng, 0.2 * copied)}})
    perplexity = [{"backend": name, "bits_per_byte": bpb, "paragraphs": 210, "interval": {"bits_per_byte": pair}}
                  for name, bpb, pair in [(MARKOV, 1.95, [1.9, 2.01]), (LLAMA, 2.31, [2.24, 2.37]),
                                          (SMOL, 2.33, [2.27, 2.4])]]

    def counts(s: float, n: int) -> list[int]:
        return [max(1, int(600 / r**s)) for r in range(1, n + 1)]

    return {
        "run": {"name": "run", "seed": 1, "samples": 3, "sampling": {"temperature": 0.8, "top_k": 40},
                "sweep": {"temperature": TEMPS}, "bootstrap": {"replicates": 1000, "level": 0.95}},
        "backends": BACKENDS,
        "style": style,
        "perplexity": perplexity,
        "orders": orders,
        "rank_frequency": {MARKOV: counts(0.84, 900), LLAMA: counts(0.98, 700), SMOL: counts(0.92, 800),
                           "human": counts(0.86, 1500)},
        "sentence_lengths": sentences,
    }


def without_intervals(metrics: dict) -> dict:
    """The same numbers as a metrics.json from before intervals: no "interval" key anywhere."""
    old = copy.deepcopy(metrics)
    for key in ("style", "perplexity", "orders"):
        for row in old[key]:
            row.pop("interval", None)
    old["run"].pop("bootstrap", None)
    return old


@pytest.fixture(scope="module")
def metrics() -> dict:
    return realistic_metrics()


def error_extents(ax, horizontal: bool = False) -> list[tuple[float, float, float]]:
    """(position, low, high) of every error bar drawn on `ax`."""
    out = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            _, _, (segments,) = container.lines
            for (x0, y0), (x1, y1) in segments.get_segments():
                out.append((y0, min(x0, x1), max(x0, x1)) if horizontal else (x0, min(y0, y1), max(y0, y1)))
    return sorted(out)


def bands(ax) -> list[tuple[float, float]]:
    """(low, high) of every band across the axes (axhspan)."""
    out = []
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_label() == "_nolegend_" and patch.get_width() == 1:
            out.append((patch.get_y(), patch.get_y() + patch.get_height()))
    return sorted(out)


def assert_close(got, want):
    """Lists of tuples equal to float precision."""
    assert len(got) == len(want) and np.allclose(np.array(got, dtype=float), np.array(want, dtype=float)), (got, want)


def interval_of(metrics, section, key, **match):
    row = next(r for r in metrics[section] if all(r.get(k) == v for k, v in match.items()))
    return tuple(row["interval"][key])


# -- error bars and bands where intervals are ----------------------------------------------------


def test_bits_per_byte_bars_carry_their_intervals(metrics):
    ax = plots.plot_bits_per_byte(metrics).axes[0]
    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    assert len(bars) == 1
    ys = {c.get_label(): c.patches[0].get_y() + c.patches[0].get_height() / 2
          for c in ax.containers if isinstance(c, BarContainer)}
    want = sorted((ys[plots.backend_labels(BACKENDS)[b]], *interval_of(metrics, "perplexity", "bits_per_byte",
                                                                      backend=b)) for b in BACKENDS)
    assert_close(error_extents(ax, horizontal=True), want)


def test_perplexity_vs_order_points_and_llm_bands(metrics):
    ax = plots.plot_perplexity_vs_order(metrics).axes[0]
    want = sorted((r["order"], *r["interval"]["bits_per_byte"]) for r in metrics["orders"])
    assert_close(error_extents(ax), want)
    want_bands = sorted(interval_of(metrics, "perplexity", "bits_per_byte", backend=b) for b in (LLAMA, SMOL))
    assert_close(bands(ax), want_bands)


def test_distinct_n_bars_carry_their_intervals(metrics):
    ax = plots.plot_distinct_n(metrics).axes[0]
    lows_highs = sorted((lo, hi) for _, lo, hi in error_extents(ax))
    rows = [r for r in metrics["style"] if r["temperature"] in (0.8, None)]
    want = sorted(tuple(r["interval"][f"distinct_{n}"]) for r in rows for n in (1, 2, 3))
    assert_close(lows_highs, want)


def test_sweep_panels_have_a_band_per_backend(metrics):
    fig = plots.plot_metrics_vs_temperature(metrics)
    panel = next(ax for ax in fig.axes if ax.get_title() == "distinct-2")
    fills = [c for c in panel.collections if isinstance(c, PolyCollection)]
    assert len(fills) == len(BACKENDS)
    for name in BACKENDS:
        rows = sorted((r for r in metrics["style"] if r["backend"] == name), key=lambda r: r["temperature"])
        lows = [r["interval"]["distinct_2"][0] for r in rows]
        highs = [r["interval"]["distinct_2"][1] for r in rows]
        colour = plots.backend_colours(BACKENDS)[name]
        (fill,) = [c for c in fills if np.allclose(c.get_facecolor()[0][:3], mcolors.to_rgb(colour))]
        ys = fill.get_paths()[0].vertices[:, 1]
        assert min(ys) == pytest.approx(min(lows)) and max(ys) == pytest.approx(max(highs))
    assert_close(bands(panel), [interval_of(metrics, "style", "distinct_2", backend="human")])
    # repetition rate has no interval (null): its panel draws lines only, and does not fail
    repetition = next(ax for ax in fig.axes if ax.get_title() == "repetition rate")
    assert not [c for c in repetition.collections if isinstance(c, PolyCollection)]


def test_copy_vs_order_points_and_reference_bands(metrics):
    ax = plots.plot_copy_vs_order(metrics).axes[0]
    want = sorted((r["order"], *r["interval"]["longest_copy_mean"]) for r in metrics["orders"])
    assert_close(error_extents(ax), want)
    want_bands = sorted(interval_of(metrics, "style", "longest_copy_mean", backend=b, temperature=t)
                        for b, t in ((LLAMA, 0.8), (SMOL, 0.8), ("human", None)))
    assert_close(bands(ax), want_bands)


def value_and_bounds(text: str, before: str) -> tuple[float, float, float]:
    """(value, low, high) written after `before` in a label: "s = 0.860 [0.83–0.89]"."""
    found = re.search(re.escape(before) + r" (−?[\d.]+) \[(−?[\d.]+)(?:–| to )(−?[\d.]+)\]", text)
    assert found, text
    return tuple(float(g.replace("−", "-")) for g in found.groups())


def test_zipf_and_sentence_length_legends_give_the_summary_with_its_interval(metrics):
    human = next(r for r in metrics["style"] if r["backend"] == "human")
    legend = plots.plot_zipf(metrics).axes[0].get_legend()
    (label,) = [t.get_text() for t in legend.get_texts() if t.get_text().startswith("human text (s = ")]
    assert value_and_bounds(label, "s =") == pytest.approx((human["zipf"], *human["interval"]["zipf"]), abs=0.006)
    assert legend.get_title().get_text() == "s: Zipf exponent [95% bootstrap interval]"
    fig = plots.plot_sentence_lengths(metrics)
    (label,) = [t.get_text() for t in fig.legends[0].get_texts() if t.get_text().startswith("human text (mean ")]
    want = (human["sentence_length_mean"], *human["interval"]["sentence_length_mean"])
    assert value_and_bounds(label, "mean") == pytest.approx(want, abs=0.06)
    assert label.endswith(", n=500)")
    assert fig.legends[0].get_title().get_text() == "mean [95% bootstrap interval]"


# -- absent intervals: drawn as before, never failing --------------------------------------------


@pytest.mark.parametrize("how", ["no key", "null", "junk"])
def test_missing_intervals_draw_without_error_bars(metrics, how):
    data = without_intervals(metrics)
    for key in ("style", "perplexity", "orders"):
        for row in data[key]:
            if how == "null":
                row["interval"] = None
            elif how == "junk":
                row["interval"] = {k: v for k, v in zip(STYLE_KEYS + ["bits_per_byte"],
                                                         ([1, 0], "x", [None, 2], [float("nan"), 1], [1], {}) * 3)}
    for name, draw in plots.PLOTS.items():
        fig = draw(data)
        assert fig is not None, name
        for ax in fig.axes:
            assert not error_extents(ax) and not bands(ax), name
            assert not [c for c in ax.collections if isinstance(c, PolyCollection)], name
        assert not any(leg.get_title().get_text() for leg in fig.legends), name


def test_an_interval_not_holding_its_value_is_drawn_as_it_is(metrics):
    """A percentile interval need not hold the point estimate; the bar shows the interval."""
    data = copy.deepcopy(metrics)
    data["perplexity"][0]["interval"]["bits_per_byte"] = [2.0, 2.1]  # value 1.95
    ax = plots.plot_bits_per_byte(data).axes[0]
    assert [(lo, hi) for _, lo, hi in error_extents(ax, horizontal=True)].count(pytest.approx((2.0, 2.1))) == 1


# -- lines that coincide stay apart --------------------------------------------------------------


def line_end_labels(ax) -> dict[str, float]:
    """{label text: height in axes fraction} of the labels at the lines' right ends."""
    return {a.get_text(): a.xyann[1] for a in ax.texts if isinstance(a, Annotation) and a.xy[0] == 1.0}


@pytest.mark.parametrize("with_intervals", [True, False])
def test_near_equal_reference_lines_stay_distinguishable(metrics, with_intervals):
    """copy_vs_order: the two LLMs at 3.67 and 3.72 on an axis running past 75 are one line on
    the page; their dash patterns differ and their end labels stand a line of text apart."""
    data = metrics if with_intervals else without_intervals(metrics)
    ax = plots.plot_copy_vs_order(data).axes[0]
    refs = {ln.get_label().split(" (")[0]: ln for ln in ax.get_lines() if ln.get_label().startswith(("llama", SMOL))}
    assert set(refs) == {"llama:novel-llm.gguf", SMOL}
    a, b = refs.values()
    assert (a.get_linestyle(), a.get_marker()) != (b.get_linestyle(), b.get_marker())
    ends = line_end_labels(ax)
    llama = next(h for t, h in ends.items() if t.startswith("llama:novel-llm.gguf"))
    smol = next(h for t, h in ends.items() if t.startswith(SMOL))
    assert abs(llama - smol) >= 0.04
    assert smol > llama  # the higher line's label stays above
    human = next(h for t, h in ends.items() if t.startswith("human text"))
    assert human > smol


def test_line_end_labels_stay_near_lines_that_are_apart(metrics):
    data = copy.deepcopy(metrics)
    for row in data["style"]:
        if row["backend"] in (SMOL, "human"):
            row["longest_copy_mean"] = 40.0 if row["backend"] == SMOL else 20.0
    ax = plots.plot_copy_vs_order(data).axes[0]
    to_axes = ax.transScale + ax.transLimits
    assert len(line_end_labels(ax)) == 3  # both LLMs and the human text
    for text, height in line_end_labels(ax).items():
        value = float(text.rsplit(" ", 1)[1])
        assert height == pytest.approx(to_axes.transform((0, value))[1], abs=0.005), text


def test_spread_keeps_order_and_gap():
    assert spread([0.5, 0.2], 0.05) == [0.5, 0.2]  # apart already: untouched
    low, high = spread([0.3, 0.3004], 0.06)
    assert high - low == pytest.approx(0.06) and (low + high) / 2 == pytest.approx(0.3002)
    heights = spread([0.99, 0.995, 0.98], 0.05)
    assert max(heights) <= 1.0 and sorted(heights) == [heights[2], heights[0], heights[1]]
    assert all(b - a >= 0.05 - 1e-9 for a, b in zip(sorted(heights), sorted(heights)[1:]))


def test_sweep_series_have_their_own_markers(metrics):
    """Repetition rate is 0 for two backends at every temperature: their lines coincide, their
    markers must not."""
    fig = plots.plot_metrics_vs_temperature(metrics)
    for ax in fig.axes:
        series = [ln for ln in ax.get_lines() if ln.get_label() in plots.backend_labels(BACKENDS).values()]
        if series:
            assert len({ln.get_marker() for ln in series}) == len(series), ax.get_title()


# -- titles name the run once --------------------------------------------------------------------


def titles(fig) -> list[str]:
    return [t for t in [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)] if t]


@pytest.mark.parametrize("name, shown", [("run", "“run”"), ("demo", "run “demo”"), ("run-3", "“run-3”"),
                                         ("a$x^$b", "run “a\\$x^\\$b”")])
def test_titles_name_the_run_once(metrics, name, shown):
    data = copy.deepcopy(metrics)
    data["run"]["name"] = name
    for plot, draw in plots.PLOTS.items():
        fig = draw(data)
        named = [t for t in titles(fig) if shown in t]
        assert len(named) == 1, (plot, titles(fig))
        assert all("run run" not in t.lower() for t in titles(fig)), plot
        if "$" in name:
            fig.savefig(io.BytesIO(), format="svg")  # "$...$" would be read as maths and fail here


# -- reproducible --------------------------------------------------------------------------------


def test_same_metrics_give_identical_svg(metrics, tmp_path):
    """Two separate drawings of the same numbers, intervals and line labels included."""
    for name, draw in plots.PLOTS.items():
        first = plots.save_figure(draw(metrics), tmp_path / f"{name}-1.svg").read_bytes()
        again = plots.save_figure(draw(copy.deepcopy(metrics)), tmp_path / f"{name}-2.svg").read_bytes()
        assert first == again, name
        assert b"<svg" in first


def test_copy_vs_order_names_the_setting_only_for_llm_lines(metrics):
    assert "LLM lines at temperature 0.8" in plots.plot_copy_vs_order(metrics).axes[0].get_xlabel()
    chains_only = copy.deepcopy(metrics)
    chains_only["style"] = [r for r in chains_only["style"] if r["backend"] in (MARKOV, "human")]
    assert "LLM" not in plots.plot_copy_vs_order(chains_only).axes[0].get_xlabel()


def test_a_line_outside_the_curves_range_is_labelled_at_its_height(metrics):
    """SmolLM2 at 1.22 bits per byte lies far below every chain (1.8 and up): the axes grow to
    hold its line, and its label sits beside it, not where the line would be before they grew."""
    data = copy.deepcopy(metrics)
    for row in data["perplexity"]:
        if row["backend"] == SMOL:
            row["bits_per_byte"], row["interval"]["bits_per_byte"] = 1.22, [1.18, 1.26]
    ax = plots.plot_perplexity_vs_order(data).axes[0]
    assert ax.get_ylim()[0] < 1.18  # (reading the limits also brings them up to date for transLimits)
    to_axes = ax.transScale + ax.transLimits
    (smol,) = [h for t, h in line_end_labels(ax).items() if t.startswith(SMOL)]
    assert 0 <= smol <= 1
    assert smol == pytest.approx(to_axes.transform((0, 1.22))[1], abs=0.005)


def test_titles_fit_the_figure_beside_long_names(metrics):
    """A long backend name widens the tick labels or the line-end labels and narrows the axes; a
    title centred on the axes then ran off the figure's edge ("— run “ru" on the page)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    data = copy.deepcopy(metrics)
    long = "llama:models/SmolLM2-135M-Instruct.Q4_1.gguf"
    data["backends"][1] = long
    for key in ("style", "perplexity"):
        for row in data[key]:
            if row["backend"] == LLAMA:
                row["backend"] = long
    data["run"]["name"] = "comparison-of-three-backends-2024"
    for name, draw in plots.PLOTS.items():
        fig = draw(data)
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        width = fig.bbox.width
        for text in [fig._suptitle, *(ax.title for ax in fig.axes if ax.get_visible())]:
            if text is not None and text.get_text():
                box = text.get_window_extent(renderer)
                assert box.x0 >= -1 and box.x1 <= width + 1, (name, text.get_text(), box.x0, box.x1, width)
