"""The checks a stored count table must pass before a walk trusts it.

The walk (Python or _fastwalk.c) indexes per-token arrays with the ids it finds in a table
and draws from slices of counts, so an id beyond the vocabulary, an empty or unsorted slice,
or a count that is NaN, zero or negative would crash it, loop, or fill the output with numpy
warnings. A loaded model is as sound as a trained one, or it is refused here.
"""

from __future__ import annotations

import numpy as np

from genlab.markov.archive import Damaged

U64 = np.uint64


def check_table(depth: int, deltas: np.ndarray, runs: np.ndarray, nexts: np.ndarray, counts: np.ndarray,
                reindex: np.ndarray | None, bits: int, vocab_size: int,
                renumbered: tuple[int, int] = (0, 1)) -> np.ndarray:
    """The table's distinct contexts (sorted), once its parts are shown to agree; else Damaged.
    `renumbered`: the deepest renumbered depth below this one and how many codes it has."""
    def damaged(why: str) -> Damaged:
        return Damaged(f"count table {depth} {why}")

    if len(deltas) != len(runs) or len(nexts) != len(counts) or int(runs.sum(dtype=np.int64)) != len(nexts):
        raise damaged("is damaged")
    if len(runs) and int(runs.min()) < 1:
        raise damaged("has a context with no continuation")
    if depth == 0 and (len(deltas) != 1 or int(deltas[0]) != 0):
        raise damaged("is damaged")
    contexts = np.cumsum(deltas, dtype=U64)
    if len(contexts) > 1 and not np.all(contexts[1:] > contexts[:-1]):
        raise damaged("is out of order")
    if len(nexts) and int(nexts.max()) >= vocab_size:
        raise damaged("holds a token id beyond the vocabulary")
    if len(contexts) and not _contexts_fit(contexts, depth, reindex, bits, vocab_size, renumbered):
        raise damaged("holds a context beyond the vocabulary")
    if not _rising_within_slices(nexts, runs):
        raise damaged("is out of order")
    if reindex is not None and len(reindex) > 1 and not np.all(reindex[1:] > reindex[:-1]):
        raise damaged("has its renumbering out of order")
    if counts.dtype.kind == "f" and not np.all(np.isfinite(counts)):
        raise damaged("holds a count that is not a number")
    if len(counts) and not counts.min() > 0:
        raise damaged("holds a count that is zero or negative")
    return contexts


def _contexts_fit(contexts: np.ndarray, depth: int, reindex: np.ndarray | None, bits: int, vocab_size: int,
                  renumbered: tuple[int, int]) -> bool:
    """Renumbered contexts index their renumbering. Others pack, above the next id's bits, a
    token id below the vocabulary's size for each depth since the last renumbered one, and
    above those that depth's number (none: 0)."""
    top = int(contexts[-1])
    if top >= 1 << (64 - bits):
        return False
    if reindex is not None:
        return top < len(reindex)
    below, codes = renumbered
    fields = depth - below
    if top >> (bits * fields) >= codes:  # sorted: the top context has the highest number
        return False
    mask = U64((1 << bits) - 1)
    return all(int(((contexts >> U64(bits * j)) & mask).max()) < vocab_size for j in range(fields) if bits * j < 64)


def _rising_within_slices(nexts: np.ndarray, runs: np.ndarray) -> bool:
    """Within each context's slice, next ids strictly increase (with the contexts rising, the
    joined keys are then sorted and distinct, as the walk's binary searches need)."""
    if len(nexts) < 2:
        return True
    rising = nexts[1:] > nexts[:-1]
    rising[np.cumsum(runs[:-1], dtype=np.int64) - 1] = True  # where one slice ends and the next begins
    return bool(rising.all())
