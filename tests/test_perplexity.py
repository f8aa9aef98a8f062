"""Kneser-Ney scoring, bits per byte, `genlab perplexity` and `genlab export-arpa`.

The Kneser-Ney estimates are checked against KenLM twice: against ARPA files that KenLM's
own `lmplz` wrote for the same tokens (tests/data/lmplz), and through KenLM's query module
reading genlab's ARPA (skipped when `kenlm` is not installed; `make test` installs it).
"""

from __future__ import annotations

import io
import json
import lzma
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import NOVEL, REPO, SHARED_CORPORA
from conftest import any_one_line_error as assert_one_line_error
from conftest import ok as assert_ok
from genlab.eval.orders import parse_orders
from genlab.eval.perplexity import perplexity, prepare_text
from genlab.errors import GenlabError
from genlab.markov.generator import MarkovGenerator
from genlab.markov.kneser_ney import KneserNey
from genlab.markov.model import train
from genlab.markov.scoring import counted_ngrams, estimation_inputs, kneser_ney
from genlab.markov.store import load

LMPLZ_DATA = REPO / "tests" / "data" / "lmplz"


def parse_arpa(text: str) -> dict[str, tuple[float, float]]:
    """{n-gram: (log10 prob, log10 back-off)} of an ARPA file, with its header counts checked."""
    grams: dict[str, tuple[float, float]] = {}
    declared: dict[int, int] = {}
    seen: dict[int, int] = {}
    order = 0
    for line in text.splitlines():
        if line.startswith("ngram "):
            n, count = line[6:].split("=")
            declared[int(n)] = int(count)
        elif line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:-7])
        elif order and line and not line.startswith("\\"):
            fields = line.split("\t")
            assert len(fields[1].split(" ")) == order
            grams[fields[1]] = (float(fields[0]), float(fields[2]) if len(fields) > 2 else 0.0)
            seen[order] = seen.get(order, 0) + 1
    assert declared == seen, "ARPA header counts do not match its sections"
    return grams


def assert_same_arpa(ours: str, reference: str, tolerance: float = 1e-4) -> None:
    a, b = parse_arpa(ours), parse_arpa(reference)
    assert a.keys() == b.keys()
    worst_prob = max(abs(a[g][0] - b[g][0]) for g in b)
    worst_backoff = max(abs(a[g][1] - b[g][1]) for g in b)
    assert worst_prob <= tolerance and worst_backoff <= tolerance, (worst_prob, worst_backoff)


@pytest.fixture(scope="module")
def novel_chain() -> MarkovGenerator:
    return MarkovGenerator(train([(NOVEL, 1.0)], order=3))


# --------------------------------------------------------------------------- the estimates


@pytest.mark.parametrize("order", [2, 4])
def test_arpa_of_pretokenized_text_equals_lmplz(order, tmp_path, cli):
    r = cli("train-markov", "--tokenized", LMPLZ_DATA / "novel-train.tok", "--order", order, "-o", "m.markov")
    assert_ok(r)
    assert_ok(cli("export-arpa", "m.markov", "-o", "m.arpa"))
    reference = lzma.decompress((LMPLZ_DATA / f"lmplz-o{order}.arpa.xz").read_bytes()).decode("utf-8")
    assert_same_arpa((cli.cwd / "m.arpa").read_text(encoding="utf-8"), reference)


LMPLZ = os.environ.get("GENLAB_LMPLZ") or shutil.which("lmplz")


@pytest.mark.skipif(not LMPLZ, reason="KenLM's lmplz is not installed (set GENLAB_LMPLZ to use one)")
@pytest.mark.parametrize("order", [1, 3, 5])
def test_arpa_equals_a_live_lmplz_run(order, tmp_path):
    corpus = tmp_path / "train.tok"
    shutil.copy(LMPLZ_DATA / "novel-train.tok", corpus)
    reference = subprocess.run([LMPLZ, "-o", str(order), "-S", "10%", "-T", str(tmp_path)],
                               stdin=corpus.open("rb"), capture_output=True, check=True).stdout.decode("utf-8")
    model = train([(corpus, 1.0)], order=order, tokenized=True)
    out = io.StringIO()
    kneser_ney(model).write_arpa(out)
    assert_same_arpa(out.getvalue(), reference)


def _assert_same_model(a: KneserNey, b: KneserNey) -> None:
    assert a.sizes == b.sizes and a.discounts == b.discounts and a.fallback == b.fallback
    for x, y in zip(a.keys, b.keys):
        assert np.array_equal(x, y)
    for x, y in zip(a.log10_prob + a.log10_backoff, b.log10_prob + b.log10_backoff):
        assert np.max(np.abs(x - y), initial=0.0) <= 1e-12


