"""The style metrics of a comparison under the bootstrap: each row's 95% interval, paired
differences between backends, each backend less the human text, and which of two backends is
nearer the human text (metrics.json's sections, schema in genlab.eval.plots.reading).

A row's metrics are per-sample parts laid out on the run's grid of (prompt, sample) units
(genlab.eval.parts). Every backend of a setting is reweighted with the same counts, drawn by
prompt and then by sample (same prompts, same seeds), so a difference is judged paired and the
noise the two backends share cancels. The human text's passages are drawn on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from genlab.eval.bootstrap import LEVEL, flat_counts, generator, interval, nested_counts
from genlab.eval.parts import Parts
from genlab.eval.plan import CompareSettings


@dataclass(frozen=True)
class Measured:
    """One row's metrics: the estimates and, under a bootstrap, each metric's replicate values;
    `present`: which units hold a sample."""

    estimates: dict[str, float]
    replicates: dict[str, np.ndarray] | None
    present: np.ndarray

    def interval(self, key: str) -> list[float] | None:
        if self.replicates is None or not np.isfinite(self.estimates[key]):
            return None
        return interval(self.replicates[key])

    def intervals(self) -> dict[str, list[float] | None] | None:
        return None if self.replicates is None else {k: self.interval(k) for k in self.estimates}


def measured(parts: Mapping[str, Parts], counts: np.ndarray | None, present: Sequence[int] | None = None) -> Measured:
    """The metrics of `parts`, with their values under `counts` (replicates x units) if given;
    `present`: the units that hold a sample (None: all)."""
    units = next(iter(parts.values())).units if parts else 0
    mask = np.ones(units, dtype=bool)
    if present is not None:
        mask[:] = False
        mask[list(present)] = True
    return Measured({k: p.estimate() for k, p in parts.items()},
                    None if counts is None else {k: p.at(counts) for k, p in parts.items()}, mask)


def bootstrap_run(s: CompareSettings) -> dict[str, object] | None:
    """metrics.json's run.bootstrap: null when the run has no intervals."""
    return {"replicates": s.bootstrap, "level": LEVEL} if s.bootstrap else None


def sample_counts(s: CompareSettings, label: str) -> np.ndarray | None:
    """The counts of one setting's (prompt, sample) grid, in `jobs` order, that every backend of
    the setting shares; None without a bootstrap."""
    if not s.bootstrap:
        return None
    return nested_counts([s.samples] * len(s.prompts), s.bootstrap, generator(s.seed, f"samples {label}"))


def human_counts(s: CompareSettings, passages: int) -> np.ndarray | None:
    return flat_counts(passages, s.bootstrap, generator(s.seed, "human")) if s.bootstrap else None


def comparisons(s: CompareSettings, rows: Mapping[tuple[str, str], Measured], human: Measured | None,
                labels: Sequence[str]) -> dict[str, list[dict]]:
    """metrics.json's "differences", "versus_human" and "closer" sections (empty without a
    bootstrap). Pairs (a, b) keep the order of s.backends; a metric undefined on either side
    has no entry."""
    out: dict[str, list[dict]] = {"differences": [], "versus_human": [], "closer": []}
    if not s.bootstrap:
        return out
    for label in labels:
        if human is not None:
            for backend in s.backends:
                if (backend, label) in rows:
                    out["versus_human"] += _versus_human(rows[backend, label], human, backend, label)
        for a, b in combinations(s.backends, 2):
            if (a, label) in rows and (b, label) in rows:
                out["differences"] += _differences(rows[a, label], rows[b, label], a, b, label)
                if human is not None:
                    out["closer"] += _closer(rows[a, label], rows[b, label], human, a, b, label)
    return out


def _defined(*rows: Measured) -> list[str]:
    return [k for k in rows[0].estimates if all(np.isfinite(r.estimates[k]) for r in rows)]


def _differences(a: Measured, b: Measured, na: str, nb: str, label: str) -> list[dict]:
    units = int((a.present & b.present).sum())
    return [{"metric": k, "setting": label, "a": na, "b": nb, "a_value": a.estimates[k], "b_value": b.estimates[k],
             "difference": a.estimates[k] - b.estimates[k],
             "interval": interval(a.replicates[k] - b.replicates[k]), "units": units}
            for k in _defined(a, b)]


def _versus_human(row: Measured, human: Measured, name: str, label: str) -> list[dict]:
    return [{"metric": k, "setting": label, "backend": name, "value": row.estimates[k], "human": human.estimates[k],
             "difference": row.estimates[k] - human.estimates[k],
             "interval": interval(row.replicates[k] - human.replicates[k])}
            for k in _defined(row, human)]


def _closer(a: Measured, b: Measured, human: Measured, na: str, nb: str, label: str) -> list[dict]:
    """gap = |b - human| - |a - human|, per replicate with a and b under the same counts and the
    human text under its own: > 0 when a is nearer."""
    def gap(x: Measured, k: str) -> np.ndarray:
        return np.abs(x.replicates[k] - human.replicates[k])

    return [{"metric": k, "setting": label, "a": na, "b": nb,
             "gap": abs(b.estimates[k] - human.estimates[k]) - abs(a.estimates[k] - human.estimates[k]),
             "interval": interval(gap(b, k) - gap(a, k))}
            for k in _defined(a, b, human)]
