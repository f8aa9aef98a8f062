"""Intervals on the style metrics of `genlab compare`: per-sample parts that give the pooled
numbers, paired differences between backends, closeness to the human text, metrics.json and
metrics.csv, on real chains trained on the novel and real texts."""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")  # a compare draws its plots at the end

from conftest import NOVEL, SHARED_BOOKS  # noqa: E402
from conftest import run_in as genlab  # noqa: E402

from genlab.eval.bootstrap import excludes_zero, generator, nested_counts  # noqa: E402
from genlab.eval.diversity import ends_in_loop  # noqa: E402
from genlab.eval.form import (dialogue_share, emoji_count, punctuation_profile, quotes_balanced,  # noqa: E402
                              sentence_word_counts)
from genlab.eval.metrics import STYLE_KEYS, CorpusIndex, reference_samples, style_metrics, style_parts  # noqa: E402
from genlab.eval.words import words  # noqa: E402

O1, O5, O5_AGAIN = "markov:models/o1.markov", "markov:models/o5.markov", "markov:models/o5-again.markov"
PROMPTS = ("The harbour was empty when the last boat came in, and\n“Well,” said\n"
           "It had rained for three days on the road out of town.\nchat:What do you see from the window?\n")
COMMON = ["--prompts", "prompts.txt", "--eval-text", "texts/novel-held-out.txt", "--corpus", "texts/novel-train.txt",
          "--max-tokens", "40", "--seed", "5"]
RUN_A = ["-b", O1, "-b", O5, "-b", O5_AGAIN, *COMMON, "--samples", "3", "--orders", "1,4"]
SECTIONS = ("differences", "versus_human", "closer")
NOT_SMOOTH = {"longest_copy_max"}  # a maximum: the bootstrap can only lower it


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """The novel split 90/10, chains of order 1 and 5 on the first part (the order-5 one saved
    twice under two names: the same backend) and four prompts, one of them a chat."""
    d = tmp_path_factory.mktemp("intervals")
    assert genlab("corpus", "split", NOVEL, "-o", "texts", cwd=d).returncode == 0
    for order in (1, 5):
        r = genlab("train-markov", "texts/novel-train.txt", "--order", order, "-o", f"models/o{order}.markov", cwd=d)
        assert r.returncode == 0, r.stderr
    shutil.copy(d / "models" / "o5.markov", d / "models" / "o5-again.markov")
    (d / "prompts.txt").write_text(PROMPTS, encoding="utf-8")
    return d


def compare(work: Path, out: str, *args: str) -> Path:
    r = genlab("compare", *args, "-o", f"runs/{out}", cwd=work)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return work / "runs" / out


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))


def row(m: dict, backend: str) -> dict:
    return next(r for r in m["style"] if r["backend"] == backend)


@pytest.fixture(scope="module")
def run_a(work) -> Path:
    return compare(work, "a", *RUN_A)


# -- parts give the pooled numbers -------------------------------------------------------------


