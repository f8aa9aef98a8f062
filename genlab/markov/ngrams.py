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

from array import array
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from genlab.ngrams import count_sorted, weighted_counts

U64 = np.uint64
_TWO64 = 1 << 64
# Tables with up to this many n-grams (a novel's) are also queried through Python copies made
# on first use (~20 bytes an n-gram): a state's lookup then costs a bisect and two slices
# instead of several numpy calls, which matters for a sentence generator's first 1,000 calls.
SMALL_TABLES = 1 << 19


def bits_for(vocab_size: int) -> int:
    return max(1, int(vocab_size - 1).bit_length())


def _count_block(seq: np.ndarray, doc_starts: np.ndarray, depth: int, bits: int, a: int, b: int,
                 weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys of depth `depth` for target positions a..b-1, with counts."""
    a = max(a, depth)
    if a >= b:
        return np.zeros(0, dtype=U64), np.zeros(0, dtype=np.uint32)
    key = seq[a:b].astype(U64)
    for j in range(1, depth + 1):  # nearest context token in the highest bits
        key |= seq[a - j:b - j].astype(U64) << U64(bits * (depth - j + 1))
    # targets too close to their document's start have no context of this depth
    valid = np.ones(b - a, dtype=bool)
    for start in doc_starts[(doc_starts < b) & (doc_starts + max(depth, 1) > a)]:
        valid[max(start - a, 0):min(start + max(depth, 1) - a, b - a)] = False
    if not valid.all():
        key = key[valid]
    if weights is None:
        key.sort()
        u, c = count_sorted(key)
        return u, c.astype(np.uint32)
    doc = np.searchsorted(doc_starts, np.arange(a, b), side="right") - 1
    return weighted_counts(key, weights[doc][valid])


def _merge(table: tuple[np.ndarray, np.ndarray], part: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Add one block's table (sorted, distinct keys) into the running one, in place of a re-sort.

    Memory stays near the size of the final table: blocks are merged as they are counted.
    """
    keys, counts = table
    new_keys, new_counts = part
    if len(new_keys) == 0:
        return table
    at = np.searchsorted(keys, new_keys)
    seen = at < len(keys)
    seen[seen] = keys[at[seen]] == new_keys[seen]
    wide = np.float64 if counts.dtype.kind == "f" or new_counts.dtype.kind == "f" else np.uint64
    counts = counts.astype(wide)
    counts[at[seen]] += new_counts[seen].astype(wide)  # distinct keys: distinct slots (no np.add.at needed)
    fresh = ~seen
    if fresh.any():
        keys = np.insert(keys, at[fresh], new_keys[fresh])
        counts = np.insert(counts, at[fresh], new_counts[fresh].astype(wide))
    if wide is np.uint64 and counts.max(initial=0) < 1 << 32:
        counts = counts.astype(np.uint32)
    return keys, counts


@dataclass
class NgramCounts:
    """Count tables for context depths 0..order."""

    order: int
    bits: int
    keys: list[np.ndarray]  # keys[d]: sorted uint64, code_d << bits | next
    counts: list[np.ndarray]  # counts[d]: aligned with keys[d]
    reindex: list[np.ndarray | None]  # reindex[d]: sorted raw codes when depth d was renumbered
    _slices: list | None = None  # built on first query
    _lists: list | None = None  # Python copies of small tables, per depth (see SMALL_TABLES)

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    # --- building ----------------------------------------------------------------------------

    @classmethod
    def build(cls, seq: np.ndarray, doc_starts: np.ndarray, order: int, vocab_size: int,
              weights: np.ndarray | None = None, block: int = 1 << 21) -> "NgramCounts":
        """Count every (context, next) pair of `seq`, never across a document start.

        `seq` is all documents' token ids back to back; `doc_starts` their start offsets.
        The first token of each document is context only (callers put a paragraph mark there).
        `weights`, if given, is one weight per document (for weighted corpora).
        """
        bits = bits_for(vocab_size)
        if bits * (order + 1) > 64:  # long contexts over a big vocabulary: renumber
            return cls._build_renumbered(seq, doc_starts, order, vocab_size, weights)
        keys, counts = [], []
        for d in range(order + 1):
            table = None
            for a in range(0, len(seq), block):
                part = _count_block(seq, doc_starts, d, bits, a, min(a + block, len(seq)), weights)
                table = part if table is None else _merge(table, part)
            keys.append(table[0])
            counts.append(table[1])
        return cls(order, bits, keys, counts, [None] * (order + 1))

    @classmethod
    def _build_renumbered(cls, seq: np.ndarray, doc_starts: np.ndarray, order: int, vocab_size: int,
                          weights: np.ndarray | None) -> "NgramCounts":
        """Whole-array build for layouts that renumber contexts (needs N-sized code arrays)."""
        n = len(seq)
        bits = bits_for(vocab_size)
        s = seq.astype(U64)
        lengths = np.diff(np.append(doc_starts, n))
        offset = np.arange(n, dtype=np.int64) - np.repeat(doc_starts, lengths)
        position_weights = None if weights is None else np.repeat(weights, lengths)
        keys, counts, reindex = [], [], [None]

        def table(code: np.ndarray | None, depth: int) -> None:
            valid = offset >= max(depth, 1)
            nxt = s[valid]
            k = nxt if code is None else (code[valid] << U64(bits)) | nxt
            if position_weights is None:
                k.sort()
                u, c = count_sorted(k)
            else:
                u, c = weighted_counts(k, position_weights[valid])
            keys.append(u)
            counts.append(c)

        table(None, 0)
        code = np.zeros(n, dtype=U64)
        limit = 1
        for d in range(1, order + 1):
            m = max(n - d, 0)
            code[d:] = (code[d:] << U64(bits)) | s[:m] if d > 1 else s[:m]
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
        top = min(self.order, len(history))
        if top:
            found = self._lookup(history, top)
            if found is not None:  # the usual case while walking: the whole state is known
                return found
        best = (0, 0, len(self.keys[0]))
        for d in range(1, top + 1):
            found = self._lookup(history, d)
            if found is None:
                break
            best = found
        return best

    def _lookup(self, history: list[int], depth: int) -> tuple[int, int, int] | None:
        bits = self.bits
        code = 0
        small = self._small_lists(depth)
        if small is not None:  # a novel-sized table (never renumbered): plain Python
            for tok in history[-1:-depth - 1:-1]:
                if tok < 0:
                    return None
                code = (code << bits) | tok
            contexts, starts = small[0], small[1]
            j = bisect_left(contexts, code)
            if j == len(contexts) or contexts[j] != code:
                return None
            return depth, starts[j], starts[j + 1]
        for d in range(1, depth + 1):
            tok = history[-d]
            if tok < 0:
                return None
            code = (code << bits) | tok
            table = self.reindex[d]
            if table is not None:
                j = int(table.searchsorted(U64(code)))
                if j == len(table) or int(table[j]) != code:
                    return None
                code = j
        contexts, starts = self.slices(depth)
        j = int(contexts.searchsorted(U64(code)))
        if j == len(contexts) or int(contexts[j]) != code:
            return None
        return depth, int(starts[j]), int(starts[j + 1])

    def plain_tables(self) -> list[tuple] | None:
        """Per depth (contexts, slice starts, next ids, counts as float64, counts are integers),
        for tables of at most SMALL_TABLES n-grams that were never renumbered; else None.
        (What the compiled walk copies to look states up itself.)"""
        if not self._small():
            return None
        out = []
        for depth in range(self.order + 1):
            contexts, starts = self.slices(depth)
            counts = self.counts[depth]
            out.append((contexts, starts.astype(np.int64), self._next_ids(depth), counts.astype(np.float64),
                        counts.dtype.kind in "iu"))
        return out

    def _small(self) -> bool:
        """At most SMALL_TABLES n-grams, never renumbered: worth plain-Python (or C) copies."""
        return sum(self.sizes) <= SMALL_TABLES and all(r is None for r in self.reindex)

    def _next_ids(self, depth: int) -> np.ndarray:
        return (self.keys[depth] & U64(self.mask)).astype(np.int64)

    def _small_lists(self, depth: int) -> tuple[list[int], array, array, list] | None:
        """(contexts, slice starts, next ids, counts) of a depth as Python sequences, for
        tables of at most SMALL_TABLES n-grams; None for bigger ones."""
        if self._lists is None:
            self._lists = [None] * (self.order + 1)
            if not self._small():
                self._lists = [False] * (self.order + 1)
        lists = self._lists[depth]
        if lists is None:
            contexts, starts = self.slices(depth)
            ids = self._next_ids(depth)
            lists = self._lists[depth] = (
                contexts.tolist(), array("q", starts.astype(np.int64).tobytes()),
                array("q", ids.tobytes()), self.counts[depth].tolist())
        return lists or None

    def continuation_lists(self, depth: int, lo: int, hi: int) -> tuple[list[int], list]:
        """continuations() as Python lists (what a walk memoises)."""
        small = self._small_lists(depth)
        if small is not None:
            if hi - lo == 1:
                return [small[2][lo]], [small[3][lo]]
            return small[2][lo:hi].tolist(), small[3][lo:hi]
        return (self.keys[depth][lo:hi] & U64(self.mask)).tolist(), self.counts[depth][lo:hi].tolist()

    def slices(self, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct contexts of a depth (sorted) and where each one's slice of keys starts."""
        if self._slices is None:
            self._slices = [None] * (self.order + 1)
        if self._slices[depth] is None:
            ctx, sizes = count_sorted(self.keys[depth] >> U64(self.bits))
            starts = np.zeros(len(ctx) + 1, dtype=np.int64)
            np.cumsum(sizes, out=starts[1:])
            self._slices[depth] = (ctx, starts)
        return self._slices[depth]

    def continuations(self, depth: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Next-token ids and their counts for a context slice."""
        ids = (self.keys[depth][lo:hi] & U64(self.mask)).astype(np.int64)
        return ids, self.counts[depth][lo:hi]

    @property
    def sizes(self) -> list[int]:
        return [len(k) for k in self.keys]
