"""What a chain is made of: words, characters, or the tokens of pre-tokenized text.

Each kind of unit is an object of small steps (split a text into units, join units back into
text, the text each unit adds to a stream, a block of training text as ids, where a sentence
ends) that the model, the generator and scoring call instead of asking which unit they have.
A new kind overrides the steps it does differently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat

import numpy as np

from genlab.errors import GenlabError
from genlab.markov import tokenize as tok

PARAGRAPH = tok.PARAGRAPH
RESERVED = frozenset({"<s>", "</s>", "<unk>"})  # lmplz reads these as whitespace; so does genlab
PRETOKENIZED = "pretokenized-1"  # the tokenizer name a pre-tokenized model records
COMPILED_TOKENIZER = True  # False: training tokenizes with tokenize.py alone (the tests compare the two)
SENTENCE_END = frozenset({".", "!", "?", "…", "...", "?!", "!?"})


def ids_of(tokens: list[str], index: dict[str, int]) -> np.ndarray:
    """Ids of tokens, new tokens numbered in order of first appearance (uint16 where they fit:
    half the memory while training)."""
    for t in dict.fromkeys(tokens):
        if t not in index:
            index[t] = len(index)
    ids = np.fromiter(map(index.__getitem__, tokens), dtype=np.uint32, count=len(tokens))
    return ids.astype(np.uint16) if len(index) <= 1 << 16 else ids


class Words:
    """Words and punctuation of genlab's tokenizer, spaced back as the book was."""

    name = "word"  # what a model file records as its unit
    tokenizer = "genlab-word-1"
    words = True  # each unit is a token of the word tokenizer (not a character of one)
    spells_unknown = True  # scoring pays for an unknown unit by its spelling (else by its bytes)
    marks_end_sentences = True  # a sentence ends after a SENTENCE_END unit (the compiled walk's rule)
    block_separator = "\n\n"  # training text is tokenized in blocks ending at one of these

    def split(self, text: str) -> list[str]:
        """Units of a text, PARAGRAPH between paragraphs."""
        return tok.tokenize(text)

    def paragraphs(self, text: str) -> list[list[str]]:
        """Units of a text, paragraph by paragraph (what scoring reads as sentences)."""
        return list(tok.paragraph_tokens(text))

    def join(self, units: Sequence[str]) -> str:
        return tok.detokenize(units)

    def spacer(self, before: Sequence[str]) -> Callable[[str], str]:
        """The text each next unit adds to a stream that already holds `before`."""
        detok = tok.Detokenizer()
        for u in before:
            detok.piece(u)
        return detok.piece

    def block_tokens(self, text: str) -> list[str]:
        """Units of a block of training text (normalised when it was read), PARAGRAPH after
        each paragraph."""
        tokens: list[str] = []
        for paragraph in tok.paragraph_tokens(text, normalized=True):
            tokens.extend(paragraph)
            tokens.append(PARAGRAPH)
        return tokens

    def encoder(self, index: dict[str, int]) -> Callable[[str], np.ndarray]:
        """Ids of a block of training text: by the compiled tokenizer where it was built (about
        six times faster on a big corpus, same tokens), else by tokenize.py."""
        compiled = tok.compiled() if COMPILED_TOKENIZER else None
        if compiled is None:
            return lambda text: ids_of(self.block_tokens(text), index)
        encoder = compiled.Encoder(index, tok.tokenize_collapsed)

        def encode(text: str) -> np.ndarray:
            ids = np.frombuffer(encoder.encode(text), dtype=np.uint32)
            return ids.astype(np.uint16) if len(index) <= 1 << 16 else ids.copy()

        return encode

    def take_sentence(self, ids: Iterable[int], vocab: Sequence[str], out: list[str]) -> bool:
        """Append the units of one sentence from `ids` to `out`; False when they run out first.
        A paragraph break ends a sentence and is left out."""
        for t in ids:
            unit = vocab[t]
            if unit == PARAGRAPH:
                return True
            out.append(unit)
            if unit in SENTENCE_END:
                return True
        return False


class Characters(Words):
    """Characters of the detokenized text, quote tokens and paragraph marks kept whole.

    Keeping "opening quote" and "closing quote" as distinct units lets a character chain
    balance its quotes exactly like a word chain does.
    """

    name = "char"
    tokenizer = "genlab-char-1"
    words = False
    spells_unknown = False
    marks_end_sentences = False

    def split(self, text: str) -> list[str]:
        return char_units(tok.tokenize(text))

    def paragraphs(self, text: str) -> list[list[str]]:
        return [[u for u in char_units(p) if u != PARAGRAPH] for p in tok.paragraph_tokens(text)]

    def join(self, units: Sequence[str]) -> str:
        return "".join("\n\n" if t == PARAGRAPH else tok.surface(t) for t in units)

    def spacer(self, before: Sequence[str]) -> Callable[[str], str]:
        return lambda t: "\n\n" if t == PARAGRAPH else tok.surface(t)

    def block_tokens(self, text: str) -> list[str]:
        return char_units(super().block_tokens(text))

    def encoder(self, index: dict[str, int]) -> Callable[[str], np.ndarray]:
        return lambda text: ids_of(self.block_tokens(text), index)

    def take_sentence(self, ids: Iterable[int], vocab: Sequence[str], out: list[str]) -> bool:
        """A character chain's "." ends a sentence only before a space or a break ("Mr.")."""
        for t in ids:
            unit = vocab[t]
            if unit == PARAGRAPH or (unit == " " and _ends_sentence(out)):
                return True
            out.append(unit)
        return False


