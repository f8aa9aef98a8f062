"""The Findings that open report.md (genlab.eval.findings) and the report around them: a
difference is claimed only where its paired interval excludes zero, in the right direction,
and a comparison within noise says how many samples would likely settle it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import NOVEL, SHARED_BOOKS, ok
from genlab.eval.findings import BITS_PER_BYTE, findings, judge, samples_needed
from genlab.eval.report import render

A, B, HUMAN = "markov:novel", "llama:models/novel-llm.gguf", "human"
SETTING = "temperature=0.8"


def made(values: dict[str, dict[str, float]], human: dict[str, float] | None = None, *,
         half: dict[str, float] | None = None, bits: dict[str, float] | None = None, bits_half: float = 0.05,
         samples: int = 27, bootstrap: bool = True, setting: str = SETTING) -> dict:
    """A metrics.json dict as the schema in genlab.eval.plots.reading lays it out: each backend's
    style values at one setting, the human text's, and paired intervals of half-width `half[metric]`
    around each difference (every section consistent with the values)."""
    half = half or {}
    backends = list(values)

    def iv(d: float, h: float) -> list[float]:
        return [d - h, d + h]

    style = [{"backend": b, "setting": setting, "temperature": 0.8, "samples": samples, **v,
              "interval": {k: iv(x, half.get(k, 0.01)) for k, x in v.items()}} for b, v in values.items()]
    if human is not None:
        style.append({"backend": HUMAN, "setting": "", "temperature": None, "samples": 40, **human,
                      "interval": {k: iv(x, 0.01) for k, x in human.items()}})
    differences, versus_human, closer = [], [], []
    for i, a in enumerate(backends):
        for b in backends[i + 1:]:
            for k in values[a]:
                d = values[a][k] - values[b][k]
                differences.append({"metric": k, "setting": setting, "a": a, "b": b, "a_value": values[a][k],
                                    "b_value": values[b][k], "difference": d, "interval": iv(d, half.get(k, 0.01)),
                                    "units": samples})
                if human is not None:
                    gap = abs(values[b][k] - human[k]) - abs(values[a][k] - human[k])
                    closer.append({"metric": k, "setting": setting, "a": a, "b": b, "gap": gap,
                                   "interval": iv(gap, half.get(k, 0.01))})
            if bits:
                d = bits[a] - bits[b]
                differences.append({"metric": BITS_PER_BYTE, "setting": "", "a": a, "b": b, "a_value": bits[a],
                                    "b_value": bits[b], "difference": d, "interval": iv(d, bits_half),
                                    "units": 210})
    for b in backends:
        for k in (human or {}):
            d = values[b][k] - human[k]
            versus_human.append({"metric": k, "setting": setting, "backend": b, "value": values[b][k],
                                 "human": human[k], "difference": d, "interval": iv(d, half.get(k, 0.01))})
    return {
        "run": {"name": "t", "seed": 1, "samples": 3, "sampling": {"temperature": 0.8}, "sweep": None,
                "bootstrap": {"replicates": 1000, "level": 0.95} if bootstrap else None,
                "prompts": [{"id": f"p{i}", "kind": "story", "text": "x"} for i in range(9)],
                "eval_text": "held-out.txt"},
        "backends": backends,
        "style": style,
        "perplexity": [{"backend": b, "bits_per_byte": x, "paragraphs": 210,
                        "interval": {"bits_per_byte": iv(x, bits_half)}} for b, x in (bits or {}).items()],
        "differences": differences, "versus_human": versus_human, "closer": closer,
    }


def bullets(text: str) -> dict[str, str]:
    """The Findings' bullets by their bold head ("distinct-2", "Within noise", "Bits per byte")."""
    return {m.group(1): line for line in text.splitlines() if (m := re.match(r"- \*\*(.+?)\*\*", line))}


