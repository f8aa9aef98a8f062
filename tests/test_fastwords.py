"""The compiled fast path of the word tokenizer must give exactly tokenize.py's tokens.

tokenize.py is the definition; _fastwords.c takes the plain paragraphs and hands every other
one back (None). These tests hold the two together on every paragraph of the test novels, on
generated text full of the awkward cases, and through training (same ids, same vocabulary).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NOVEL, SHARED_BOOKS
from genlab.markov import units as markov_units
from genlab.markov import tokenize as tok
from genlab.markov.model import train


@pytest.fixture(scope="module")
def fast():
    compiled = tok.compiled()
    assert compiled is not None, "genlab/markov/_fastwords.c was not built (pip install -e . builds it)"
    return compiled


def agrees(fast, paragraph: str) -> bool:
    """Asserts the fast path gives tokenize.py's tokens or declines; True if it took it."""
    got = fast.tokenize(paragraph)
    if got is not None:
        assert got == tok.tokenize_collapsed(paragraph), paragraph
    return got is not None


def test_text_of_spaces_only_is_declined_not_a_crash(fast):
    """A text with no token used to read before the start of the token list (a segfault, so it
    runs in a child process here: a regression fails this test instead of killing the run)."""
    import subprocess
    import sys

    script = ("from genlab.markov import tokenize as tok\n"
              "c = tok.compiled()\n"
              "print([c.tokenize(s) for s in (' ', '   ', '')])\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stdout.strip() == "[None, None, None]"  # declined: tokenize.py, the definition, decides
    assert tok.tokenize_collapsed(" ") == [] and not agrees(fast, "   ")


@pytest.mark.parametrize(
    "paragraph",
    [
        "“I know,” she said, “you do.”",
        '"I know," she said, "you do."',
        "Don’t you see? ’Tis the Bennets’ house—the one o’er there.",
        "Mr. and Mrs. Bennet met Dr. J. R. Tolkien at 10:30 p.m. on No. 4 Privet Drive, i.e. home.",
        "O. G. Ward’s and M. le curé’s, MM. Dupont... and then … nothing.",
        "“Well ... I never,” he said -- and stopped. — Indeed — she replied —",
        "— Bonjour, dit-il.",
        "A will-o’-the-wisp, a jack-o'-lantern and rock 'n' roll in the '90s.",
        "She said, ‘Come here,’ and he came. ‘Not the Bennets’ ball?’",
        "He wrote _this_ and _that_ in snake_case, (quietly) [sic] {braces}.",
        "It cost £5 and $10, or 50% of 1,000 units & more * stars.",
        "He said, 'I won't,' and left.",
        "‘I saw the Bennets’ house,’ she said. ‘Come here’ he said",
        "'I saw the Bennets' house,' she said. 'Come here' he said",
        "“I saw the ’90s.” ‘Goin’ home’ and ’tis—",
        "'Tis true: 'em and 'tween and 'n' too.",
        "a/b and user@example",
        "“ Spaced opener” and closer ” here",
        "word“glued” and ”wrong“ quotes",
        "Rock‘n’roll and o‘clock",
        "x  y",  # never collapsed: the fast path expects collapsed input, and declines
    ],
)
def test_fast_path_matches_python_on_hard_cases(fast, paragraph):
    agrees(fast, paragraph)


def test_fast_path_takes_plain_dialogue(fast):
    assert agrees(fast, "“I know,” she said, “you do.” He didn’t answer—not then.")
    assert agrees(fast, '"Yes," said Mr. Darcy. "It is the Bennets\' house."')


@pytest.mark.skipif(not SHARED_BOOKS, reason="../shared/corpora is not here")
@pytest.mark.parametrize("book", SHARED_BOOKS, ids=lambda p: p.stem)
def test_fast_path_matches_python_on_every_paragraph_of_each_book(fast, book):
    paragraphs = tok.split_paragraphs(book.read_text(encoding="utf-8"))
    taken = sum(agrees(fast, p) for p in paragraphs)
    # most of a novel goes the fast way, or training loses its speed
    assert taken >= 0.9 * len(paragraphs), f"{book.name}: fast path took {taken}/{len(paragraphs)}"


def test_fast_path_matches_python_on_the_projects_novel(fast):
    paragraphs = tok.split_paragraphs(NOVEL.read_text(encoding="utf-8"))
    taken = sum(agrees(fast, p) for p in paragraphs)
    assert taken >= 0.9 * len(paragraphs)


# Characters the fast path handles, or declines, or that change a neighbour's meaning.
ALPHABET = (
    "aAbBeEgIiJMmNnoOpRsStTwWxXz019é ÉØ"
    " ,.;:!?…()[]{}“”‘’'\"_«»‹›—–-‐/@&*+%$£#™°"
    "\u00a0\u202f\ufdd0\u0301ſ"
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=40))
def test_fast_path_matches_python_on_generated_text(text):
    paragraph = " ".join(text.split())
    if paragraph:
        agrees(tok.compiled(), paragraph)


