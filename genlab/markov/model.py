"""A trained Markov chain: vocabulary, n-gram counts, the training text as ids, provenance.

Training is: read each corpus, tokenize paragraph by paragraph into integer ids, then count
every n-gram with numpy sorts (see ngrams.py). The ids of the training text are kept because
the anti-plagiarism guard and novelty metrics need to know what the corpus actually says.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from genlab import __version__
from genlab.errors import GenlabError
from genlab.markov import tokenize as tok
from genlab.markov.ngrams import NgramCounts

UNITS = ("word", "char")
MAX_ORDER = 8
TOKENIZER = {"word": "genlab-word-1", "char": "genlab-char-1"}
PRETOKENIZED = "pretokenized-1"  # one sentence per line, tokens split by spaces (KenLM's input)
COMPILED_TOKENIZER = True  # False: tokenize.py alone (the tests compare the two)
RESERVED = frozenset({"<s>", "</s>", "<unk>"})  # lmplz reads these as whitespace; so does genlab


@dataclass
class MarkovModel:
    order: int
    unit: str
    vocab: list[str]
    counts: NgramCounts
    text_ids: np.ndarray  # every document's token ids back to back (paragraph mark first)
    doc_starts: np.ndarray
    corpora: list[dict] = field(default_factory=list)  # name, path, sha256, weight, tokens
    continue_rate: float = 0.0  # how often a quoted paragraph runs on into the next (see below)
    quote_span: int = 0  # how long a quotation usually runs (see quote_statistics)
    version: str = __version__
    pretokenized: bool = False  # trained with --tokenized: units are the file's own tokens

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.vocab)}

    @property
    def paragraph_id(self) -> int:
        return self.index[tok.PARAGRAPH]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token ids; -1 for tokens the model never saw."""
        get = self.index.get
        return [get(t, -1) for t in tokens]

    def tokens_of(self, text: str) -> list[str]:
        """Split text into this model's units (words or characters)."""
        if self.pretokenized:
            return pretokenized_units(text)
        return text_units(text, self.unit)

    def detokenize(self, tokens: Sequence[str]) -> str:
        if self.pretokenized:
            return " ".join(tokens).replace(f" {tok.PARAGRAPH} ", "\n").replace(tok.PARAGRAPH, "\n").strip(" ")
        if self.unit == "char":
            return "".join("\n\n" if t == tok.PARAGRAPH else tok.surface(t) for t in tokens)
        return tok.detokenize(tokens)

    def info(self) -> dict[str, object]:
        return {
            "kind": "markov",
            "unit": self.unit,
            "order": self.order,
            "vocabulary": len(self.vocab),
            "ngrams": self.counts.sizes,
            "training_tokens": int(len(self.text_ids)),
            "corpora": self.corpora,
            "continue_rate": self.continue_rate,
            "quote_span": self.quote_span,
            "tokenizer": PRETOKENIZED if self.pretokenized else TOKENIZER[self.unit],
            "genlab_version": self.version,
        }


def check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise GenlabError(f"order must be a whole number from 1 to {MAX_ORDER}, got {order!r}")


def check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise GenlabError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")


# --- turning text into units -------------------------------------------------------------------


def char_units(tokens: Iterable[str]) -> list[str]:
    """Characters of the detokenized text, keeping quote tokens and paragraph marks whole.

    Keeping "opening quote" and "closing quote" as distinct units lets a character chain
    balance its quotes exactly like a word chain does.
    """
    out: list[str] = []
    detok = tok.Detokenizer()
    for t in tokens:
        piece = detok.piece(t)
        if t == tok.PARAGRAPH:
            out.append(t)
        elif tok.quote_role(t) is not None:
            surface = tok.surface(t)
            out.extend(piece[: len(piece) - len(surface)])
            out.append(t)
        else:
            out.extend(piece)
    return out


def pretokenized_units(text: str) -> list[str]:
    """Units of pre-tokenized text: tokens split by whitespace, one paragraph per line."""
    out: list[str] = []
    for line in text.splitlines():
        words = [w for w in line.split() if w not in RESERVED]
        if words:
            if out:
                out.append(tok.PARAGRAPH)
            out.extend(words)
    return out


def text_units(text: str, unit: str) -> list[str]:
    tokens = tok.tokenize(text)
    return char_units(tokens) if unit == "char" else tokens


# --- training ----------------------------------------------------------------------------------

Progress = Callable[[int], None]  # called with the number of characters just processed


