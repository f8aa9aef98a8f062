"""Plots of a saved comparison (genlab.eval.plots): files exist, are valid, colours agree."""

from __future__ import annotations

import copy
import json
import math
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colors as mcolors
from matplotlib import image as mimage

from genlab.eval import plots

MARKOV = "markov:novel"
LLAMA = "llama:models/novel-llm.gguf"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_PLOTS = list(plots.PLOTS)


def synthetic_metrics() -> dict:
    """Two backends + the human text, a sweep of three temperatures, Markov orders 1-6."""
    rng = random.Random(7)
    temps = [0.5, 0.8, 1.5]

    def style(backend: str, t: float | None, lift: float) -> dict:
        return {
            "backend": backend, "temperature": t,
            "distinct_1": 0.35 + lift, "distinct_2": 0.7 + lift / 2, "distinct_3": 0.88 + lift / 4,
            "self_bleu_4": 0.3 - lift / 2, "zipf": 1.1 - lift / 3, "repetition_rate": max(0.0, 0.2 - lift),
            "sentence_length_mean": 14 + 10 * lift, "sentence_length_std": 6.0, "mattr": 0.6 + lift / 2,
            "novel_4gram_share": 0.2 + lift, "longest_copy_mean": 12 - 10 * lift, "longest_copy_max": 40,
            "emoji_rate": 0.0, "dialogue_share": 0.1,
        }

    style_rows = [style(MARKOV, t, 0.05 * t) for t in temps]
    style_rows += [style(LLAMA, t, 0.1 * t + 0.05) for t in temps]
    style_rows.append(style("human", None, 0.12))

    def zipf_counts(s: float, top: int, n: int) -> list[int]:
        return [max(1, int(top / r**s)) for r in range(1, n + 1)]

    def lengths(mean: float, n: int) -> list[int]:
        return [max(1, int(rng.gammavariate(4, mean / 4))) for _ in range(n)]

    return {
        "run": {"name": "first", "seed": 1, "samples": 4,
                "sampling": {"temperature": 0.8, "top_k": 40, "top_p": 0.95},
                "sweep": {"temperature": temps}},
        "backends": [MARKOV, LLAMA],
        "style": style_rows,
        "perplexity": [{"backend": MARKOV, "bits_per_byte": 1.83, "tokens": 900},
                       {"backend": LLAMA, "bits_per_byte": 1.61, "tokens": 1200}],
        "orders": [{"order": k, "bits_per_byte": bpb, "longest_copy_mean": copy_, "novel_4gram_share": nov}
                   for k, bpb, copy_, nov in [(1, 2.6, 3.1, 0.9), (2, 2.1, 5.4, 0.6), (3, 1.83, 11.0, 0.3),
                                              (4, 1.9, 24.0, 0.1), (5, 2.0, 48.0, 0.04), (6, 2.05, 80.0, 0.02)]],
        "rank_frequency": {MARKOV: zipf_counts(1.1, 400, 600), LLAMA: zipf_counts(0.95, 300, 900),
                           "human": zipf_counts(1.0, 500, 1500)},
        "sentence_lengths": {MARKOV: lengths(18, 300), LLAMA: lengths(12, 300), "human": lengths(15, 500)},
    }


@pytest.fixture(scope="module")
def metrics() -> dict:
    return synthetic_metrics()