WORDS = ["Mr", "Mrs", "J", "R", "I", "No", "p", "M", "MM", "e", "g", "tis", "em", "n", "90s", "s",
         "don", "t", "o", "the", "Bennets", "wisp", "will", "3", "14", "1", "000"]
GLUE = [" ", "", ". ", ".", "’", "'", "-", "—", " — ", "...", " ...", "“", "”", "‘", '"', "_", ",", ", "]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GLUE)), min_size=1, max_size=12))
def test_fast_path_matches_python_on_word_salad(pieces):
    paragraph = " ".join("".join(w + g for w, g in pieces).split())
    if paragraph:
        agrees(tok.compiled(), paragraph)


def train_both(text: str, order: int = 2):
    """The same training with and without the compiled tokenizer."""
    models = []
    for compiled in (True, False):
        markov_units.COMPILED_TOKENIZER = compiled
        try:
            models.append(train([("t", 1.0)], order=order, texts=[text]))
        finally:
            markov_units.COMPILED_TOKENIZER = True
    return models


def test_training_gives_the_same_model_either_way(fast):
    text = NOVEL.read_text(encoding="utf-8")
    a, b = train_both(text)
    assert a.vocab == b.vocab
    assert np.array_equal(a.text_ids, b.text_ids)
    assert len(a.vocab) > 1000


def test_paragraphs_and_whitespace_split_as_tokenize_does(fast):
    text = (
        "\ufeffFirst  line\twith\u2028odd\x0bspace.\r\n\r\n"
        "  \n \n Second\u00a0paragraph « dit-il » with\u202f!\n\n\n"
        "Third\ufdd0has a noncharacter.\n \t\n"
        "Last one, no newline"
    )
    a, b = train_both(text)
    assert a.vocab == b.vocab
    assert np.array_equal(a.text_ids, b.text_ids)
    assert [a.vocab[i] for i in a.text_ids[:4]] == ["<p>", "First", "line", "with"]


def test_a_corpus_loses_one_bom_only(tmp_path):
    """A corpus is normalised once, as it is read: of two leading BOMs the second is text,
    whether the text comes from a file or is given, and whichever tokenizer runs."""
    text = "\ufeff\ufeffHello there.\r\n\r\nAgain, \ufeffyes."
    expected = ["<p>", *tok.tokenize(text), "<p>"]
    assert expected[1] == "\ufeff"
    path = tmp_path / "bom.txt"
    path.write_text(text, encoding="utf-8", newline="")
    for compiled in (True, False):
        markov_units.COMPILED_TOKENIZER = compiled
        try:
            for model in (train([(path, 1.0)], order=2), train([("t", 1.0)], order=2, texts=[text])):
                assert [model.vocab[i] for i in model.text_ids] == expected
        finally:
            markov_units.COMPILED_TOKENIZER = True
