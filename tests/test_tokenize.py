"""Tests for genlab.markov.tokenize: token lists for each phenomenon, exact round trips,
properties on arbitrary Unicode, and the per-book round trip on the shared corpora."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import NOVEL, SHARED_CORPORA
from genlab.text import strip_bom
from genlab.markov.tokenize import (
    PARAGRAPH,
    Detokenizer,
    detokenize,
    normalize,
    quote_role,
    split_paragraphs,
    surface,
    tokenize,
    tokenize_paragraph,
)

BOOKS = [
    "pride-and-prejudice.txt",
    "alices-adventures-in-wonderland.txt",
    "adventures-of-sherlock-holmes.txt",
    "frankenstein.txt",
    "phantom-of-the-opera.txt",
    "madame-bovary.txt",
]


def tok(p: str) -> list[str]:
    """Tokens of p, asserting on the way that they give p back."""
    tokens = tokenize_paragraph(p)
    assert detokenize(tokens) == p
    return tokens


# --- dialogue and quotes -------------------------------------------------------------------


def test_dialogue_split_by_a_speech_tag():
    assert tok("“I know,” she said, “you don’t.”") == [
        "“", "I", "know", ",", "”", "she", "said", ",", "“", "you", "don’t", ".", "”",
    ]  # fmt: skip


def test_nested_curly_quotes():
    assert tok("“He said, ‘Go away,’ and left.”") == [
        "“", "He", "said", ",", "‘", "Go", "away", ",", "’", "and", "left", ".", "”",
    ]  # fmt: skip


def test_straight_double_quotes_open_and_close():
    assert tok('"Hello," he said. "It\'s the ghost!"') == [
        '<"', "Hello", ",", '">', "he", "said", ".", '<"', "It's", "the", "ghost", "!", '">',
    ]  # fmt: skip


def test_straight_single_quotes_nested_in_double():
    assert tok("\"'Go away,' he said.\"") == [
        '<"', "<'", "Go", "away", ",", "'>", "he", "said", ".", '">',
    ]  # fmt: skip


def test_straight_quote_after_a_dash():
    assert tok('"I was going--" he began.') == [
        '<"', "I", "was", "going", "--", '">', "he", "began", ".",
    ]  # fmt: skip
    assert tok('He cried--"Stop!"') == ["He", "cried", "--", '<"', "Stop", "!", '">']


def test_ambiguous_straight_quote_uses_the_paragraph_state():
    # Between two dashes the context says nothing; the first opens, the second closes.
    assert tok('a--"b--"--c')[2] == '<"'
    assert tok('a--"b--"--c')[5] == '">'


def test_guillemets():
    assert tok("Il dit: «Bonjour.»") == ["Il", "dit", ":", "«", "Bonjour", ".", "»"]


def test_quote_continued_over_paragraphs():
    text = "“The first part of a long speech.\n\n“And the rest of it.”"
    tokens = tokenize(text)
    assert tokens == [
        "“", "The", "first", "part", "of", "a", "long", "speech", ".", PARAGRAPH,
        "“", "And", "the", "rest", "of", "it", ".", "”",
    ]  # fmt: skip
    assert detokenize(tokens) == text


def test_quote_roles():
    assert quote_role("“") == ("double", 1) and quote_role("”") == ("double", -1)
    assert quote_role("‘") == ("single", 1) and quote_role("’") == ("single", -1)
    assert quote_role("«") == ("guillemet", 1) and quote_role("»") == ("guillemet", -1)
    assert quote_role("‹") == ("single_guillemet", 1)
    assert quote_role('<"') == ("straight_double", 1)
    assert quote_role('">') == ("straight_double", -1)
    assert quote_role("<'") == ("straight_single", 1)
    assert quote_role("'>") == ("straight_single", -1)
    assert quote_role("⍽»") == ("guillemet", -1)  # marked spacing keeps the role
    for token in ["word", "don’t", "Bennets’", "<_", ",", PARAGRAPH]:
        assert quote_role(token) is None


def test_surface():
    assert surface('<"') == '"' and surface('">') == '"'
    assert surface("<'") == "'" and surface("'>") == "'"
    assert surface("␣—␣") == "—" and surface("⍽»") == "»" and surface("‿(") == "("
    assert surface("word") == "word"


# --- apostrophes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        "don't", "can’t", "I'm", "I’m", "'tis", "’Tis", "'Twas", "o'er", "o’er", "ne'er",
        "’em", "'em", "James's", "James’s", "l’homme", "qu'il", "aujourd’hui", "rock'n'roll",
    ],
)  # fmt: skip
def test_apostrophes_stay_inside_the_word(word):
    assert tok(f"They said {word} here.") == ["They", "said", word, "here", "."]


def test_elisions_and_possessives():
    assert tok("rock 'n' roll in the '90s") == ["rock", "'n'", "roll", "in", "the", "'90s"]
    assert tok("rock ’n’ roll in the ’90s") == ["rock", "’n’", "roll", "in", "the", "’90s"]
    assert tok("the Bennets' house") == ["the", "Bennets'", "house"]
    assert tok("the Bennets’ house") == ["the", "Bennets’", "house"]


def test_closing_quote_after_a_word_closes_an_open_quote():
    assert tok("what ‘it’ means") == ["what", "‘", "it", "’", "means"]
    assert tok("he said 'speech' once") == ["he", "said", "<'", "speech", "'>", "once"]


def test_plural_possessive_inside_a_quote_before_a_surer_closer():
    assert tok("‘The Bennets’ house is big,’ she said.") == [
        "‘", "The", "Bennets’", "house", "is", "big", ",", "’", "she", "said", ".",
    ]  # fmt: skip
    assert tok("'The Bennets' house is big,' she said.")[2] == "Bennets'"


# --- dashes, ellipses, brackets ---------------------------------------------------------------


def test_dashes_keep_their_spacing():
    assert tok("He stopped—then went on — slowly.") == [
        "He", "stopped", "—", "then", "went", "on", "␣—␣", "slowly", ".",
    ]  # fmt: skip
    assert tok("Well--I know -- you.") == ["Well", "--", "I", "know", "␣--␣", "you", "."]
    assert tok("pages 10–12, a – b") == ["pages", "10", "–", "12", ",", "a", "␣–␣", "b"]
    assert tok("began:— “You are old”") == ["began", ":", "—␣", "“", "You", "are", "old", "”"]
    assert tok("Mr. ----shire") == ["Mr.", "␣----", "shire"]


def test_hyphenated_words_stay_whole():
    assert tok("a well-known dit-il a-t-il") == ["a", "well-known", "dit-il", "a-t-il"]


def test_french_dialogue_dash_is_one_token_at_paragraph_start_and_inside():
    assert tok("— Bonjour, dit-il. — Oui.") == [
        "␣—␣", "Bonjour", ",", "dit-il", ".", "␣—␣", "Oui", ".",
    ]  # fmt: skip
    assert tok("-- Levez-vous, dit le professeur.")[0] == "␣--␣"


def test_ellipses():
    assert tok("Wait... what… no") == ["Wait", "...", "what", "…", "no"]
    assert tok("il y a huit jours..., il") == ["il", "y", "a", "huit", "jours", "...", ",", "il"]
    assert tok("so ... then") == ["so", "␣...", "then"]
    assert tok("Yes . . . no") == ["Yes", "␣.", "␣.", "␣.", "no"]


def test_brackets():
    assert tok("(Of course) [sic] {x}") == [
        "(", "Of", "course", ")", "[", "sic", "]", "{", "x", "}",
    ]  # fmt: skip
    assert tok("little Jammes.[1] And") == ["little", "Jammes", ".", "‿[", "1", "]", "And"]
    assert tok("RUSKIN HOUSE ]") == ["RUSKIN", "HOUSE", "␣]"]


def test_italics():
    assert tok("The _very_ best_ever thing.") == [
        "The", "<_", "very", "_>", "best_ever", "thing", ".",
    ]  # fmt: skip


def test_symbols_and_glue():
    assert tok("Price £4, 50% off") == ["Price", "£", "4", ",", "50", "%", "off"]
    assert tok("some £ 30") == ["some", "£␣", "30"]
    assert tok("Project Gutenberg™’s goals") == ["Project", "Gutenberg", "™", "‿’s", "goals"]
    assert tok("see www.gutenberg.org/license") == ["see", "www.gutenberg.org", "/", "license"]


# --- abbreviations and numbers --------------------------------------------------------------


def test_abbreviations_keep_their_period():
    assert tok("Mr. and Mrs. Bennet met Dr. Jones at St. Paul's.") == [
        "Mr.", "and", "Mrs.", "Bennet", "met", "Dr.", "Jones", "at", "St.", "Paul's", ".",
    ]  # fmt: skip
    assert tok("at 10:30 p.m., e.g. with i.e. notes etc. and more") == [
        "at", "10:30", "p.m.", ",", "e.g.", "with", "i.e.", "notes", "etc.", "and", "more",
    ]  # fmt: skip
    assert tok("J. R. R. Tolkien and O. G., said I. Then") == [
        "J.", "R.", "R.", "Tolkien", "and", "O.", "G.", ",", "said", "I", ".", "Then",
    ]  # fmt: skip
    assert tok("M. Homais et M. le curé") == ["M.", "Homais", "et", "M.", "le", "curé"]


def test_a_lone_period_ends_a_sentence():
    assert tok("No. 5 is here. No. It is not.") == [
        "No.", "5", "is", "here", ".", "No", ".", "It", "is", "not", ".",
    ]  # fmt: skip


def test_numbers_stay_whole():
    assert tok("pi is 3.14, a crowd of 1,000 at 10:30 in 1842.") == [
        "pi", "is", "3.14", ",", "a", "crowd", "of", "1,000", "at", "10:30", "in", "1842", ".",
    ]  # fmt: skip


# --- French spacing ------------------------------------------------------------------------


def test_french_guillemets_with_no_break_spaces_round_trip():
    p = "«\u00a0Bonjour\u00a0», dit-il\u202f; puis\u00a0: «\u00a0Non\u00a0!\u00a0»"
    assert tok(p) == [
        "«⍽", "Bonjour", "⍽»", ",", "dit-il", "⎵;", "puis", "⍽:", "«⍽", "Non", "⍽!", "⍽»",
    ]  # fmt: skip


def test_french_with_plain_spaces_round_trips():
    assert tok("« Bonjour », dit-il ; puis : « Non ! »") == [
        "«␣", "Bonjour", "␣»", ",", "dit-il", "␣;", "puis", "␣:", "«␣", "Non", "␣!", "␣»",
    ]  # fmt: skip


def test_no_break_space_elsewhere_is_kept():
    assert tok("10\u00a0000 francs, M.\u00a0Homais") == [
        "10", "⍽000", "francs", ",", "M.", "⍽Homais",
    ]  # fmt: skip


# --- paragraphs, normalisation, streaming ----------------------------------------------------


def test_normalize_strips_bom_and_crlf():
    assert normalize("\ufeffa\r\nb\rc") == "a\nb\nc"


def test_split_paragraphs():
    text = "\ufeffFirst  line\r\nsame paragraph.\r\n \r\n\r\nSecond\tone.\n\n\n"
    assert split_paragraphs(text) == ["First line same paragraph.", "Second one."]
    assert split_paragraphs("a \u00a0 b\n\nc\u202fd") == ["a\u00a0b", "c\u202fd"]
    assert split_paragraphs("  \n\n ") == []


def test_paragraph_tokens_are_between_paragraphs_only():
    tokens = tokenize("\n\nOne.\n\n\nTwo.\n\n")
    assert tokens == ["One", ".", PARAGRAPH, "Two", "."]
    assert detokenize(tokens) == "One.\n\nTwo."


def test_streaming_detokenizer_matches_detokenize():
    text = "“Hi,” he said -- “it’s me.”\n\n«\u00a0Oui\u00a0!\u00a0» -- (bon)"
    tokens = tokenize(text)
    d = Detokenizer()
    assert "".join(d.piece(t) for t in tokens) == detokenize(tokens) == text


def test_tokenize_paragraph_collapses_whitespace():
    assert tokenize_paragraph("  a\n  b ,  c ") == ["a", "b", "␣,", "c"]


# --- properties ----------------------------------------------------------------------------

PIECES = list("ab Z1'\"’‘“”«»‹›_-—–.,;:!?…()[]{}$£%/@™·*\u00a0\u202f\n␣⍽⎵‿éM\u0301😀")
PIECES += ["Mr", "tis", "s", "J", "e.g", "I", "10", "  ", "\n\n"]
tricky = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
any_text = st.one_of(tricky, st.text(), st.text(st.characters(codec="utf-8")))
NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(any_text)
def test_tokens_are_never_empty_nor_hold_whitespace(text):
    for token in tokenize(text):
        assert token and not any(c.isspace() for c in token)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(any_text)
@example("\ufeff\ufeffa")  # the first BOM is the file's, the second is text
@example(" \ufeff\ufeffa")  # not first: both are text
def test_detokenized_text_tokenizes_back_to_itself(text):
    # tokenize() reads a text as a file's (genlab.text.normalize): one leading BOM is the
    # file's and goes. A BOM that detokenized text starts with is text, read again as a file's.
    once = detokenize(tokenize(text))
    assert detokenize(tokenize(once)) == strip_bom(once)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(any_text)
def test_round_trip_is_exact_for_any_text(text):
    # Noncharacters U+FDD0..U+FDEF are the tokenizer's internal markers: they become U+FFFD.
    text = NONCHARACTERS.sub("", text)
    assert detokenize(tokenize(text)) == "\n\n".join(split_paragraphs(text))


@pytest.mark.parametrize(
    "text",
    ["a\ud800b \udfff", "\x00\x07 x", "a\u2028b\u2029c", "a\x1cb", "全角\u3000スペース",
     "𝒜𝒷 \U0001d165x", "e\u0301\u0301t", "\u200b\u200d", "\ufdd0\ufdd7x"],
)  # fmt: skip
def test_odd_characters(text):
    tokens = tokenize(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    once = detokenize(tokens)
    assert detokenize(tokenize(once)) == once


def test_pathological_inputs_stay_fast():
    for text in ["‘a " + "b’ " * 3000, "'a " * 5000, "a." * 10000, "-" * 20000, "\u00a0a" * 5000]:
        tokens = tokenize(text)
        assert detokenize(tokenize(detokenize(tokens))) == detokenize(tokens)


# --- the shared corpora ---------------------------------------------------------------------


def corpus_paths() -> list[Path]:
    return [SHARED_CORPORA / name for name in BOOKS] + [NOVEL]


@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_book_round_trips(path):
    if not path.exists():
        pytest.skip(f"{path} is not there")
    paragraphs = split_paragraphs(path.read_text(encoding="utf-8"))
    failures = [p for p in paragraphs if detokenize(tokenize_paragraph(p)) != p]
    share = 1 - len(failures) / len(paragraphs)
    assert share >= 0.995, f"{len(failures)} of {len(paragraphs)} fail, e.g. {failures[:3]}"


def test_book_paragraph_tokens_match_whole_text_tokens():
    path = SHARED_CORPORA / "pride-and-prejudice.txt"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    text = path.read_text(encoding="utf-8")
    expected: list[str] = []
    for p in split_paragraphs(text):
        expected += ([PARAGRAPH] if expected else []) + tokenize_paragraph(p)
    assert tokenize(text) == expected


@pytest.mark.parametrize("text,word", [
    ("a will-o’-the-wisp, then", "will-o’-the-wisp"),
    ("‘a will-o’-the-wisp,’ he said", "will-o’-the-wisp"),
    ("the jack-o'-lantern", "jack-o'-lantern"),
    ("a cat-o’-nine-tails", "cat-o’-nine-tails"),
])
def test_apostrophe_inside_hyphenated_compound_is_not_a_quote(text, word):
    tokens = tokenize_paragraph(text)
    assert word in tokens
    assert detokenize(tokens) == text


def test_closing_quote_before_a_hyphen_still_closes():
    assert tokenize_paragraph("She said ‘no’-and left.")[2:5] == ["‘", "no", "’"]
