"""Word tokenizer for novels with dialogue: text in, tokens out, and back again exactly.

Why: an n-gram Markov chain is only as good as its tokens. Punctuation and quotes are
tokens of their own (so "said," and "said" share statistics), opening and closing quotes
differ (so generated dialogue opens and closes), abbreviations keep their period (so a
lone "." means a sentence end), and detokenize(tokenize(p)) == p, spacing included, so
generated text is spaced like the book. A paragraph goes through the quote classifier
(quote_classifier.py), the spacing passes and the token regex (word_regex.py); spacing the
defaults get wrong is carried by the tokens as marks (marks.py, detokenize.py). Training on
50 MB goes faster still through _fastwords.c, which repeats these rules for plain paragraphs
and hands the rest back here: this module is the definition, and tests hold the two together.

A text is read as a file's text (genlab.text.normalize: one leading BOM off, LF line ends);
paragraphs are separated by blank lines, and a whitespace run inside one becomes " ", or the
U+00A0 / U+202F it holds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from genlab.markov.detokenize import Detokenizer, detokenize, quote_role, surface
from genlab.markov.marks import (
    CLAIM_WS,
    DASHES,
    GLUE,
    LEFT_SPACE,
    MARK,
    NONCHARACTERS,
    PARAGRAPH,
    SENTINEL_NAME,
    SENTINELS,
    UNMARK,
)
from genlab.markov.quote_classifier import QuoteClassifier
from genlab.markov.word_regex import NUMBER_WORDS, abbreviation_words, regexes
from genlab.text import collapse_whitespace, normalize, split_paragraphs

__all__ = [
    "PARAGRAPH",
    "Detokenizer",
    "compiled",
    "detokenize",
    "normalize",
    "paragraph_tokens",
    "quote_role",
    "split_paragraphs",
    "surface",
    "tokenize",
    "tokenize_collapsed",
    "tokenize_paragraph",
]

_HAS_QUOTES = re.compile(r"[\"'’‘_]")
_RAW_EDGE = frozenset(CLAIM_WS + SENTINELS)
_LEFT_MARK = {GLUE: "‿", **{v: MARK[k] for k, v in LEFT_SPACE.items()}}


def _left_space(m: re.Match) -> str:
    return LEFT_SPACE[m.group()]


def _glue(m: re.Match) -> str:
    before = m.group("b") is not None or m.group("c") is not None
    after = m.group("a") is not None
    return (GLUE if before else "") + m.group() + (GLUE if after else "")


@functools.lru_cache(maxsize=8192)
def _name(raw: str) -> str:
    """Token for a match that holds whitespace or a sentinel."""
    left = right = ""
    if raw[0] in _LEFT_MARK:
        left, raw = _LEFT_MARK[raw[0]], raw[1:]
    if len(raw) > 1 and raw[-1] in MARK:
        right, raw = MARK[raw[-1]], raw[:-1]
    return left + SENTINEL_NAME.get(raw, raw) + right


def tokenize_collapsed(p: str) -> list[str]:
    """Tokens of one paragraph whose whitespace is collapsed already (see split_paragraphs)."""
    rx = regexes()
    if NONCHARACTERS.search(p):
        p = NONCHARACTERS.sub("\ufffd", p)
    if _HAS_QUOTES.search(p):
        p = rx.quotes.sub(QuoteClassifier(p), p)
    p = rx.glue.sub(_glue, p)
    p = rx.space_before.sub(LEFT_SPACE[" "], p)
    if "\u00a0" in p or "\u202f" in p:
        p = rx.nobreak_before.sub(_left_space, p)
    tokens = rx.tokens.findall(p)
    if rx.needs_names.search(p):
        edge = _RAW_EDGE
        tokens = [_name(t) if t[0] in edge or t[-1] in edge else t for t in tokens]
        _paragraph_edge_dashes(tokens)
    return tokens


def _paragraph_edge_dashes(tokens: list[str]) -> None:
    """A dash opening a paragraph gets the same spacing on both sides (the left side is
    not printed), so the French dialogue dash "— " and a mid-paragraph " — " are one token;
    likewise for a dash ending one."""
    first, last = tokens[0], tokens[-1]
    if len(first) > 1 and first[0] in DASHES and first[-1] in UNMARK:
        tokens[0] = first[-1] + first
    if len(last) > 1 and last[-1] in DASHES and last[0] in UNMARK:
        tokens[-1] = last + last[0]


@functools.cache
def compiled():
    """The compiled fast path (_fastwords.c), configured, or None where it was not built.

    It tokenizes the plain paragraphs of a text exactly as this module does and hands the
    rest back; training uses it through its Encoder (ids without a str per token)."""
    try:
        from genlab.markov import _fastwords
    except ImportError:
        return None
    _fastwords.configure(frozenset(abbreviation_words()), frozenset(NUMBER_WORDS))
    return _fastwords


def tokenize_paragraph(p: str) -> list[str]:
    """Tokens of one paragraph (its whitespace is collapsed first)."""
    return tokenize_collapsed(collapse_whitespace(p))


def paragraph_tokens(text: str, *, normalized: bool = False) -> Iterator[list[str]]:
    """Tokens of each paragraph of a whole text (collapsed once, by split_paragraphs)."""
    return map(tokenize_collapsed, split_paragraphs(text, normalized=normalized))


def tokenize(text: str) -> list[str]:
    """Tokens of a whole text, PARAGRAPH between paragraphs."""
    out: list[str] = []
    for tokens in paragraph_tokens(text):
        if out:
            out.append(PARAGRAPH)
        out.extend(tokens)
    return out