@pytest.mark.parametrize("order,unit,tokenized", [(1, "word", True), (2, "word", False), (3, "word", True),
                                                  (4, "word", False), (4, "char", False)])
def test_estimates_from_the_chain_s_counts_equal_those_from_its_text(order, unit, tokenized):
    # two documents: the counts never cross a document start, the sentences must not either
    corpora = [(LMPLZ_DATA / "novel-train.tok", 1.0), (LMPLZ_DATA / "novel-heldout.tok", 1.0)] if tokenized \
        else [(NOVEL, 1.0), (REPO / "tests" / "data" / "lmplz" / "novel-heldout.tok", 1.0)]
    model = train(corpora, order=order, unit=unit, tokenized=tokenized)
    assert counted_ngrams(model) is not None  # the fast path is the one taken
    _assert_same_model(kneser_ney(model), KneserNey.estimate(*estimation_inputs(model)))


def test_weighted_chains_are_estimated_from_their_text():
    corpora = [(LMPLZ_DATA / "novel-train.tok", 2.0), (LMPLZ_DATA / "novel-heldout.tok", 1.0)]
    model = train(corpora, order=3, tokenized=True)
    assert counted_ngrams(model) is None  # weighted counts are not raw counts
    _assert_same_model(kneser_ney(model), KneserNey.estimate(*estimation_inputs(model)))


@pytest.mark.parametrize("reserved", ["", "<s>", "</s>"])  # "": one split of the whole text
def test_tokenized_lines_become_paragraphs_whatever_the_whitespace(reserved):
    text = f"a b  c\n\n  \n d\te\r\nf {reserved} g\n{reserved}\n\nh\u2028i\nj"
    model = train([("t.tok", 1.0)], order=2, tokenized=True, texts=[text])
    words = [model.vocab[i] for i in model.text_ids.tolist()]
    assert words == ["<p>", "a", "b", "c", "<p>", "d", "e", "<p>", "f", "g", "<p>", "h", "i", "<p>", "j", "<p>"]
    _assert_same_model(kneser_ney(model), KneserNey.estimate(*estimation_inputs(model)))


def _distribution(kn: KneserNey, context: list[int]) -> np.ndarray:
    """P(w | context) for every w but <s>, through the same scorer text is scored with."""
    words = np.array([w for w in range(kn.width) if w != kn.bos], dtype=np.int64)
    rows = np.empty((len(words), len(context) + 2), dtype=np.int64)
    rows[:, 0] = kn.bos
    rows[:, 1:-1] = context
    rows[:, -1] = words
    scores = kn.log10_scores(rows.ravel()).reshape(rows.shape)
    return 10.0 ** scores[:, -1]


@pytest.mark.parametrize("order,unit", [(1, "word"), (3, "word"), (4, "char")])
def test_probabilities_sum_to_one_in_any_context(order, unit):
    model = train([(NOVEL, 1.0)], order=order, unit=unit)
    kn = kneser_ney(model)
    rng = np.random.default_rng(7)
    text = model.text_ids.astype(np.int64)
    contexts: list[list[int]] = [[]]
    for _ in range(6):  # contexts seen in training ...
        at = int(rng.integers(order, len(text)))
        contexts.append([w for w in text[at - order + 1:at].tolist() if w != model.paragraph_id])
    for _ in range(6):  # ... and random ones, mostly unseen, some with unknown words
        contexts.append(rng.integers(0, kn.width, size=max(order - 1, 1)).tolist())
    contexts.append([kn.unk] * max(order - 1, 1))
    for context in contexts:
        context = [w for w in context if w != kn.bos]
        total = _distribution(kn, context).sum()  # <unk> is one of the words: its mass included
        assert abs(total - 1.0) <= 1e-9, (context, total)


def test_unknown_words_pay_for_their_spelling(novel_chain):
    known = novel_chain.score("He said it.")
    short = novel_chain.score("He said qz.")
    long = novel_chain.score("He said qzxqzxqzxqzxqzx.")
    assert known.oov == 0 and short.oov == 1 and long.oov == 1
    assert known.nats < short.nats < long.nats
    # each extra letter of an unknown word costs something, never nothing
    assert (long.nats - short.nats) / (len("qzxqzxqzxqzxqzx") - 2) > 0.5


