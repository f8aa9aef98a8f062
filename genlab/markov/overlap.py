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


def _query_hashes(words: list[int], k: int, starts: list[int]) -> np.ndarray:
    """_seed_hashes for a short query, in plain Python (cheaper than numpy at this size),
    already shifted into the high half of the packed index entries."""
    p, mask = int(_P32), 0xFFFFFFFF
    out = []
    for s in starts:
        h = 0
        for w in words[s:s + k]:
            h = (h * p + max(w, 0) + 1) & mask
        out.append(h << 32)
    return np.array(out, dtype=np.uint64)


class RunIndex:
    """Occurrences of word runs in one word sequence (non-negative ids)."""

    def __init__(self, words: np.ndarray):
        self.words = np.ascontiguousarray(words)
        self._seeds: dict[int, np.ndarray] = {}

    def seed(self, k: int) -> np.ndarray:
        """Sorted (hash << 32 | position) of every k-word run."""
        if k not in self._seeds:
            n = max(len(self.words) - k + 1, 0)
            packed = np.empty(n, dtype=np.uint64)
            for a in range(0, n, _BLOCK):  # a block at a time: no corpus-sized temporaries
                b = min(a + _BLOCK, n)
                packed[a:b] = _seed_hashes(self.words[a:b + k - 1], k)
                packed[a:b] <<= np.uint64(32)
                packed[a:b] |= np.arange(a, b, dtype=np.uint64)
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
        if length < SEED_LEN:
            return self._count_short(seq, starts, length)
        k = SEED_LEN
        packed = self.seed(k)
        if (seq >= 0).all():
            known = np.ones(len(starts), dtype=bool)
        else:  # a window with a word the corpus never had cannot occur in it
            unknown = np.concatenate(([0], np.cumsum(seq < 0)))
            known = unknown[starts + length] == unknown[starts]
            if not known.any():
                return found
        h = _query_hashes(seq.tolist(), k, starts.tolist())
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
    starts = np.arange(max(len(words) - allowed, 1))
    starts = starts[starts + window <= len(words)]
    return bool(index.count_runs(words, starts, window).any())
