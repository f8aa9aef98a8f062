"""Find runs of words in the training text fast: the anti-plagiarism guard and novelty.

markovify checks each candidate sentence with a substring search over the whole corpus, which
gets slower the bigger the corpus. Here the corpus words get polynomial prefix hashes once, so
the hash of any run is two array reads; short "seed" runs are sorted with their positions.
A query finds where its first words occur by binary search and compares whole-run hashes at
those places, all windows of a sentence in one vectorised step.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

_P = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1
SEED_LEN = 4  # words per indexed seed run; longer runs are confirmed by their full hash


def _prefix_hashes(words: np.ndarray) -> np.ndarray:
    """H[i] = hash of words[:i]; the hash of words[a:b] is H[b] - H[a] * P**(b-a) (mod 2**64)."""
    if len(words) < 256:  # a sentence: plain Python integers beat numpy's per-call overhead
        out, acc, p = [0], 0, int(_P)
        for w in words.tolist():
            acc = (acc * p + w + 1) & _MASK64
            out.append(acc)
        return np.array(out, dtype=np.uint64)
    h = np.zeros(len(words) + 1, dtype=np.uint64)
    vals = words.astype(np.uint64) + np.uint64(1)  # +1: an unknown word (-1) hashes as 0
    acc = np.uint64(0)
    # chunked Horner scheme: a Python loop over chunks, numpy within them
    powers = _POWERS
    with np.errstate(over="ignore"):
        for start in range(0, len(vals), 1024):
            chunk = vals[start:start + 1024]
            n = len(chunk)
            # hash of chunk prefixes: sum chunk[j] * P**(i-1-j) for j < i
            local = np.cumsum(chunk * powers[:n][::-1]) * _inverse_power(n)
            h[start + 1:start + n + 1] = acc * powers[1:n + 1] + local
            acc = h[start + n]
    return h


def _powers(n: int) -> np.ndarray:
    p = np.ones(n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(1, n + 1):
            p[i] = p[i - 1] * _P
    return p


_POWERS = _powers(1024)
_INV_CACHE: dict[int, np.ndarray] = {}


def _inverse_power(n: int) -> np.ndarray:
    """P**-(n-i) for i = 1..n, so that the scaled cumsum becomes prefix hashes (P is odd)."""
    if n not in _INV_CACHE:
        inv = np.uint64(pow(int(_P), -1, 1 << 64))
        p = np.ones(n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for i in range(1, n + 1):
                p[i] = p[i - 1] * inv
        _INV_CACHE[n] = p[n - 1::-1][:n]  # P**-(n-1), ..., P**0
    return _INV_CACHE[n]


def _run_hash(prefix: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return prefix[starts + length] - prefix[starts] * _pow(length)


_POW_CACHE: dict[int, np.uint64] = {}


def _pow(n: int) -> np.uint64:
    if n not in _POW_CACHE:
        _POW_CACHE[n] = np.uint64(pow(int(_P), n, 1 << 64))
    return _POW_CACHE[n]


class RunIndex:
    """Occurrences of word runs in one word sequence (ids >= 0)."""

    def __init__(self, words: np.ndarray):
        self.words = np.asarray(words, dtype=np.int64)
        self.prefix = _prefix_hashes(self.words)
        self._seeds: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def seed(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted hashes of every k-word run and the positions they start at."""
        if k not in self._seeds:
            starts = np.arange(max(len(self.words) - k + 1, 0))
            h = _run_hash(self.prefix, starts, k)
            order = np.argsort(h, kind="stable")
            self._seeds[k] = (h[order], order.astype(np.int64))
        return self._seeds[k]

    def count_runs(self, seq: Sequence[int], starts: np.ndarray, length: int) -> np.ndarray:
        """How many times seq[s:s+length] occurs in the text, for each s in `starts`."""
        seq = np.asarray(seq, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        found = np.zeros(len(starts), dtype=np.int64)
        if length == 0 or length > len(self.words) or len(starts) == 0:
            return found
        q = _prefix_hashes(seq)
        k = min(length, SEED_LEN)
        hashes, pos = self.seed(k)
        seeds = _run_hash(q, starts, k)
        lo, hi = hashes.searchsorted(seeds), hashes.searchsorted(seeds, side="right")
        n = hi - lo
        if n.sum() == 0:
            return found
        window = np.repeat(np.arange(len(starts)), n)
        cand = pos[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())]
        if length > k:
            ok = cand + length <= len(self.words)
            window, cand = window[ok], cand[ok]
            want = _run_hash(q, starts, length)
            match = _run_hash(self.prefix, cand, length) == want[window]
            window = window[match]
        np.add.at(found, window, 1)
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
    starts = np.arange(max(len(words) - allowed, 1))
    starts = starts[starts + window <= len(words)]
    return bool(index.count_runs(words, starts, window).any())