def test_scores_are_finite_for_unseen_text_and_match_the_library(novel_chain, tmp_path, cli):
    text = prepare_text("Zebras! “Quoth the raven, nevermore,” she wrote in 1845.\n\nA new paragraph.")
    score = novel_chain.score(text)
    assert math.isfinite(score.nats) and score.nats > 0
    assert score.bytes == len(text.encode()) and score.words == len(text.split())
    row = perplexity(novel_chain, text)
    assert row.bits_per_byte == pytest.approx(score.nats / score.bytes / math.log(2))


def test_kenlm_scores_genlab_arpa_like_genlab(tmp_path, cli):
    kenlm_module = pytest.importorskip("kenlm", reason="kenlm is not installed (make test installs it)")
    assert_ok(cli("train-markov", "--tokenized", LMPLZ_DATA / "novel-train.tok", "--order", "3",
                  "-o", "m.markov"))
    assert_ok(cli("export-arpa", "m.markov", "-o", "m.arpa"))
    reference = kenlm_module.Model(str(cli.cwd / "m.arpa"))
    kn = kneser_ney(load(cli.cwd / "m.markov"))
    sentences = (LMPLZ_DATA / "novel-heldout.tok").read_text(encoding="utf-8").splitlines()
    unknown = 0
    for sentence in sentences:
        words = sentence.split()
        ours = kn.log10_scores(np.concatenate(([kn.bos], kn.ids(words), [kn.eos])))[1:]
        theirs = [p for p, _, _ in reference.full_scores(sentence)]
        assert np.max(np.abs(ours - theirs)) <= 1e-4, sentence
        assert abs(kn.sentence_log10(words) - sum(theirs)) <= 1e-4, sentence
        # Model.score adds the word scores in float32: on a 119-word sentence that alone
        # moves the total by 1.5e-4. Summed the same way, genlab's scores give its number.
        total32 = np.float32(0.0)
        for p in ours:
            total32 = np.float32(total32 + np.float32(p))
        assert abs(float(total32) - reference.score(sentence)) <= 1e-4, sentence
        unknown += sum(1 for w in words if w not in kn.index)
    assert unknown > 10  # the held-out sentences exercise <unk>


# --------------------------------------------------------------------------- the command


@pytest.fixture()
def scoring_setup(cli, tiny_gguf):
    tmp_path = cli.cwd
    (tmp_path / "corpora").mkdir()
    shutil.copy(NOVEL, tmp_path / "corpora" / "novel.txt")
    assert_ok(cli("train-markov", "corpora/novel.txt"))
    assert_ok(cli("train-markov", "corpora/novel.txt", "--unit", "char", "--order", "4"))
    shutil.copy(tiny_gguf, tmp_path / "models" / "tiny.gguf")
    held = "\n\n".join(p for p in NOVEL.read_text(encoding="utf-8").split("\n\n")[-12:])
    (tmp_path / "held.txt").write_text("Some    words\nwrapped across lines.\n\n" + held, encoding="utf-8")
    return tmp_path


def test_perplexity_compares_word_char_and_llama_on_the_same_bytes(scoring_setup, cli):
    r = cli("perplexity", "--backend", "markov:novel", "--backend", "markov:novel-char-o4",
            "--backend", "llama:models/tiny.gguf", "held.txt", "--json", timeout=180)
    assert_ok(r)
    rows = json.loads(r.stdout)
    assert [row["backend"] for row in rows] == ["markov:novel", "markov:novel-char-o4", "llama:models/tiny.gguf"]
    assert len({row["bytes"] for row in rows}) == 1  # the same text for every backend
    assert len({row["words"] for row in rows}) == 1
    for row in rows:
        assert 0 < row["bits_per_byte"] < 16
        assert row["byte_perplexity"] == pytest.approx(2 ** row["bits_per_byte"])
        assert row["tokens"] > 0 and row["seconds"] >= 0
    word, char, llama = rows
    assert char["tokens"] > word["tokens"]  # characters are smaller units than words
    # a chain trained on the novel knows its prose better than random weights do
    assert word["bits_per_byte"] < llama["bits_per_byte"] and char["bits_per_byte"] < llama["bits_per_byte"]

    table = cli("perplexity", "--backend", "markov:novel", "held.txt")
    assert_ok(table)
    header, line, blank, *intervals = table.stdout.splitlines()  # the table, then the interval over paragraphs
    assert blank == "" and intervals[1].startswith("markov:novel")
    assert "bits/byte" in header and line.startswith("markov:novel")
    assert f"{rows[0]['bits_per_byte']:.4f}" in line


def test_library_call_gives_the_command_s_number(scoring_setup, cli):
    r = cli("perplexity", "--backend", "markov:novel", "held.txt", "--json")
    assert_ok(r)
    text = prepare_text((scoring_setup / "held.txt").read_text(encoding="utf-8"))
    row = perplexity(MarkovGenerator.load(scoring_setup / "models" / "novel.markov"), text)
    assert json.loads(r.stdout)[0]["bits_per_byte"] == pytest.approx(row.bits_per_byte, rel=1e-12)