def _ends_sentence(units: list[str]) -> bool:
    i = len(units) - 1
    while i >= 0 and (role := tok.quote_role(units[i])) is not None and role[1] < 0:
        i -= 1
    return i >= 0 and units[i] in SENTENCE_END


def char_units(tokens: Iterable[str]) -> list[str]:
    """Characters of the detokenized tokens, quote tokens and paragraph marks kept whole."""
    out: list[str] = []
    detok = tok.Detokenizer()
    for t in tokens:
        piece = detok.piece(t)
        if t == PARAGRAPH:
            out.append(t)
        elif tok.quote_role(t) is not None:
            surface = tok.surface(t)
            out.extend(piece[: len(piece) - len(surface)])
            out.append(t)
        else:
            out.extend(piece)
    return out


class Pretokenized(Words):
    """The file's own tokens: split at spaces, one sentence a line (KenLM's and SRILM's input).

    Each line is a paragraph; <s>, </s> and <unk> are read as spaces, as lmplz reads them.
    """

    tokenizer = PRETOKENIZED
    block_separator = "\n"

    def split(self, text: str) -> list[str]:
        out: list[str] = []
        for words in self._lines(text):
            if out:
                out.append(PARAGRAPH)
            out.extend(words)
        return out

    def paragraphs(self, text: str) -> list[list[str]]:
        return list(self._lines(text))

    def _lines(self, text: str) -> Iterator[list[str]]:
        lines = ([w for w in line.split() if w not in RESERVED] for line in text.splitlines())
        return (words for words in lines if words)

    def join(self, units: Sequence[str]) -> str:
        return " ".join(units).replace(f" {PARAGRAPH} ", "\n").replace(PARAGRAPH, "\n").strip(" ")

    def spacer(self, before: Sequence[str]) -> Callable[[str], str]:
        first = [not before or before[-1] == PARAGRAPH]

        def piece(t: str) -> str:
            if t == PARAGRAPH:
                first[0] = True
                return "\n"
            text, first[0] = (t if first[0] else " " + t), False
            return text

        return piece

    def block_tokens(self, text: str) -> list[str]:
        tokens: list[str] = []
        for line in text.split("\n"):
            words = [w for w in line.split() if w not in RESERVED]
            if PARAGRAPH in words:
                raise GenlabError(f"{PARAGRAPH!r} is genlab's paragraph mark; it cannot be a token of "
                                  "--tokenized input")
            if words:
                tokens.extend(words)
                tokens.append(PARAGRAPH)
        return tokens

    def encoder(self, index: dict[str, int]) -> Callable[[str], np.ndarray]:
        def encode(text: str) -> np.ndarray:
            fast = _encode_lines(text, index)
            return fast if fast is not None else ids_of(self.block_tokens(text), index)

        return encode


def _encode_lines(text: str, index: dict[str, int]) -> np.ndarray | None:
    """Ids of a pre-tokenized block in one split of the whole block, not one per line.

    Why: on a big pre-tokenized corpus, splitting, filtering and collecting new words line by
    line in Python was most of the training time. Each line break becomes a paragraph mark
    (dropped where its line was empty), and only the words the index lacks are looked at
    twice. None where the careful path must decide: the text holds the paragraph mark or a
    reserved word, if only inside a token (as a token, the first is an error there and the
    others are dropped).
    """
    mark = PARAGRAPH
    if "<" in text and any(w in text for w in (mark, *RESERVED)):
        return None
    tokens = text.replace("\n", f" {mark} ").split()
    tokens.append(mark)  # the block's last line ends too
    ids = np.fromiter(map(index.get, tokens, repeat(-1, len(tokens))), dtype=np.int64, count=len(tokens))
    unknown = np.flatnonzero(ids < 0)
    if len(unknown):
        new = [tokens[i] for i in unknown.tolist()]
        for t in dict.fromkeys(new):  # first appearance order, as ids_of numbers them
            index[t] = len(index)
        ids[unknown] = np.fromiter(map(index.__getitem__, new), dtype=np.int64, count=len(new))
    is_mark = ids == index[mark]
    empty = is_mark.copy()  # a mark right after another (or first in the block) ends an empty line
    empty[1:] &= is_mark[:-1]
    ids = ids[~empty]
    return ids.astype(np.uint16) if len(index) <= 1 << 16 else ids.astype(np.uint32)


WORDS, CHARACTERS, PRETOKENIZED_WORDS = Words(), Characters(), Pretokenized()
UNITS = {u.name: u for u in (WORDS, CHARACTERS)}  # what --unit names


def units_for(unit: str, tokenized: bool = False) -> Words:
    """The units of a chain: --unit's name, or the file's own tokens (`tokenized`)."""
    if unit not in UNITS:
        raise GenlabError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if tokenized:
        if unit != WORDS.name:
            raise GenlabError("--tokenized input is split into tokens already: it needs --unit word")
        return PRETOKENIZED_WORDS
    return UNITS[unit]
