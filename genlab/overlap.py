"""Find runs of words in the training text fast: the anti-plagiarism guard and novelty.

markovify checks each candidate sentence with a substring search over the whole corpus, which
gets slower the bigger the corpus. Here every run of SEED_LEN words gets a 32-bit hash, and the
run's start lands in the bucket of the hash's top bits: one array of positions grouped by bucket
plus one array of bucket starts (a hash table laid out flat, built by a counting sort a block at
a time). A query reads the buckets of all windows of a sentence at once and compares the words
of every candidate directly, so hash collisions only add candidates that the comparison drops.
Memory: 4 bytes per corpus word plus half a byte per word of bucket starts, and no temporary of
corpus size while building (peak memory is what the benchmark against markovify judges).

A novel-sized text (up to SMALL_TEXT words, ids under 2**16) answers the guard's one-sentence
queries in plain Python instead, where numpy's per-call cost would dominate: its runs are
packed 16 bits a word into one integer, four-word runs bucketed by a multiplicative hash of
that integer, shorter runs kept sorted for a bisect. The four-word lookup also runs compiled
(the `compiled` lookup a RunIndex is given, e.g. the Markov chain's _fastwalk.any_run, same
answers). The chain's guard and the style metrics share this index.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Sequence

import numpy as np

from genlab.ngrams import count_sorted

SEED_LEN = 4  # words per indexed run
# Up to this many words the guard's lookups run in plain Python over a table of its own (under a
# microsecond a window, ~60 bytes a word): numpy's per-call cost would dominate such small queries.
SMALL_TEXT = 1 << 18
_P32 = np.uint32(0x9E3779B1)
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: spreads packed keys over the top bits
_BLOCK = 1 << 18  # runs hashed at a time while building: temporaries of a few MB



def _seed_hashes(words: np.ndarray, k: int, starts: np.ndarray | None = None) -> np.ndarray:
    """32-bit hash of words[s:s+k] for every start s (or the given starts)."""
    with np.errstate(over="ignore"):
        if starts is None:
            n = len(words) - k + 1
            h = np.zeros(max(n, 0), dtype=np.uint32)
            for j in range(k):
                h *= _P32
                h += words[j:j + n].astype(np.uint32) + np.uint32(1)
            return h
        h = np.zeros(len(starts), dtype=np.uint32)
        for j in range(k):
            h *= _P32
            h += words[starts + j].astype(np.uint32) + np.uint32(1)
        return h


def _query_hashes(words: list[int], k: int, starts: list[int]) -> np.ndarray:
    """_seed_hashes for a short query, in plain Python (cheaper than numpy at this size)."""
    p, mask = int(_P32), 0xFFFFFFFF
    out = []
    for s in starts:
        h = 0
        for w in words[s:s + k]:
            h = (h * p + max(w, 0) + 1) & mask
        out.append(h)
    return np.array(out, dtype=np.uint32)


class _Buckets:
    """Start positions of every k-word run, grouped by the top `bits` bits of the run's hash."""

    __slots__ = ("shift", "starts", "positions")

    def __init__(self, words: np.ndarray, k: int):
        n = max(len(words) - k + 1, 0)
        bits = min(max(int(n // 16).bit_length(), 8), 28)  # 8 to 16 runs a bucket
        self.shift = np.uint32(32 - bits)
        index_type = np.uint32 if n < 2**32 else np.uint64
        # two passes over the text, a block at a time: count the runs of each bucket, then
        # put each run in the next free slot of its bucket (a bucket lists them in text order)
        counts = np.zeros(1 << bits, dtype=index_type)
        for a, b in _blocks(n):
            bucket, _ = self._sorted_block(words, k, a, b)
            present, sizes = np.unique(bucket, return_counts=True)
            counts[present] += sizes.astype(index_type)
        self.starts = np.zeros((1 << bits) + 1, dtype=index_type)
        np.cumsum(counts, out=self.starts[1:])
        del counts
        self.positions = np.empty(n, dtype=index_type)
        free = self.starts[:-1].copy()
        for a, b in _blocks(n):
            bucket, offset = self._sorted_block(words, k, a, b)
            first = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
            sizes = np.diff(np.append(first, len(bucket)))
            rank = np.arange(len(bucket)) - np.repeat(first, sizes)
            self.positions[free[bucket] + rank] = offset + np.uint64(a)
            free[bucket[first]] += sizes.astype(index_type)

    def _sorted_block(self, words: np.ndarray, k: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(bucket, offset from a) of the runs starting in [a, b), sorted by bucket then offset."""
        key = self._bucket(words, k, a, b).astype(np.uint64) << np.uint64(32)
        key |= np.arange(b - a, dtype=np.uint64)
        key.sort()
        return (key >> np.uint64(32)).astype(np.int64), key & _LOW32

    def _bucket(self, words: np.ndarray, k: int, a: int, b: int) -> np.ndarray:
        return _seed_hashes(words[a:b + k - 1], k) >> self.shift

    def candidates(self, hashes: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, start position) of every run in the buckets of the query hashes."""
        bucket = (hashes >> self.shift).astype(np.int64)
        lo = self.starts[bucket].astype(np.int64)
        n = np.where(known, self.starts[bucket + 1].astype(np.int64) - lo, 0)
        total = int(n.sum())
        query = np.repeat(np.arange(len(hashes)), n)
        pos = self.positions[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(total)].astype(np.int64)
        return query, pos


def _blocks(n: int):
    return ((a, min(a + _BLOCK, n)) for a in range(0, n, _BLOCK))


class RunIndex:
    """Occurrences of word runs in one word sequence (non-negative ids)."""

    def __init__(self, words: np.ndarray, compiled=None):
        """`compiled`: any_run's four-word lookup compiled (same answers), or None for Python."""
        self.words = np.ascontiguousarray(words)
        self.compiled = compiled
        self._seeds: dict[int, _Buckets] = {}
        self._small: tuple[list[int], array, array, int] | None = None
        self._small_words: array | None = None  # the text as int64, for the compiled lookup
        self._short: dict[int, array | None] = {}  # length -> sorted packed runs (any_run)

    def seed(self, k: int) -> _Buckets:
        """The bucketed start positions of every k-word run (built on first use)."""
        if k not in self._seeds:
            self._seeds[k] = _Buckets(self.words, k)
        return self._seeds[k]

    def any_run(self, seq: Sequence[int], starts: Sequence[int], length: int) -> bool:
        """Does seq[s:s+length] occur in the text for some s in `starts`?"""
        if len(self.words) > SMALL_TEXT or length == 0:
            return bool(self.count_runs(seq, np.asarray(starts, dtype=np.int64), length).any())
        seq = list(seq)
        if length < SEED_LEN:
            return self._any_short_run(seq, starts, length)
        words, first, positions, shift = self._small_tables()
        if first is None:  # ids too large to pack four into 64 bits
            return bool(self.count_runs(seq, np.asarray(starts, dtype=np.int64), length).any())
        if self.compiled is not None and isinstance(starts, range) and starts.step == 1:
            if self._small_words is None:
                self._small_words = array("q", self.words.astype(np.int64).tobytes())
            return self.compiled(self._small_words, first, positions, shift, seq, starts.start,
                                     starts.stop, length)
        for s in starts:
            run = seq[s:s + length]
            a, b, c, d = run[:SEED_LEN]
            if min(a, b, c, d) < 0:
                continue  # a word the text never had
            i = ((((a << 48 | b << 32 | c << 16 | d) * _GOLDEN) & _LOW64) >> shift)
            for j in range(first[i], first[i + 1]):
                q = positions[j]
                if words[q:q + length] == run:
                    return True
        return False

    def _any_short_run(self, seq: list[int], starts: Sequence[int], length: int) -> bool:
        """any_run for runs shorter than a seed: a bisect in the sorted distinct runs of that
        length, each packed into one integer (ids under 2**16, as for the seed table)."""
        keys = self._short_keys(length)
        if keys is None:
            return bool(self.count_runs(seq, np.asarray(starts, dtype=np.int64), length).any())
        for s in starts:
            run = seq[s:s + length]
            if min(run) < 0:
                continue
            key = 0
            for w in run:
                key = key << 16 | w
            j = bisect_left(keys, key)
            if j < len(keys) and keys[j] == key:
                return True
        return False

    def _short_keys(self, length: int) -> array | None:
        """The distinct packed runs of `length` words, sorted (None: ids too large to pack)."""
        if length not in self._short:
            key = self._packed(length)
            if key is not None:
                key.sort()  # (np.unique would take a hash-set path, 20x slower on numpy 2.4)
                key = array("Q", count_sorted(key)[0].tobytes())
            self._short[length] = key
        return self._short[length]

    def _small_tables(self) -> tuple[list[int], array | None, array | None, int]:
        """For any_run: the text as a list, and the start of every SEED_LEN-word run in the
        bucket given by the top bits of its packed value times a golden-ratio constant."""
        if self._small is None:
            words = self.words.tolist()
            key = self._packed(SEED_LEN)
            if key is None:
                self._small = (words, None, None, 0)
                return self._small
            bits = max(len(key).bit_length(), 8)  # one or two runs a bucket
            with np.errstate(over="ignore"):
                bucket = ((key * np.uint64(_GOLDEN)) >> np.uint64(64 - bits)).astype(np.int64)
            order = np.argsort(bucket)
            first = np.zeros((1 << bits) + 1, dtype=np.int64)
            np.cumsum(np.bincount(bucket, minlength=1 << bits), out=first[1:])
            self._small = (words, array("q", first.tobytes()), array("q", order.astype(np.int64).tobytes()), 64 - bits)
        return self._small

    def _packed(self, length: int) -> np.ndarray | None:
        """Every run of `length` <= 4 words as one uint64, 16 bits a word (None when ids reach
        2**16 or the text is shorter than a run)."""
        n = len(self.words) - length + 1
        if n <= 0 or int(self.words.max()) >= 1 << 16:
            return None
        w = self.words.astype(np.uint64)
        key = w[:n].copy()
        for j in range(1, length):
            key <<= np.uint64(16)
            key |= w[j:j + n]
        return key

    def count_runs(self, seq: Sequence[int], starts: np.ndarray, length: int) -> np.ndarray:
        """How many times seq[s:s+length] occurs in the text, for each s in `starts`."""
        seq = np.asarray(seq, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        found = np.zeros(len(starts), dtype=np.int64)
        if length == 0 or length > len(self.words) or len(starts) == 0:
            return found
        if length < SEED_LEN:
            return self._count_short(seq, starts, length)
        k = SEED_LEN
        buckets = self.seed(k)
        if (seq >= 0).all():
            known = np.ones(len(starts), dtype=bool)
        else:  # a window with a word the corpus never had cannot occur in it
            unknown = np.concatenate(([0], np.cumsum(seq < 0)))
            known = unknown[starts + length] == unknown[starts]
            if not known.any():
                return found
        h = _query_hashes(seq.tolist(), k, starts.tolist())
        window, cand = buckets.candidates(h, known)
        if len(cand) == 0:
            return found
        ok = cand + length <= len(self.words)
        window, cand = window[ok], cand[ok]
        offsets = np.arange(length)
        match = (self.words[cand[:, None] + offsets] == seq[starts[window][:, None] + offsets]).all(axis=1)
        np.add.at(found, window[match], 1)
        return found

    def _count_short(self, seq: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """Runs shorter than a seed (from sentences of three words or fewer): one scan of
        the text each, rather than an index per length (68 MB apiece on 50 MB of text)."""
        found = np.zeros(len(starts), dtype=np.int64)
        last = len(self.words) - length + 1
        for i, s in enumerate(starts.tolist()):
            run = seq[s:s + length]
            if (run < 0).any():
                continue
            cand = np.flatnonzero(self.words[:last] == run[0])
            for j in range(1, length):
                cand = cand[self.words[cand + j] == run[j]]
            found[i] = len(cand)
        return found

    def contains(self, run: Sequence[int]) -> bool:
        return bool(self.count_runs(run, np.zeros(1, dtype=np.int64), len(run))[0])

    def longest_copied_run(self, seq: Sequence[int]) -> int:
        """Length of the longest run of `seq` that occurs somewhere in the text."""
        best = 0
        while best < len(seq):
            starts = np.arange(len(seq) - best)
            if not self.count_runs(seq, starts, best + 1).any():
                break
            best += 1
        return best


def too_much_overlap(index: RunIndex, words: Sequence[int], max_overlap_ratio: float,
                     max_overlap_total: int) -> bool:
    """markovify's guard: does the text copy a run longer than the overlap allowance?

    The allowance is min(max_overlap_total, round(max_overlap_ratio * len(words))) words;
    every window one word longer than that is looked up.
    """
    allowed = min(max_overlap_total, round(max_overlap_ratio * len(words)))
    window = min(allowed + 1, len(words))
    if window == 0:
        return False
    return index.any_run(words, range(len(words) - window + 1), window)
