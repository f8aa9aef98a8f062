"""Scoring text with a Markov chain: Kneser-Ney over the chain's own units, every byte paid.

A word chain must not get unknown words for free: an unknown word costs P(<unk> | context)
times the probability of its spelling under a character-level Kneser-Ney model of the
chain's own vocabulary. An unknown character (in a character chain, or inside a spelling)
costs P(<unk>) times 1/256 per UTF-8 byte. So every byte of the scored text carries a cost,
and bits per byte compare a word chain, a character chain and a BPE model fairly.

A sentence here is a paragraph: <s> opens it where the training text had a paragraph mark.
Smoothing uses raw counts: per-corpus weights shape generation, not these probabilities.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from genlab import score_parts
from genlab.generator import Score
from genlab.markov.kneser_ney import BOS, EOS, UNK, KneserNey, sentences_from_stream
from genlab.markov.model import MarkovModel
from genlab.markov.units import PRETOKENIZED_WORDS, RESERVED

SPELLING_ORDER = 5
LN10 = math.log(10.0)
LN256 = math.log(256.0)


def kneser_ney(model: MarkovModel) -> KneserNey:
    """The smoothed model of a chain (estimated once, then kept on the model object)."""
    cached = getattr(model, "_kneser_ney", None)
    if cached is None:
        counted = counted_ngrams(model)
        if counted is not None:  # the usual case: reuse the chain's own counts
            cached = KneserNey.from_ngrams(*counted, *estimation_inputs(model, with_text=False)[1:])
        else:
            cached = KneserNey.estimate(*estimation_inputs(model))
        model._kneser_ney = cached  # type: ignore[attr-defined]
    return cached


def estimation_inputs(model: MarkovModel, with_text: bool = True) -> tuple:
    """KneserNey.estimate's arguments for a chain: its paragraphs as sentences, the paragraph
    mark standing for <s>, </s> and <unk> added to its vocabulary (`with_text=False`: None
    in place of the sentences, which take a pass over the whole training text)."""
    para = model.paragraph_id
    vocab = list(model.vocab)
    vocab[para] = BOS
    eos, unk = len(vocab), len(vocab) + 1
    vocab += [EOS, UNK]
    seq = sentences_from_stream(model.text_ids, para, para, eos) if with_text else None
    return seq, model.order, vocab, para, eos, unk


def counted_ngrams(model: MarkovModel) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """The chain's n-gram counts as Kneser-Ney's sentences see them, for KneserNey.from_ngrams.

    The chain counted every n-gram of its text when it was trained, paragraph marks included;
    read as sentences, a mark first in an n-gram is <s>, a mark last is </s>, and an n-gram
    with a mark inside spans two sentences and is not one. None when the counts cannot stand
    for raw sentence counts: weighted corpora, renumbered contexts, empty paragraphs.
    """
    counts, para, eos = model.counts, model.paragraph_id, len(model.vocab)
    if any(c.get("weight", 1.0) != 1.0 for c in model.corpora):
        return None
    if any(r is not None for r in counts.reindex[:model.order]):
        return None
    grams, raw = [], []
    for n in range(1, model.order + 1):
        rows = _rows_of_keys(counts.keys[n - 1], n, counts.bits)
        mark = rows == para
        if n == 2 and np.any(mark[:, 0] & mark[:, 1]):
            return None  # an empty paragraph: the sentences would skip it, the counts do not
        keep = ~mark[:, 1:-1].any(axis=1)
        rows, ends = rows[keep], mark[keep, -1]
        rows[ends, -1] = eos
        grams.append(rows)
        raw.append(counts.counts[n - 1][keep])
    return grams, raw


def _rows_of_keys(keys: np.ndarray, n: int, bits: int) -> np.ndarray:
    """Word ids (oldest first) of n-gram keys packed as ngrams.py packs them: the nearest
    context word in the highest bits, the farthest just above the predicted word."""
    rows = np.empty((len(keys), n), dtype=np.int64)
    mask = np.uint64((1 << bits) - 1)
    rows[:, n - 1] = keys & mask
    for j in range(n - 1):  # the context word j places from the start sits j + 1 fields up
        rows[:, j] = (keys >> np.uint64(bits * (j + 1))) & mask
    return rows


def spelling_model(model: MarkovModel) -> KneserNey:
    """Character Kneser-Ney over the chain's vocabulary (each distinct token once)."""
    cached = getattr(model, "_spelling", None)
    if cached is None:
        para = model.paragraph_id
        words = [w for i, w in enumerate(model.vocab) if i != para]
        chars = sorted({c for w in words for c in w})
        vocab = [UNK, BOS, EOS, *chars]
        index = {c: i for i, c in enumerate(vocab)}
        seq: list[int] = []
        for w in words:
            seq.append(1)
            seq.extend(index[c] for c in w)
            seq.append(2)
        cached = KneserNey.estimate(np.array(seq, dtype=np.int64), SPELLING_ORDER, vocab, 1, 2, 0)
        model._spelling = cached  # type: ignore[attr-defined]
    return cached


