"""A trained Markov chain: vocabulary, n-gram counts, the training text as ids, provenance.

Training is: read each corpus, tokenize paragraph by paragraph into integer ids, then count
every n-gram with numpy sorts (see ngrams.py). The ids of the training text are kept because
the anti-plagiarism guard and novelty metrics need to know what the corpus actually says.
"""

from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from genlab import __version__
from genlab.errors import GenlabError
from genlab.markov import tokenize as tok
from genlab.markov import units
from genlab.markov.ngrams import NgramCounts
from genlab.text import normalize

UNITS = tuple(units.UNITS)
MAX_ORDER = 8


@dataclass
class MarkovModel:
    order: int
    unit: str
    vocab: list[str]
    counts: NgramCounts
    text_ids: np.ndarray  # every document's token ids back to back (paragraph mark first)
    doc_starts: np.ndarray
    corpora: list[dict] = field(default_factory=list)  # name, path, sha256, weight, tokens, gutenberg
    continue_rate: float = 0.0  # how often a quoted paragraph runs on into the next (see below)
    quote_span: int = 0  # how long a quotation usually runs (see quote_statistics)
    version: str = __version__
    pretokenized: bool = False  # trained with --tokenized: units are the file's own tokens

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.units = units.units_for(self.unit, self.pretokenized)  # splitting and joining its units

    @property
    def paragraph_id(self) -> int:
        return self.index[tok.PARAGRAPH]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token ids; -1 for tokens the model never saw."""
        get = self.index.get
        return [get(t, -1) for t in tokens]

    def tokens_of(self, text: str) -> list[str]:
        """Split text into this model's units."""
        return self.units.split(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return self.units.join(tokens)

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
            "tokenizer": self.units.tokenizer,
            "genlab_version": self.version,
        }


def check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise GenlabError(f"order must be a whole number from 1 to {MAX_ORDER}, got {order!r}")


def check_unit(unit: str) -> None:
    units.units_for(unit)


# --- training ----------------------------------------------------------------------------------

Progress = Callable[[int], None]  # called with the number of characters just processed


def train(corpora: Sequence[tuple[str | Path, float]], order: int = 3, unit: str = "word",
          encoding: str | None = None, progress: Progress | None = None,
          texts: Sequence[str] | None = None, tokenized: bool = False, keep_gutenberg: bool = False) -> MarkovModel:
    """Train a chain on (path, weight) corpora. `texts`, if given, replaces reading the files.

    `tokenized`: the corpora are already split into tokens by spaces, one sentence per line
    (KenLM's and SRILM's convention); genlab's tokenizer is bypassed and each line becomes
    a paragraph, so the Kneser-Ney estimates can be compared with other toolkits'.
    Files are read without Project Gutenberg's header and licence unless `keep_gutenberg`;
    each corpus's record says what was left out ("gutenberg": its counts, or "kept").
    """
    from genlab.boilerplate import Cut, record
    from genlab.corpus import check_weight, iter_corpus

    check_order(order)
    chain_units = units.units_for(unit, tokenized)
    if not corpora:
        raise GenlabError("no corpus given")
    index: dict[str, int] = {tok.PARAGRAPH: 0}
    docs: list[list[np.ndarray]] = []
    provenance: list[dict] = []
    for path, weight in corpora:
        check_weight(weight, f"{weight!r} for {path}")
    for n, (path, weight) in enumerate(corpora):
        digest = hashlib.sha256()
        cut = None if keep_gutenberg or texts is not None else Cut()
        # a corpus is normalised once, as it is read (one leading BOM off, LF line ends)
        pieces = [normalize(texts[n])] if texts is not None else iter_corpus(path, encoding, digest=digest, cut=cut)
        parts = _encode_pieces(pieces, chain_units, index, progress)
        tokens = sum(len(p) for p in parts) - 1
        if tokens < 1:
            raise GenlabError(f"{path}: no text to learn from")
        docs.append(parts)
        corpus = {
            "name": Path(path).stem,
            "path": str(path),
            "sha256": digest.hexdigest() if texts is None else None,
            "weight": float(weight),
            "tokens": int(tokens),
        }
        if texts is None:  # text handed over was read (and cleaned or not) by the caller
            corpus["gutenberg"] = record(cut)
        provenance.append(corpus)
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


def _encode_pieces(pieces: Iterable[str], chain_units: units.Words, index: dict[str, int],
                   progress: Progress | None) -> list[np.ndarray]:
    """Token ids of one document (paragraph mark first and between paragraphs), in parts.

    Text arrives in arbitrary pieces; only whole paragraphs (up to the last blank line
    seen) are tokenized, the rest waits for the next piece.
    """
    parts: list[np.ndarray] = [np.zeros(1, dtype=np.uint32)]  # leading paragraph mark (id 0)
    carry = ""
    separator = chain_units.block_separator
    encode = chain_units.encoder(index)
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