def claimed(metrics: dict) -> list:
    return [f for f in judge(metrics) if f.claimed]


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [(A, B), (B, A)])
def test_a_difference_whose_interval_excludes_zero_names_the_backend_nearer_the_human_text(order):
    values = {A: {"distinct_2": 0.77}, B: {"distinct_2": 0.70}}
    m = made({b: values[b] for b in order}, {"distinct_2": 0.78}, half={"distinct_2": 0.02})
    (near,) = [f for f in claimed(m) if f.kind == "nearer"]
    assert (near.first, near.second) == (A, B) and near.difference == pytest.approx(0.07)  # |0.70-0.78| - |0.77-0.78|
    line = bullets(findings(m))["distinct-2"]
    assert line.index(f"`{A}`") < line.index("nearest the human text") < line.index(f"nearer than `{B}`")
    assert "Within noise" not in bullets(findings(m))


def test_a_difference_whose_interval_holds_zero_is_within_noise_with_a_sample_estimate():
    # gap 0.02 with a half-width of 0.04: about 27 * (0.04 / 0.02)**2 = 108 samples would settle it
    m = made({A: {"distinct_2": 0.77}, B: {"distinct_2": 0.75}}, {"distinct_2": 0.78}, half={"distinct_2": 0.04})
    assert not [f for f in claimed(m) if f.kind != "human"]
    found = bullets(findings(m))
    assert "distinct-2" not in found
    assert "distinct-2 (about 110 samples per backend, now 27, would likely settle it)" in found["Within noise"]
    assert not [line for line in bullets(findings(m)).values() if "nearer" in line or "nearest" in line]


def test_the_within_noise_metrics_share_one_sentence_and_a_zero_difference_has_no_estimate():
    values = {A: {"distinct_2": 0.77, "mattr": 0.80, "zipf": 1.0}, B: {"distinct_2": 0.75, "mattr": 0.80, "zipf": 1.2}}
    m = made(values, {"distinct_2": 0.78, "mattr": 0.81, "zipf": 1.1}, half={"distinct_2": 0.04, "zipf": 0.05})
    found = bullets(findings(m))
    assert set(found) == {"Within noise"}
    noise = found["Within noise"]
    assert "distinct-2 (about" in noise and "no sign of a difference on Zipf s or MATTR" in noise
    assert samples_needed(27, (-0.02, 0.06), 0.02) == 110
    assert samples_needed(27, (-0.04, 0.04), 0.0) is None  # identical: nothing more samples would settle
    assert samples_needed(27, (-0.5, 0.51), 0.005) is None  # 10,000 times the run: no sign of a difference
    assert samples_needed(1234, (-0.02, 0.06), 0.02) == 5000  # two significant digits, rounded up


def test_bits_per_byte_is_lower_is_better_whichever_backend_comes_first():
    for bits, best, worst in (({A: 1.80, B: 2.30}, A, B), ({A: 2.30, B: 1.80}, B, A)):
        m = made({A: {"mattr": 0.8}, B: {"mattr": 0.8}}, bits=bits)
        line = bullets(findings(m))["Bits per byte"]
        assert "lower is better" in line
        claim = rf"`{re.escape(best)}` 1\.80\d* is lower than `{re.escape(worst)}` \(2\.30\d*\) by 0\.50"
        assert re.search(claim, line)
        (f,) = [f for f in claimed(m) if f.metric == BITS_PER_BYTE]
        assert (f.kind, f.first, f.second) == ("lower", best, worst)
    m = made({A: {"mattr": 0.8}, B: {"mattr": 0.8}}, bits={A: 1.80, B: 1.82}, bits_half=0.05)
    assert "Bits per byte" not in bullets(findings(m))
    assert "bits per byte (about" in bullets(findings(m))["Within noise"]
    assert "paragraphs of eval text" in bullets(findings(m))["Within noise"]


def test_without_intervals_nothing_is_claimed():
    m = made({A: {"distinct_2": 0.9}, B: {"distinct_2": 0.1}}, {"distinct_2": 0.85}, bits={A: 1.0, B: 3.0},
             bootstrap=False)
    assert judge(m) == []
    text = findings(m)
    assert "no intervals" in text and "no difference is claimed" in text
    assert A not in text and B not in text and not bullets(text)