def paragraphs_units(model: MarkovModel, text: str, tokenized: bool = False) -> list[list[str]]:
    """The units the chain scores, paragraph by paragraph (`tokenized`: the text's own tokens)."""
    return (PRETOKENIZED_WORDS if tokenized else model.units).paragraphs(text)


def score_units(model: MarkovModel, paragraphs: Sequence[Sequence[str]]) -> tuple[float, int, int, list[float]]:
    """(nats, units scored, unknown units, nats of each paragraph) for paragraphs of the chain's
    own units. Each paragraph is a sentence of its own (<s> ... </s>), so its nats are exactly
    what scoring it alone would give."""
    kn = kneser_ney(model)
    index = model.index
    para = model.paragraph_id
    bos, eos, unk = kn.bos, kn.eos, kn.unk
    seq: list[int] = []
    starts: list[int] = []  # where each paragraph's <s> sits in seq
    unknown: list[tuple[int, str]] = []  # (paragraph, unit)
    for k, units in enumerate(paragraphs):
        starts.append(len(seq))
        seq.append(bos)
        for u in units:
            i = index.get(u, unk)
            if i == para or i == unk:  # "<p>" typed in a text is just an unknown token
                i = unk
                unknown.append((k, u))
            seq.append(i)
        seq.append(eos)
    if not seq:
        return 0.0, 0, 0, []
    log10 = kn.log10_scores(np.array(seq, dtype=np.int64))
    each = (-np.add.reduceat(log10, starts) * LN10).tolist()
    costs = [_unknown_cost(model, u) for _, u in unknown]
    for (k, _), cost in zip(unknown, costs):
        each[k] += cost
    nats = -float(log10.sum()) * LN10 + sum(costs)
    return nats, len(seq) - len(paragraphs), len(unknown), each


def _unknown_cost(model: MarkovModel, unit: str) -> float:
    """Nats for spelling out a unit the chain has never seen."""
    if not model.units.spells_unknown:
        return len(unit.encode("utf-8", "surrogatepass")) * LN256
    speller = spelling_model(model)
    ids = [speller.index.get(c, speller.unk) for c in unit]
    seq = np.array([speller.bos, *ids, speller.eos], dtype=np.int64)
    nats = -float(speller.log10_scores(seq).sum()) * LN10
    return nats + sum(len(c.encode("utf-8", "surrogatepass")) * LN256
                      for c, i in zip(unit, ids) if i == speller.unk)


def score_text(model: MarkovModel, text: str, tokenized: bool = False) -> Score:
    """What the chain thinks of `text` (see the module docstring for what is paid for), with
    the nats of each paragraph (`tokenized`: of each line) in Score.parts."""
    paragraphs = paragraphs_units(model, text, tokenized)
    nats, tokens, oov, each = score_units(model, paragraphs)
    starts = (score_parts.line_starts(text, _has_words) if tokenized
              else score_parts.block_starts(text))
    sizes = score_parts.byte_sizes(text, starts)
    return Score(nats=nats, tokens=tokens, bytes=len(text.encode("utf-8", "surrogatepass")),
                 words=len(text.split()), oov=oov, parts=score_parts.parts(each, sizes))


def _has_words(line: str) -> bool:
    """Whether a pre-tokenized line is a sentence the chain scores (Pretokenized.paragraphs' rule)."""
    return any(w not in RESERVED for w in line.split())