def pooled(texts: list[str], index: CorpusIndex) -> dict[str, float]:
    """Every style metric computed the plain way, over all samples pooled: the reference the
    per-sample parts must reproduce."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    tokens = [words(t) for t in texts]
    out: dict[str, float] = {}
    for n in (1, 2, 3):
        grams = [g for w in tokens for g in zip(*(w[i:] for i in range(n)))]
        out[f"distinct_{n}"] = len(set(grams)) / len(grams)
    samples = [w for w in tokens if w]
    out["self_bleu_4"] = float(np.mean([sentence_bleu(samples[:i] + samples[i + 1:], samples[i], (0.25,) * 4,
                                                      SmoothingFunction().method1) for i in range(len(samples))]))
    out["zipf"] = zipf_by_polyfit(Counter(w for t in tokens for w in t))
    out["repetition_rate"] = float(np.mean([ends_in_loop(w) for w in tokens]))
    lengths = sentence_word_counts(texts)
    out["sentence_length_mean"], out["sentence_length_std"] = float(np.mean(lengths)), float(np.std(lengths))
    letters = [len(x) for w in tokens for x in w]
    out["word_length_mean"], out["word_length_std"] = float(np.mean(letters)), float(np.std(letters))
    windows = [len(set(w[i:i + 50])) / 50 for w in tokens for i in range(len(w) - 49)]
    out["mattr"] = float(np.mean(windows)) if windows else math.nan
    out["quote_balance_rate"] = float(np.mean([quotes_balanced(t) for t in texts]))
    chars = sum(map(len, texts))
    out["dialogue_share"] = sum(dialogue_share([t]) * len(t) for t in texts if t) / chars
    out["emoji_rate"] = 1000 * sum(map(emoji_count, texts)) / chars
    for k in punctuation_profile([""]):
        out[k] = sum(punctuation_profile([t])[k] * len(t) for t in texts if t) / chars
    copied = grams4 = 0
    longest = []
    for w in tokens:
        if w:
            ids = index.encode(w)
            starts = np.arange(max(len(ids) - 3, 0))
            copied += int(index.occurs(ids, starts, 4).sum())
            grams4 += len(starts)
            longest.append(index.longest_copy(ids))
    out["novel_4gram_share"] = 1 - copied / grams4
    out["longest_copy_mean"], out["longest_copy_max"] = float(np.mean(longest)), float(max(longest))
    return out


def zipf_by_polyfit(counts: Counter) -> float:
    freqs = sorted(counts.values(), reverse=True)
    return float(-np.polyfit(np.log(np.arange(1, len(freqs) + 1)), np.log(freqs), 1)[0])


def chain_samples(run: Path, backend: str) -> list[str]:
    from genlab.eval.runfolder import sample_text

    lines = (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return [sample_text(r) for r in map(json.loads, lines) if r["backend"] == backend]


def real_texts(kind: str, run_a: Path) -> list[str]:
    if kind == "book":
        if not SHARED_BOOKS:
            pytest.skip("no books in ../shared/corpora")
        passages = reference_samples(SHARED_BOOKS[0].read_text(encoding="utf-8"))
        return passages[len(passages) // 2:len(passages) // 2 + 30]
    if kind == "novel":
        return reference_samples(NOVEL.read_text(encoding="utf-8"))[:25]
    return chain_samples(run_a, O1)


@pytest.fixture(scope="module")
def index(work) -> CorpusIndex:
    return CorpusIndex((work / "texts" / "novel-train.txt").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["chain", "novel", "book"])
def test_parts_give_the_pooled_numbers_on_real_samples(kind, run_a, index):
    texts = real_texts(kind, run_a)
    expected = pooled(texts, index)
    found = style_metrics(texts, index)
    assert list(found) == list(STYLE_KEYS) and set(expected) == set(STYLE_KEYS)
    for k in STYLE_KEYS:
        if math.isnan(expected[k]):
            assert math.isnan(found[k]), k
        else:
            assert found[k] == pytest.approx(expected[k], rel=1e-12, abs=1e-12), k


def test_a_replicate_reweights_the_samples_it_draws(run_a, index):
    """Under counts, metrics that duplicates cannot fool are those of the texts repeated by their
    counts; distinct-n, self-BLEU and Zipf keep each sample's part of the set as it was: a
    sample drawn twice is never compared with its own copy."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    texts = chain_samples(run_a, O1)
    parts = style_parts(texts, index)
    counts = nested_counts([3] * 4, 5, generator(7, "test"))
    tokens = [words(t) for t in texts]
    bleu = [sentence_bleu(tokens[:i] + tokens[i + 1:], tokens[i], (0.25,) * 4, SmoothingFunction().method1)
            for i in range(len(tokens))]
    grams = [list(zip(w, w[1:])) for w in tokens]
    seen = Counter(g for sample in grams for g in sample)
    share = [sum(1 / seen[g] for g in sample) for sample in grams]
    whole = zipf_by_polyfit(Counter(w for t in tokens for w in t))
    influence = [(len(texts) - 1) * (whole - zipf_by_polyfit(Counter(w for j, t in enumerate(tokens) if j != i
                                                                     for w in t)))
                 for i in range(len(texts))]
    for c in counts:
        repeated = [t for t, k in zip(texts, c) for _ in range(k)]
        again = style_metrics(repeated, index)
        for k in set(STYLE_KEYS) - {"distinct_1", "distinct_2", "distinct_3", "self_bleu_4", "zipf"}:
            assert parts[k].at(c[None])[0] == pytest.approx(again[k], rel=1e-9, nan_ok=True), k
        if c.max() > 1:
            assert again["self_bleu_4"] > parts["self_bleu_4"].at(c[None])[0]  # copies would score each other
        assert parts["self_bleu_4"].at(c[None])[0] == pytest.approx(np.dot(c, bleu) / c.sum(), rel=1e-12)
        assert parts["distinct_2"].at(c[None])[0] == pytest.approx(
            np.dot(c, share) / np.dot(c, [len(g) for g in grams]), rel=1e-12)
        assert parts["zipf"].at(c[None])[0] == pytest.approx(whole + np.dot(c - 1, influence) / len(texts), rel=1e-9)