def train(corpora: Sequence[tuple[str | Path, float]], order: int = 3, unit: str = "word",
          encoding: str | None = None, progress: Progress | None = None,
          texts: Sequence[str] | None = None, tokenized: bool = False) -> MarkovModel:
    """Train a chain on (path, weight) corpora. `texts`, if given, replaces reading the files.

    `tokenized`: the corpora are already split into tokens by spaces, one sentence per line
    (KenLM's and SRILM's convention); genlab's tokenizer is bypassed and each line becomes
    a paragraph, so the Kneser-Ney estimates can be compared with other toolkits'.
    """
    from genlab.corpus import iter_corpus

    check_order(order)
    check_unit(unit)
    if tokenized and unit != "word":
        raise GenlabError("--tokenized input is split into tokens already: it needs --unit word")
    if not corpora:
        raise GenlabError("no corpus given")
    index: dict[str, int] = {tok.PARAGRAPH: 0}
    docs: list[list[np.ndarray]] = []
    provenance: list[dict] = []
    for n, (path, weight) in enumerate(corpora):
        digest = hashlib.sha256()
        pieces = [texts[n]] if texts is not None else iter_corpus(path, encoding, digest=digest)
        parts = _encode_pieces(pieces, "tokenized" if tokenized else unit, index, progress)
        tokens = sum(len(p) for p in parts) - 1
        if tokens < 1:
            raise GenlabError(f"{path}: no text to learn from")
        docs.append(parts)
        provenance.append({
            "name": Path(path).stem,
            "path": str(path),
            "sha256": digest.hexdigest() if texts is None else None,
            "weight": float(weight),
            "tokens": int(tokens),
        })
    vocab = list(index)
    seq, starts = _concatenate(docs, np.uint16 if len(vocab) <= 1 << 16 else np.uint32)
    weights = None
    if any(c["weight"] != 1.0 for c in provenance):
        weights = np.array([c["weight"] for c in provenance])
    counts = NgramCounts.build(seq, starts, order, len(vocab), weights)
    model = MarkovModel(order, unit, vocab, counts, seq, starts, provenance, pretokenized=tokenized)
    model.continue_rate, model.quote_span = quote_statistics(model)
    _release_freed_memory()
    return model


