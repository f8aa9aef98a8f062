"""Find runs of words in the training text fast: the anti-plagiarism guard and novelty.

markovify checks each candidate sentence with a substring search over the whole corpus, which
gets slower the bigger the corpus. Here the words of the corpus are hashed in short runs once
(sorted, with their positions); a query finds the positions of its first few words by binary
search and compares the rest directly, so the cost barely depends on the corpus size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

_P = np.uint64(0x9E3779B97F4A7C15)
SEED_LEN = 4  # words hashed per run; longer queries extend by direct comparison


def _run_hashes(words: np.ndarray, k: int) -> np.ndarray:
    n = len(words) - k + 1
    h = np.zeros(max(n, 0), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _P + words[j:j + n].astype(np.uint64) + np.uint64(1)
    return h


class RunIndex:
    """Occurrences of word runs in one word sequence (ids >= 0)."""

    def __init__(self, words: np.ndarray):
        self.words = np.asarray(words, dtype=np.int64)
        self._seeds: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _seed(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in self._seeds:
            h = _run_hashes(self.words, k)
            order = np.argsort(h, kind="stable")
            self._seeds[k] = (h[order], order.astype(np.int64))
        return self._seeds[k]

    def positions(self, run: Sequence[int]) -> np.ndarray:
        """Start positions in the text where `run` occurs (exact)."""
        run = np.asarray(run, dtype=np.int64)
        if len(run) == 0 or len(run) > len(self.words) or (run < 0).any():
            return np.zeros(0, dtype=np.int64)
        k = min(len(run), SEED_LEN)
        hashes, pos = self._seed(k)
        target = _run_hashes(run[:k], k)[0]
        lo, hi = np.searchsorted(hashes, target), np.searchsorted(hashes, target, side="right")
        cand = pos[lo:hi]
        cand = cand[cand + len(run) <= len(self.words)]
        if len(cand) == 0:
            return cand
        window = self.words[cand[:, None] + np.arange(len(run))]
        return cand[(window == run).all(axis=1)]

    def contains(self, run: Sequence[int]) -> bool:
        return len(self.positions(run)) > 0

    def longest_copied_run(self, seq: Sequence[int]) -> int:
        """Length of the longest run of `seq` that occurs somewhere in the text."""
        seq = list(seq)
        best = 0
        for i in range(len(seq)):
            if len(seq) - i <= best:
                break
            n = best + 1  # only a longer run matters
            while i + n <= len(seq) and self.contains(seq[i:i + n]):
                best = n
                n += 1
        return best


def too_much_overlap(index: RunIndex, words: Sequence[int], max_overlap_ratio: float,
                     max_overlap_total: int) -> bool:
    """markovify's guard: does the text copy a run longer than the overlap allowance?

    The allowance is min(max_overlap_total, round(max_overlap_ratio * len(words))) words.
    """
    allowed = min(max_overlap_total, round(max_overlap_ratio * len(words)))
    window = allowed + 1
    for i in range(max(len(words) - allowed, 1)):
        if index.contains(words[i:i + window]):
            return True
    return False
