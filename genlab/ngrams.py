"""Counting n-grams packed into integer keys: the distinct keys of an array and how often each
occurs. Shared by the Markov chain's count tables and the style metrics."""

from __future__ import annotations

import numpy as np


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