def test_one_backend_is_set_against_the_human_text_only():
    m = made({A: {"distinct_2": 0.70, "mattr": 0.80}}, {"distinct_2": 0.78, "mattr": 0.80},
             half={"distinct_2": 0.02})
    found = bullets(findings(m))
    assert found["distinct-2"].endswith("0.700 is lower than the human text by 0.080 [0.060–0.100].")
    assert f"`{A}`" in found["distinct-2"] and "nearer" not in findings(m)
    assert "MATTR" in found["Within noise"]


def test_without_a_human_text_the_backends_are_set_against_each_other():
    m = made({A: {"distinct_2": 0.70, "mattr": 0.80}, B: {"distinct_2": 0.78, "mattr": 0.80}},
             half={"distinct_2": 0.02})
    text = findings(m)
    assert "human" not in text.split("\n\n", 2)[2]  # the bullets say nothing of a human text
    line = bullets(text)["distinct-2"]
    assert re.search(rf"`{re.escape(B)}` 0\.780 is higher than `{re.escape(A)}` 0\.700 by 0\.08", line)


def test_a_sweep_is_judged_at_its_base_setting():
    base = made({A: {"distinct_2": 0.77}, B: {"distinct_2": 0.70}}, {"distinct_2": 0.78}, half={"distinct_2": 0.02})
    other = made({A: {"distinct_2": 0.60}, B: {"distinct_2": 0.78}}, {"distinct_2": 0.78}, half={"distinct_2": 0.02},
                 setting="temperature=1.5")
    for row in other["style"]:
        row["temperature"] = 1.5
    m = dict(base, style=other["style"][:2] + base["style"])
    for section in ("differences", "versus_human", "closer"):
        m[section] = other[section] + base[section]
    m["run"] = dict(base["run"], sweep={"temperature": [1.5, 0.8]})
    (near,) = [f for f in claimed(m) if f.kind == "nearer"]
    assert near.first == A
    assert "At temperature 0.8 (the run's base setting" in findings(m)


# --- the report around them ----------------------------------------------------------------------


def test_the_report_opens_with_the_findings_and_its_tables_show_intervals(tmp_path):
    m = made({A: {"distinct_2": 0.77}, B: {"distinct_2": 0.70}}, {"distinct_2": 0.78}, half={"distinct_2": 0.02},
             bits={A: 1.8, B: 2.3})
    text = render(m, tmp_path)
    heads = [line for line in text.splitlines() if line.startswith("#")]
    assert heads[:3] == ["# Comparison: t", "## Findings", "## Bits per byte on the eval text (lower is better)"]
    assert f"| `{A}` | 1.800 [1.75–1.85] |" in text
    assert "| distinct-2 | 0.770 [0.750–0.790] | 0.700 [0.680–0.720] | 0.780 [0.770–0.790] |" in text


def test_an_old_run_without_intervals_is_redrawn_and_says_so(cli):
    """`genlab plot` on a metrics.json written before intervals (no run.bootstrap, no interval keys)."""
    pytest.importorskip("matplotlib")
    m = made({A: {"distinct_2": 0.77}, B: {"distinct_2": 0.70}}, {"distinct_2": 0.78}, bits={A: 1.8, B: 2.3})
    for key in ("differences", "versus_human", "closer"):
        del m[key]
    del m["run"]["bootstrap"]
    for row in m["style"] + m["perplexity"]:
        del row["interval"]
    run = cli.cwd / "old"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
    ok(cli("plot", run))
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "carry no intervals" in report and "[" not in report.split("## Bits per byte")[1].split("## Plots")[0]
    assert not bullets(report.split("## Bits per byte")[0])


# --- real comparisons ----------------------------------------------------------------------------

PROMPTS = [{"id": "harbour", "kind": "story", "text": "The harbour was empty when the last boat came in, and"},
           {"id": "well", "kind": "dialogue", "text": "“Well,” said"},
           {"id": "late", "kind": "dialogue", "text": "“You are late again,” she said. “"},
           {"id": "sea", "kind": "chat", "text": "What do you like best about the sea?"},
           {"id": "outside", "kind": "list", "text": "A list of reasons never to go outside:\n\n1."}]