# -- a compare: differences, closeness, the files -----------------------------------------------


def test_a_backend_compared_with_itself_differs_by_exactly_nothing(run_a):
    m = metrics(run_a)
    same = [d for d in m["differences"] if (d["a"], d["b"]) == (O5, O5_AGAIN)]
    assert {d["metric"] for d in same} == {k for k in STYLE_KEYS if row(m, O5)[k] is not None} | {"bits_per_byte"}
    for d in same:
        assert d["difference"] == 0 and d["interval"] == [0.0, 0.0], d
    assert not [d for d in m["closer"] if (d["a"], d["b"]) == (O5, O5_AGAIN) and excludes_zero(d["interval"])]
    assert row(m, O5)["interval"] == row(m, O5_AGAIN)["interval"]
    mine = {d["metric"]: d for d in m["versus_human"] if d["backend"] == O5}
    assert mine == {d["metric"]: {**d, "backend": O5} for d in m["versus_human"] if d["backend"] == O5_AGAIN}
    assert m["run"]["bootstrap"] == {"replicates": 1000, "level": 0.95}


def test_chains_of_order_1_and_5_differ_beyond_noise_in_novelty(run_a):
    """Order 1 strings words together anew; order 5 copies long runs of the novel, while the
    held-out end of the novel shares few 4-grams with its beginning: order 1 is nearer it."""
    m = metrics(run_a)
    diff = {d["metric"]: d for d in m["differences"] if (d["a"], d["b"]) == (O1, O5)}
    closer = {d["metric"]: d for d in m["closer"] if (d["a"], d["b"]) == (O1, O5)}
    assert diff["novel_4gram_share"]["difference"] > 0 and excludes_zero(diff["novel_4gram_share"]["interval"])
    assert diff["longest_copy_mean"]["difference"] < 0 and excludes_zero(diff["longest_copy_mean"]["interval"])
    assert closer["novel_4gram_share"]["gap"] > 0 and excludes_zero(closer["novel_4gram_share"]["interval"])
    d = diff["novel_4gram_share"]
    assert d["difference"] == pytest.approx(d["a_value"] - d["b_value"]) and d["units"] == 12
    assert d["a_value"] == row(m, O1)["novel_4gram_share"] and d["b_value"] == row(m, O5)["novel_4gram_share"]
    human = row(m, "human")
    v = next(x for x in m["versus_human"] if x["backend"] == O5 and x["metric"] == "novel_4gram_share")
    assert v["human"] == human["novel_4gram_share"] and v["difference"] < 0 and excludes_zero(v["interval"])
    orders = {r["order"]: r for r in m["orders"]}
    assert orders[1]["interval"]["novel_4gram_share"][0] > orders[4]["interval"]["novel_4gram_share"][1]


def test_intervals_hold_their_estimates_and_narrow_with_more_samples(work, run_a):
    few, many = metrics(run_a), metrics(compare(work, "many", "-b", O1, *COMMON, "--samples", "12", "--orders", "none"))
    for m in (few, many):
        for r in m["style"]:
            for k, bounds in r["interval"].items():
                if bounds is not None and k not in NOT_SMOOTH:
                    assert bounds[0] <= r[k] <= bounds[1], (r["backend"], k, r[k], bounds)
    # numbers averaged over samples: 12 samples of each prompt pin them down better than 3
    # (an order-1 chain hardly depends on its prompt, so most of the spread is the samples')
    averages = ["sentence_length_mean", "sentence_length_std", "word_length_mean", "word_length_std",
                "dialogue_share", "punct_comma", "punct_period", "novel_4gram_share", "longest_copy_mean"]
    a, b = row(few, O1)["interval"], row(many, O1)["interval"]
    ratios = [(b[k][1] - b[k][0]) / (a[k][1] - a[k][0]) for k in averages]
    assert np.median(ratios) < 0.8 and sum(r < 1 for r in ratios) >= 7, ratios