def test_max_bytes_cuts_the_text(scoring_setup, cli):
    r = cli("perplexity", "--backend", "markov:novel", "held.txt", "--json", "--max-bytes", "2000")
    assert_ok(r)
    (row,) = json.loads(r.stdout)
    assert 0 < row["bytes"] <= 2000


def test_orders_curve(scoring_setup, cli):
    r = cli("perplexity", "--train", "corpora/novel.txt", "--orders", "1-3", "held.txt", "--json")
    assert_ok(r)
    rows = json.loads(r.stdout)
    assert [row["backend"] for row in rows] == [f"markov:novel order {n}" for n in (1, 2, 3)]
    bits = [row["bits_per_byte"] for row in rows]
    assert bits[1] < bits[0]  # context helps
    # order 3 was saved by train-markov: reused, so it scores exactly like the saved model
    saved = cli("perplexity", "--backend", "markov:novel", "held.txt", "--json")
    assert json.loads(saved.stdout)[0]["bits_per_byte"] == pytest.approx(bits[2], rel=1e-12)


def test_tokenized_scoring_uses_the_file_s_tokens(tmp_path, cli):
    assert_ok(cli("train-markov", "--tokenized", LMPLZ_DATA / "novel-train.tok", "-o", "m.markov"))
    r = cli("perplexity", "--backend", "markov:m.markov", "--tokenized", LMPLZ_DATA / "novel-heldout.tok", "--json")
    assert_ok(r)
    (row,) = json.loads(r.stdout)
    lines = (LMPLZ_DATA / "novel-heldout.tok").read_text(encoding="utf-8").split()
    n_sentences = len((LMPLZ_DATA / "novel-heldout.tok").read_text(encoding="utf-8").splitlines())
    assert row["tokens"] == len(lines) + n_sentences  # every token plus one </s> per sentence


@pytest.mark.parametrize("args,message", [
    (["perplexity", "held.txt"], "at least one --backend"),
    (["perplexity", "--backend", "markov:novel", "missing.txt"], "missing.txt"),
    (["perplexity", "--backend", "markov:novel", "empty.txt"], "empty"),
    (["perplexity", "--backend", "markov:nosuch", "held.txt"], "nosuch"),
    (["perplexity", "--orders", "1-3", "--backend", "markov:novel", "held.txt"], "--train"),
    (["perplexity", "--train", "held.txt", "--orders", "0-9", "held.txt"], "--orders"),
    (["perplexity", "--train", "held.txt", "--orders", "x", "held.txt"], "--orders"),
    (["export-arpa", "nosuch", "-o", "x.arpa"], "nosuch"),
])
def test_bad_input_is_one_line(args, message, cli):
    tmp_path = cli.cwd
    (tmp_path / "held.txt").write_text("Some text to score.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    r = cli(*args)
    assert message in assert_one_line_error(r)
    assert not (tmp_path / "x.arpa").exists()


def test_tokenized_input_rejects_the_paragraph_mark(cli):
    tmp_path = cli.cwd
    (tmp_path / "bad.tok").write_text("a b <p> c\n", encoding="utf-8")
    r = cli("train-markov", "--tokenized", "bad.tok", "-o", "bad.markov")
    assert "<p>" in assert_one_line_error(r)
    assert not (tmp_path / "bad.markov").exists()


def test_parse_orders():
    assert parse_orders("1-3") == [1, 2, 3]
    assert parse_orders("2,5,3") == [2, 3, 5]
    with pytest.raises(GenlabError):
        parse_orders("3-9")


@pytest.mark.skipif(not (SHARED_CORPORA / "pride-and-prejudice.txt").is_file(), reason="../shared/corpora absent")
def test_held_out_novel_has_finite_bits_per_byte_at_every_order():
    from genlab.markov import tokenize as tok

    paragraphs = tok.split_paragraphs((SHARED_CORPORA / "pride-and-prejudice.txt").read_text(encoding="utf-8-sig"))
    cut = int(len(paragraphs) * 0.9)
    text = "\n\n".join(paragraphs[cut:])
    bits = []
    for order in (1, 2, 3):
        model = train([("pp", 1.0)], order=order, texts=["\n\n".join(paragraphs[:cut])])
        bits.append(MarkovGenerator(model).score(text).bits_per_byte)
    assert all(math.isfinite(b) for b in bits)
    assert bits[2] < bits[1] < bits[0]