def compare(cli, book: Path, *backends: str) -> tuple[dict, str]:
    """A real `genlab compare` of `backends` on the book's held-out end (texts/, from `corpus split`)."""
    (cli.cwd / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROMPTS), encoding="utf-8")
    stem = book.stem
    args = [a for b in backends for a in ("-b", b)]
    ok(cli("compare", *args, "--prompts", "prompts.jsonl", "--eval-text", f"texts/{stem}-held-out.txt",
           "--samples", "3", "--max-tokens", "30", "--orders", "none", "--seed", "3", "-o", "run"))
    run = cli.cwd / "run"
    return json.loads((run / "metrics.json").read_text(encoding="utf-8")), (run / "report.md").read_text("utf-8")


def findings_of(report: str) -> str:
    return report.split("## Findings", 1)[1].split("\n## ", 1)[0]


def test_the_same_chain_under_two_names_is_found_no_different(cli):
    """The acceptance test of issue 18: one chain named by `markov:PATH` and by its path alone
    makes the same samples and scores, so the Findings may claim nothing between the two names."""
    ok(cli("corpus", "split", NOVEL, "-o", "texts"))
    ok(cli("train-markov", "texts/novel-train.txt", "-o", "models/chain.markov"))
    one, two = "markov:models/chain.markov", "models/chain.markov"
    metrics, report = compare(cli, NOVEL, one, two)
    found = judge(metrics)
    assert {f.metric for f in found} >= {BITS_PER_BYTE, "distinct_2", "self_bleu_4"}  # they were compared
    assert all(f.interval is not None for f in found if f.kind != "human")
    assert not [f for f in found if f.claimed and f.kind != "human"]
    section = findings_of(report)
    assert one not in section and two not in section
    assert set(bullets(section)) == {"Within noise"} and "no sign of a difference on" in section
    # the tables carry intervals, and one sample of each kind of prompt is shown
    assert re.search(rf"\| `{re.escape(one)}` \| \d\.\d+ \[\d\.\d+–\d\.\d+\] \|", report)
    samples = report.split("## Samples", 1)[1]
    assert re.findall(r"^### (\w+)$", samples, re.M) == ["story", "dialogue", "chat", "list"]
    assert "“Well,” said" in samples and "You are late again" not in samples  # one prompt of each kind
    assert samples.count(f"**`{one}`**") == samples.count(f"**`{two}`**") == 4


@pytest.mark.skipif(not SHARED_BOOKS, reason="no public-domain books in ../shared/corpora")
def test_chains_of_order_1_and_5_differ_where_they_should(cli):
    """An order-5 chain copies long runs of its training text, an order-1 chain almost none, and
    the held-out human text few: order 1 is found nearer the human text on novel 4-grams, and
    order 5 lower in bits per byte."""
    book = cli.cwd / "book.txt"
    shutil.copy(SHARED_BOOKS[0], book)
    ok(cli("corpus", "split", book, "-o", "texts"))
    for k in (1, 5):
        ok(cli("train-markov", "texts/book-train.txt", "--order", k, "-o", f"models/order{k}.markov"))
    low, high = "markov:models/order1.markov", "markov:models/order5.markov"
    metrics, report = compare(cli, book, low, high)
    near = [f for f in claimed(metrics) if f.kind == "nearer" and f.metric in ("novel_4gram_share",
                                                                               "longest_copy_mean")]
    assert near and all((f.first, f.second) == (low, high) for f in near)
    line = bullets(findings_of(report))["novel 4-grams"]
    assert line.index(f"`{low}`") < line.index("nearest the human text") < line.index(f"nearer than `{high}`")
    # the longer context predicts the held-out text better (paired over the same paragraphs)
    line = bullets(findings_of(report))["Bits per byte"]
    assert line.index(f"`{high}`") < line.index(f"is lower than `{low}`")
