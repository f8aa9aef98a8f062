"""Intervals for bits per byte over the paragraphs of the eval text, and paired differences
between backends.

Each backend's score is split over paragraphs (Score.parts: the nats and bytes of each); a
bootstrap replicate draws as many paragraphs as the text has, with replacement, and its bits per
byte is sum(nats) / sum(bytes) / ln 2 over the drawn ones (genlab.eval.bootstrap: counts @
parts). Every backend gets the same counts (stream "paragraphs" of the run seed), so a
difference between two backends is judged on the same paragraphs, which cancels how hard the
text itself is. Backends that split the text differently (a chain scoring pre-tokenized lines
beside a model scoring paragraphs) are compared over the coarsest split they share: runs of
their parts that end at the same byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from genlab.eval.bootstrap import LEVEL, flat_counts, generator, interval

NATS, BYTES = "paragraph_nats", "paragraph_bytes"  # scores.jsonl's keys for Score.parts
STREAM = "paragraphs"
Parts = Sequence[Sequence[float]]  # (nats, bytes) of each paragraph


@dataclass
class Intervals:
    """Bits per byte of each backend with its interval, over `units` paragraphs they share."""

    units: int
    estimates: dict[str, float]
    intervals: dict[str, list[float] | None]
    differences: list[dict] = field(default_factory=list)  # metrics.json "differences" entries


def shared_units(parts: Mapping[str, Parts]) -> dict[str, np.ndarray]:
    """Each backend's (units x 2) array of nats and bytes over the paragraph runs every backend
    ends at the same byte (see the module docstring); empty when their parts cover different
    byte counts (not the same text)."""
    arrays = {name: np.asarray(p, dtype=np.float64).reshape(-1, 2) for name, p in parts.items() if len(p)}
    if not arrays:
        return {}
    ends = {name: np.cumsum(a[:, 1]).astype(np.int64) for name, a in arrays.items()}
    totals = {int(e[-1]) for e in ends.values()}
    if len(totals) != 1:
        return {}
    common = None
    for e in ends.values():
        common = e if common is None else np.intersect1d(common, e)
    out = {}
    for name, a in arrays.items():
        unit = np.searchsorted(common, ends[name], side="left")  # the shared run each part ends in
        out[name] = np.stack([np.bincount(unit, weights=a[:, k], minlength=len(common)) for k in (0, 1)], axis=1)
    return out


def bits_per_byte_intervals(parts: Mapping[str, Parts], replicates: int, seed: int,
                            level: float = LEVEL) -> Intervals:
    """Bits per byte, its interval, and the paired difference of each pair (in the order of
    `parts`, a before b) for backends with parts. No interval (None) for a text of one
    paragraph or a backend without parts; with `replicates` 0, no intervals and no differences
    (as the style metrics' comparisons)."""
    units = shared_units(parts)
    size = len(next(iter(units.values()))) if units else 0
    estimates = {name: _bpb(u.sum(axis=0)) for name, u in units.items()}
    replicated: dict[str, np.ndarray] = {}
    if replicates > 0 and size > 1:
        counts = flat_counts(size, replicates, generator(seed, STREAM)).astype(np.float64)
        replicated = {name: _bpb(counts @ u) for name, u in units.items()}
    result = Intervals(size, estimates, {name: interval(v, level) for name, v in replicated.items()})
    names = list(units) if replicates > 0 else []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            bounds = interval(replicated[a] - replicated[b], level) if replicated else None
            result.differences.append({
                "metric": "bits_per_byte", "setting": "", "a": a, "b": b, "a_value": estimates[a],
                "b_value": estimates[b], "difference": estimates[a] - estimates[b], "interval": bounds,
                "units": size})
    return result


def _bpb(sums: np.ndarray) -> np.ndarray | float:
    """Bits per byte of (..., 2) sums of nats and bytes."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = sums[..., 0] / sums[..., 1] / math.log(2)
    return float(values) if np.ndim(values) == 0 else values


def row_parts(row: Mapping) -> list[tuple[float, int]]:
    """A scores.jsonl row's parts ([] for a line written before they were kept, or a bad one)."""
    nats, sizes = row.get(NATS), row.get(BYTES)
    if not isinstance(nats, list) or not isinstance(sizes, list) or len(nats) != len(sizes):
        return []
    try:
        out = [(float(n), int(b)) for n, b in zip(nats, sizes)]
    except (TypeError, ValueError):
        return []
    return out if all(math.isfinite(n) and b >= 0 for n, b in out) else []


def perplexity_intervals(rows: Sequence[Mapping], replicates: int, seed: int) -> tuple[list[dict], list[dict]]:
    """metrics.json's perplexity rows and bits_per_byte differences from scores.jsonl rows: each
    row gets "paragraphs" (None without parts) and "interval": {"bits_per_byte": [lo, hi] or
    None} (None without a bootstrap), and loses the per-paragraph lists."""
    found = bits_per_byte_intervals({r["backend"]: row_parts(r) for r in rows}, replicates, seed)
    out = []
    for r in rows:
        row = {k: v for k, v in r.items() if k not in (NATS, BYTES)}
        known = r["backend"] in found.estimates
        row["paragraphs"] = found.units if known else None
        row["interval"] = {"bits_per_byte": found.intervals.get(r["backend"])} if replicates > 0 else None
        out.append(row)
    return out, found.differences
