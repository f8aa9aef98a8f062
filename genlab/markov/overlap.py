"""Find runs of words in the training text fast: the anti-plagiarism guard and novelty.

markovify checks each candidate sentence with a substring search over the whole corpus, which
gets slower the bigger the corpus. Here every run of SEED_LEN words gets a 32-bit hash, packed
with its position into one sorted uint64 array (sorted in place: one array, no argsort). A
query finds where its first words occur by binary search and compares the rest word by word,
for all windows of a sentence at once; hash collisions only add candidates that the direct
comparison then drops. Memory: 8 bytes per corpus word.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

SEED_LEN = 4  # words per indexed run
_P32 = np.uint32(0x9E3779B1)
_LOW32 = np.uint64(0xFFFFFFFF)
_BLOCK = 1 << 20


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


class RunIndex:
    """Occurrences of word runs in one word sequence (non-negative ids)."""

    def __init__(self, words: np.ndarray):
        self.words = np.ascontiguousarray(words)
        self._seeds: dict[int, np.ndarray] = {}

    def seed(self, k: int) -> np.ndarray:
        """Sorted (hash << 32 | position) of every k-word run."""
        if k not in self._seeds:
            h = _seed_hashes(self.words, k)
            packed = h.astype(np.uint64)
            del h
            packed <<= np.uint64(32)
            for a in range(0, len(packed), _BLOCK):  # positions, a block at a time
                packed[a:a + _BLOCK] |= np.arange(a, min(a + _BLOCK, len(packed)), dtype=np.uint64)
            packed.sort()
            self._seeds[k] = packed
        return self._seeds[k]

    def count_runs(self, seq: Sequence[int], starts: np.ndarray, length: int) -> np.ndarray:
        """How many times seq[s:s+length] occurs in the text, for each s in `starts`."""
        seq = np.asarray(seq, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        found = np.zeros(len(starts), dtype=np.int64)
        if length == 0 or length > len(self.words) or len(starts) == 0:
            return found
        k = min(length, SEED_LEN)
        packed = self.seed(k)
        known = np.array([(seq[s:s + length] >= 0).all() for s in starts.tolist()])
        if not known.any():
            return found
        h = _seed_hashes(np.where(seq < 0, 0, seq), k, starts).astype(np.uint64) << np.uint64(32)
        lo = packed.searchsorted(h)
        hi = packed.searchsorted(h + np.uint64(1 << 32))
        n = np.where(known, hi - lo, 0)
        total = int(n.sum())
        if total == 0:
            return found
        window = np.repeat(np.arange(len(starts)), n)
        cand = (packed[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(total)] & _LOW32).astype(np.int64)
        ok = cand + length <= len(self.words)
        window, cand = window[ok], cand[ok]
        offsets = np.arange(length)
        match = (self.words[cand[:, None] + offsets] == seq[starts[window][:, None] + offsets]).all(axis=1)
        np.add.at(found, window[match], 1)
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
