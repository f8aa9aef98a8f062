"""The word tokenizer and its compiled twin (_fastwords.c) on any text at all: the compiled one
gives tokenize.py's tokens or declines, in both of its entry points, and neither crashes.

test_fastwords.py holds the two together on collapsed paragraphs of a chosen alphabet and on
word salad; test_tokenize.py checks tokenize.py alone on text without surrogates. What they
leave out is here: any code point (lone surrogates, control characters, every kind of
Unicode space), text that is not collapsed first, whitespace alone, very long words, and the
Encoder that training uses, on the same inputs as tokenize.py. A bug in C kills the process
it runs in, so the properties run in a child pytest and this file's one test reports it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from genlab.markov import tokenize as tok
from genlab.markov import units as markov_units
from genlab.text import normalize

IN_CHILD = os.environ.get("GENLAB_TOKENIZER_CHILD") == "1"

SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
WORDISH = "aAzZ09éß'’‘\"_-.,:;!?—…“”«»()/@&*"
any_char = st.characters(exclude_categories=())  # lone surrogates and controls included
texts = st.one_of(
    st.text(any_char, max_size=60),
    st.text(st.sampled_from(SPACES), min_size=1, max_size=12),  # whitespace alone
    st.lists(st.one_of(st.text(st.sampled_from(WORDISH), min_size=1, max_size=12),
                       st.text(st.sampled_from(SPACES), min_size=1, max_size=3), st.text(any_char, max_size=2)),
             max_size=16).map("".join),
    st.builds(lambda w, n, glue: glue.join([w * n] * 3), st.sampled_from(["a", "ab-", "x'", "é", "Mr.", "\U0001d400"]),
              st.integers(30, 3000), st.sampled_from([" ", "", "-", " — ", "\n\n"])),  # very long words
)
NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")
properties = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def test_properties_hold_in_a_child_process():
    """Runs TestProperties in a child pytest: a crash in C fails this test (with the child's
    exit status and output) instead of killing the test run."""
    if IN_CHILD:
        pytest.skip("this is the child")
    here = Path(__file__)
    r = subprocess.run([sys.executable, "-m", "pytest", f"{here}::TestProperties", "-q", "-p", "no:cacheprovider"],
                       cwd=here.parent, env={**os.environ, "GENLAB_TOKENIZER_CHILD": "1"},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    assert " passed" in r.stdout and "skipped" not in r.stdout, r.stdout[-2000:]


def encode(text: str, compiled: bool) -> tuple[list[int], list[str]]:
    """Training's ids of a text and the vocabulary they made, by the compiled Encoder or by
    tokenize.py."""
    markov_units.COMPILED_TOKENIZER = compiled
    try:
        index = {tok.PARAGRAPH: 0}
        ids = markov_units.units_for("word").encoder(index)(text)
        return [int(i) for i in ids], list(index)
    finally:
        markov_units.COMPILED_TOKENIZER = True


@pytest.mark.skipif(not IN_CHILD, reason="run in a child process by test_properties_hold_in_a_child_process")
class TestProperties:
    @pytest.fixture(autouse=True)
    def fast(self):
        assert tok.compiled() is not None, "genlab/markov/_fastwords.c was not built"

    @properties
    @given(texts)
    @example(" ")
    @example("\udc80 x")
    @example("a" * 100_000)
    def test_compiled_tokenize_agrees_or_declines_on_raw_text(self, text):
        got = tok.compiled().tokenize(text)
        if got is not None:
            assert got == tok.tokenize_collapsed(text)

    @properties
    @given(texts)
    def test_compiled_tokenize_agrees_or_declines_on_each_paragraph(self, text):
        for paragraph in tok.split_paragraphs(text):
            got = tok.compiled().tokenize(paragraph)
            if got is not None:
                assert got == tok.tokenize_collapsed(paragraph)

    @properties
    @given(texts)
    @example("\u00a0\n\nx\x1c\x1d\n\n\u3000")
    @example("\udc80\n\n\ud800 y")
    def test_training_ids_are_the_same_either_way(self, text):
        text = normalize(text)  # as a corpus reaches the encoder
        assert encode(text, True) == encode(text, False)

    @properties
    @given(texts)
    @example("\ud800\udfff x\x00\x7f")
    def test_python_tokenizer_round_trips_any_code_point(self, text):
        tokens = tok.tokenize(text)
        assert all(t and not any(c.isspace() for c in t) for t in tokens)
        text = NONCHARACTERS.sub("", text)  # the tokenizer's own markers become U+FFFD
        assert tok.detokenize(tok.tokenize(text)) == "\n\n".join(tok.split_paragraphs(text))
