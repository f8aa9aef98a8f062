"""Bootstrap intervals: how far a number of a comparison could move with other prompts, samples
or paragraphs of the same kind.

Every number a comparison reports is a function of sums over units (a sample, a paragraph of
the eval text): each unit contributes a row of parts and the number combines the column sums
(bits per byte: nats and bytes of each paragraph; a share: hits and trials of each sample). A
bootstrap replicate is a vector of counts, how often each unit is drawn, so the number under a
replicate is combine(counts @ parts): a thousand replicates of a backend cost one matrix
product, and two backends are compared *paired* by giving both the same counts (same prompts,
same seeds, same paragraphs), which cancels the noise they share.

Counts come from a seeded generator per named stream, so the same run seed gives the same
intervals, whatever order the backends or the samples were made in.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

LEVEL = 0.95  # the intervals' coverage
REPLICATES = 1000  # bootstrap replicates unless told otherwise (compare --bootstrap)
MAX_REPLICATES = 100_000
DRAWS_AT_ONCE = 1 << 22  # bounds the memory nested_counts uses per block of replicates
MIN_FINITE = 0.9  # a number undefined in more replicates than this leaves gets no interval


def generator(seed: int, stream: str) -> np.random.Generator:
    """The generator of one named stream ("samples temperature=0.8", "paragraphs", "human") of a
    run with seed `seed` (any int: negative and huge seeds are folded into 64 bits)."""
    return np.random.default_rng([int(seed) % 2**64, zlib.crc32(stream.encode("utf-8"))])


def flat_counts(units: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates x units) counts: each replicate draws `units` units with replacement."""
    if units == 0:
        return np.zeros((replicates, 0), dtype=np.int64)
    return rng.multinomial(units, np.full(units, 1.0 / units), size=replicates).astype(np.int64)


def nested_counts(group_sizes: Sequence[int], replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates x units) counts for units laid out group after group (a prompt's samples
    together): each replicate draws as many groups as there are, with replacement, and within
    each drawn group as many units as it holds, with replacement. Prompts differ more than the
    samples of one prompt do, and this keeps both sources of variation in the interval."""
    sizes = np.asarray(group_sizes, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
    total = int(sizes.sum())
    counts = np.zeros((replicates, total), dtype=np.int64)
    if not len(sizes) or total == 0:
        return counts
    widest = int(sizes.max())
    block = max(1, DRAWS_AT_ONCE // (len(sizes) * widest))  # replicates drawn at once, in bounded memory
    for first in range(0, replicates, block):
        n = min(block, replicates - first)
        drawn = rng.integers(0, len(sizes), size=(n, len(sizes)))  # the groups each replicate takes
        held = sizes[drawn][..., None]  # (n, groups, 1): how many units each drawn group holds
        picks = (rng.random((n, len(sizes), widest)) * held).astype(np.int64)  # a unit within its group
        taken = np.arange(widest) < held  # a group of fewer units draws fewer
        units = starts[drawn][..., None] + picks + (np.arange(n) * total)[:, None, None]
        counts[first:first + n] = np.bincount(units[taken], minlength=n * total).reshape(n, total)
    return counts


def interval(values: np.ndarray, level: float = LEVEL) -> list[float] | None:
    """The percentile interval [low, high] of replicate values, or None when the number is
    undefined (nan) in too many replicates to say."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if not len(values) or len(finite) < MIN_FINITE * len(values):
        return None
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return [float(low), float(high)]


def excludes_zero(bounds: Sequence[float] | None) -> bool:
    """Whether an interval of a difference lies wholly on one side of zero."""
    return bounds is not None and (bounds[0] > 0 or bounds[1] < 0)
