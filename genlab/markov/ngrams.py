"""N-gram counts as sorted numpy arrays: fast to build, small to store, quick to query.

A context of depth d (the d tokens before a position, nearest first) is packed into one
integer: code_1 = w[-1], code_d = code_(d-1) << bits | w[-d]. The count table of depth d holds
sorted keys code_d << bits | next with their counts, so all continuations of a context are one
contiguous slice found by binary search, and backing off to a shorter context is dropping the
farthest token. When packing would overflow 64 bits (long orders, big vocabularies), the
codes of that depth are renumbered densely and the sorted list of raw codes is kept to
translate (`reindex`). Building is a handful of numpy sorts, with no Python loop per token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

U64 = np.uint64
_TWO64 = 1 << 64


def bits_for(vocab_size: int) -> int:
    return max(1, int(vocab_size - 1).bit_length())


def count_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    if len(keys) == 0:
        return keys, np.zeros(0, dtype=np.int64)
    starts = np.empty(len(keys), dtype=bool)
    starts[0] = True
    np.not_equal(keys[1:], keys[:-1], out=starts[1:])
    idx = np.flatnonzero(starts)
    counts = np.diff(np.append(idx, len(keys)))
    return keys[idx], counts


def weighted_counts(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the sum of the weights of their occurrences."""
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    uniq_idx = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else np.zeros(0, int)
    sums = np.add.reduceat(weights[order], uniq_idx) if len(keys) else np.zeros(0)
    return keys[uniq_idx], sums


@dataclass
class NgramCounts:
    """Count tables for context depths 0..order."""

    order: int
    bits: int
    keys: list[np.ndarray]  # keys[d]: sorted uint64, code_d << bits | next
    counts: list[np.ndarray]  # counts[d]: aligned with keys[d]
    reindex: list[np.ndarray | None]  # reindex[d]: sorted raw codes when depth d was renumbered

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    # --- building ----------------------------------------------------------------------------

    @classmethod
    def build(cls, seq: np.ndarray, doc_starts: np.ndarray, order: int, vocab_size: int,
              weights: np.ndarray | None = None) -> "NgramCounts":
        """Count every (context, next) pair of `seq`, never across a document start.

        `seq` is all documents' token ids back to back; `doc_starts` their start offsets.
        The first token of each document is context only (callers put a paragraph mark there).
        `weights`, if given, is a per-position weight (for weighted corpora).
        """
        n = len(seq)
        bits = bits_for(vocab_size)
        s = seq.astype(U64)
        # distance of each position from the start of its document
        lengths = np.diff(np.append(doc_starts, n))
        offset = np.arange(n, dtype=np.int64) - np.repeat(doc_starts, lengths)
        keys, counts, reindex = [], [], [None]

        def table(code: np.ndarray | None, depth: int) -> None:
            valid = offset >= max(depth, 1)
            nxt = s[valid]
            k = nxt if code is None else (code[valid] << U64(bits)) | nxt
            if weights is None:
                k.sort()
                u, c = count_sorted(k)
            else:
                u, c = weighted_counts(k, weights[valid])
            keys.append(u)
            counts.append(c)

        table(None, 0)
        code = np.zeros(n, dtype=U64)
        limit = 1
        for d in range(1, order + 1):
            m = max(n - d, 0)
            code[d:] = (code[d:] << U64(bits)) | s[:m] if d > 1 else s[:m]
            if d == 1:
                code[:1] = 0
            limit <<= bits
            if limit << bits > _TWO64:  # the table key would not fit: renumber densely
                valid = offset >= d
                raw = np.sort(code[valid])
                uniq, _ = count_sorted(raw)
                code[valid] = np.searchsorted(uniq, code[valid]).astype(U64)
                code[~valid] = 0
                reindex.append(uniq)
                limit = len(uniq)
            else:
                reindex.append(None)
            table(code, d)
        return cls(order, bits, keys, counts, reindex)

    # --- querying ----------------------------------------------------------------------------

    def context(self, history: list[int]) -> tuple[int, int, int]:
        """(depth, lo, hi) of the longest suffix of `history` seen in training.

        Token ids < 0 (unknown words) end the context. Depth 0 (no context) always exists.
        """
        best = (0, 0, len(self.keys[0]))
        code = 0
        bits = self.bits
        for d in range(1, min(self.order, len(history)) + 1):
            tok = history[-d]
            if tok < 0:
                break
            code = (code << bits) | tok
            table = self.reindex[d]
            if table is not None:
                j = int(np.searchsorted(table, U64(code)))
                if j == len(table) or int(table[j]) != code:
                    break
                code = j
            keys = self.keys[d]
            lo = int(np.searchsorted(keys, U64(code << bits)))
            end = (code + 1) << bits
            hi = len(keys) if end >= _TWO64 else int(np.searchsorted(keys, U64(end)))
            if lo == hi:
                break
            best = (d, lo, hi)
        return best

    def continuations(self, depth: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Next-token ids and their counts for a context slice."""
        ids = (self.keys[depth][lo:hi] & U64(self.mask)).astype(np.int64)
        return ids, self.counts[depth][lo:hi]

    def count_of(self, depth: int, key_context: int, token: int) -> float:
        """Count of `token` after a packed context code (0 if never seen)."""
        keys = self.keys[depth]
        k = (key_context << self.bits) | token
        j = int(np.searchsorted(keys, U64(k)))
        return float(self.counts[depth][j]) if j < len(keys) and int(keys[j]) == k else 0.0

    @property
    def sizes(self) -> list[int]:
        return [len(k) for k in self.keys]