@pytest.fixture(scope="module")
def drawn(metrics, tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("plots")
    return out, plots.draw_all(metrics, out)


def expected_files(names) -> set[str]:
    return {f"{n}.{fmt}" for n in names for fmt in ("png", "svg")}


# -- files -------------------------------------------------------------------------------------


def test_draw_all_writes_every_plot_as_png_and_svg(drawn):
    out, written = drawn
    assert {p.name for p in written} == expected_files(ALL_PLOTS)
    assert all(p.parent == out for p in written)
    assert {p.name for p in out.iterdir()} == expected_files(ALL_PLOTS)  # no temp files left


def test_pngs_are_valid_images_with_content(drawn):
    out, _ = drawn
    for name in ALL_PLOTS:
        path = out / f"{name}.png"
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE, name
        image = mimage.imread(path)
        assert image.ndim == 3 and image.shape[2] in (3, 4), name
        h, w = image.shape[:2]
        assert h >= 300 and w >= 600, (name, image.shape)
        rgb = image[..., :3].reshape(-1, 3)
        assert float(np.ptp(rgb, axis=0).max()) > 0.5, f"{name} is one flat colour"
        assert len(np.unique(rgb, axis=0)) > 10, name


def test_svgs_parse_as_xml(drawn):
    out, _ = drawn
    for name in ALL_PLOTS:
        root = ET.parse(out / f"{name}.svg").getroot()
        assert root.tag.endswith("svg"), name
        assert len(list(root.iter())) > 50, name


def test_redraw_gives_the_same_files(metrics, drawn, tmp_path):
    out, first = drawn
    before = {p.name: p.read_bytes() for p in first}
    again = plots.draw_all(metrics, out)
    assert sorted(p.name for p in again) == sorted(p.name for p in first)
    assert {p.name for p in out.iterdir()} == expected_files(ALL_PLOTS)
    # reproducible: no timestamps, fixed SVG ids
    assert {p.name: p.read_bytes() for p in again} == before


def test_draw_all_from_json_round_trip(metrics, tmp_path):
    """What `genlab plot RUN_DIR` does: load metrics.json (NaN included) and draw."""
    data = copy.deepcopy(metrics)
    data["style"][0]["zipf"] = math.nan
    (tmp_path / "metrics.json").write_text(json.dumps(data))
    loaded = json.loads((tmp_path / "metrics.json").read_text())
    written = plots.draw_all(loaded, tmp_path / "plots")
    assert {p.name for p in written} == expected_files(ALL_PLOTS)


# -- missing sections --------------------------------------------------------------------------


@pytest.mark.parametrize("section, lost", [
    ("perplexity", {"bits_per_byte"}),
    ("orders", {"perplexity_vs_order", "copy_vs_order"}),
    ("rank_frequency", {"zipf"}),
    ("sentence_lengths", {"sentence_lengths"}),
    ("style", {"distinct_n", "metrics_vs_temperature"}),
])
def test_missing_section_skips_its_plots(metrics, section, lost, tmp_path):
    for how in ("missing", "empty", "null"):
        data = copy.deepcopy(metrics)
        if how == "missing":
            del data[section]
        else:
            data[section] = None if how == "null" else type(data[section])()
        out = tmp_path / how
        written = plots.draw_all(data, out)
        assert {p.name for p in written} == expected_files(set(ALL_PLOTS) - lost), (section, how)


def test_no_sweep_skips_metrics_vs_temperature(metrics, tmp_path):
    data = copy.deepcopy(metrics)
    data["style"] = [r for r in data["style"] if r["temperature"] in (0.8, None)]
    data["run"]["sweep"] = None
    assert plots.plot_metrics_vs_temperature(data) is None
    names = {p.name for p in plots.draw_all(data, tmp_path)}
    assert names == expected_files(set(ALL_PLOTS) - {"metrics_vs_temperature"})


def test_empty_metrics_draw_nothing(tmp_path):
    assert plots.draw_all({}, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_redraw_removes_plots_whose_data_is_gone(metrics, tmp_path):
    plots.draw_all(metrics, tmp_path)
    data = copy.deepcopy(metrics)
    del data["rank_frequency"]
    plots.draw_all(data, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == expected_files(set(ALL_PLOTS) - {"zipf"})


def test_tolerates_junk_values(metrics):
    data = copy.deepcopy(metrics)
    data["perplexity"].append({"backend": "server:x", "bits_per_byte": None})
    data["perplexity"].append("not a row")
    data["orders"].append({"order": 7, "bits_per_byte": math.nan})
    data["rank_frequency"]["server:x"] = []
    data["sentence_lengths"]["server:y"] = [None, "x"]
    data["style"].append({"backend": "server:x", "temperature": 0.8})
    data["backends"] = None
    for name, draw in plots.PLOTS.items():
        assert draw(data) is not None, name


def test_interrupted_save_leaves_the_old_file(metrics, tmp_path, monkeypatch):
    fig = plots.plot_zipf(metrics)
    target = plots.save_figure(fig, tmp_path / "zipf.png")
    old = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fig, "savefig", boom)
    with pytest.raises(KeyboardInterrupt):
        plots.save_figure(fig, target)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["zipf.png"]


# -- colours -----------------------------------------------------------------------------------


def hexes(colours) -> set[str]:
    return {mcolors.to_hex(c) for c in colours}


def test_backend_colours_fixed_by_position():
    colours = plots.backend_colours([MARKOV, LLAMA])
    assert set(colours) == {MARKOV, LLAMA, "human"}
    assert colours[MARKOV] != colours[LLAMA]
    assert colours["human"] == plots.HUMAN_COLOUR
    assert plots.backend_colours([MARKOV, LLAMA]) == colours
    assert plots.backend_colours([MARKOV, "human", LLAMA]) == colours  # human takes no slot
    many = plots.backend_colours([f"markov:o{i}" for i in range(12)])
    assert len({v for k, v in many.items() if k != "human"}) == 12
    assert plots.HUMAN_COLOUR not in {v for k, v in many.items() if k != "human"}


def test_backend_labels():
    labels = plots.backend_labels([MARKOV, LLAMA, "human"])
    assert labels == {MARKOV: MARKOV, LLAMA: "llama:novel-llm.gguf", "human": "human text"}
    clash = plots.backend_labels(["llama:a/m.gguf", "llama:b/m.gguf"])
    assert clash["llama:a/m.gguf"] == "llama:a/m.gguf"


def bar_colours(fig) -> dict[str, str]:
    """{legend label: face colour} of the bars of the first axes."""
    ax = fig.axes[0]
    return {c.get_label(): mcolors.to_hex(c.patches[0].get_facecolor()) for c in ax.containers}


def line_colours(fig) -> dict[str, str]:
    return {ln.get_label(): mcolors.to_hex(ln.get_color()) for ax in fig.axes for ln in ax.get_lines()
            if not ln.get_label().startswith("_")}


def test_same_backend_same_colour_in_every_plot(metrics):
    colours = plots.backend_colours(metrics["backends"])
    llama_label = "llama:novel-llm.gguf"

    bpb = bar_colours(plots.plot_bits_per_byte(metrics))
    assert bpb == {MARKOV: colours[MARKOV], llama_label: colours[LLAMA]}

    # the Zipf legend gives each one's exponent: "markov:novel (s = 1.08)"
    zipf = {lab.split(" (s = ")[0]: c for lab, c in line_colours(plots.plot_zipf(metrics)).items()}
    assert zipf[MARKOV] == bpb[MARKOV] and zipf[llama_label] == bpb[llama_label]
    assert zipf["human text"] == plots.HUMAN_COLOUR

    distinct = bar_colours(plots.plot_distinct_n(metrics))
    assert distinct == {MARKOV: colours[MARKOV], llama_label: colours[LLAMA], "human text": plots.HUMAN_COLOUR}

    sweep = line_colours(plots.plot_metrics_vs_temperature(metrics))
    assert sweep[MARKOV] == colours[MARKOV] and sweep[llama_label] == colours[LLAMA]
    assert sweep["human text"] == plots.HUMAN_COLOUR

    hist = plots.plot_sentence_lengths(metrics)
    patches = {p.get_label(): mcolors.to_hex(p.get_edgecolor()) for p in hist.axes[0].patches}
    assert {lab.split(" (mean")[0]: c for lab, c in patches.items()} == {
        MARKOV: colours[MARKOV], llama_label: colours[LLAMA], "human text": plots.HUMAN_COLOUR}

    for fig in (plots.plot_perplexity_vs_order(metrics), plots.plot_copy_vs_order(metrics)):
        lines = line_colours(fig)
        # the single Markov backend's colour draws the by-order series; the LLM its dashed line
        assert lines["Markov chain, by order"] == colours[MARKOV]
        llm = [c for lab, c in lines.items() if lab.startswith(llama_label)]
        assert llm == [colours[LLAMA]]


def test_llm_lines_are_horizontal_and_dashed(metrics):
    fig = plots.plot_perplexity_vs_order(metrics)
    (llm,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("llama:")]
    assert llm.get_linestyle() == "--"
    assert list(llm.get_ydata()) == [1.61, 1.61]
    markov = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "Markov chain, by order")
    assert list(markov.get_xdata()) == [1, 2, 3, 4, 5, 6]


def test_base_temperature(metrics):
    assert plots.base_setting(metrics) == ("temperature", 0.8)
    data = copy.deepcopy(metrics)
    data["run"]["sampling"]["temperature"] = 0.9  # no row at 0.9: first temperature present
    assert plots.base_setting(data) == ("temperature", 0.5)
    assert "0.5" in plots.plot_distinct_n(data).axes[0].get_title()
    fig = plots.plot_distinct_n(metrics)
    assert "0.8" in fig.axes[0].get_title()
    heights = {c.get_label(): [p.get_height() for p in c.patches] for c in fig.axes[0].containers}
    row = next(r for r in metrics["style"] if r["backend"] == MARKOV and r["temperature"] == 0.8)
    assert heights[MARKOV] == pytest.approx([row["distinct_1"], row["distinct_2"], row["distinct_3"]])


def test_every_plot_has_title_labels_and_legend(metrics):
    for name, draw in plots.PLOTS.items():
        fig = draw(metrics)
        axes = [ax for ax in fig.axes if ax.get_visible()]
        title = fig.get_suptitle() or axes[0].get_title()
        assert title, name
        assert all(ax.get_xlabel() or ax.get_ylabel() for ax in axes), name
        assert fig.legends or axes[0].get_legend() is not None, name


def test_many_backends_use_box_plots(metrics):
    data = copy.deepcopy(metrics)
    for k in range(2, 6):
        data["sentence_lengths"][f"markov:o{k}"] = [k, k + 3, k + 10, 2 * k]
    fig = plots.plot_sentence_lengths(data)
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 7
    assert len(fig.axes[0].get_yticklabels()) == 7


def test_sweep_of_another_setting_is_drawn_against_it(metrics):
    """`genlab compare --sweep top_k=10,40` writes rows keyed by the swept setting."""
    data = copy.deepcopy(metrics)
    data["run"]["sweep"] = {"top_k": [10, 40]}
    data["run"]["sampling"]["top_k"] = 40
    rows = []
    for row in data["style"]:
        if row["backend"] == "human":
            rows.append(dict(row, top_k=None))
        elif row["temperature"] == 0.8:
            rows += [dict(row, top_k=10, distinct_1=0.2), dict(row, top_k=40)]
    data["style"] = rows
    assert plots.swept_setting(data) == "top_k"
    assert plots.base_setting(data) == ("top_k", 40)
    fig = plots.plot_metrics_vs_temperature(data)
    assert "top_k" in fig.get_suptitle()
    xs = {tuple(ln.get_xdata()) for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == MARKOV}
    assert xs == {(10, 40)}
    distinct = plots.plot_distinct_n(data)
    assert "top_k 40" in distinct.axes[0].get_title()
    heights = {c.get_label(): c.patches[0].get_height() for c in distinct.axes[0].containers}
    assert heights[MARKOV] != 0.2


def test_human_line_is_never_on_a_panel_frame(metrics):
    """The human value is often the extreme of a panel. A value just past the backends' range
    (inside the axes' 5% margin, so matplotlib does not rescale for it) must not sit on the
    frame: here distinct-2 just above every backend, self-BLEU just below."""
    m = copy.deepcopy(metrics)
    rows = [r for r in m["style"] if r["backend"] != "human"]
    for key, side in (("distinct_2", 1), ("self_bleu_4", -1)):
        values = [r[key] for r in rows]
        edge = max(values) if side > 0 else min(values)
        human = next(r for r in m["style"] if r["backend"] == "human")
        human[key] = edge + side * 0.04 * (max(values) - min(values))
    fig = plots.plot_metrics_vs_temperature(m)
    checked = 0
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        for line in ax.get_lines():
            if line.get_linestyle() == ":" and ax.get_title().startswith(("distinct-2", "self-BLEU")):
                y = line.get_ydata()[0]
                assert min(y - lo, hi - y) > 0.03 * (hi - lo), (ax.get_title(), y, lo, hi)
                checked += 1
    assert checked == 2