def _release_freed_memory() -> None:
    """Hand the tokenizer's freed working memory back to the system (glibc keeps it otherwise,
    and a long chat or a big generation run would then start from a needlessly high mark)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _concatenate(docs: list[list[np.ndarray]], dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """One compact id array for all documents, freeing the pieces as it goes."""
    lengths = [sum(len(p) for p in parts) for parts in docs]
    seq = np.empty(sum(lengths), dtype=dtype)
    at = 0
    for parts in docs:
        while parts:
            piece = parts.pop(0)
            seq[at:at + len(piece)] = piece
            at += len(piece)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    return seq, starts


def _encode_pieces(pieces: Iterable[str], unit: str, index: dict[str, int],
                   progress: Progress | None) -> list[np.ndarray]:
    """Token ids of one document (paragraph mark first and between paragraphs), in parts.

    Text arrives in arbitrary pieces; only whole paragraphs (up to the last blank line
    seen) are tokenized, the rest waits for the next piece.
    """
    parts: list[np.ndarray] = [np.zeros(1, dtype=np.uint32)]  # leading paragraph mark (id 0)
    carry = ""
    separator = "\n" if unit == "tokenized" else "\n\n"
    encode = _word_encoder(index) if unit == "word" else functools.partial(_encode_block, unit=unit, index=index)
    for piece in pieces:
        text = carry + piece
        cut = text.rfind(separator)
        if cut < 0:
            carry = text
            continue
        carry = text[cut:]
        parts.append(encode(text[:cut]))
        if progress:
            progress(len(piece))
    if carry.strip():
        parts.append(encode(carry))
    return [p for p in parts if len(p)]


def _word_encoder(index: dict[str, int]) -> Callable[[str], np.ndarray]:
    """Token ids of a block of text: by the compiled tokenizer where it was built (about six
    times faster on a big corpus, same tokens), else by tokenize.py."""
    compiled = tok.compiled() if COMPILED_TOKENIZER else None
    if compiled is None:
        return functools.partial(_encode_block, unit="word", index=index)
    encoder = compiled.Encoder(index, tok.tokenize_collapsed)

    def encode(text: str) -> np.ndarray:
        ids = np.frombuffer(encoder.encode(tok.normalize(text)), dtype=np.uint32)
        return ids.astype(np.uint16) if len(index) <= 1 << 16 else ids.copy()

    return encode


def _encode_block(text: str, unit: str, index: dict[str, int]) -> np.ndarray:
    if unit == "tokenized":
        fast = _encode_lines(text, index)
        if fast is not None:
            return fast
    tokens: list[str] = []
    if unit == "tokenized":
        for line in text.split("\n"):
            words = [w for w in line.split() if w not in RESERVED]
            if tok.PARAGRAPH in words:
                raise GenlabError(f"{tok.PARAGRAPH!r} is genlab's paragraph mark; it cannot be a token of "
                                  "--tokenized input")
            if words:
                tokens.extend(words)
                tokens.append(tok.PARAGRAPH)
    else:
        for paragraph in tok.paragraph_tokens(text):
            tokens.extend(paragraph)
            tokens.append(tok.PARAGRAPH)
    if unit == "char":
        tokens = char_units(tokens)
    for t in dict.fromkeys(tokens):
        if t not in index:
            index[t] = len(index)
    ids = np.fromiter(map(index.__getitem__, tokens), dtype=np.uint32, count=len(tokens))
    return ids.astype(np.uint16) if len(index) <= 1 << 16 else ids  # half the memory while training


def _encode_lines(text: str, index: dict[str, int]) -> np.ndarray | None:
    """_encode_block for pre-tokenized text in one split of the whole block, not one per line.

    Why: on a big pre-tokenized corpus, splitting, filtering and collecting new words line by
    line in Python was most of the training time. Each line break becomes a paragraph mark
    (dropped where its line was empty), and only the words the index lacks are looked at
    twice. None where the careful path must decide: the text holds the paragraph mark or a
    reserved word, if only inside a token (as a token, the first is an error there and the
    others are dropped).
    """
    mark = tok.PARAGRAPH
    if "<" in text and any(w in text for w in (mark, *RESERVED)):
        return None
    tokens = text.replace("\n", f" {mark} ").split()
    tokens.append(mark)  # the block's last line ends too
    ids = np.fromiter(map(index.get, tokens, repeat(-1, len(tokens))), dtype=np.int64, count=len(tokens))
    unknown = np.flatnonzero(ids < 0)
    if len(unknown):
        new = [tokens[i] for i in unknown.tolist()]
        for t in dict.fromkeys(new):  # first appearance order, as _encode_block numbers them
            index[t] = len(index)
        ids[unknown] = np.fromiter(map(index.__getitem__, new), dtype=np.int64, count=len(new))
    is_mark = ids == index[mark]
    empty = is_mark.copy()  # a mark right after another (or first in the block) ends an empty line
    empty[1:] &= is_mark[:-1]
    ids = ids[~empty]
    return ids.astype(np.uint16) if len(index) <= 1 << 16 else ids.astype(np.uint32)


def quote_statistics(model: MarkovModel) -> tuple[float, int]:
    """(continue rate, quotation span) of the corpus, which generation imitates.

    Continue rate: of the paragraphs that open a quotation, the share that carry one into the
    next paragraph (leaving it unclosed and reopening it with the same mark there: the classic
    convention for a speech over several paragraphs). Span: the 90th percentile of how many
    tokens a quotation runs inside one paragraph. A chain cannot remember that it is inside a
    quotation, so generation continues one at a paragraph break only this often, and closes
    one that has run longer than the span at the next sentence end.
    """
    from genlab.markov.quotes import QuoteTracker

    roles = quote_roles(model.vocab)
    para = model.paragraph_id
    ids = model.text_ids
    interesting = np.flatnonzero((roles[ids, 0] != 0) | (ids == para))
    continued = quoted = 0
    spans: list[int] = []
    tracker = QuoteTracker()
    pending: list[int] = []
    opened_here = False
    opened_at = 0
    kinds, directions = roles[:, 0].tolist(), roles[:, 1].tolist()
    before = ids[np.maximum(interesting - 1, 0)].tolist()
    # a Python loop, but only over quote marks and breaks, and over plain lists
    for pos, t, prev in zip(interesting.tolist(), ids[interesting].tolist(), before):
        if t == para:
            pending = list(tracker.stack)
            quoted += opened_here
            opened_here = False
            tracker.stack.clear()
            continue
        kind, direction = kinds[t], directions[t]
        if pending and direction > 0 and prev == para and kind == pending[-1]:
            continued += 1
        pending = []
        if direction > 0 and not tracker.stack:
            opened_at = pos
        opened_here = opened_here or direction > 0
        tracker.feed_role(kind, direction)
        if direction < 0 and not tracker.stack:
            spans.append(pos - opened_at)
    rate = continued / quoted if quoted else 0.0
    span = int(np.percentile(spans, 90)) if spans else 0
    return rate, span


def quote_roles(vocab: Sequence[str]) -> np.ndarray:
    """(kind number, +1 open / -1 close / 0) for every token of a vocabulary."""
    from genlab.markov.quotes import kind_number

    roles = np.zeros((len(vocab), 2), dtype=np.int8)
    for i, t in enumerate(vocab):
        role = tok.quote_role(t)
        if role is not None:
            roles[i] = (kind_number(role[0]), role[1])
    return roles
