"""Metrics as per-sample parts: each unit (a sample, a passage of the human text) contributes a
row of numbers and the metric combines their column sums. A bootstrap replicate is a vector of
counts, how often each unit is drawn (genlab.eval.bootstrap), so the metric under it is
combine(counts @ parts), and with every count 1 (`Parts.estimate`) it is the pooled number
itself: the metric functions compute their values this way, so there is one definition.

Why not resample the texts and measure the copies again: a sample drawn twice would be scored
against its own copy (self-BLEU 1.0) and its n-grams would stop being distinct, so the
intervals would be biased and might not even contain the estimate. Parts are computed once, on
the samples as they are, and a replicate only reweights them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BLOCK = 2**22  # numbers one block of replicates may hold at once (memory stays in tens of MB)
DENSE = 2**20  # a Sparse matrix of at most this many cells is multiplied as a plain array (faster)


class Sparse:
    """A (units x columns) matrix of mostly zeros, e.g. each sample's word counts over the whole
    vocabulary, kept as its nonzero entries; `counts @ Sparse` is a dense (replicates x columns)
    array."""

    __array_ufunc__ = None  # numpy leaves `counts @ self` to __rmatmul__

    def __init__(self, rows: Sequence[int], cols: Sequence[int], values: Sequence[float], shape: tuple[int, int]):
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        order = np.argsort(cols, kind="stable")
        self.rows, self.cols = rows[order], cols[order]
        self.values = np.asarray(values, dtype=np.float64)[order]
        self.shape = (int(shape[0]), int(shape[1]))
        self._columns, self._starts = np.unique(self.cols, return_index=True)
        self._dense: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.values)

    def __rmatmul__(self, counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.float64)
        if self.shape[0] * self.shape[1] <= DENSE:
            if self._dense is None:
                self._dense = np.zeros(self.shape)
                np.add.at(self._dense, (self.rows, self.cols), self.values)
            return counts @ self._dense
        out = np.zeros((counts.shape[0], self.shape[1]))
        if self.size:
            out[:, self._columns] = np.add.reduceat(counts[:, self.rows] * self.values, self._starts, axis=1)
        return out

    def moved(self, positions: np.ndarray, units: int) -> Sparse:
        return Sparse(positions[self.rows], self.cols, self.values, (units, self.shape[1]))


@dataclass(frozen=True)
class Parts:
    """A metric as `matrix` (units x k: each unit's parts) and `combine`, which turns column sums
    (replicates x k) into the metric (replicates,), nan where it is undefined."""

    matrix: np.ndarray | Sparse
    combine: Callable[[np.ndarray], np.ndarray]

    @property
    def units(self) -> int:
        return self.matrix.shape[0]

    def at(self, counts: np.ndarray) -> np.ndarray:
        """The metric under each replicate's counts (replicates x units), a block at a time."""
        counts = np.asarray(counts, dtype=np.float64)
        width = max(self.matrix.shape[1], getattr(self.matrix, "size", 0), 1)
        step = max(1, BLOCK // width)
        blocks = [self.combine(counts[i:i + step] @ self.matrix) for i in range(0, len(counts), step)]
        return np.concatenate(blocks) if blocks else np.zeros(0)

    def estimate(self) -> float:
        """The metric of the samples as they are (every unit once)."""
        return float(self.at(np.ones((1, self.units)))[0])

    def spread(self, positions: Sequence[int], units: int) -> Parts:
        """The same parts laid out on `units` units, unit i at positions[i]; the other units are
        missing samples (a run not finished), with zero parts: drawing one adds nothing."""
        positions = np.asarray(positions, dtype=np.int64)
        if isinstance(self.matrix, Sparse):
            return Parts(self.matrix.moved(positions, units), self.combine)
        matrix = np.zeros((units, self.matrix.shape[1]))
        matrix[positions] = self.matrix
        return Parts(matrix, self.combine)


# -- the usual ways of combining ---------------------------------------------------------------


def divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, nan where den is 0."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _ratio(sums: np.ndarray) -> np.ndarray:
    return divide(sums[:, 0], sums[:, 1])


def ratio_parts(numerators: Sequence[float], denominators: Sequence[float]) -> Parts:
    """Σ numerator / Σ denominator over the drawn units (a share, a rate, a mean of per-unit
    numbers); nan when nothing is in the denominator."""
    return Parts(np.column_stack([np.asarray(numerators, dtype=np.float64),
                                  np.asarray(denominators, dtype=np.float64)]).reshape(-1, 2), _ratio)


def undefined(units: int) -> Parts:
    """A metric with no value (novelty without a corpus)."""
    return Parts(np.zeros((units, 0)), lambda sums: np.full(len(sums), np.nan))


def moments_parts(values: Sequence[Sequence[float]]) -> tuple[Parts, Parts]:
    """Mean and population standard deviation of all the numbers of all the drawn units
    (`values[i]`: unit i's numbers, e.g. its sentence lengths). Parts are (n, Σ(x - c),
    Σ(x - c)²) with c the pooled mean of the samples as they are, which keeps the variance
    free of cancellation."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    pooled = np.concatenate(arrays) if arrays else np.zeros(0)
    shift = float(pooled.mean()) if len(pooled) else 0.0
    matrix = np.array([[len(a), (a - shift).sum(), ((a - shift) ** 2).sum()] for a in arrays]).reshape(-1, 3)

    def mean(sums: np.ndarray) -> np.ndarray:
        return shift + divide(sums[:, 1], sums[:, 0])

    def std(sums: np.ndarray) -> np.ndarray:
        m = divide(sums[:, 1], sums[:, 0])
        return np.sqrt(np.maximum(divide(sums[:, 2], sums[:, 0]) - m * m, 0.0))

    return Parts(matrix, mean), Parts(matrix, std)


def max_parts(values: Sequence[float | None]) -> Parts:
    """The largest value among the drawn units; a unit whose value is None never counts (nan
    when no drawn unit has one)."""
    known = [i for i, v in enumerate(values) if v is not None]
    numbers = np.array([values[i] for i in known], dtype=np.float64)

    def largest(sums: np.ndarray) -> np.ndarray:
        if not len(numbers):
            return np.full(len(sums), np.nan)
        drawn = np.where(sums > 0, numbers, -np.inf).max(axis=1)
        return np.where(np.isfinite(drawn), drawn, np.nan)

    return Parts(Sparse(known, range(len(known)), np.ones(len(known)), (len(values), len(known))), largest)
