"""The shared bootstrap tools: counts that a replicate draws, and the intervals read from them."""

from __future__ import annotations

import numpy as np
import pytest

from genlab.eval.bootstrap import excludes_zero, flat_counts, generator, interval, nested_counts


def test_the_same_seed_and_stream_draw_the_same_counts_and_others_do_not():
    a = nested_counts([3] * 9, 200, generator(1, "samples temperature=0.8"))
    b = nested_counts([3] * 9, 200, generator(1, "samples temperature=0.8"))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, nested_counts([3] * 9, 200, generator(2, "samples temperature=0.8")))
    assert not np.array_equal(a, nested_counts([3] * 9, 200, generator(1, "samples temperature=1.2")))


@pytest.mark.parametrize("seed", [0, -1, 2**70])
def test_any_whole_number_is_a_seed(seed):
    assert flat_counts(5, 3, generator(seed, "paragraphs")).shape == (3, 5)


def test_nested_counts_draw_whole_prompts_then_samples_within_them():
    sizes = [3, 1, 2]
    counts = nested_counts(sizes, 2000, generator(0, "x"))
    assert counts.shape == (2000, 6)
    assert counts.min() >= 0
    # a replicate draws 3 groups; each drawn group brings as many units as it holds
    totals = counts.sum(axis=1)
    assert set(np.unique(totals)) <= {sum(c) for c in _group_triples(sizes)}
    # every unit is drawn once per replicate on average, as in a plain bootstrap
    assert np.allclose(counts.mean(axis=0), 1.0, atol=0.08)
    # a group of one sample is all or nothing: drawn k times, its unit counts k
    group_draws = counts[:, 3]
    assert set(np.unique(group_draws)) <= {0, 1, 2, 3}


def _group_triples(sizes):
    return [(a, b, c) for a in sizes for b in sizes for c in sizes]


def test_nested_counts_vary_more_than_flat_ones_when_prompts_differ():
    """Units that move together within a prompt (here: one value per prompt) give a wider
    interval under the nested draw, which is why prompts are drawn first."""
    values = np.repeat(np.arange(9, dtype=float), 3)  # each prompt's samples agree
    nested = nested_counts([3] * 9, 2000, generator(0, "n")) @ values / 27
    flat = flat_counts(27, 2000, generator(0, "f")) @ values / 27
    assert nested.std() > 1.4 * flat.std()


def test_interval_is_the_central_95_percent_and_none_when_mostly_undefined():
    values = np.arange(1001, dtype=float)
    low, high = interval(values)
    assert low == pytest.approx(25.0) and high == pytest.approx(975.0)
    values[:200] = np.nan
    assert interval(values) is None
    assert interval(np.array([])) is None


def test_only_an_interval_wholly_on_one_side_of_zero_is_a_difference():
    assert excludes_zero([0.1, 0.3]) and excludes_zero([-0.3, -0.01])
    assert not excludes_zero([-0.1, 0.2])
    assert not excludes_zero([0.0, 0.0])  # a backend against itself
    assert not excludes_zero(None)
