"""Interpolated modified Kneser-Ney, estimated the way KenLM's `lmplz` estimates it.

Why this exact recipe: smoothing makes held-out text scorable (no zero probabilities), and
matching the reference toolkit to 1e-4 means genlab's perplexities can be checked against
KenLM's instead of being taken on trust (Chen & Goodman 1998; Heafield et al. 2013).

Sentences are `<s> w1 ... wk </s>` (for genlab's own models a sentence is a paragraph). The
recipe, order by order:
  - highest order N: the raw count of each N-gram;
  - lower orders: the number of distinct words seen just before the n-gram (its "adjusted
    count"), except n-grams that start with <s>, which keep their raw count; <s> alone and
    <unk> count 0;
  - three discounts per order from the counts of counts t1..t4: Y = t1 / (t1 + 2 t2),
    D(k) = k - (k + 1) Y t(k+1) / t(k) for k = 1, 2, 3+;
  - p(w | c) = (a(c w) - D(a)) / sum_x a(c x) + gamma(c) p(w | c minus its first word), with
    gamma(c) = sum_k D(k) |{x: a(c x) = k}| / sum_x a(c x); unigrams interpolate with the
    uniform distribution over the vocabulary without <s>, and <unk> gets exactly that
    uniform share. <s> has probability 1 (it is never predicted, only conditioned on).
The back-off weight an ARPA file stores for a context is its gamma.

N-grams are stored the way a trie stores them: an n-gram's key is (index of its first n - 1
words at order n - 1) * W + (its last word), so any order fits a uint64 and a lookup is one
binary search per order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import repeat
from typing import Iterable, Sequence

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz --discount_fallback's defaults
LN10 = math.log(10.0)


@dataclass
class KneserNey:
    """A smoothed n-gram model over word ids 0..W-1, three of which are <s>, </s> and <unk>."""

    order: int
    vocab: list[str]
    bos: int
    eos: int
    unk: int
    keys: list[np.ndarray]  # per order (index 0 = unigrams): sorted uint64 keys
    log10_prob: list[np.ndarray]  # per order, aligned with keys
    log10_backoff: list[np.ndarray]  # per order below the highest, aligned with keys
    discounts: list[tuple[float, float, float]]
    fallback: list[bool] = field(default_factory=list)  # orders whose data forced the fallback

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.vocab)}

    @property
    def width(self) -> int:
        return len(self.vocab)

    @property
    def sizes(self) -> list[int]:
        return [len(k) for k in self.keys]

    # --- estimation ----------------------------------------------------------------------

    @classmethod
    def estimate(cls, seq: np.ndarray, order: int, vocab: Sequence[str], bos: int, eos: int,
                 unk: int) -> "KneserNey":
        """Estimate from `seq`: sentences back to back, each `bos ... eos`, as integer ids."""
        types = _types_of_sequence(np.ascontiguousarray(seq, dtype=np.int64), order, len(vocab), bos)
        return cls._from_types(types, order, vocab, bos, eos, unk)

    @classmethod
    def from_ngrams(cls, grams: Sequence[np.ndarray], counts: Sequence[np.ndarray], order: int,
                    vocab: Sequence[str], bos: int, eos: int, unk: int) -> "KneserNey":
        """Estimate from counts already made: grams[n - 1] holds every distinct n-gram of the
        sentences once (one row of word ids each, oldest first, any row order), counts[n - 1]
        how often each occurs.

        Why: a chain counts its n-grams when it is trained; re-deriving them from the ten
        million tokens of a big corpus is the slow part of `estimate` (a sort per order).
        Gives exactly what `estimate` gives on the same sentences.
        """
        types = _types_of_ngrams(grams, counts, order, len(vocab), bos)
        return cls._from_types(types, order, vocab, bos, eos, unk)

    @classmethod
    def _from_types(cls, types: "_Types", order: int, vocab: Sequence[str], bos: int, eos: int,
                    unk: int) -> "KneserNey":
        """The smoothing itself, on the distinct n-grams of every order (see the module doc)."""
        width = len(vocab)
        keys, raw, suffix, starts_bos = types.keys, types.raw, types.suffix, types.starts_bos
        adjusted = []
        for n in range(1, order + 1):
            if n == order:
                a = raw[n - 1].copy()
            else:  # distinct left extensions, raw counts for what starts with <s>
                a = np.bincount(suffix[n], minlength=len(keys[n - 1])).astype(np.float64)
                starts = starts_bos[n - 1]
                a[starts] = raw[n - 1][starts]
            if n == 1:
                a[bos] = a[unk] = 0.0
            adjusted.append(a)

        discounts, fallback = [], []
        for a in adjusted:
            d, fell_back = _discounts(a)
            discounts.append(d)
            fallback.append(fell_back)

        probs, backoffs = [], []
        for n in range(1, order + 1):
            a, (d1, d2, d3) = adjusted[n - 1], discounts[n - 1]
            table = np.array([0.0, d1, d2, d3])
            cls_ = np.minimum(a, 3).astype(np.int64)
            discounted = a - table[cls_]
            if n == 1:
                denom = a.sum()
                gamma = (table[cls_]).sum() / denom
                p = discounted / denom + gamma / (width - 1)  # uniform over all but <s>
                p[bos] = 1.0
            else:
                ctx = (keys[n - 1] // np.uint64(width)).astype(np.int64)
                size = len(keys[n - 2])
                denom = np.bincount(ctx, weights=a, minlength=size)
                mass = np.bincount(ctx, weights=table[cls_], minlength=size)
                with np.errstate(divide="ignore", invalid="ignore"):
                    gamma_ctx = np.where(denom > 0, mass / denom, 1.0)
                p = discounted / denom[ctx] + gamma_ctx[ctx] * probs[-1][suffix[n - 1]]
                backoffs.append(gamma_ctx)
            probs.append(p)
        log10_prob = [np.minimum(0.0, np.log10(p)) for p in probs]
        log10_backoff = [np.log10(g) for g in backoffs]
        return cls(order, list(vocab), bos, eos, unk, keys, log10_prob, log10_backoff,
                   discounts, fallback)

    # --- querying ------------------------------------------------------------------------

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Ids of `words`; <unk> for the ones the model never saw (and for <s>, as KenLM does)."""
        index, unk, bos = self.index, self.unk, self.bos
        return np.fromiter((unk if (i := index.get(w, unk)) == bos else i for w in words),
                           dtype=np.int64, count=len(words))

    def log10_scores(self, seq: np.ndarray) -> np.ndarray:
        """log10 p(seq[t] | what precedes it in its sentence) for every t; 0 at each <s>.

        `seq` is sentences back to back, each `bos ... eos`, unknown words as `unk`. This
        is ARPA back-off: the longest n-gram the model has, times the back-off weights of
        the longer contexts it has.
        """
        seq = np.ascontiguousarray(seq, dtype=np.int64)
        useq = seq.astype(np.uint64)
        width = np.uint64(self.width)
        # found[k][t]: index of the (k+1)-gram ending at t, or -1. No n-gram ends with <s>,
        # so a lookup reaching back over a sentence start finds nothing by itself.
        found = [seq]
        best = self.log10_prob[0][seq]
        matched = np.ones(len(seq), dtype=np.int8)  # order of the longest n-gram found
        for n in range(2, self.order + 1):
            t = np.flatnonzero(found[-1][:-1] >= 0) + 1
            at = self._table(n).find(found[-1][t - 1].astype(np.uint64) * width + useq[t])
            hit = at >= 0
            t, at = t[hit], at[hit]
            here = np.full(len(seq), -1, dtype=np.int64)
            here[t] = at
            best[t] = self.log10_prob[n - 1][at]
            matched[t] = n
            found.append(here)
        # back-off weights of every context longer than the n-gram that matched
        total = best
        for k in range(1, self.order):  # contexts of k words, ending at t - 1
            ctx = found[k - 1][:-1]
            use = np.flatnonzero((ctx >= 0) & (matched[1:] <= k))
            total[use + 1] += self.log10_backoff[k - 1][ctx[use]]
        total[seq == self.bos] = 0.0
        return total

    def _table(self, n: int) -> "HashIndex":
        tables = self.__dict__.setdefault("_tables", {})
        if n not in tables:
            tables[n] = HashIndex(self.keys[n - 1])
        return tables[n]

    def encode(self, sentences: Iterable[Sequence[str]]) -> np.ndarray:
        """Sentences of words as one id array, each `<s> ... </s>`, unknown words as <unk>."""
        get, unk, bos, eos = self.index.get, self.unk, self.bos, self.eos
        out: list[int] = []
        for words in sentences:
            out.append(bos)
            out.extend(map(get, words, repeat(unk, len(words))))
            out.append(eos)
        return np.fromiter(out, dtype=np.int64, count=len(out))

    def sentence_log10(self, words: Sequence[str]) -> float:
        """log10 p(words </s> | <s>), as KenLM's Model.score(sentence) computes it."""
        seq = np.concatenate(([self.bos], self.ids(words), [self.eos]))
        return float(self.log10_scores(seq).sum())

    # --- ARPA ----------------------------------------------------------------------------

    def write_arpa(self, out) -> None:
        """Write the model as an ARPA file to the text stream `out`."""
        out.write("\\data\\\n")
        for n, size in enumerate(self.sizes, 1):
            out.write(f"ngram {n}={size}\n")
        grams: list[str] = self.vocab
        for n in range(1, self.order + 1):
            out.write(f"\n\\{n}-grams:\n")
            grams = self._gram_strings(n, grams)
            probs = self.log10_prob[n - 1].tolist()
            if n == self.order:
                out.writelines(f"{p:.7g}\t{g}\n" for p, g in zip(probs, grams))
            else:
                backoff = self.log10_backoff[n - 1].tolist()
                out.writelines(f"{p:.7g}\t{g}\t{b:.7g}\n" for p, g, b in zip(probs, grams, backoff))
        out.write("\n\\end\\\n")

    def _gram_strings(self, n: int, shorter: list[str]) -> list[str]:
        """The n-grams of order n as text, in key order, from those of order n - 1.

        Why from the order below: an n-gram's key names its first n - 1 words' index there,
        so each string is one concatenation instead of a join over all its words.
        """
        if n == 1:
            return list(self.vocab)
        width = np.uint64(self.width)
        keys = self.keys[n - 1]
        vocab = self.vocab
        ctx = (keys // width).tolist()
        last = (keys % width).tolist()
        return [f"{shorter[c]} {vocab[w]}" for c, w in zip(ctx, last)]


class HashIndex:
    """Where each key sits in a sorted key array, by open addressing (linear probing).

    Why not np.searchsorted: a binary search over a few hundred thousand keys misses the
    cache at every step; a hash probe usually needs one read, so scoring runs ~4x faster.
    Built in numpy rounds: each round seats, for every free slot, one of the keys that want
    it; the others move on to the next slot, as linear probing would.
    """

    EMPTY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)  # never a key: keys are below W * count
    MULTIPLIER = np.uint64(0x9E37_79B9_7F4A_7C15)

    def __init__(self, keys: np.ndarray) -> None:
        bits = max(4, int(2 * len(keys)).bit_length())  # at most half full
        self.mask = np.uint64((1 << bits) - 1)
        self.shift = np.uint64(64 - bits)
        self.slot_keys = np.full(1 << bits, self.EMPTY, dtype=np.uint64)
        self.slot_positions = np.full(1 << bits, -1, dtype=np.int64)
        pending = np.arange(len(keys), dtype=np.int64)
        slot = self._home(keys)
        while len(pending):
            free = np.flatnonzero(self.slot_keys[slot] == self.EMPTY)
            _, first = np.unique(slot[free], return_index=True)
            seated = free[first]
            self.slot_keys[slot[seated]] = keys[pending[seated]]
            self.slot_positions[slot[seated]] = pending[seated]
            waiting = np.ones(len(pending), dtype=bool)
            waiting[seated] = False
            pending, slot = pending[waiting], (slot[waiting] + np.uint64(1)) & self.mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return (keys.astype(np.uint64) * self.MULTIPLIER) >> self.shift

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Position of each query in the sorted keys, -1 where it is absent."""
        queries = queries.astype(np.uint64, copy=False)
        out = np.full(len(queries), -1, dtype=np.int64)
        which = np.arange(len(queries), dtype=np.int64)
        slot = self._home(queries)
        wanted = queries
        while len(which):
            found = self.slot_keys[slot]
            hit = found == wanted
            out[which[hit]] = self.slot_positions[slot[hit]]
            go_on = ~hit & (found != self.EMPTY)
            which, wanted, slot = which[go_on], wanted[go_on], (slot[go_on] + np.uint64(1)) & self.mask
        return out


@dataclass
class _Types:
    """The distinct n-grams of every order (index 0 = unigrams), in key order."""

    keys: list[np.ndarray]  # sorted uint64 trie keys (see the module doc)
    raw: list[np.ndarray]  # raw counts, float64
    suffix: list[np.ndarray]  # index one order down of the n-gram minus its first word ([] at 1)
    starts_bos: list[np.ndarray]  # whether the n-gram starts with <s>


def _types_of_sequence(seq: np.ndarray, order: int, width: int, bos: int) -> _Types:
    """The distinct n-grams of sentences `bos ... eos` back to back, by one sort per order."""
    depth = _depths(seq, bos)
    # idx[n][t]: index of the (n+1)-gram ending at position t, -1 where there is none
    idx = [seq.copy()]
    keys = [np.arange(width, dtype=np.uint64)]
    raw = [np.bincount(seq, minlength=width).astype(np.float64)]
    starts_bos = [np.arange(width, dtype=np.int64) == bos]
    suffix: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for n in range(2, order + 1):
        t = np.flatnonzero(depth >= n - 1)
        ctx = idx[-1][t - 1]
        key = ctx.astype(np.uint64) * np.uint64(width) + seq[t].astype(np.uint64)
        uniq, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True,
                                                 return_counts=True)
        here = np.full(len(seq), -1, dtype=np.int64)
        here[t] = inverse
        rep = t[first]  # one position where each n-gram ends
        suffix.append(idx[-1][rep] if n > 2 else seq[rep])
        starts_bos.append(seq[rep - (n - 1)] == bos)
        idx.append(here)
        keys.append(uniq)
        raw.append(counts.astype(np.float64))
    return _Types(keys, raw, suffix, starts_bos)


def _types_of_ngrams(grams: Sequence[np.ndarray], counts: Sequence[np.ndarray], order: int,
                     width: int, bos: int) -> _Types:
    """The same as `_types_of_sequence`, from n-grams counted already: only the distinct
    n-grams are sorted (a few hundred thousand), never the tokens."""
    keys = [np.arange(width, dtype=np.uint64)]
    raw = [np.bincount(grams[0][:, 0], weights=counts[0], minlength=width).astype(np.float64)]
    starts_bos = [np.arange(width, dtype=np.int64) == bos]
    suffix: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for n in range(2, order + 1):
        rows = grams[n - 1]
        prefix = _trie_index(keys, rows[:, :-1], width)
        key = prefix.astype(np.uint64) * np.uint64(width) + rows[:, -1].astype(np.uint64)
        ordered = np.argsort(key)
        rows = rows[ordered]
        keys.append(key[ordered])
        raw.append(np.asarray(counts[n - 1], dtype=np.float64)[ordered])
        suffix.append(_trie_index(keys, rows[:, 1:], width))
        starts_bos.append(rows[:, 0] == bos)
    return _Types(keys, raw, suffix, starts_bos)


def _trie_index(keys: list[np.ndarray], rows: np.ndarray, width: int) -> np.ndarray:
    """Index of each row's n-gram (n = the row length) among the sorted keys of order n:
    one binary search per order, walking the trie from the first word."""
    at = rows[:, 0].astype(np.int64)
    for j in range(1, rows.shape[1]):
        query = at.astype(np.uint64) * np.uint64(width) + rows[:, j].astype(np.uint64)
        at = np.searchsorted(keys[j], query)
        if len(at) and (at.max() >= len(keys[j]) or not np.array_equal(keys[j][at], query)):
            raise ValueError("an n-gram's prefix or suffix is missing from the counts")
    return at


def _depths(seq: np.ndarray, bos: int) -> np.ndarray:
    """How many words precede each position in its sentence (0 at <s>)."""
    positions = np.arange(len(seq), dtype=np.int64)
    start = np.where(seq == bos, positions, 0)
    np.maximum.accumulate(start, out=start)
    return positions - start


def _discounts(adjusted: np.ndarray) -> tuple[tuple[float, float, float], bool]:
    """D(1), D(2), D(3+) from the counts of counts (Chen & Goodman's equation 26)."""
    t = [int(np.count_nonzero(adjusted == k)) for k in range(5)]
    if min(t[1], t[2], t[3]) == 0:
        return FALLBACK_DISCOUNTS, True
    y = t[1] / (t[1] + 2.0 * t[2])
    d = tuple(k - (k + 1) * y * t[k + 1] / t[k] for k in (1, 2, 3))
    if any(not 0.0 <= x <= k for k, x in zip((1, 2, 3), d)):
        return FALLBACK_DISCOUNTS, True
    return d, False  # type: ignore[return-value]


def sentences_from_stream(ids: np.ndarray, separator: int, bos: int, eos: int) -> np.ndarray:
    """Turn a stream of ids with `separator` between paragraphs (genlab's training text)
    into sentences `bos ... eos`; empty paragraphs vanish."""
    ids = np.asarray(ids, dtype=np.int64)
    is_sep = ids == separator
    words = ids[~is_sep]
    if not len(words):
        return np.zeros(0, dtype=np.int64)
    paragraph = np.cumsum(is_sep)[~is_sep]
    new = np.empty(len(words), dtype=bool)
    new[0] = True
    new[1:] = paragraph[1:] != paragraph[:-1]
    sentence = np.cumsum(new) - 1  # sentence number of each word
    out = np.empty(len(words) + 2 * (sentence[-1] + 1), dtype=np.int64)
    where = np.arange(len(words)) + 2 * sentence + 1
    out[where] = words
    starts = where[new] - 1
    out[starts] = bos
    ends = np.empty(len(starts), dtype=np.int64)
    ends[:-1] = starts[1:] - 1
    ends[-1] = len(out) - 1
    out[ends] = eos
    return out