def test_the_same_seed_gives_identical_intervals_and_another_seed_others(work, run_a):
    again = compare(work, "a-again", *RUN_A)

    def intervals(m: dict) -> str:
        return json.dumps([[r["interval"] for r in m["style"]], [r["interval"] for r in m["orders"]],
                           *(m[s] for s in SECTIONS)])

    assert intervals(metrics(again)) == intervals(metrics(run_a))
    # the same samples measured under another run seed: other draws, other intervals
    five, six = (measure_run_a(work, run_a, seed=seed) for seed in (5, 6))
    assert intervals(five) != intervals(six)
    assert row(five, O1)["distinct_2"] == row(six, O1)["distinct_2"]
    assert row(five, O1)["interval"]["distinct_2"] != row(six, O1)["interval"]["distinct_2"]


def measure_run_a(work: Path, run: Path, seed: int = 5) -> dict:
    """genlab.eval.measure on a run folder of RUN_A's comparison (without the chains by order)."""
    from genlab.eval.measure import measure
    from genlab.eval.plan import CompareSettings
    from genlab.eval.prompts import load_prompts
    from genlab.sampling import Sampling

    s = CompareSettings(backends=(O1, O5, O5_AGAIN), prompts=tuple(load_prompts(work / "prompts.txt")), samples=3,
                        seed=seed, sampling=Sampling(max_tokens=40), bootstrap=200)
    texts = {name: (work / "texts" / f"novel-{name}.txt").read_text(encoding="utf-8") for name in ("train", "held-out")}
    return measure(s, run, texts["train"], texts["held-out"])


def test_bootstrap_0_writes_no_intervals_and_still_reports(work):
    run = compare(work, "none", "-b", O1, "-b", O5, *COMMON, "--orders", "1", "--bootstrap", "0")
    m = metrics(run)
    assert m["run"]["bootstrap"] is None
    assert all(r["interval"] is None for r in m["style"] + m["orders"])
    assert all(m[s] == [] for s in SECTIONS)
    assert row(m, O1)["distinct_2"] > 0
    header = (run / "metrics.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "distinct_2" in header and not [c for c in header if c.endswith(("_low", "_high"))]
    assert (run / "report.md").is_file() and list((run / "plots").glob("*.png"))


def test_metrics_csv_has_low_and_high_after_each_metric(run_a):
    m = metrics(run_a)
    with open(run_a / "metrics.csv", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        table = [dict(zip(header, line)) for line in reader]
    for k in [*STYLE_KEYS, "bits_per_byte"]:
        at = header.index(k)
        assert header[at + 1:at + 3] == [f"{k}_low", f"{k}_high"], k
    assert [r["backend"] for r in table] == [r["backend"] for r in m["style"]]
    for line, r in zip(table, m["style"]):
        for k in STYLE_KEYS:
            bounds = r["interval"][k]
            if bounds is None:
                assert line[f"{k}_low"] == line[f"{k}_high"] == "", (r["backend"], k)
            else:
                assert float(line[f"{k}_low"]) == pytest.approx(bounds[0], rel=1e-5, abs=1e-9)
                assert float(line[f"{k}_high"]) == pytest.approx(bounds[1], rel=1e-5, abs=1e-9)


def test_a_resumed_run_measures_the_same_and_a_partial_one_still_measures(work, run_a):
    """Samples cut out of the middle are made again at the end of samples.jsonl: the units are
    matched by prompt and sample, not by line, so the numbers do not move. Measured with
    samples still missing, a row counts what it has."""
    run = work / "runs" / "resumed"
    shutil.copytree(run_a, run)
    lines = (run / "samples.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[:4] + lines[9:16] + lines[21:]  # units 4-8 of the first two backends (jobs are backend-major)
    (run / "samples.jsonl").write_text("".join(kept), encoding="utf-8")
    partial = measure_run_a(work, run)
    assert [r["samples"] for r in partial["style"][:3]] == [7, 7, 12]
    assert all(r["interval"]["distinct_2"] is not None for r in partial["style"])
    assert {d["units"] for d in partial["differences"] if d["metric"] != "bits_per_byte"} == {7}  # over paragraphs
    assert row(partial, O1)["self_bleu_4"] == pytest.approx(style_metrics(chain_samples(run, O1))["self_bleu_4"])

    compare(work, "resumed", *RUN_A)
    assert len((run / "samples.jsonl").read_text(encoding="utf-8").splitlines()) == len(lines)
    before, after = metrics(run_a), metrics(run)
    for key in ("style", "orders", *SECTIONS):
        assert after[key] == before[key], key
